// The wire vectors' `$`-rendering of Python values (vectors/README.md, "Rendering of payload_decoded")
// converted to and from Cinder's value model, plus a canonical text of model values for exact
// comparisons. The model's Tuple and Complex classes are passed in, so this helper does not depend
// on @cinder/serializers (which depends on these helpers for its tests).

export interface ModelClasses {
  Tuple: { fromArray(items: readonly unknown[]): unknown[] } & (abstract new (...args: never[]) => unknown[]);
  Complex: new (real: number, imag: number) => { readonly real: number; readonly imag: number };
}

/** What a msgpack ext value (`{"$msgpack_ext": code, "hex": …, "value": …}`) should become. */
export type ExtRendering = (code: number, hex: string, value: unknown) => unknown;

export interface PyRender {
  /** Rendering → model value. Integral floats (`{"$float": "2.0"}`) become plain numbers. */
  fromRendering(rendering: unknown): unknown;
  /** Model value → rendering (what a Python helper script can rebuild exactly). */
  toRendering(value: unknown): unknown;
  /**
   * A canonical text that tells apart everything the model can: -0 from 0, bigint from number, Tuple
   * from Array, Map from plain object, dict key order (set order is ignored).
   */
  canon(value: unknown): string;
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

function parseFloatRendering(s: string): number {
  if (s === 'nan') return Number.NaN;
  if (s === 'inf') return Number.POSITIVE_INFINITY;
  if (s === '-inf') return Number.NEGATIVE_INFINITY;
  return Number(s);
}

function pyFloatText(n: number): string {
  if (Object.is(n, -0)) return '-0.0';
  const abs = Math.abs(n);
  if (abs >= 1e16) {
    const s = n.toExponential();
    const [m, e] = s.split('e') as [string, string];
    const digits = e.slice(1);
    return `${m}e${e[0]}${digits.length === 1 ? `0${digits}` : digits}`;
  }
  return `${n}.0`;
}

/** The default for msgpack ext values: Pyro's reading (`value`), as rendered. */
function defaultExt(render: (r: unknown) => unknown): ExtRendering {
  return (code, _hex, value) => {
    if (code === 0x32 && typeof value === 'object' && value !== null && '$timestamp' in value) {
      return new Date((value as { $timestamp: number }).$timestamp * 1000);
    }
    if (code === 0x33 && typeof value === 'object' && value !== null && '$date_ordinal' in value) {
      return new Date(((value as { $date_ordinal: number }).$date_ordinal - 719_163) * 86_400_000);
    }
    return render(value);
  };
}

export function createPyRender(classes: ModelClasses, options: { ext?: ExtRendering } = {}): PyRender {
  const { Tuple, Complex } = classes;

  function fromRendering(r: unknown): unknown {
    if (r === null || typeof r === 'boolean' || typeof r === 'string' || typeof r === 'number') return r;
    if (Array.isArray(r)) return r.map(fromRendering);
    const o = r as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys[0] === '$msgpack_ext' && keys.length === 3) {
      return ext(o.$msgpack_ext as number, o.hex as string, o.value);
    }
    if (keys.length === 1 && keys[0]!.startsWith('$')) {
      const v = o[keys[0]!];
      switch (keys[0]) {
        case '$int': {
          const big = BigInt(v as string);
          return big >= -(2n ** 53n - 1n) && big <= 2n ** 53n - 1n ? Number(big) : big;
        }
        case '$float':
          return parseFloatRendering(v as string);
        case '$bytes':
          return new Uint8Array(Buffer.from(v as string, 'hex'));
        case '$tuple':
          return Tuple.fromArray((v as unknown[]).map(fromRendering));
        case '$set':
        case '$frozenset':
          return new Set((v as unknown[]).map(fromRendering));
        case '$dict': {
          const pairs = (v as [unknown, unknown][]).map(
            ([k, x]) => [fromRendering(k), fromRendering(x)] as const,
          );
          if (pairs.every(([k]) => typeof k === 'string')) {
            const out: Record<string, unknown> = {};
            for (const [k, x] of pairs) setOwn(out, k as string, x);
            return out;
          }
          return new Map(pairs);
        }
        case '$complex': {
          const [re, im] = v as [unknown, unknown];
          return new Complex(fromRendering(re) as number, fromRendering(im) as number);
        }
        case '$timestamp':
          return new Date((v as number) * 1000);
        case '$date_ordinal':
          return new Date(((v as number) - 719_163) * 86_400_000);
      }
      throw new Error(`unknown rendering ${keys[0]}`);
    }
    const out: Record<string, unknown> = {};
    for (const k of keys) setOwn(out, k, fromRendering(o[k]));
    return out;
  }
  const ext = options.ext ?? defaultExt(fromRendering);

  function toRendering(v: unknown): unknown {
    switch (typeof v) {
      case 'undefined':
        return null;
      case 'boolean':
      case 'string':
        return v;
      case 'number':
        if (Number.isSafeInteger(v) && !Object.is(v, -0)) return v;
        if (Number.isNaN(v)) return { $float: 'nan' };
        if (v === Number.POSITIVE_INFINITY) return { $float: 'inf' };
        if (v === Number.NEGATIVE_INFINITY) return { $float: '-inf' };
        return Number.isInteger(v) || Object.is(v, -0) ? { $float: pyFloatText(v) } : v;
      case 'bigint':
        return { $int: v.toString() };
      case 'object': {
        if (v === null) return null;
        if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('hex') };
        if (v instanceof Tuple) return { $tuple: [...v].map(toRendering) };
        if (Array.isArray(v)) return v.map(toRendering);
        if (v instanceof Set) return { $set: [...v].map(toRendering) };
        if (v instanceof Map) return { $dict: [...v].map(([k, x]) => [toRendering(k), toRendering(x)]) };
        if (v instanceof Complex) return { $complex: [toRendering(v.real), toRendering(v.imag)] };
        const o = v as Record<string, unknown>;
        const keys = Object.keys(o);
        if (keys.some((k) => k.startsWith('$'))) return { $dict: keys.map((k) => [k, toRendering(o[k])]) };
        const out: Record<string, unknown> = {};
        for (const k of keys) setOwn(out, k, toRendering(o[k]));
        return out;
      }
    }
    throw new Error(`cannot render ${typeof v}`);
  }

  function canon(v: unknown): string {
    switch (typeof v) {
      case 'undefined':
        return 'undefined';
      case 'boolean':
        return v ? 'True' : 'False';
      case 'string':
        return JSON.stringify(v);
      case 'number':
        return Object.is(v, -0) ? 'n:-0' : `n:${v}`;
      case 'bigint':
        return `big:${v}`;
      case 'object': {
        if (v === null) return 'None';
        if (v instanceof Uint8Array) return `b:${Buffer.from(v).toString('hex')}`;
        if (v instanceof Tuple) return `(${[...v].map(canon).join(',')})`;
        if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
        if (v instanceof Set) return `set{${[...v].map(canon).sort().join(',')}}`;
        if (v instanceof Map) return `map{${[...v].map(([k, x]) => `${canon(k)}=>${canon(x)}`).join(',')}}`;
        if (v instanceof Complex) return `complex(${canon(v.real)},${canon(v.imag)})`;
        if (v instanceof Date) return `date:${v.getTime()}`;
        const proto = Object.getPrototypeOf(v) as unknown;
        if (proto !== Object.prototype && proto !== null) return `?${(v as object).constructor.name}`;
        const o = v as Record<string, unknown>;
        return `{${Object.keys(o)
          .map((k) => `${JSON.stringify(k)}:${canon(o[k])}`)
          .join(',')}}`;
      }
    }
    return `?${typeof v}`;
  }

  return { fromRendering, toRendering, canon };
}
