// The objects the interop tests serve to Python Pyro peers: a TypeScript port of the `Thing` class the
// wire vectors were captured against (vectors/README.md, "Scenarios"), with its sample values, and
// the vectors' custom exception registered under its Python name.
import {
  currentContext,
  expose,
  isProxy,
  NamingError,
  oneway,
  params,
  RemoteError,
  Tuple,
  URI,
} from '@cinder/cinder';
import { proxyCore } from '@cinder/proxy/internal';
import { ClassRegistry } from '@cinder/serializers';

/**
 * `vectorobjects.CustomError('custom failure', 42)` with attributes `code` and `detail`: Pyro sends
 * it as `args: ('custom failure', 42)` plus both attributes.
 */
export class VectorCustomError extends Error {
  override name = 'VectorCustomError';
  readonly code: number;
  readonly detail: string;

  constructor(message: string, code: number) {
    super(message);
    this.code = code;
    this.detail = 'extra attribute';
  }
}

/** A registry with the vectors' custom exception under its Python name (both dialects). */
export function vectorRegistry(): ClassRegistry {
  const registry = new ClassRegistry();
  registry.register(VectorCustomError, 'vectorobjects.CustomError', {
    // The whole exception dict: Python's args are (message, code), its attributes code and detail.
    toDict: (err) => ({
      args: Tuple.of<unknown>(err.message, err.code),
      attributes: {
        code: err.code,
        detail: err.detail,
        _pyroTraceback: (err.stack ?? '').split('\n').map((line) => `${line}\n`),
      },
    }),
  });
  return registry;
}

/** Python's `bytes(b'\x00\x01\x02hello\xff')`. */
const SAMPLE_BYTES = new Uint8Array([0, 1, 2, ...Buffer.from('hello'), 0xff]);

/**
 * The sample values of `result(kind)`, built as the closest JavaScript values. `float_integral`
 * (Python 2.0) can only be the number 2, which every serializer writes as the int 2: a deliberate,
 * documented difference.
 */
export function sampleValue(kind: string): unknown {
  switch (kind) {
    case 'none':
      return null;
    case 'true':
      return true;
    case 'false':
      return false;
    case 'int':
      return 42;
    case 'int_negative':
      return -7;
    case 'int_2p53_plus_1':
      return 2n ** 53n + 1n;
    case 'int_2p63':
      return 2n ** 63n;
    case 'int_neg_2p63':
      return -(2n ** 63n);
    case 'int_2p64':
      return 2n ** 64n;
    case 'bigint_2p70':
      return 2n ** 70n;
    case 'bigint_neg_2p70':
      return -(2n ** 70n);
    case 'float':
      return 1.5;
    case 'float_integral':
      return 2.0;
    case 'float_neg_zero':
      return -0;
    case 'float_tiny':
      return 5e-324;
    case 'float_huge':
      return 1e300;
    case 'nan':
      return Number.NaN;
    case 'inf':
      return Number.POSITIVE_INFINITY;
    case 'neg_inf':
      return Number.NEGATIVE_INFINITY;
    case 'str_ascii':
      return 'hello';
    case 'str_empty':
      return '';
    case 'str_unicode':
      return 'héllo wörld ✓ 日本 😀';
    case 'list':
      return [1, 'two', 3.5, null, true];
    case 'list_empty':
      return [];
    case 'tuple':
      return Tuple.of<unknown>(1, 'two', 3.5);
    case 'dict':
      return { a: 1, b: [1, 2] };
    case 'dict_int_keys':
      return new Map([
        [1, 'one'],
        [2, 'two'],
      ]);
    case 'set':
      return new Set([1, 2, 3]);
    case 'bytes':
      return SAMPLE_BYTES.slice();
    case 'nested':
      return {
        list: [1, [2, [3, { tuple: Tuple.of(4, 5) }]]],
        set: new Set([7]),
        none: null,
        dict: { k: { inner: [true, false] } },
      };
  }
  throw new RangeError(`no sample named ${kind}`);
}

/** A uuid's 16 bytes as Python's `str(uuid)`. */
function uuidText(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The vectors' `Thing`, member for member. Members are exposed one by one, so `hidden` is a public
 * but unexposed method and `_private` a private one, as in Python.
 */
export class Thing {
  #value = 42;
  #lastOneway: unknown = null;

  @expose
  add(a: number, b: number): number {
    return a + b;
  }

  @expose
  @params('a', 'b', '**kwargs')
  kw(a: unknown, b: unknown = 2, kwargs: Record<string, unknown> = {}): Record<string, unknown> {
    return { a, b, kwargs };
  }

  @expose
  echo<T>(value: T): T {
    return value;
  }

  @expose
  result(kind: string): unknown {
    return sampleValue(kind);
  }

  @expose
  fail(): never {
    throw new RangeError('bad value'); // crosses the wire as builtins.ValueError
  }

  @expose
  fail_custom(): never {
    throw new VectorCustomError('custom failure', 42);
  }

  @expose
  @oneway
  ow(value: unknown): void {
    this.#lastOneway = value;
  }

  @expose
  last_oneway(): unknown {
    return this.#lastOneway;
  }

  @expose
  *gen(n: number): Generator<number> {
    for (let i = 1; i <= n; i++) yield i;
  }

  @expose
  ann(): string | null {
    const context = currentContext();
    context?.responseAnnotations.set('XRSP', Buffer.from('response-annotation'));
    const request = context?.annotations.get('XREQ');
    return request === undefined ? null : Buffer.from(request).toString('utf8');
  }

  @expose
  corr(): string | null {
    const id = currentContext()?.correlationId;
    return id ? uuidText(id) : null;
  }

  @expose
  big(n: number): string {
    return 'x'.repeat(n);
  }

  @expose
  get value(): number {
    return this.#value;
  }

  @expose
  set value(v: number) {
    this.#value = v;
  }

  hidden(): string {
    return 'not exposed';
  }

  _private(): string {
    return 'private';
  }
}

/** A registered object another object hands out (autoproxy: it travels as a proxy). */
@expose
export class Child {
  hello(name: string): string {
    return `child says hello to ${name}`;
  }
}

/** What a value became on this side: its JavaScript kind and a readable form. */
export function describeValue(value: unknown): { kind: string; text: string } {
  if (value === null) return { kind: 'null', text: 'null' };
  if (typeof value !== 'object') return { kind: typeof value, text: String(value) };
  if (value instanceof URI) return { kind: 'URI', text: value.toString() };
  if (isProxy(value)) return { kind: 'proxy', text: String(proxyCore(value)?.uri) };
  if (value instanceof RemoteError)
    return { kind: 'RemoteError', text: `${value.remoteType}: ${value.remoteMessage}` };
  if (value instanceof Error) return { kind: value.constructor.name, text: value.message };
  if (value instanceof Tuple) return { kind: 'Tuple', text: JSON.stringify(value) };
  if (value instanceof Uint8Array) return { kind: 'Uint8Array', text: Buffer.from(value).toString('hex') };
  if (value instanceof Map) return { kind: 'Map', text: JSON.stringify([...value]) };
  if (value instanceof Set) return { kind: 'Set', text: JSON.stringify([...value]) };
  return {
    kind: Array.isArray(value) ? 'Array' : (value.constructor?.name ?? 'Object'),
    text: String(value),
  };
}

/** The interop tests' second object: values, callbacks, autoproxy, Cinder errors, tracked streams. */
@expose
export class Hub {
  readonly #child: Child;
  readonly #closed: number[];

  constructor(child: Child, closed: number[]) {
    this.#child = child;
    this.#closed = closed;
  }

  /** Calls `hello(...args)` on a callback object the caller passed (a proxy to the caller's daemon). */
  async callBack(
    callback: { hello(...args: unknown[]): Promise<unknown> },
    ...args: unknown[]
  ): Promise<string> {
    return `cinder got ${JSON.stringify(await callback.hello(...args))}`;
  }

  describe(value: unknown): { kind: string; text: string } {
    return describeValue(value);
  }

  child(): Child {
    return this.#child;
  }

  uri(text: string): URI {
    return URI.parse(text);
  }

  errorValue(): Error {
    return new TypeError('an error as a value');
  }

  naming(): never {
    throw new NamingError('no such name');
  }

  *tracked(n: number): Generator<number> {
    try {
      for (let i = 1; i <= n; i++) yield i;
    } finally {
      this.#closed.push(n);
    }
  }

  closedStreams(): number[] {
    return this.#closed;
  }

  async slow(ms: number): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return 'done';
  }
}
