// The Python format codecs (json, serpent, marshal): pure functions from model values to bytes and back.
export { decodeJson, decodeJsonText, encodeJson, encodeJsonText } from './json.js';
export { decodeMarshal, encodeMarshal } from './marshal.js';
export { DEFAULT_MAX_DEPTH, type FormatDecodeOptions, type FormatEncodeOptions } from './options.js';
export { isPyInt, pyFloatRepr } from './py-float.js';
export { pyBytesRepr, pyStrRepr } from './py-repr.js';
export { decodeSerpent, encodeSerpent, SERPENT_HEADER, type SerpentEncodeOptions } from './serpent.js';
