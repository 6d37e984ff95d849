// Each configuration item's plain predicate (the path that does not load zod) must take only values
// its zod schema accepts, and output them as the schema would; everything else goes to the schema,
// whose messages the errors keep.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../src/config-schema.js';
import { type ItemName, specs, UNDECIDED } from '../src/config-spec.js';
import { type CinderConfig, ConfigError, configItems, resolveConfig } from '../src/index.js';

const names = Object.keys(specs) as ItemName[];
const shape = configSchema.shape as Record<ItemName, (typeof configSchema.shape)[ItemName]>;
const sparse: unknown[] = ['cbor'];
sparse[2] = 'json';
const values: unknown[] = [
  ...[-1, 0, 1, 3, 4, 5, 6, 7, 2999, 3000, 65535, 65536, 10000, 10001, 2 ** 31 - 1, 2 ** 32 - 1, 2 ** 32],
  ...[-0, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 53, -(2 ** 53), 1e300],
  ...['', 'x', '0', 'cbor', 'json', 'silent', 'debug', '127.0.0.1', '<broadcast>', 'CBOR', ' cbor'],
  ...[null, undefined, true, false, 0n, Symbol('s'), {}, { length: 1, 0: 'cbor' }, new String('x')],
  ...[[], ['cbor'], ['cbor', 'cbor'], ['x'], [''], ['a', 'b'], [null], [1], sparse, new Array(2)],
  ...[Object.assign(['json'], { extra: 1 }), [['json']]],
];

function agrees(name: ItemName, value: unknown): void {
  const taken = specs[name].rule.take(value);
  if (taken === UNDECIDED) return;
  const parsed = shape[name].safeParse(value);
  expect(parsed.success, `${name} takes ${String(value)}`).toBe(true);
  expect(taken).toEqual(parsed.data);
  if (Array.isArray(value)) expect(taken).not.toBe(value);
}

describe('config rules', () => {
  it("take only what the item's zod schema accepts, output as zod outputs it", () => {
    for (const name of names) for (const value of values) agrees(name, value);
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.anything(), (name, value) => agrees(name, value)),
      { numRuns: 2000 },
    );
  });

  it('take the common values themselves, so they need no zod', () => {
    for (const item of configItems) {
      expect(specs[item.name].rule.take(item.defaultValue), item.name).not.toBe(UNDECIDED);
    }
    const common: Partial<CinderConfig> = {
      host: '0.0.0.0',
      nsPort: 9999,
      nsAutocleanMs: 3000,
      preferIpVersion: 6,
      serializer: 'msgpack',
      serializersAccepted: ['json', 'msgpack'],
      logLevel: 'debug',
      hmacKey: 'secret',
      maxDepth: 10000,
      maxMessageSize: 2 ** 32 - 1,
      broadcastAddrs: [],
      gatewayRequestTimeoutMs: 1,
    };
    for (const [name, value] of Object.entries(common)) {
      expect(specs[name as ItemName].rule.take(value), name).not.toBe(UNDECIDED);
    }
  });

  it("refuse with the zod schema's own messages", () => {
    const bad: [ItemName, unknown][] = [
      ['nsPort', -1],
      ['nsPort', 70000],
      ['nsPort', 1.5],
      ['nsAutocleanMs', 5],
      ['gatewayRequestTimeoutMs', 0],
      ['gatewayRequestTimeoutMs', -1],
      ['maxDepth', 10001],
      ['preferIpVersion', 5],
      ['serializer', 'xml'],
      ['serializersAccepted', []],
      ['serializersAccepted', ['json', 'xml']],
      ['broadcastAddrs', ['']],
      ['host', ''],
      ['hmacKey', ''],
      ['compression', 'yes'],
      ['logLevel', 7],
    ];
    for (const [name, value] of bad) {
      const parsed = shape[name].safeParse(value);
      expect(parsed.success).toBe(false);
      const text = parsed.error?.issues
        .map((i) => (i.path.length > 0 ? `element ${i.path.join('.')}: ${i.message}` : i.message))
        .join('; ');
      let err: unknown;
      try {
        resolveConfig({ [name]: value } as Partial<CinderConfig>, { useEnvironment: false });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).message).toBe(
        `invalid configuration: ${name} (${configItems.find((i) => i.name === name)?.envVar}) = ${JSON.stringify(value)}: ${text}`,
      );
    }
  });
});
