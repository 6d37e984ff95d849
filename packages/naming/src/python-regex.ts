// Python `re` patterns — what Pyro's name server accepts in `list(regex=…)` and `remove(regex=…)` —
// translated to JavaScript RegExps with the same meaning, and matched the way Pyro does (`re.match`:
// anchored at the start of the name, not at its end). The translation is a small scanner, not a
// string rewrite, so escapes, classes and quantifiers keep Python's rules. What cannot be expressed
// in JavaScript is refused with a NamingError instead of being matched differently.
//
// Exact: `.`, `^`, `$` (Python's `$` also matches before a final newline), `\A`, `\Z`, `\d`, `\s`,
// `\b`, literal `{`, `}` and `]`, `{,n}` quantifiers, `(?P<name>…)`, `(?P=name)`, `(?#…)`, octal
// and `\U` escapes, leading global flags `(?aimsux)`, verbose patterns.
// Close but not identical: `\w`/`\b` use the Unicode letter and number categories (Python uses
// `str.isalnum()`, which differs for a handful of code points); case-insensitive matching uses
// JavaScript's simple case folding; with the ASCII flag `(?a)` case folding stays Unicode.
// Refused: scoped flags `(?i:…)`, atomic groups, possessive quantifiers, conditionals, `\N{…}`,
// the bytes-only `(?L)` flag.
import { NamingError } from '@cinder/core';

interface Flags {
  ignoreCase: boolean;
  dotAll: boolean;
  multiline: boolean;
  verbose: boolean;
  ascii: boolean;
}

// Python's `str.isspace()` set, which `\s` uses (JavaScript's `\s` adds U+FEFF and lacks \x1c-\x1f, \x85).
const SPACE_ITEMS =
  '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const ASCII_SPACE_ITEMS = '\\t\\n\\v\\f\\r\\x20';
const WORD_ITEMS = '\\p{L}\\p{N}_';
const ASCII_WORD_ITEMS = 'a-zA-Z0-9_';
const DIGIT_ITEMS = '\\p{Nd}';
const ASCII_DIGIT_ITEMS = '0-9';
const ANY = '[\\s\\S]';
const HEX = /^[0-9a-fA-F]+$/;
const OCTAL = /^[0-7]$/;
const IDENTIFIER = /^[\p{L}_][\p{L}\p{N}_]*$/u;
const VERBOSE_SPACE = new Set([' ', '\t', '\n', '\r', '\v', '\f']);

function fail(reason: string, pattern: string, at?: number): NamingError {
  const where = at === undefined ? '' : ` at position ${at}`;
  return new NamingError(`invalid regex: ${reason}${where} (pattern ${JSON.stringify(clip(pattern))})`);
}

function unsupported(what: string, pattern: string, at: number): NamingError {
  return new NamingError(
    `unsupported regex: ${what} at position ${at} cannot be matched by Cinder's name server ` +
      `(pattern ${JSON.stringify(clip(pattern))})`,
  );
}

function clip(text: string): string {
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

/** A code point as a class-safe, v-mode-safe escape. */
function escapeCodePoint(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}

/** A literal code point outside a class: letters and digits as they are, anything else escaped. */
function literal(cp: number): string {
  const isAlnum = (cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a);
  return isAlnum ? String.fromCodePoint(cp) : escapeCodePoint(cp);
}

class Translator {
  private i = 0;
  private out = '';
  private readonly flags: Flags = {
    ignoreCase: false,
    dotAll: false,
    multiline: false,
    verbose: false,
    ascii: false,
  };

  constructor(private readonly p: string) {}

  translate(): RegExp {
    this.leadingFlags();
    while (this.i < this.p.length) this.atom();
    let source = `^(?:${this.out})`;
    const jsFlags = `v${this.flags.ignoreCase ? 'i' : ''}`;
    try {
      return new RegExp(source, jsFlags);
    } catch (err) {
      // The scanner passes structure (groups, quantifier targets, back references) to the engine;
      // its complaints are Python's complaints too ("nothing to repeat", "missing )", …).
      source = (err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '');
      throw fail(source, this.p);
    }
  }

  private get word(): string {
    return this.flags.ascii ? ASCII_WORD_ITEMS : WORD_ITEMS;
  }

  private get space(): string {
    return this.flags.ascii ? ASCII_SPACE_ITEMS : SPACE_ITEMS;
  }

  private get digit(): string {
    return this.flags.ascii ? ASCII_DIGIT_ITEMS : DIGIT_ITEMS;
  }

  /** Python allows global flags only at the very start (3.11 refuses them anywhere else). */
  private leadingFlags(): void {
    for (;;) {
      const m = /^\(\?([a-zA-Z]+)\)/.exec(this.p.slice(this.i));
      if (!m) return;
      for (const f of m[1]!) {
        switch (f) {
          case 'i':
            this.flags.ignoreCase = true;
            break;
          case 's':
            this.flags.dotAll = true;
            break;
          case 'm':
            this.flags.multiline = true;
            break;
          case 'x':
            this.flags.verbose = true;
            break;
          case 'a':
            this.flags.ascii = true;
            break;
          case 'u':
            break;
          case 'L':
            throw fail("bad inline flags: cannot use 'L' flag with a str pattern", this.p, this.i);
          default:
            throw fail(`unknown flag '${f}'`, this.p, this.i);
        }
      }
      this.i += m[0].length;
    }
  }

  private codePointAt(i: number): number {
    return this.p.codePointAt(i)!;
  }

  private atom(): void {
    const p = this.p;
    const c = p[this.i]!;
    if (this.flags.verbose) {
      if (VERBOSE_SPACE.has(c)) {
        this.i++;
        return;
      }
      if (c === '#') {
        const nl = p.indexOf('\n', this.i);
        this.i = nl < 0 ? p.length : nl + 1;
        return;
      }
    }
    switch (c) {
      case '\\':
        this.out += this.escape(false);
        return;
      case '[':
        this.out += this.charClass();
        return;
      case '(':
        this.group();
        return;
      case ')':
      case '|':
        this.out += c;
        this.i++;
        return;
      case '.':
        this.out += this.flags.dotAll ? ANY : '[^\\n]';
        this.i++;
        return;
      case '^':
        // Start of the name; with MULTILINE also just after a newline (never after \r or U+2028).
        this.out += this.flags.multiline ? '(?<![^\\n])' : '(?<![\\s\\S])';
        this.i++;
        return;
      case '$':
        // Python's `$` matches at the end and just before a final newline; MULTILINE: before any \n.
        this.out += this.flags.multiline ? '(?![^\\n])' : '(?=\\n?(?![\\s\\S]))';
        this.i++;
        return;
      case '*':
      case '+':
      case '?':
        this.out += c;
        this.i++;
        this.quantifierSuffix();
        return;
      case '{': {
        const q = /^\{(\d*)(?:(,)(\d*))?\}/.exec(p.slice(this.i));
        if (q && (q[1] !== '' || q[2] !== undefined)) {
          const lo = q[1] === '' ? '0' : q[1]!;
          const hi = q[2] === undefined ? lo : q[3]!;
          if (hi !== '' && Number(hi) < Number(lo))
            throw fail('min repeat greater than max repeat', p, this.i);
          this.out += `{${lo},${hi}}`;
          this.i += q[0].length;
          this.quantifierSuffix();
        } else {
          // Not a quantifier: Python reads `{` as a literal character.
          this.out += '\\{';
          this.i++;
        }
        return;
      }
      default: {
        const cp = this.codePointAt(this.i);
        this.out += literal(cp);
        this.i += cp > 0xffff ? 2 : 1;
      }
    }
  }

  /** After a quantifier: `?` (lazy) is shared; `+` (possessive, Python 3.11) has no JS equivalent. */
  private quantifierSuffix(): void {
    const next = this.p[this.i];
    if (next === '?') {
      this.out += '?';
      this.i++;
    } else if (next === '+') {
      throw unsupported('a possessive quantifier', this.p, this.i);
    }
  }

  private group(): void {
    const p = this.p;
    const start = this.i;
    if (p[this.i + 1] !== '?') {
      this.out += '(';
      this.i++;
      return;
    }
    const rest = p.slice(this.i + 2);
    if (rest.startsWith(':') || rest.startsWith('=') || rest.startsWith('!')) {
      this.out += `(?${rest[0]}`;
      this.i += 3;
    } else if (rest.startsWith('<=') || rest.startsWith('<!')) {
      this.out += `(?${rest.slice(0, 2)}`;
      this.i += 4;
    } else if (rest.startsWith('P<')) {
      const close = rest.indexOf('>');
      const name = close < 0 ? '' : rest.slice(2, close);
      if (close < 0) throw fail('missing >, unterminated name', p, start);
      if (!IDENTIFIER.test(name)) throw fail(`bad character in group name '${name}'`, p, start);
      this.out += `(?<${name}>`;
      this.i += 2 + close + 1;
    } else if (rest.startsWith('P=')) {
      const close = rest.indexOf(')');
      const name = close < 0 ? '' : rest.slice(2, close);
      if (close < 0) throw fail('missing ), unterminated name', p, start);
      if (!IDENTIFIER.test(name)) throw fail(`bad character in group name '${name}'`, p, start);
      this.out += `\\k<${name}>`;
      this.i += 2 + close + 1;
    } else if (rest.startsWith('#')) {
      const close = p.indexOf(')', this.i);
      if (close < 0) throw fail('missing ), unterminated comment', p, start);
      this.i = close + 1;
    } else if (rest.startsWith('>')) {
      throw unsupported('an atomic group (?>…)', p, start);
    } else if (rest.startsWith('(')) {
      throw unsupported('a conditional group (?(…)…)', p, start);
    } else if (/^[-a-zA-Z]+:/.test(rest)) {
      throw unsupported('a scoped inline flag group (?flags:…)', p, start);
    } else if (/^[a-zA-Z]+\)/.test(rest)) {
      throw fail('global flags not at the start of the expression', p, start);
    } else {
      throw fail(`unknown extension ?${rest.slice(0, 2)}`, p, start);
    }
  }

  /**
   * One escape starting at `\`. Inside a class the result is a class item (no brackets around
   * single items); outside it is an atom.
   */
  private escape(inClass: boolean): string {
    const p = this.p;
    const start = this.i;
    this.i++;
    if (this.i >= p.length) throw fail('bad escape (end of pattern)', p, start);
    const c = p[this.i]!;
    this.i++;
    switch (c) {
      case 'd':
        return inClass ? this.digit : `[${this.digit}]`;
      case 'D':
        return `[^${this.digit}]`;
      case 'w':
        return inClass ? this.word : `[${this.word}]`;
      case 'W':
        return `[^${this.word}]`;
      case 's':
        return inClass ? this.space : `[${this.space}]`;
      case 'S':
        return `[^${this.space}]`;
      case 'b': {
        if (inClass) return escapeCodePoint(8); // backspace, as in Python
        const w = `[${this.word}]`;
        return `(?:(?<=${w})(?!${w})|(?<!${w})(?=${w}))`;
      }
      case 'B': {
        if (inClass) throw fail('bad escape \\B', p, start);
        const w = `[${this.word}]`;
        return `(?:(?<=${w})(?=${w})|(?<!${w})(?!${w}))`;
      }
      case 'A':
        if (inClass) throw fail('bad escape \\A', p, start);
        return '(?<![\\s\\S])';
      case 'Z':
        if (inClass) throw fail('bad escape \\Z', p, start);
        return '(?![\\s\\S])';
      case 'a':
        return escapeCodePoint(7);
      case 'f':
        return escapeCodePoint(12);
      case 'n':
        return escapeCodePoint(10);
      case 'r':
        return escapeCodePoint(13);
      case 't':
        return escapeCodePoint(9);
      case 'v':
        return escapeCodePoint(11);
      case 'x':
        return escapeCodePoint(this.hexDigits(2, start));
      case 'u':
        return escapeCodePoint(this.hexDigits(4, start));
      case 'U': {
        const cp = this.hexDigits(8, start);
        if (cp > 0x10ffff) throw fail(`bad escape \\U${p.slice(start + 2, start + 10)}`, p, start);
        return escapeCodePoint(cp);
      }
      case 'N':
        throw unsupported('a named character escape \\N{…}', p, start);
      default:
        break;
    }
    if (c >= '0' && c <= '9') return this.numericEscape(c, inClass, start);
    if (/[a-zA-Z]/.test(c)) throw fail(`bad escape \\${c}`, p, start);
    // Any other escaped character is itself (Python allows escaping every punctuation mark).
    this.i = start + 1;
    const cp = this.codePointAt(this.i);
    this.i += cp > 0xffff ? 2 : 1;
    return escapeCodePoint(cp);
  }

  private hexDigits(n: number, start: number): number {
    const digits = this.p.slice(this.i, this.i + n);
    if (digits.length !== n || !HEX.test(digits)) {
      throw fail(`incomplete escape \\${this.p[start + 1]}${digits}`, this.p, start);
    }
    this.i += n;
    return Number.parseInt(digits, 16);
  }

  /** Python: `\0`, `\0oo` and three octal digits are characters; `\N`/`\NN` back references. */
  private numericEscape(first: string, inClass: boolean, start: number): string {
    const p = this.p;
    if (first === '0') {
      let digits = '0';
      while (digits.length < 3 && OCTAL.test(p[this.i] ?? '')) digits += p[this.i++];
      return escapeCodePoint(Number.parseInt(digits, 8));
    }
    const second = p[this.i] ?? '';
    const third = p[this.i + 1] ?? '';
    if (OCTAL.test(first) && OCTAL.test(second) && OCTAL.test(third)) {
      const value = Number.parseInt(first + second + third, 8);
      if (value > 0o377)
        throw fail(`octal escape value \\${first}${second}${third} outside of range 0-0o377`, p, start);
      this.i += 2;
      return escapeCodePoint(value);
    }
    if (inClass) throw fail(`bad escape \\${first}`, p, start);
    let group = first;
    if (second >= '0' && second <= '9') {
      group += second;
      this.i++;
    }
    // Wrapped so a digit that follows is never read as part of the reference.
    return `(?:\\${group})`;
  }

  /** A character class `[…]`, emitted as a v-mode class with every literal escaped. */
  private charClass(): string {
    const p = this.p;
    const start = this.i;
    this.i++;
    let out = '[';
    if (p[this.i] === '^') {
      out += '^';
      this.i++;
    }
    let first = true;
    for (;;) {
      if (this.i >= p.length) throw fail('unterminated character set', p, start);
      const c = p[this.i]!;
      if (c === ']' && !first) {
        this.i++;
        return `${out}]`;
      }
      first = false;
      const item = this.classItem();
      if (item.cp !== undefined && p[this.i] === '-' && this.i + 1 < p.length && p[this.i + 1] !== ']') {
        this.i++;
        const end = this.classItem();
        if (end.cp === undefined) throw fail(`bad character range ${p.slice(start, this.i)}`, p, start);
        if (end.cp < item.cp) throw fail(`bad character range ${p.slice(start, this.i)}`, p, start);
        out += `${escapeCodePoint(item.cp)}-${escapeCodePoint(end.cp)}`;
      } else {
        out += item.text;
      }
    }
  }

  /** One class member: a single code point (`cp` set, may start a range) or a class escape. */
  private classItem(): { cp?: number; text: string } {
    const p = this.p;
    if (p[this.i] === '\\') {
      const text = this.escape(true);
      const single = /^\\u\{([0-9a-f]+)\}$/.exec(text);
      // Class escapes (\d, \w …) stay items of their own: they cannot be range endpoints.
      return single ? { cp: Number.parseInt(single[1]!, 16), text } : { text };
    }
    const cp = this.codePointAt(this.i);
    this.i += cp > 0xffff ? 2 : 1;
    return { cp, text: escapeCodePoint(cp) };
  }
}

/**
 * Translates a Python `re` pattern to a RegExp that matches like Python's `re.match` (anchored at
 * the start only). Throws NamingError (`invalid regex: …` as Pyro says, or `unsupported regex: …`).
 */
export function translatePythonRegex(pattern: string): RegExp {
  if (typeof pattern !== 'string') throw new TypeError('regex must be a str');
  return new Translator(pattern).translate();
}
