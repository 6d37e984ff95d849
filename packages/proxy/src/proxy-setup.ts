// What a proxy derives from its options once, when it is made: its serializers (shared between
// proxies with the same decode limits), the reconnect policy, the shared key, and the remote
// object's metadata as sets for the per-call checks.
import { type CinderConfig, type ObjectMetadata, URI } from '@cinder/core';
import { SharedKey } from '@cinder/security';
import { type ClassRegistry, createSerializers, type SerializerSet } from '@cinder/serializers';
import type { ProxyOptions, ReconnectOptions } from './proxy-options.js';

/** The remote object's metadata, as sets for the checks every call makes. */
export interface Meta {
  methods: Set<string>;
  oneway: Set<string>;
  attrs: Set<string>;
  raw: ObjectMetadata;
}

/**
 * The remote object's metadata as sets. The sets (never changed once made) are shared with `current`
 * or the last ones made when the names are the same — every reconnect and every new proxy to the
 * same kind of object — so a connection does not build three sets again. `raw` is not copied: a
 * CONNECTOK read again hands every connection the same metadata object (read-only), which then
 * finds its Meta at once; the proxy gives users a copy as $metadata.
 */
export function toMeta(raw: ObjectMetadata, current?: Meta): Meta {
  if (current !== undefined && current.raw === raw) return current;
  if (lastMeta !== undefined && lastMeta.raw === raw) return lastMeta;
  let sets: Meta | undefined;
  if (current !== undefined && sameNames(current.raw, raw)) sets = current;
  else if (lastMeta !== undefined && sameNames(lastMeta.raw, raw)) sets = lastMeta;
  if (sets !== undefined) return { methods: sets.methods, oneway: sets.oneway, attrs: sets.attrs, raw };
  const made = { methods: new Set(raw.methods), oneway: new Set(raw.oneway), attrs: new Set(raw.attrs), raw };
  lastMeta = made;
  return made;
}

let lastMeta: Meta | undefined;

function sameNames(a: ObjectMetadata, b: ObjectMetadata): boolean {
  return sameList(a.methods, b.methods) && sameList(a.oneway, b.oneway) && sameList(a.attrs, b.attrs);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

let lastUri: { text: string; nsPort: number; uri: URI } | undefined;

/** A proxy's uri parsed (URIs are immutable: a new proxy per call to the same uri parses it once). */
export function parseUri(uri: string | URI, nsPort: number): URI {
  if (typeof uri !== 'string') return URI.parse(uri, { nsPort });
  if (lastUri !== undefined && lastUri.text === uri && lastUri.nsPort === nsPort) return lastUri.uri;
  const parsed = URI.parse(uri, { nsPort });
  lastUri = { text: uri, nsPort, uri: parsed };
  return parsed;
}

/** The kwargs of calls made without any: one frozen object, so plain calls allocate none. */
export const EMPTY_KWARGS: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

const serializerCache = new Map<string, SerializerSet>();
/** The last set handed out without a registry, and for what: a new proxy per call asks again and again. */
let lastSet: { dialect: 4 | 5; config: CinderConfig; set: SerializerSet } | undefined;

/** The serializers of a dialect; one set per decode limits unless the proxy has its own registry. */
export function serializersFor(
  dialect: 4 | 5,
  config: CinderConfig,
  registry: ClassRegistry | undefined,
): SerializerSet {
  if (registry)
    return createSerializers({
      dialect,
      registry,
      maxDepth: config.maxDepth,
      maxItems: config.maxDecodeItems,
      serpentBytesRepr: config.serpentBytesRepr,
    });
  if (lastSet !== undefined && lastSet.config === config && lastSet.dialect === dialect) return lastSet.set;
  const key = `${dialect}:${config.maxDepth}:${config.maxDecodeItems}:${config.serpentBytesRepr}`;
  let set = serializerCache.get(key);
  if (!set) {
    set = createSerializers({
      dialect,
      maxDepth: config.maxDepth,
      maxItems: config.maxDecodeItems,
      serpentBytesRepr: config.serpentBytesRepr,
    });
    serializerCache.set(key, set);
  }
  lastSet = { dialect, config, set };
  return set;
}

/** The reconnect policy with its defaults, or undefined when the proxy does not reconnect. */
export function reconnectPolicy(options: ProxyOptions): Required<ReconnectOptions> | undefined {
  const r = options.reconnect;
  return r
    ? { initialDelayMs: 100, maxDelayMs: 2000, maxWaitMs: 30_000, ...(typeof r === 'object' ? r : {}) }
    : undefined;
}

/** The shared key (the option, else `config.hmacKey`), or undefined when there is none. */
export function sharedKeyOf(options: ProxyOptions, config: CinderConfig): SharedKey | undefined {
  const key = options.hmacKey ?? config.hmacKey;
  return key === null || key === undefined || key === '' ? undefined : SharedKey.from(key);
}
