#!/usr/bin/env bash
# Builds another Cinder for `pnpm bench --cinder-from DIR[,label]`: a checkout of COMMIT in DIR (a
# clone sharing this repository's objects), with PATCH files applied on top, installed offline from
# the pnpm store and built (the facade and every package it depends on). DIR/.bench-variant records
# what was built; the bench shows it in the run's metadata.
#
#   build-variant.sh DIR COMMIT [PATCH...]
#   build-variant.sh /tmp/cinder-pre-engine e6d090c                       # #13: before the engine
#   build-variant.sh /tmp/cinder-checks-off main scripts/checks-off.patch  # #12: checks switched off
#
# DIR must not exist, or must be a directory this script made (it is then replaced). The build
# runs under `nice`, so it stays out of the way of other work on the machine.
set -euo pipefail

if [ $# -lt 2 ]; then
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
dir=$1
commit=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
repo=$(git -C "$here" rev-parse --path-format=absolute --git-common-dir)
sha=$(git -C "$here" rev-parse --verify "$commit^{commit}")
patches=()
for p in "$@"; do
  # relative patch paths are taken from apps/bench, then from the current directory
  if [ -f "$here/../$p" ]; then patches+=("$(cd "$here/.." && realpath "$p")")
  elif [ -f "$p" ]; then patches+=("$(realpath "$p")")
  else echo "build-variant: no patch file $p" >&2; exit 2; fi
done

if [ -e "$dir" ]; then
  if [ ! -f "$dir/.bench-variant" ]; then
    echo "build-variant: $dir exists and was not made by this script; choose another DIR" >&2
    exit 2
  fi
  rm -rf "$dir"
fi

echo "build-variant: cloning $sha into $dir" >&2
git clone -q --shared --no-checkout "$repo" "$dir"
git -C "$dir" -c advice.detachedHead=false checkout -q --detach "$sha"
for p in "${patches[@]}"; do
  echo "build-variant: applying $p" >&2
  git -C "$dir" apply --3way --whitespace=nowarn "$p"
done

cd "$dir"
echo "build-variant: pnpm install (offline)" >&2
TURBO_TELEMETRY_DISABLED=1 npm_config_nodedir=/usr nice -n 10 pnpm install --frozen-lockfile --offline >install.log 2>&1 \
  || { tail -20 install.log >&2; exit 1; }
echo "build-variant: building @cinder/cinder and its dependencies" >&2
TURBO_TELEMETRY_DISABLED=1 nice -n 10 pnpm exec turbo run build --filter '@cinder/cinder...' --output-logs=errors-only >build.log 2>&1 \
  || { tail -40 build.log >&2; exit 1; }
test -f packages/cinder/dist/index.js

{
  echo "commit=$sha"
  echo "subject=$(git log -1 --format=%s "$sha" | cut -c1-100)"
  for p in "${patches[@]}"; do echo "patch=$(basename "$p")"; done
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >.bench-variant
echo "build-variant: done: $dir ($(git rev-parse --short "$sha")${patches:+ + ${#patches[@]} patch(es)})" >&2
