// Serpent: Python literal expressions (ast.literal_eval syntax) after a `# serpent utf-8 python3.2`
// header line. The encoder writes byte for byte what serpent 1.41 writes with module_in_classname=True;
// the decoder reads the literal syntax ast.literal_eval accepts (plus serpent's own `(1.0+-0.0j)`).
import { SerializeError } from '@cinder/core';
import { Complex, Tuple } from '../pyvalues.js';
import {
  type FormatDecodeOptions,
  type FormatEncodeOptions,
  guardStack,
  isPlainObject,
  lineColumn,
  maxDepthOf,
  maxItemsOf,
  newTuple,
  PY_INT_MAX_STR_DIGITS,
  replaceValue,
  setOwn,
  tooDeep,
  tooManyItems,
  typeName,
} from './options.js';
import { bigintDigits, isPyInt, pyFloatFromString, pyFloatRepr } from './py-float.js';
import { pyBytesRepr, pyStrRepr } from './py-repr.js';
import { StringAssembler } from './string-assembler.js';
import { TextOutput } from './text-output.js';
import { decodeUtf8 } from './utf8.js';
import { serpentValueCount } from './value-count.js';

export const SERPENT_HEADER = '# serpent utf-8 python3.2\n';

export interface SerpentEncodeOptions extends FormatEncodeOptions {
  /** Write bytes as a `b'...'` literal (serpent ≥ 1.40 `bytes_repr=True`) instead of the base64 dict. */
  bytesRepr?: boolean;
}

// ---------------------------------------------------------------------------------------------------
// Encoding

/**
 * Encodes a model value as serpent, exactly as `serpent.dumps(v, module_in_classname=True,
 * bytes_repr=…)` does: no spaces, dicts and sets in insertion order, `()` for an empty set, NaN as
 * `{'__class__':'float','value':'nan'}`, ±inf as `±1e30000`, bytes as a base64 dict (or `b'...'`).
 * Differences, all where Python would write something unreadable: a complex with a NaN part, a dict
 * key or set element that is a list/dict/set/None, or bytes as a dict key without bytesRepr → SerializeError.
 */
export function encodeSerpent(value: unknown, options?: SerpentEncodeOptions): Uint8Array {
  const w = new SerpentWriter(maxDepthOf(options), options);
  guardStack(() => w.value(value, 0, false), 'serpent');
  return w.bytes();
}

const NAN_DICT = "{'__class__':'float','value':'nan'}";

function serpentFloat(n: number): string {
  if (Number.isNaN(n)) return NAN_DICT;
  if (n === Number.POSITIVE_INFINITY) return '1e30000';
  if (n === Number.NEGATIVE_INFINITY) return '-1e30000';
  return pyFloatRepr(n);
}

class SerpentWriter extends TextOutput {
  private readonly bytesRepr: boolean;

  constructor(
    private readonly maxDepth: number,
    private readonly options: SerpentEncodeOptions | undefined,
  ) {
    super(SERPENT_HEADER);
    this.bytesRepr = options?.bytesRepr === true;
  }

  value(v: unknown, depth: number, replaced: boolean): void {
    switch (typeof v) {
      case 'string':
        this.out += pyStrRepr(v);
        return;
      case 'number':
        this.out += isPyInt(v) ? String(v) : serpentFloat(v);
        return;
      case 'boolean':
        this.out += v ? 'True' : 'False';
        return;
      case 'bigint':
        this.out += bigintDigits(v, PY_INT_MAX_STR_DIGITS, 'serpent');
        return;
      case 'undefined':
        this.out += 'None';
        return;
      case 'object':
        if (v === null) this.out += 'None';
        else this.object(v, depth, replaced);
        return;
      case 'function':
        this.replaced(v, depth, replaced);
        return;
      default:
        throw new SerializeError(`serpent cannot serialize a value of type ${typeof v}`);
    }
  }

  private object(v: object, depth: number, replaced: boolean): void {
    if (Array.isArray(v)) {
      this.enter(depth);
      if (v instanceof Tuple) this.tuple(v, depth + 1);
      else this.list(v, depth + 1);
    } else if (v instanceof Uint8Array) {
      if (this.bytesRepr) {
        this.out += pyBytesRepr(v);
      } else {
        this.enter(depth);
        const b64 = Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
        // serpent writes Python's repr() of the dict here, hence the spaces.
        this.out += `{'data': '${b64}', 'encoding': 'base64'}`;
      }
    } else if (v instanceof Map) {
      this.enter(depth);
      this.map(v, depth + 1);
    } else if (v instanceof Set) {
      this.enter(depth);
      this.set(v, depth + 1);
    } else if (isPlainObject(v)) {
      this.enter(depth);
      this.dict(v, depth + 1);
    } else if (v instanceof Complex) {
      this.complex(v);
    } else {
      this.replaced(v, depth, replaced);
    }
  }

  private replaced(v: object, depth: number, replaced: boolean): void {
    if (replaced) {
      throw new SerializeError(
        `serpent: replace() returned a ${typeName(v)}, which is outside the value model`,
      );
    }
    this.value(replaceValue(v, this.options, 'serpent'), depth, true);
  }

  private enter(depth: number): void {
    if (depth + 1 > this.maxDepth) throw tooDeep(this.maxDepth, 'while encoding serpent');
  }

  private complex(c: Complex): void {
    if (Number.isNaN(c.real) || Number.isNaN(c.imag)) {
      // serpent would write the NaN dict inside the complex literal, which nothing can read back.
      throw new SerializeError('serpent cannot serialize a complex number with a NaN part');
    }
    // serpent adds '+' when imag >= 0, which is true for -0.0 as well: `(1.0+-0.0j)`.
    this.out += `(${serpentFloat(c.real)}${c.imag >= 0 ? '+' : ''}${serpentFloat(c.imag)}j)`;
  }

  private tuple(t: readonly unknown[], depth: number): void {
    const n = t.length;
    this.out += '(';
    for (let i = 0; i < n; i++) {
      if (i > 0) this.out += ',';
      this.value(t[i], depth, false);
      this.spill();
    }
    this.out += n === 1 ? ',)' : ')';
  }

  private list(a: readonly unknown[], depth: number): void {
    const n = a.length;
    this.out += '[';
    for (let i = 0; i < n; i++) {
      if (i > 0) this.out += ',';
      this.value(a[i], depth, false);
      this.spill();
    }
    this.out += ']';
  }

  private set(s: ReadonlySet<unknown>, depth: number): void {
    if (s.size === 0) {
      // There is no empty-set literal; serpent writes an empty tuple.
      this.out += '()';
      return;
    }
    this.out += '{';
    let first = true;
    for (const item of s) {
      if (!first) this.out += ',';
      first = false;
      this.checkHashable(item, 'set element');
      this.value(item, depth, false);
      this.spill();
    }
    this.out += '}';
  }

  private dict(o: Record<string, unknown>, depth: number): void {
    this.out += '{';
    let first = true;
    for (const k of Object.keys(o)) {
      this.out += first ? `${pyStrRepr(k)}:` : `,${pyStrRepr(k)}:`;
      first = false;
      this.value(o[k], depth, false);
      this.spill();
    }
    this.out += '}';
  }

  private map(m: ReadonlyMap<unknown, unknown>, depth: number): void {
    this.out += '{';
    let first = true;
    for (const [k, v] of m) {
      if (!first) this.out += ',';
      first = false;
      this.checkHashable(k, 'dict key');
      this.value(k, depth, false);
      this.out += ':';
      this.value(v, depth, false);
      this.spill();
    }
    this.out += '}';
  }

  /** serpent accepts str, bytes, numbers, bool and tuples as dict keys and set elements. */
  private checkHashable(k: unknown, what: string): void {
    switch (typeof k) {
      case 'number':
        // NaN is written as a dict, which Python cannot use as a key or set element.
        if (Number.isNaN(k)) break;
        return;
      case 'string':
      case 'bigint':
      case 'boolean':
        return;
      case 'object':
        if (k instanceof Tuple || k instanceof Complex) return;
        if (k instanceof Uint8Array && this.bytesRepr) return;
        break;
    }
    throw new SerializeError(
      `serpent: a ${what} must be str, bytes, a number, bool or a tuple, not ${typeName(k)}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// Decoding

/**
 * Decodes serpent (any Python literal expression ast.literal_eval accepts, comments included). Dicts
 * with only str keys become plain objects, others Maps; tuples Tuple, sets Set, complex Complex, big ints
 * bigint. serpent's NaN dict `{'__class__':'float','value':…}` becomes the float it stands for (Pyro
 * does the same). Bytes literals become Uint8Array; serpent's base64 dicts stay dicts.
 */
export function decodeSerpent(data: Uint8Array, options?: FormatDecodeOptions): unknown {
  const text = decodeUtf8(data, 'serpent');
  const nul = text.indexOf('\0');
  if (nul !== -1) throw new SerializeError(`invalid serpent data: NUL character at char ${nul}`);
  const maxDepth = maxDepthOf(options);
  const maxItems = maxItemsOf(options);
  // Every value but the first takes at least two characters (itself and a separator): shorter text
  // cannot exceed the budget. Longer text is counted before anything is built.
  if (text.length >= 2 * maxItems && serpentValueCount(text, maxDepth, maxItems) > maxItems) {
    throw tooManyItems('serpent', maxItems);
  }
  const p = new SerpentParser(text, maxDepth, maxItems, options?.reviveClass);
  return guardStack(() => p.parse(), 'serpent');
}

const NAME_CHAR = /[A-Za-z0-9_]/;
const INT_DEC = /^(?:[1-9](?:_?\d)*|0(?:_?0)*)$/;
const NUMBER =
  /0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(\d(?:_?\d)*)?(\.(?:\d(?:_?\d)*)?)?([eE][+-]?\d(?:_?\d)*)?([jJ])?/y;
interface StrLit {
  bytes: boolean;
  value: string | Uint8Array;
}

class SerpentParser {
  private pos = 0;
  private nextBackslash = -1;
  private nextLf = -1;
  private nextCr = -1;

  /** What is left of the decode budget (values, dict keys included). */
  private itemsLeft: number;

  constructor(
    private readonly text: string,
    private readonly maxDepth: number,
    private readonly maxItems: number,
    private readonly revive: ((dict: Record<string, unknown>) => unknown) | undefined,
  ) {
    this.itemsLeft = maxItems;
  }

  parse(): unknown {
    const v = this.value(0);
    this.skip();
    if (this.pos < this.text.length) throw this.error('unexpected data after the value', this.pos);
    return v;
  }

  private error(what: string, at: number): SerializeError {
    return new SerializeError(`invalid serpent data at char ${at} (${lineColumn(this.text, at)}): ${what}`);
  }

  /** Skips whitespace, comments and backslash-newline continuations. */
  private skip(): void {
    const t = this.text;
    let p = this.pos;
    for (;;) {
      const c = t.charCodeAt(p);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x0c) {
        p++;
      } else if (c === 0x23) {
        const nl = t.indexOf('\n', p);
        p = nl === -1 ? t.length : nl + 1;
      } else if (c === 0x5c && (t.charCodeAt(p + 1) === 0x0a || t.charCodeAt(p + 1) === 0x0d)) {
        p += t.charCodeAt(p + 1) === 0x0d && t.charCodeAt(p + 2) === 0x0a ? 3 : 2;
      } else {
        break;
      }
    }
    this.pos = p;
  }

  private enter(depth: number): void {
    if (depth > this.maxDepth) throw this.error(`nesting deeper than maxDepth=${this.maxDepth}`, this.pos);
  }

  private value(depth: number): unknown {
    this.skip();
    if (--this.itemsLeft < 0) throw tooManyItems('serpent', this.maxItems);
    const t = this.text;
    const p = this.pos;
    const c = t.charCodeAt(p);
    switch (c) {
      case 0x28: // (
        return this.paren(depth + 1);
      case 0x5b: // [
        return this.list(depth + 1);
      case 0x7b: // {
        return this.braces(depth + 1);
      case 0x27: // '
      case 0x22: // "
        return this.strings();
      case 0x2d: // -
      case 0x2b: // +
        return this.signed();
      default:
        if ((c >= 0x30 && c <= 0x39) || (c === 0x2e && isDigit(t.charCodeAt(p + 1))))
          return this.numberExpr();
        if (isNameStart(c)) return this.name();
        if (Number.isNaN(c)) throw this.error('unexpected end of data', p);
        throw this.error(`unexpected character ${JSON.stringify(t[p])}`, p);
    }
  }

  private name(): unknown {
    const t = this.text;
    const start = this.pos;
    let p = start;
    while (p < t.length && NAME_CHAR.test(t[p]!)) p++;
    const word = t.slice(start, p);
    const c = t.charCodeAt(p);
    if ((c === 0x27 || c === 0x22) && /^(?:[rRbBuU]|[rR][bB]|[bB][rR])$/.test(word)) return this.strings();
    this.pos = p;
    switch (word) {
      case 'None':
        return null;
      case 'True':
        return true;
      case 'False':
        return false;
      case 'set': {
        // ast.literal_eval accepts set() for the empty set.
        this.skip();
        if (t.charCodeAt(this.pos) === 0x28) {
          this.pos++;
          this.skip();
          if (t.charCodeAt(this.pos) === 0x29) {
            this.pos++;
            return new Set();
          }
        }
        throw this.error('only set() with no arguments is allowed', start);
      }
      default:
        throw this.error(`unsupported name ${JSON.stringify(word)}`, start);
    }
  }

  /** `-`/`+` before a number literal, as ast.literal_eval allows it (once, on int/float/complex). */
  private signed(): unknown {
    const start = this.pos;
    const neg = this.text.charCodeAt(start) === 0x2d;
    this.pos++;
    this.skip();
    const c = this.text.charCodeAt(this.pos);
    if (!isDigit(c) && !(c === 0x2e && isDigit(this.text.charCodeAt(this.pos + 1)))) {
      throw this.error('a sign must be followed by a number', start);
    }
    const n = this.number();
    let v: number | bigint | Complex;
    if (n instanceof Complex) v = neg ? new Complex(-n.real, -n.imag) : n;
    else if (typeof n === 'bigint') v = neg ? normInt(-n) : n;
    else v = neg ? -n : n;
    return this.complexTail(v, start);
  }

  private numberExpr(): unknown {
    const start = this.pos;
    return this.complexTail(this.number(), start);
  }

  /** `real ± imag j`: the one binary operation ast.literal_eval allows. */
  private complexTail(left: number | bigint | Complex, start: number): unknown {
    if (left instanceof Complex) return left;
    const save = this.pos;
    this.skip();
    const op = this.text.charCodeAt(this.pos);
    if (op !== 0x2b && op !== 0x2d) {
      this.pos = save;
      return left;
    }
    this.pos++;
    this.skip();
    // serpent writes `(1.0+-0.0j)` for a negative zero imaginary part; Python cannot read that back,
    // but it is unambiguous, so accept one sign here too.
    let sign = 1;
    const s = this.text.charCodeAt(this.pos);
    if (s === 0x2d || s === 0x2b) {
      if (s === 0x2d) sign = -1;
      this.pos++;
      this.skip();
    }
    const c = this.text.charCodeAt(this.pos);
    if (!isDigit(c) && c !== 0x2e) throw this.error('expected an imaginary number', this.pos);
    const right = this.number();
    if (!(right instanceof Complex)) throw this.error('only real ± imaginary is allowed', start);
    const re = typeof left === 'bigint' ? Number(left) : left;
    const im = sign === -1 ? -right.imag : right.imag;
    // Python would compute float + complex(0.0, im), turning a -0.0 part into 0.0; the parts are
    // kept as written instead, so that serpent's `(re±imj)` round-trips signed zeros exactly.
    return new Complex(re, op === 0x2b ? im : -im);
  }

  private number(): number | bigint | Complex {
    const t = this.text;
    const start = this.pos;
    // The common cases first, without the regular expressions: a decimal int of up to 15 digits
    // (no leading zero) or a plain float (digits, fraction, exponent), without `_` or `j`, followed
    // by a delimiter. A budget's worth of them decodes 2–3× faster; anything else goes on below.
    let p = start;
    let v = 0;
    let c = t.charCodeAt(p);
    while (c >= 0x30 && c <= 0x39) {
      v = v * 10 + (c - 0x30);
      c = t.charCodeAt(++p);
    }
    const run = p - start;
    if (c !== 0x2e && c !== 0x65 && c !== 0x45) {
      if (run > 0 && run <= 15 && (run === 1 || t.charCodeAt(start) !== 0x30) && !isNameStart(c)) {
        this.pos = p;
        return v;
      }
    } else {
      let digits = run;
      if (c === 0x2e) {
        while (isDigit(t.charCodeAt(++p))) digits++;
        c = t.charCodeAt(p);
      }
      if (digits > 0 && (c === 0x65 || c === 0x45)) {
        let e = p + 1;
        const sign = t.charCodeAt(e);
        if (sign === 0x2b || sign === 0x2d) e++;
        const first = e;
        while (isDigit(t.charCodeAt(e))) e++;
        p = e > first ? e : -1;
        c = t.charCodeAt(p);
      }
      if (digits > 0 && p > 0 && !isNameStart(c) && !isDigit(c) && c !== 0x2e) {
        this.pos = p;
        return Number(t.slice(start, p));
      }
    }
    NUMBER.lastIndex = start;
    const m = NUMBER.exec(t);
    const s = m === null ? '' : m[0];
    if (m === null || s === '' || s === '.') throw this.error('invalid number', start);
    this.pos = start + s.length;
    const next = t.charCodeAt(this.pos);
    if (isNameStart(next) || isDigit(next) || next === 0x2e) throw this.error('invalid number', start);
    const c1 = s.charCodeAt(1) | 0x20;
    if (s.length > 2 && s.charCodeAt(0) === 0x30 && (c1 === 0x78 || c1 === 0x6f || c1 === 0x62)) {
      // 0x / 0o / 0b: BigInt reads the same prefixes
      return normInt(BigInt(`0${String.fromCharCode(c1)}${s.slice(2).replaceAll('_', '')}`));
    }
    const [, intPart, frac, exp, imag] = m;
    if (imag !== undefined) return new Complex(0, Number(s.slice(0, -1).replaceAll('_', '')));
    if (frac !== undefined || exp !== undefined) return Number(s.replaceAll('_', ''));
    if (intPart === undefined || !INT_DEC.test(intPart)) throw this.error('invalid decimal integer', start);
    const digits = intPart.includes('_') ? intPart.replaceAll('_', '') : intPart;
    if (digits.length <= 15) return Number(digits);
    if (digits.length > PY_INT_MAX_STR_DIGITS) {
      throw this.error(
        `int with ${digits.length} digits exceeds Python's limit of ${PY_INT_MAX_STR_DIGITS}`,
        start,
      );
    }
    return normInt(BigInt(digits));
  }

  private paren(depth: number): unknown {
    this.enter(depth);
    const open = this.pos;
    this.pos++;
    this.skip();
    if (this.text.charCodeAt(this.pos) === 0x29) {
      this.pos++;
      return newTuple();
    }
    const first = this.value(depth);
    this.skip();
    let c = this.text.charCodeAt(this.pos);
    if (c === 0x29) {
      this.pos++;
      return first; // a parenthesized expression, not a tuple
    }
    const out = newTuple();
    out[0] = first;
    let n = 1;
    for (;;) {
      if (c !== 0x2c) throw this.error("expected ',' or ')'", Number.isNaN(c) ? open : this.pos);
      this.pos++;
      this.skip();
      if (this.text.charCodeAt(this.pos) === 0x29) break;
      out[n++] = this.value(depth);
      this.skip();
      c = this.text.charCodeAt(this.pos);
      if (c === 0x29) break;
    }
    this.pos++;
    return out;
  }

  private list(depth: number): unknown[] {
    this.enter(depth);
    const open = this.pos;
    this.pos++;
    const out: unknown[] = [];
    for (;;) {
      this.skip();
      if (this.text.charCodeAt(this.pos) === 0x5d) break;
      out.push(this.value(depth));
      this.skip();
      const c = this.text.charCodeAt(this.pos);
      if (c === 0x5d) break;
      if (c !== 0x2c) throw this.error("expected ',' or ']'", Number.isNaN(c) ? open : this.pos);
      this.pos++;
    }
    this.pos++;
    return out;
  }

  private braces(depth: number): unknown {
    this.enter(depth);
    const open = this.pos;
    this.pos++;
    this.skip();
    if (this.text.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      return {};
    }
    const keyAt = this.pos;
    const first = this.value(depth);
    this.skip();
    if (this.text.charCodeAt(this.pos) === 0x3a) return this.dict(first, keyAt, depth, open);
    const items: unknown[] = [first];
    this.checkHashable(first, keyAt);
    for (;;) {
      const c = this.text.charCodeAt(this.pos);
      if (c === 0x7d) break;
      if (c !== 0x2c) throw this.error("expected ',' or '}'", Number.isNaN(c) ? open : this.pos);
      this.pos++;
      this.skip();
      if (this.text.charCodeAt(this.pos) === 0x7d) break;
      const at = this.pos;
      const item = this.value(depth);
      this.checkHashable(item, at);
      items.push(item);
      this.skip();
    }
    this.pos++;
    return new Set(items);
  }

  private dict(firstKey: unknown, keyAt: number, depth: number, open: number): unknown {
    // Keys and values are collected first: only at the end do we know whether every key is a str.
    const keys: unknown[] = [];
    const values: unknown[] = [];
    let allStr = true;
    let key = firstKey;
    let at = keyAt;
    for (;;) {
      this.checkHashable(key, at);
      if (typeof key !== 'string') allStr = false;
      this.pos++; // the ':'
      keys.push(key);
      values.push(this.value(depth));
      this.skip();
      let c = this.text.charCodeAt(this.pos);
      if (c === 0x2c) {
        this.pos++;
        this.skip();
        c = this.text.charCodeAt(this.pos);
      } else if (c !== 0x7d) {
        throw this.error("expected ',' or '}'", Number.isNaN(c) ? open : this.pos);
      }
      if (c === 0x7d) break;
      at = this.pos;
      key = this.value(depth);
      this.skip();
      if (this.text.charCodeAt(this.pos) !== 0x3a) throw this.error("expected ':'", this.pos);
    }
    this.pos++;
    if (!allStr) {
      const m = new Map<unknown, unknown>();
      for (let i = 0; i < keys.length; i++) m.set(keys[i], values[i]);
      return m;
    }
    const o: Record<string, unknown> = {};
    for (let i = 0; i < keys.length; i++) setOwn(o, keys[i] as string, values[i]);
    const cls = o['__class__'];
    if (typeof cls === 'string' && Object.hasOwn(o, '__class__')) {
      if (cls === 'float' && typeof o['value'] === 'string') {
        const f = pyFloatFromString(o['value']);
        if (f !== undefined) return f;
      }
      if (this.revive !== undefined) return this.revive(o);
    }
    return o;
  }

  /** Python refuses unhashable dict keys and set elements (lists, dicts, sets; tuples holding them). */
  private checkHashable(v: unknown, at: number): void {
    if (typeof v !== 'object' || v === null || v instanceof Complex || v instanceof Uint8Array) return;
    if (v instanceof Tuple) {
      for (const item of v) this.checkHashable(item, at);
      return;
    }
    throw this.error(
      `unhashable ${Array.isArray(v) ? 'list' : v instanceof Set ? 'set' : 'dict'} as dict key or set element`,
      at,
    );
  }

  /** One or more adjacent string literals, concatenated (str and bytes cannot be mixed). */
  private strings(): string | Uint8Array {
    const startAt = this.pos;
    const first = this.stringLiteral();
    let next = this.peekString();
    if (!next) return first.value;
    const parts: StrLit[] = [first];
    while (next) {
      const lit = this.stringLiteral();
      if (lit.bytes !== first.bytes) throw this.error('cannot mix bytes and str literals', startAt);
      parts.push(lit);
      next = this.peekString();
    }
    if (!first.bytes) return parts.map((p) => p.value as string).join('');
    const chunks = parts.map((p) => p.value as Uint8Array);
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }

  /** Whether another string literal follows (after whitespace); leaves pos at it if so. */
  private peekString(): boolean {
    const save = this.pos;
    this.skip();
    const t = this.text;
    let p = this.pos;
    let k = 0;
    while (k < 2 && /[rRbBuU]/.test(t[p] ?? '')) {
      p++;
      k++;
    }
    const c = t.charCodeAt(p);
    if (
      (c === 0x27 || c === 0x22) &&
      (k === 0 || /^(?:[rRbBuU]|[rR][bB]|[bB][rR])$/.test(t.slice(this.pos, p)))
    ) {
      return true;
    }
    this.pos = save;
    return false;
  }

  private stringLiteral(): StrLit {
    const t = this.text;
    const start = this.pos;
    let raw = false;
    let bytes = false;
    let p = start;
    for (;;) {
      const c = t.charCodeAt(p) | 0x20;
      if (c === 0x72) raw = true;
      else if (c === 0x62) bytes = true;
      else if (c !== 0x75) break;
      p++;
    }
    const q = t.charCodeAt(p);
    const triple = t.charCodeAt(p + 1) === q && t.charCodeAt(p + 2) === q;
    const qlen = triple ? 3 : 1;
    const bodyStart = p + qlen;
    // The closing quote: found natively when no backslash (and, single-quoted, no newline) comes
    // before it, which is the common case even for very long strings; otherwise scanned.
    const qi = triple
      ? t.indexOf(q === 0x27 ? "'''" : '"""', bodyStart)
      : t.indexOf(q === 0x27 ? "'" : '"', bodyStart);
    const plain = qi !== -1 && this.backslashAt(bodyStart) > qi && (triple || this.newlineAt(bodyStart) > qi);
    const i = plain ? qi : this.scanLiteral(bodyStart, q, triple, start);
    let body = t.slice(bodyStart, i);
    // Python reads source with universal newlines: CRLF and CR inside a literal are LF.
    if (body.includes('\r')) body = body.replace(/\r\n?/g, '\n');
    this.pos = i + qlen;
    const hasBackslash = !plain && body.includes('\\');
    if (bytes) return { bytes: true, value: this.bytesBody(body, raw, bodyStart) };
    if (raw || !hasBackslash) return { bytes: false, value: body };
    return { bytes: false, value: this.unescape(body, bodyStart) };
  }

  /** Position of the next backslash at or after p (text length if none), cached: pos only grows. */
  private backslashAt(p: number): number {
    if (this.nextBackslash < p) {
      const b = this.text.indexOf('\\', p);
      this.nextBackslash = b === -1 ? this.text.length : b;
    }
    return this.nextBackslash;
  }

  /** Position of the next CR or LF at or after p (text length if none), cached like backslashAt. */
  private newlineAt(p: number): number {
    const t = this.text;
    if (this.nextLf < p) {
      const lf = t.indexOf('\n', p);
      this.nextLf = lf === -1 ? t.length : lf;
    }
    if (this.nextCr < p) {
      const cr = t.indexOf('\r', p);
      this.nextCr = cr === -1 ? t.length : cr;
    }
    return Math.min(this.nextLf, this.nextCr);
  }

  /** Finds the closing quote char by char: a backslash escapes the next character (raw literals too). */
  private scanLiteral(from: number, q: number, triple: boolean, start: number): number {
    const t = this.text;
    const n = t.length;
    for (let i = from; i < n; i++) {
      const c = t.charCodeAt(i);
      if (c === 0x5c) {
        i++;
        if (t.charCodeAt(i) === 0x0d && t.charCodeAt(i + 1) === 0x0a) i++;
      } else if (c === q) {
        if (!triple || (t.charCodeAt(i + 1) === q && t.charCodeAt(i + 2) === q)) return i;
      } else if (!triple && (c === 0x0a || c === 0x0d)) {
        throw this.error('unterminated string literal (newline in a single-quoted string)', i);
      }
    }
    throw this.error('unterminated string literal', start);
  }

  private unescape(body: string, at: number): string {
    const out = new StringAssembler(body.length);
    let p = 0;
    for (;;) {
      const b = body.indexOf('\\', p);
      if (b === -1) {
        out.run(body, p, body.length);
        return out.toString();
      }
      out.run(body, p, b);
      const e = body.charCodeAt(b + 1);
      p = b + 2;
      const simple = e < 128 ? SIMPLE_ESCAPES[e]! : -1;
      if (simple >= 0) {
        out.unit(simple);
        continue;
      }
      switch (e) {
        case 0x0a: // backslash-newline: a line continuation
          break;
        case 0x78: // \xhh
        case 0x75: // \uhhhh
        case 0x55: {
          // \Uhhhhhhhh
          const len = e === 0x78 ? 2 : e === 0x75 ? 4 : 8;
          const cp = hexValue(body, p, len);
          if (cp < 0) throw this.error(`truncated \\${String.fromCharCode(e)} escape`, at + b);
          if (cp > 0x10ffff) throw this.error('illegal Unicode character', at + b);
          out.codePoint(cp);
          p += len;
          break;
        }
        case 0x4e:
          throw this.error('\\N{...} escapes are not supported', at + b);
        default:
          if (e >= 0x30 && e <= 0x37) {
            let n = e - 0x30;
            for (let k = 0; k < 2; k++) {
              const d = body.charCodeAt(p);
              if (d < 0x30 || d > 0x37) break;
              n = n * 8 + d - 0x30;
              p++;
            }
            out.unit(n);
          } else {
            out.run(body, b, b + 2); // unknown escapes stay as they are
          }
      }
    }
  }

  private bytesBody(body: string, raw: boolean, at: number): Uint8Array {
    const n = body.length;
    const out = new Uint8Array(n);
    let o = 0;
    for (let p = 0; p < n; ) {
      const c = body.charCodeAt(p);
      if (c >= 0x80) throw this.error('bytes can only contain ASCII literal characters', at + p);
      p++;
      if (c !== 0x5c || p >= n) {
        out[o++] = c;
        continue;
      }
      const e = body.charCodeAt(p);
      if (e >= 0x80) throw this.error('bytes can only contain ASCII literal characters', at + p);
      p++;
      if (raw) {
        // raw: the backslash stays, and it still keeps the next character from ending the literal
        out[o++] = c;
        out[o++] = e;
        continue;
      }
      const simple = SIMPLE_ESCAPES[e]!;
      if (simple >= 0) {
        out[o++] = simple;
        continue;
      }
      if (e === 0x0a) continue; // line continuation (CR and CRLF are LF by now)
      if (e === 0x78) {
        const v = hexValue(body, p, 2);
        if (v < 0) throw this.error('truncated \\x escape', at + p - 2);
        out[o++] = v;
        p += 2;
      } else if (e >= 0x30 && e <= 0x37) {
        let v = e - 0x30;
        for (let k = 0; k < 2; k++) {
          const d = body.charCodeAt(p);
          if (d < 0x30 || d > 0x37) break;
          v = v * 8 + d - 0x30;
          p++;
        }
        out[o++] = v & 0xff;
      } else {
        // unknown escapes (\u and \N included, in bytes) stay as they are
        out[o++] = 0x5c;
        out[o++] = e;
      }
    }
    return out.slice(0, o);
  }
}

/** The simple one-character escapes of Python literals (\a \b \f \n \r \t \v \\ \' \"), else -1. */
const SIMPLE_ESCAPES = (() => {
  const t = new Int16Array(128).fill(-1);
  const pairs: [string, number][] = [
    ['a', 7],
    ['b', 8],
    ['f', 12],
    ['n', 10],
    ['r', 13],
    ['t', 9],
    ['v', 11],
    ['\\', 0x5c],
    ["'", 0x27],
    ['"', 0x22],
  ];
  for (const [c, v] of pairs) t[c.charCodeAt(0)] = v;
  return t;
})();

/** The value of exactly `len` hex digits at s[p…], or -1. */
function hexValue(s: string, p: number, len: number): number {
  let v = 0;
  for (let k = 0; k < len; k++) {
    const c = s.charCodeAt(p + k);
    const l = c | 0x20;
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (l >= 0x61 && l <= 0x66) d = l - 0x57;
    else return -1;
    v = v * 16 + d;
  }
  return v;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isNameStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f;
}

function normInt(n: bigint): number | bigint {
  return n >= -9007199254740991n && n <= 9007199254740991n ? Number(n) : n;
}
