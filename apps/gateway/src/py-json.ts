// JSON written the way Python's `json.dumps` writes it by default (", " and ": " separators,
// ensure_ascii), so replies the gateway composes itself are byte for byte what Pyro's gateway sends.

/** A string literal as `json.dumps` writes it: everything outside printable ASCII escaped. */
function pyString(text: string): string {
  return JSON.stringify(text).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** `json.dumps(value)` for the values the gateway composes (strings, numbers, booleans, lists, dicts). */
export function pyJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return pyString(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'NaN';
    if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(pyJsonDumps).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    return `{${entries.map(([k, v]) => `${pyString(k)}: ${pyJsonDumps(v)}`).join(', ')}}`;
  }
  return pyString(String(value));
}
