// JSON as Python writes and reads it: the encoder produces exactly `json.dumps(value, ensure_ascii=False)`
// (separators ", " and ": ", NaN/Infinity, ints of any size), the decoder accepts what `json.loads` accepts.
// Decoding tries the native JSON.parse first and falls back to a full parser when the text holds
// something JSON.parse cannot represent exactly (NaN/Infinity, ints beyond 2^53, -0) or is invalid.
import { SerializeError } from '@cinder/core';
import { Complex } from '../pyvalues.js';
import {
  type FormatDecodeOptions,
  type FormatEncodeOptions,
  guardStack,
  isPlainObject,
  lineColumn,
  maxDepthOf,
  maxItemsOf,
  PY_INT_MAX_STR_DIGITS,
  replaceValue,
  setOwn,
  tooDeep,
  tooManyItems,
  typeName,
} from './options.js';
import { bigintDigits, isPyInt, pyFloatRepr } from './py-float.js';
import { StringAssembler } from './string-assembler.js';
import { TextOutput } from './text-output.js';
import { decodeUtf8 } from './utf8.js';
import { jsonValueCount } from './value-count.js';

// ---------------------------------------------------------------------------------------------------
// Encoding

/**
 * Encodes a model value as UTF-8 JSON, byte for byte what Python's `json.dumps(v, ensure_ascii=False)`
 * writes for the same value. Tuples and Sets become arrays, bytes the dict
 * `{"data": "<base64>", "encoding": "base64"}`, Map keys are converted as Python converts dict keys
 * (`1` → `"1"`, `true` → `"true"`). Complex numbers cannot be written (SerializeError). Lone surrogates
 * are written as `\udXXX` escapes (Python itself would fail to encode them).
 */
export function encodeJson(value: unknown, options?: FormatEncodeOptions): Uint8Array {
  const w = new JsonWriter(maxDepthOf(options), options);
  guardStack(() => w.value(value, 0, false), 'json');
  return w.bytes();
}

/** The JSON text (before UTF-8 encoding) of a value; see encodeJson. */
export function encodeJsonText(value: unknown, options?: FormatEncodeOptions): string {
  const w = new JsonWriter(maxDepthOf(options), options);
  guardStack(() => w.value(value, 0, false), 'json');
  return w.text();
}

function jsonNumber(n: number): string {
  if (isPyInt(n)) return String(n);
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return 'Infinity';
  if (n === Number.NEGATIVE_INFINITY) return '-Infinity';
  return pyFloatRepr(n);
}

/** A dict key as Python's json writes it: str as is, numbers/bools/None converted, anything else refused. */
function jsonKey(k: unknown): string {
  switch (typeof k) {
    case 'string':
      return k;
    case 'number':
      return jsonNumber(k);
    case 'bigint':
      return bigintDigits(k, PY_INT_MAX_STR_DIGITS, 'json');
    case 'boolean':
      return k ? 'true' : 'false';
    case 'undefined':
      return 'null';
    default:
      if (k === null) return 'null';
      throw new SerializeError(`json: dict keys must be str, int, float, bool or None, not ${typeName(k)}`);
  }
}

class JsonWriter extends TextOutput {
  constructor(
    private readonly maxDepth: number,
    private readonly options: FormatEncodeOptions | undefined,
  ) {
    super();
  }

  value(v: unknown, depth: number, replaced: boolean): void {
    switch (typeof v) {
      case 'string':
        // JSON.stringify escapes exactly what Python's ensure_ascii=False encoder escapes.
        this.out += JSON.stringify(v);
        return;
      case 'number':
        this.out += jsonNumber(v);
        return;
      case 'boolean':
        this.out += v ? 'true' : 'false';
        return;
      case 'bigint':
        this.out += bigintDigits(v, PY_INT_MAX_STR_DIGITS, 'json');
        return;
      case 'undefined':
        this.out += 'null';
        return;
      case 'object':
        if (v === null) this.out += 'null';
        else this.object(v, depth, replaced);
        return;
      case 'function':
        this.replaced(v, depth, replaced);
        return;
      default:
        throw new SerializeError(`json cannot serialize a value of type ${typeof v}`);
    }
  }

  private object(v: object, depth: number, replaced: boolean): void {
    if (Array.isArray(v)) {
      this.enter(depth);
      this.list(v, depth + 1);
    } else if (v instanceof Uint8Array) {
      this.enter(depth);
      const b64 = Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
      this.out += `{"data": "${b64}", "encoding": "base64"}`;
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
      throw new SerializeError('json cannot serialize a complex number');
    } else {
      this.replaced(v, depth, replaced);
    }
  }

  private replaced(v: object, depth: number, replaced: boolean): void {
    if (replaced) {
      throw new SerializeError(`json: replace() returned a ${typeName(v)}, which is outside the value model`);
    }
    this.value(replaceValue(v, this.options, 'json'), depth, true);
  }

  private enter(depth: number): void {
    if (depth + 1 > this.maxDepth) throw tooDeep(this.maxDepth, 'while encoding json');
  }

  private list(a: readonly unknown[], depth: number): void {
    const n = a.length;
    if (n === 0) {
      this.out += '[]';
      return;
    }
    this.out += '[';
    for (let i = 0; i < n; i++) {
      if (i > 0) this.out += ', ';
      this.value(a[i], depth, false);
      this.spill();
    }
    this.out += ']';
  }

  private set(s: ReadonlySet<unknown>, depth: number): void {
    if (s.size === 0) {
      this.out += '[]';
      return;
    }
    this.out += '[';
    let first = true;
    for (const item of s) {
      if (!first) this.out += ', ';
      first = false;
      this.value(item, depth, false);
      this.spill();
    }
    this.out += ']';
  }

  private dict(o: Record<string, unknown>, depth: number): void {
    const keys = Object.keys(o);
    if (keys.length === 0) {
      this.out += '{}';
      return;
    }
    this.out += '{';
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      this.out += i > 0 ? `, ${JSON.stringify(k)}: ` : `${JSON.stringify(k)}: `;
      this.value(o[k], depth, false);
      this.spill();
    }
    this.out += '}';
  }

  private map(m: ReadonlyMap<unknown, unknown>, depth: number): void {
    if (m.size === 0) {
      this.out += '{}';
      return;
    }
    this.out += '{';
    let first = true;
    for (const [k, v] of m) {
      this.out += `${first ? '' : ', '}${JSON.stringify(jsonKey(k))}: `;
      first = false;
      this.value(v, depth, false);
      this.spill();
    }
    this.out += '}';
  }
}

// ---------------------------------------------------------------------------------------------------
// Decoding

/**
 * Decodes UTF-8 JSON as Python's `json.loads` does: NaN/Infinity/-Infinity are accepted, ints keep
 * their exact value (bigint beyond ±(2^53−1)), `-0` is the int 0, duplicate keys keep the last value.
 * Objects become plain objects (keys such as `__proto__` are own data properties).
 */
export function decodeJson(data: Uint8Array, options?: FormatDecodeOptions): unknown {
  return decodeJsonText(decodeUtf8(data, 'json'), options);
}

/** Decodes JSON text; see decodeJson. */
export function decodeJsonText(text: string, options?: FormatDecodeOptions): unknown {
  const maxDepth = maxDepthOf(options);
  const maxItems = maxItemsOf(options);
  const revive = options?.reviveClass;
  return guardStack(() => {
    let parsed: unknown;
    // Text that might hold more values than the budget is counted before anything is built: over
    // the budget, it is refused here; within it, JSON.parse cannot build more than the budget.
    const large = mayExceedItems(text, maxItems);
    if (large && jsonValueCount(text, maxItems) > maxItems) throw tooManyItems('json', maxItems);
    // A NaN/Infinity token makes JSON.parse throw, and a throw costs more than parsing a call envelope.
    let ok = !mayHoldNonStandardToken(text);
    if (ok) {
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        // Without NaN/Infinity, what JSON.parse refuses Python's json refuses too; the parser below
        // would only word the error. For large text (up to the budget's worth of values) its words
        // are not worth parsing everything a second time.
        if (large) throw new SerializeError(`invalid json: ${(err as Error).message}`);
        ok = false;
      }
    }
    if (ok) {
      const check = new FastCheck(maxDepth);
      if (check.walk(parsed, 0)) {
        return revive !== undefined && check.sawClass ? reviveWalk(parsed, revive) : parsed;
      }
    }
    return new JsonParser(text, maxDepth, maxItems, revive).parse();
  }, 'json');
}

/**
 * Whether JSON text might hold more than `maxItems` values (dict keys included). Every value but the
 * first follows one of `[ { , :`, so one plus their count bounds the values; and since a value and
 * its separator take two characters, text of up to 2·maxItems−1 characters cannot exceed the budget
 * and is not scanned at all. The scan uses the native indexOf and stops once the bound passes the
 * budget, so it costs at most a few indexOf hits per allowed value.
 */
function mayExceedItems(text: string, maxItems: number): boolean {
  if (text.length < 2 * maxItems) return false;
  let bound = 1;
  for (const c of JSON_OPENERS) {
    for (let i = text.indexOf(c); i !== -1; i = text.indexOf(c, i + 1)) {
      if (++bound > maxItems) return true;
    }
  }
  return false;
}

const JSON_OPENERS = [',', ':', '[', '{'] as const;

/**
 * Whether a NaN/Infinity token may stand in the text: an occurrence first, or after `[`, `,` or `:`
 * (and whitespace, and for Infinity a `-`). The same words inside a string only cost the native
 * attempt. Proportional to the number of occurrences, not to the text.
 */
function mayHoldNonStandardToken(text: string): boolean {
  for (const word of ['NaN', 'Infinity']) {
    for (let i = text.indexOf(word); i !== -1; i = text.indexOf(word, i + word.length)) {
      let k = i - 1;
      if (text.charCodeAt(k) === 0x2d) k--;
      for (;;) {
        const c = text.charCodeAt(k);
        if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) k--;
        else break;
      }
      if (k < 0) return true;
      const c = text.charCodeAt(k);
      if (c === 0x5b || c === 0x2c || c === 0x3a) return true;
    }
  }
  return false;
}

/**
 * Checks the JSON.parse result: nesting within maxDepth and every number one that JSON.parse read
 * exactly as Python would. Integral numbers beyond 2^53 and ±Infinity (a big int, or a float such as
 * 1e300 or 1e400, which we cannot tell apart here) and -0 (the int `-0` or the float `-0.0`) send the
 * text to the full parser.
 */
class FastCheck {
  sawClass = false;

  constructor(private readonly maxDepth: number) {}

  walk(v: unknown, depth: number): boolean {
    if (typeof v === 'number') {
      if (Number.isInteger(v)) return Number.isSafeInteger(v) && !Object.is(v, -0);
      // An overflowing literal is Infinity to JSON.parse, whether it was a float (1e400) or an int.
      return Number.isFinite(v);
    }
    if (typeof v !== 'object' || v === null) return true;
    if (depth + 1 > this.maxDepth) return false;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const item: unknown = v[i];
        if (typeof item === 'object' || typeof item === 'number') {
          if (!this.walk(item, depth + 1)) return false;
        }
      }
      return true;
    }
    const o = v as Record<string, unknown>;
    for (const k in o) {
      const item = o[k];
      if (typeof item === 'object' || typeof item === 'number') {
        if (!this.walk(item, depth + 1)) return false;
      } else if (k === '__class__' && typeof item === 'string') {
        this.sawClass = true;
      }
    }
    return true;
  }
}

/** Applies reviveClass bottom-up to a JSON.parse result that passed FastCheck (so depth is bounded). */
function reviveWalk(v: unknown, revive: (dict: Record<string, unknown>) => unknown): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const item: unknown = v[i];
      if (typeof item === 'object' && item !== null) {
        const r = reviveWalk(item, revive);
        if (r !== item) v[i] = r;
      }
    }
    return v;
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const item = o[k];
    if (typeof item === 'object' && item !== null) {
      const r = reviveWalk(item, revive);
      if (r !== item) setOwn(o, k, r);
    }
  }
  return Object.hasOwn(o, '__class__') && typeof o['__class__'] === 'string' ? revive(o) : o;
}

// Python's json number syntax (json.scanner.NUMBER_RE).
const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/y;
const CONTROL = /[\0-\x1f]/;

/** A complete JSON parser with Python's json.loads semantics, used when JSON.parse cannot be trusted. */
class JsonParser {
  private pos = 0;
  /** Position of the next backslash at or after pos (text.length if none): keeps string scans linear. */
  private nextBackslash = -1;

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
    if (this.text.charCodeAt(0) === 0xfeff) throw this.error('unexpected UTF-8 BOM', 0);
    const v = this.value(0);
    this.skipWs();
    if (this.pos < this.text.length) throw this.error('extra data', this.pos);
    return v;
  }

  private error(what: string, at: number): SerializeError {
    return new SerializeError(`invalid json at char ${at} (${lineColumn(this.text, at)}): ${what}`);
  }

  private skipWs(): void {
    const t = this.text;
    let p = this.pos;
    for (;;) {
      const c = t.charCodeAt(p);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
      else break;
    }
    this.pos = p;
  }

  private value(depth: number): unknown {
    this.skipWs();
    if (--this.itemsLeft < 0) throw tooManyItems('json', this.maxItems);
    const t = this.text;
    const p = this.pos;
    const c = t.charCodeAt(p);
    switch (c) {
      case 0x22: // "
        return this.string();
      case 0x7b: // {
        return this.object(depth + 1);
      case 0x5b: // [
        return this.array(depth + 1);
      case 0x6e: // n
        return this.word('null', null);
      case 0x74: // t
        return this.word('true', true);
      case 0x66: // f
        return this.word('false', false);
      case 0x4e: // N
        return this.word('NaN', Number.NaN);
      case 0x49: // I
        return this.word('Infinity', Number.POSITIVE_INFINITY);
      case 0x2d: // -
        if (t.startsWith('-Infinity', p)) {
          this.pos = p + 9;
          return Number.NEGATIVE_INFINITY;
        }
        return this.number();
      default:
        if (c >= 0x30 && c <= 0x39) return this.number();
        throw this.error('expecting value', p);
    }
  }

  private word(w: string, v: unknown): unknown {
    if (!this.text.startsWith(w, this.pos)) throw this.error('expecting value', this.pos);
    this.pos += w.length;
    return v;
  }

  private number(): number | bigint {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.text);
    if (m === null) throw this.error('expecting value', this.pos);
    const s = m[0];
    this.pos += s.length;
    if (m[1] === undefined && m[2] === undefined) {
      const digits = s.charCodeAt(0) === 0x2d ? s.length - 1 : s.length;
      if (digits <= 15) return Number(s) || 0; // `|| 0`: the int -0 is 0
      if (digits > PY_INT_MAX_STR_DIGITS) {
        throw this.error(
          `int with ${digits} digits exceeds Python's limit of ${PY_INT_MAX_STR_DIGITS}`,
          this.pos - s.length,
        );
      }
      const big = BigInt(s);
      return big >= -9007199254740991n && big <= 9007199254740991n ? Number(big) : big;
    }
    return Number(s);
  }

  private string(): string {
    const t = this.text;
    const start = this.pos + 1;
    const end = t.indexOf('"', start);
    if (end === -1) throw this.error('unterminated string', this.pos);
    if (this.nextBackslash < start) {
      const b = t.indexOf('\\', start);
      this.nextBackslash = b === -1 ? t.length : b;
    }
    if (this.nextBackslash > end) {
      const s = t.slice(start, end);
      if (CONTROL.test(s)) throw this.error('invalid control character in string', start + s.search(CONTROL));
      this.pos = end + 1;
      return s;
    }
    return this.escapedString(start);
  }

  private escapedString(start: number): string {
    const t = this.text;
    // The closing quote: the first one not escaped by an odd run of backslashes.
    let end = t.indexOf('"', start);
    for (;;) {
      if (end === -1) throw this.error('unterminated string', start - 1);
      let k = end - 1;
      while (k >= start && t.charCodeAt(k) === 0x5c) k--;
      if (((end - 1 - k) & 1) === 0) break;
      end = t.indexOf('"', end + 1);
    }
    // One check of the raw text for control characters (an escape is never followed by one: that
    // would be an invalid escape).
    const raw = t.slice(start, end);
    if (CONTROL.test(raw))
      throw this.error('invalid control character in string', start + raw.search(CONTROL));
    const out = new StringAssembler(end - start);
    let p = start;
    for (;;) {
      const b = t.indexOf('\\', p);
      if (b === -1 || b >= end) {
        out.run(t, p, end);
        this.pos = end + 1;
        return out.toString();
      }
      out.run(t, p, b);
      const e = t.charCodeAt(b + 1);
      p = b + 2;
      switch (e) {
        case 0x22:
        case 0x5c:
        case 0x2f:
          out.unit(e);
          break;
        case 0x62:
          out.unit(0x08);
          break;
        case 0x66:
          out.unit(0x0c);
          break;
        case 0x6e:
          out.unit(0x0a);
          break;
        case 0x72:
          out.unit(0x0d);
          break;
        case 0x74:
          out.unit(0x09);
          break;
        case 0x75: {
          const v = hex4(t, p);
          if (v < 0) throw this.error('invalid \\uXXXX escape', b);
          out.unit(v);
          p += 4;
          break;
        }
        default:
          throw this.error('invalid \\escape', b);
      }
    }
  }

  private array(depth: number): unknown[] {
    if (depth > this.maxDepth) throw this.error(`nesting deeper than maxDepth=${this.maxDepth}`, this.pos);
    this.pos++;
    const out: unknown[] = [];
    this.skipWs();
    if (this.text.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth));
      this.skipWs();
      const c = this.text.charCodeAt(this.pos);
      this.pos++;
      if (c === 0x5d) return out;
      if (c !== 0x2c) throw this.error("expecting ',' delimiter", this.pos - 1);
    }
  }

  private object(depth: number): unknown {
    if (depth > this.maxDepth) throw this.error(`nesting deeper than maxDepth=${this.maxDepth}`, this.pos);
    this.pos++;
    const out: Record<string, unknown> = {};
    this.skipWs();
    if (this.text.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWs();
      if (this.text.charCodeAt(this.pos) !== 0x22) {
        throw this.error('expecting property name enclosed in double quotes', this.pos);
      }
      if (--this.itemsLeft < 0) throw tooManyItems('json', this.maxItems);
      const key = this.string();
      this.skipWs();
      if (this.text.charCodeAt(this.pos) !== 0x3a) throw this.error("expecting ':' delimiter", this.pos);
      this.pos++;
      setOwn(out, key, this.value(depth));
      this.skipWs();
      const c = this.text.charCodeAt(this.pos);
      this.pos++;
      if (c === 0x7d) break;
      if (c !== 0x2c) throw this.error("expecting ',' delimiter", this.pos - 1);
    }
    if (
      this.revive !== undefined &&
      Object.hasOwn(out, '__class__') &&
      typeof out['__class__'] === 'string'
    ) {
      return this.revive(out);
    }
    return out;
  }
}

/** The value of the 4 hex digits at s[p…], or -1. */
function hex4(s: string, p: number): number {
  let v = 0;
  for (let k = 0; k < 4; k++) {
    const c = s.charCodeAt(p + k);
    const l = c | 0x20;
    if (c >= 0x30 && c <= 0x39) v = v * 16 + c - 0x30;
    else if (l >= 0x61 && l <= 0x66) v = v * 16 + l - 0x57;
    else return -1;
  }
  return v;
}
