// The object cinder-echoserver serves as `test.echoserver`: the counterpart of Pyro's test echo
// server (Pyro4.test.echoserver / Pyro5.utils.echoserver), member for member, so a test written
// against Pyro's echo server runs unchanged against Cinder's.
import { inspect } from 'node:util';
import { currentContext, expose, oneway } from '@cinder/cinder';

export interface EchoServerOptions {
  /** Print a line for every call (Pyro's `verbose`); also settable remotely. */
  verbose?: boolean;
  /** Where verbose lines go (default: stdout). */
  print?: (line: string) => void;
  /** Called when a client calls `shutdown()`: the server stops after answering. */
  onShutdown?: () => void;
  /** How long `slow` and `oneway_slow` take (Pyro: 5 s). */
  slowMs?: number;
}

/** Python's `bool(value)` for the values a client may send (empty containers are false). */
function pythonTruth(value: unknown): boolean {
  if (Array.isArray(value) || typeof value === 'string') return value.length > 0;
  if (value instanceof Map || value instanceof Set) return value.size > 0;
  if (value instanceof Uint8Array) return value.length > 0;
  if (typeof value === 'number') return value !== 0; // NaN is true in Python too
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.keys(value).length > 0;
  }
  return value !== null && value !== undefined && value !== false && value !== 0n;
}

/** Python's `time.asctime()`: `Wed Nov 25 19:33:03 2026`. */
function asctime(d: Date): string {
  const [day, month, date, year, time] = d.toString().split(' ');
  return `${day} ${month} ${String(Number(date)).padStart(2, ' ')} ${time} ${year}`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * Exposes everything public (as Pyro's class-level `@expose`): `echo`, `error`, `error_with_text`,
 * `oneway_echo` and `oneway_slow` (oneway), `slow`, `generator`, `nan`, `inf`, `shutdown`, the
 * `verbose` attribute and the dunder `__dunder__`; `_private` and `__private` stay private.
 */
/** How verbose mode renders values: on one line (inspect's defaults bound arrays and depth). */
const INSPECT = { breakLength: Number.POSITIVE_INFINITY } as const;

@expose
export class EchoServer {
  #verbose: boolean;
  readonly #print: (line: string) => void;
  readonly #onShutdown: (() => void) | undefined;
  readonly #slowMs: number;

  constructor(options: EchoServerOptions = {}) {
    this.#verbose = options.verbose ?? false;
    this.#print = options.print ?? ((line) => process.stdout.write(`${line}\n`));
    this.#onShutdown = options.onShutdown;
    this.#slowMs = options.slowMs ?? 5000;
  }

  #log(text: string): void {
    if (this.#verbose) this.#print(`${asctime(new Date())} - ${text}`);
  }

  /** Logs a received value, rendered only when verbose (rendering a large value costs time). */
  #logValue(what: string, value: unknown): void {
    if (this.#verbose) this.#log(`${what}: ${inspect(value, INSPECT)}`);
  }

  /** Returns the message. */
  echo<T>(message: T): T {
    this.#logValue('echo', message);
    return message;
  }

  /**
   * Raises an exception (a Python client sees ValueError), with the text of the caller's Pyro: Pyro4's
   * echo server and Pyro5's word it differently, and Pyro's own tests check the text.
   */
  error(): never {
    this.#log('error: generating exception');
    throw new RangeError(
      currentContext()?.protocolVersion === 48
        ? 'expected error from echoserver error() method'
        : 'this is the generated error from echoserver echo() method',
    );
  }

  /** Raises an exception with a message (a Python client sees ValueError). */
  error_with_text(): never {
    this.#log('error: generating exception');
    throw new RangeError('the message of the error');
  }

  /** Like echo, but oneway: the client does not wait for (or get) the return value. */
  @oneway
  oneway_echo(message: unknown): string {
    this.#logValue('oneway_echo', message);
    return 'bogus return value';
  }

  /** Answers after a delay. */
  async slow(): Promise<string> {
    this.#log('slow: waiting a bit...');
    await sleep(this.#slowMs);
    this.#log('slow: returning result');
    return 'Finally, an answer!';
  }

  /** A generator: the client receives its items as a stream. */
  *generator(): Generator<string> {
    yield 'one';
    yield 'two';
    yield 'three';
  }

  nan(): number {
    return Number.NaN;
  }

  inf(): number {
    return Number.POSITIVE_INFINITY;
  }

  /** Takes a while, but the client does not wait for it. */
  @oneway
  async oneway_slow(): Promise<string> {
    this.#log('oneway_slow: waiting a bit...');
    await sleep(this.#slowMs);
    this.#log('oneway_slow: returning result');
    return 'bogus return value';
  }

  /** Private: not remotely accessible. */
  _private(): string {
    return 'should not be allowed';
  }

  /** Private too (Python's name-mangled `__private`). */
  __private(): string {
    return 'should not be allowed';
  }

  /** A dunder name: remotely accessible, as in Pyro. */
  __dunder__(): string {
    return 'should be allowed (dunder)';
  }

  /** Asks the server to stop (after this call is answered). */
  shutdown(): void {
    this.#log('shutting down');
    // Let the reply go out first; Pyro's request loop likewise ends after the current request.
    setImmediate(() => this.#onShutdown?.());
  }

  get verbose(): boolean {
    return this.#verbose;
  }

  set verbose(onoff: unknown) {
    this.#verbose = pythonTruth(onoff);
  }
}
