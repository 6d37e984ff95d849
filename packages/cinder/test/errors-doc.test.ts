// docs/errors.md lists every error class with its code and name, as the classes define them, so
// the error reference cannot fall behind when a class is added or renamed.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConnectionLimitError, errorClasses, RemoteError } from '../src/index.js';

const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
const rows = new Map(
  [...doc.matchAll(/^\| `(\w+)` \| `(\w+)` \| \**`(\w+)`\** \|/gm)].map((m) => [
    m[1]!,
    { code: m[2]!, name: m[3]! },
  ]),
);

describe('docs/errors.md', () => {
  const classes: [string, new (...args: never[]) => Error][] = [
    ...Object.entries(errorClasses),
    ['RemoteError', RemoteError as never],
    ['ConnectionLimitError', ConnectionLimitError as never],
  ];

  it.each(classes)('lists %s with its code and name', (className, cls) => {
    const row = rows.get(className);
    expect(row, `no row for ${className}`).toBeDefined();
    expect(row!.code).toBe((cls as unknown as { code: string }).code);
    const instance = Object.create(cls.prototype) as Error;
    // `name` is an instance field: read it from a real instance
    const made =
      className === 'RemoteError'
        ? new RemoteError({ remoteType: 'x', remoteMessage: 'y' })
        : className === 'ConnectionLimitError'
          ? new ConnectionLimitError('maxConnections', 1, 'm')
          : className === 'MessageTooLargeError'
            ? new (cls as unknown as new (a: number, b: number) => Error)(2, 1)
            : new (cls as unknown as new (m: string) => Error)('m');
    expect(made).toBeInstanceOf(instance.constructor);
    expect(row!.name).toBe(made.name);
  });

  it('has no rows for classes that do not exist', () => {
    const known = new Set(classes.map(([n]) => n));
    expect([...rows.keys()].filter((n) => !known.has(n))).toEqual([]);
  });
});
