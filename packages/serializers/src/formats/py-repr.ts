// Python's repr() of str and bytes, as serpent writes them: quote choice, backslash escapes, and
// which non-ASCII characters are printed as they are (CPython 3.11's str.isprintable()).
import { PY_PRINTABLE_TOGGLES } from './py-printable.js';

let toggles: Uint32Array | undefined;
let bmp: Uint8Array | undefined;

function loadToggles(): Uint32Array {
  const parts = PY_PRINTABLE_TOGGLES.split(',');
  const out = new Uint32Array(parts.length);
  let cp = 0;
  for (let i = 0; i < parts.length; i++) {
    cp += Number.parseInt(parts[i]!, 36);
    out[i] = cp;
  }
  return out;
}

/** Whether CPython 3.11 prints this code point as-is in repr() (`str.isprintable()`). */
export function isPyPrintable(cp: number): boolean {
  if (cp < 0x7f) return cp >= 0x20;
  if (cp < 0x10000) {
    // A 64 KiB lookup table for the BMP, built on first use, keeps long non-ASCII strings linear.
    if (bmp === undefined) bmp = buildBmp();
    return bmp[cp] === 1;
  }
  return printableBySearch(cp);
}

function printableBySearch(cp: number): boolean {
  toggles ??= loadToggles();
  // Count the toggles at or below cp: an odd count means printable (code point 0 is not).
  let lo = 0;
  let hi = toggles.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (toggles[mid]! <= cp) lo = mid + 1;
    else hi = mid;
  }
  return (lo & 1) === 1;
}

function buildBmp(): Uint8Array {
  toggles ??= loadToggles();
  const table = new Uint8Array(0x10000);
  let state = 0;
  let from = 0;
  for (const t of toggles) {
    if (t > 0xffff) {
      table.fill(state, from, 0x10000);
      return table;
    }
    table.fill(state, from, t);
    state ^= 1;
    from = t;
  }
  table.fill(state, from, 0x10000);
  return table;
}

const HEX = '0123456789abcdef';

function hex(n: number, width: number): string {
  let s = '';
  for (let i = width - 1; i >= 0; i--) s += HEX[(n >>> (i * 4)) & 15];
  return s;
}

// Characters that make a str repr differ from quote + text + quote: controls, DEL, backslash,
// quotes and anything non-ASCII.
const NEEDS_WORK = /[\0-\x1f\x7f-\uffff'"\\]/;

/** Python's `repr(str)`. Lone surrogates are escaped (`\ud800`), as Python does. */
export function pyStrRepr(s: string): string {
  if (!NEEDS_WORK.test(s)) return `'${s}'`;
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  const q = quote.charCodeAt(0);
  let out = quote;
  let runStart = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) {
      if (c !== q && c !== 0x5c) continue;
      out += `${s.slice(runStart, i)}\\${s[i]}`;
      runStart = i + 1;
      continue;
    }
    let cp = c;
    let width = 1;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        cp = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
        width = 2;
      }
    }
    if (cp >= 0x80 && isPyPrintable(cp)) {
      i += width - 1;
      continue;
    }
    out += s.slice(runStart, i);
    if (cp === 0x09) out += '\\t';
    else if (cp === 0x0a) out += '\\n';
    else if (cp === 0x0d) out += '\\r';
    else if (cp <= 0xff) out += `\\x${hex(cp, 2)}`;
    else if (cp <= 0xffff) out += `\\u${hex(cp, 4)}`;
    else out += `\\U${hex(cp, 8)}`;
    i += width - 1;
    runStart = i + 1;
  }
  return out + s.slice(runStart) + quote;
}

/** Python's `repr(bytes)`: `b'...'` with `\t\n\r`, `\\`, the quote and non-printable ASCII escaped. */
export function pyBytesRepr(b: Uint8Array): string {
  const q = b.includes(0x27) && !b.includes(0x22) ? 0x22 : 0x27;
  // Written as bytes (at most 4 per input byte, all ASCII) and decoded once: linear for large inputs.
  const out = Buffer.allocUnsafe(b.length * 4 + 3);
  let o = 0;
  out[o++] = 0x62;
  out[o++] = q;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c >= 0x20 && c < 0x7f) {
      if (c === q || c === 0x5c) out[o++] = 0x5c;
      out[o++] = c;
    } else if (c === 0x09 || c === 0x0a || c === 0x0d) {
      out[o++] = 0x5c;
      out[o++] = c === 0x09 ? 0x74 : c === 0x0a ? 0x6e : 0x72;
    } else {
      out[o++] = 0x5c;
      out[o++] = 0x78;
      out[o++] = HEX.charCodeAt(c >>> 4);
      out[o++] = HEX.charCodeAt(c & 15);
    }
  }
  out[o++] = q;
  return out.toString('latin1', 0, o);
}
