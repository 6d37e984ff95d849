// createSerializers(): the five serializers of one daemon or proxy, sharing one class registry,
// dialect and limits. Nothing here is global: two sets never share state.
import { ConfigError } from '@cinder/core';
import { ByteWriter } from './binary/byte-writer.js';
import { cborSerializer, msgpackSerializer } from './binary-serializers.js';
import { decodeError, encodeError } from './error-codec.js';
import { ClassRegistry } from './registry.js';
import type { PyroDialect, Serializer } from './serializer.js';
import { JsonSerializer, MarshalSerializer, SerpentSerializer } from './text-serializers.js';
import { checkMaxDepth, checkMaxItems, ValueMapper } from './value-mapper.js';

export interface SerializerOptions {
  /** Pyro dialect: decides names such as `Pyro5.core.URI` vs `Pyro4.core.URI`. Default 5. */
  dialect?: PyroDialect;
  /** Classes that travel as `__class__` dicts. Default: a new registry with the built-ins. */
  registry?: ClassRegistry;
  /** Deepest container nesting accepted or written (1–1000). Default 100. */
  maxDepth?: number;
  /**
   * Most values one decoded payload may create, dict keys included (the decode budget): more is a
   * SerializeError, refused before the values are allocated. Default 1,000,000.
   */
  maxItems?: number;
  /** serpent writes bytes as Python `b'…'` literals instead of base64 dicts (Pyro's SERPENT_BYTES_REPR). */
  serpentBytesRepr?: boolean;
  /** Refuse `__class__` dicts of unregistered classes (SerializeError) instead of keeping them as dicts. */
  strictClasses?: boolean;
  /** Send the JavaScript stack of errors as `_pyroTraceback` (default true). */
  tracebacks?: boolean;
  /**
   * Decoded byte strings are copies (true, the default) or views into the payload (false). Views save a
   * copy but keep the whole payload buffer alive and break if the transport reuses that buffer.
   */
  copyBuffers?: boolean;
}

export interface SerializerSet {
  readonly dialect: PyroDialect;
  readonly registry: ClassRegistry;
  /** The serializer with this Pyro5-numbered id (see SerializerId), or undefined. */
  byId(id: number): Serializer | undefined;
  /** The serializer with this name (`cbor`, `json`, `msgpack`, `serpent`, `marshal`), or undefined. */
  byName(name: string): Serializer | undefined;
  all(): readonly Serializer[];
  /** An error as Pyro's exception dict (what an exception RESULT carries). */
  encodeError(err: Error): Record<string, unknown>;
  /** An exception dict back to an Error (Cinder class, registered class or RemoteError). */
  decodeError(dict: Record<string, unknown>): Error;
}

export function createSerializers(options: SerializerOptions = {}): SerializerSet {
  const dialect = options.dialect ?? 5;
  if (dialect !== 4 && dialect !== 5) throw new ConfigError(`dialect must be 4 or 5, got ${String(dialect)}`);
  const registry = options.registry ?? new ClassRegistry();
  const tracebacks = options.tracebacks ?? true;
  const mapper = new ValueMapper({
    dialect,
    registry,
    strictClasses: options.strictClasses ?? false,
    tracebacks,
    maxDepth: checkMaxDepth(options.maxDepth),
    maxItems: checkMaxItems(options.maxItems),
  });
  const writer = new ByteWriter();
  const decodeOptions = { copyBuffers: options.copyBuffers ?? true };
  const list: readonly Serializer[] = Object.freeze([
    cborSerializer(mapper, writer, decodeOptions),
    new JsonSerializer(mapper),
    msgpackSerializer(mapper, writer, decodeOptions),
    new SerpentSerializer(mapper, options.serpentBytesRepr ?? false),
    new MarshalSerializer(mapper),
  ]);
  const byId = new Map<number, Serializer>(list.map((s) => [s.id, s]));
  const byName = new Map<string, Serializer>(list.map((s) => [s.name, s]));
  return Object.freeze({
    dialect,
    registry,
    byId: (id: number) => byId.get(id),
    byName: (name: string) => byName.get(name),
    all: () => list,
    encodeError: (err: Error) => encodeError(err, { dialect, registry, tracebacks }),
    decodeError: (dict: Record<string, unknown>) => decodeError(dict, { dialect, registry }),
  });
}
