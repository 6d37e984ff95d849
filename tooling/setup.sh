#!/usr/bin/env bash
# One-step set-up on a fresh Debian machine: pnpm, the Debian packages the tests and benchmarks use
# (Python Pyro4 as an interop peer and baseline, openssl for test certificates, etcd-server for the
# replicated name server's tests, chromium for the browser tests), and the workspace.
# Usage: bash tooling/setup.sh [--frozen]
set -euo pipefail
cd "$(dirname "$0")/.."

export TURBO_TELEMETRY_DISABLED=1
# pnpm's node-gyp would download Node headers (no internet here); the machine has them in /usr.
if [ -d /usr/include/node ]; then export npm_config_nodedir=/usr; fi

debs=(python3-pyro4 python3-serpent python3-msgpack openssl etcd-server chromium)
missing=()
for p in "${debs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else SUDO="none"; fi
  if [ "$SUDO" != none ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: cannot install ${missing[*]} (not root, no apt-get): Python interop and etcd tests and baselines will be skipped"
  fi
fi

if [ "$(pnpm --version 2>/dev/null || true)" != "12.4.2" ]; then
  npm i -g pnpm@12.4.2 >/dev/null
fi

if [ "${1:-}" = "--frozen" ]; then
  pnpm install --frozen-lockfile
else
  pnpm install
fi
