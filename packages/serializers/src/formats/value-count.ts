// Counting the values of json and serpent text before parsing it. The binary formats announce their
// container sizes, so a payload over the decode budget is refused before anything is allocated; the
// text formats announce nothing, and a parser that counts as it goes has built a budget's worth of
// values (0.5–2 s for a million tuples, mostly garbage collection) by the time it refuses. These
// scans count value starts in the text itself — one pass over characters, strings skipped with the
// native indexOf, nothing allocated — and stop as soon as the count passes the limit.
//
// A value starts at the beginning of the text or right after `[`, `{`, `(` (of a tuple), `,` or `:`.
// The count is exact for valid text: `[` and `{` followed by their closer are empty, a `,` followed
// by a closer is a trailing comma (serpent's `(1,)`), and a `(` starts an element only once a `,`
// shows it is a tuple (`(1+2j)` and `(x)` are one value). Invalid text may be counted wrong either
// way; the parser then refuses it as it does now, after at most the budget's worth of values.

/**
 * The number of values in json text (dict keys included), exact for valid json; counting stops at
 * `limit + 1`. Unterminated strings end the count there (the parser reports them).
 */
export function jsonValueCount(text: string, limit = Number.MAX_SAFE_INTEGER): number {
  const n = text.length;
  let count = 1;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i = stringEnd(text, i + 1, '"');
      if (i < 0) return count;
      continue;
    }
    if (c === 0x2c || c === 0x3a) {
      count++;
    } else if (c === 0x5b || c === 0x7b) {
      // `[` `{`: one more value unless the container is empty (closers are `]` `}` = opener + 2)
      if (text.charCodeAt(skipWs(text, i + 1)) !== c + 2) count++;
    } else {
      continue;
    }
    if (count > limit) return count;
  }
  return count;
}

/**
 * The number of values in serpent text (Python literal syntax, dict keys included), exact for what
 * serpent writes (a comment or line continuation between a bracket and its closer counts one too
 * many); counting stops at `limit + 1`, and at `maxDepth` nested brackets (the parser refuses those).
 */
export function serpentValueCount(text: string, maxDepth: number, limit = Number.MAX_SAFE_INTEGER): number {
  const n = text.length;
  // Per open bracket: 1 for a `(` not yet known to be a tuple, 0 otherwise.
  const untupled = new Uint8Array(maxDepth + 2);
  let depth = 0;
  let count = 1;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    switch (c) {
      case 0x27: // '
      case 0x22: {
        // "
        i = serpentStringEnd(text, i, c);
        if (i < 0) return count;
        continue;
      }
      case 0x23: {
        // # comment
        const nl = text.indexOf('\n', i);
        if (nl === -1) return count;
        i = nl;
        continue;
      }
      case 0x28: // (
        if (++depth > maxDepth) return count;
        untupled[depth] = 1;
        continue;
      case 0x5b: // [
      case 0x7b: // {
        if (++depth > maxDepth) return count;
        untupled[depth] = 0;
        if (text.charCodeAt(skipWs(text, i + 1)) === c + 2) continue;
        count++;
        break;
      case 0x29: // )
      case 0x5d: // ]
      case 0x7d: // }
        if (depth > 0) depth--;
        continue;
      case 0x2c: {
        // , — in a `(` it makes a tuple, whose first element then counts too
        if (untupled[depth] === 1) {
          untupled[depth] = 0;
          count++;
        }
        const next = text.charCodeAt(skipWs(text, i + 1));
        if (next !== 0x29 && next !== 0x5d && next !== 0x7d) count++;
        break;
      }
      case 0x3a: // :
        count++;
        break;
      default:
        continue;
    }
    if (count > limit) return count;
  }
  return count;
}

/**
 * The index of the closing `quote` of a string whose body starts at `from` (a backslash escapes the
 * next character), or -1. Each backslash is looked at once at most, so this stays linear.
 */
function stringEnd(text: string, from: number, quote: string): number {
  let q = text.indexOf(quote, from);
  while (q !== -1) {
    let k = q - 1;
    while (k >= from && text.charCodeAt(k) === 0x5c) k--;
    if (((q - 1 - k) & 1) === 0) return q;
    q = text.indexOf(quote, q + 1);
  }
  return -1;
}

/** The index of the last character of the serpent string literal whose quote is at `at`, or -1. */
function serpentStringEnd(text: string, at: number, q: number): number {
  if (text.charCodeAt(at + 1) === q && text.charCodeAt(at + 2) === q) {
    const quote = q === 0x27 ? "'''" : '"""';
    const end = stringEnd(text, at + 3, quote);
    return end < 0 ? -1 : end + 2;
  }
  return stringEnd(text, at + 1, q === 0x27 ? "'" : '"');
}

function skipWs(text: string, p: number): number {
  for (;;) {
    const c = text.charCodeAt(p);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x0c) p++;
    else return p;
  }
}
