// Wire constants of the two Pyro protocols Cinder speaks, and the limits that follow from their
// header field widths. Kept apart so the codecs, the frame reader and higher layers share one copy.

/** `PYRO` as a big-endian u32: both protocols start every frame with these four bytes. */
export const TAG = 0x5059524f;

/** Pyro5 (protocol 502) header size in bytes. */
export const HEADER_SIZE_502 = 40;
/** Pyro4 (protocol 48) header size in bytes. */
export const HEADER_SIZE_48 = 24;
/** Bytes needed to tell the protocol version of a frame: `PYRO` + u16 version. */
export const PREFIX_SIZE = 6;

/** Pyro5 header magic (last u16 of the header). */
export const MAGIC = 0x4dc5;
/** Added into the Pyro4 header checksum. */
export const PYRO4_CHECKSUM_MAGIC = 0x34e9;

/** Pyro's default MAX_MESSAGE_SIZE (1 GiB): annotations + payload, header not counted. */
export const DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024 * 1024;

/** Pyro5 data and annotation lengths are u32. */
export const MAX_LENGTH_502 = 0xffffffff;
/** Pyro4 data length is a signed i32. */
export const MAX_DATA_LENGTH_48 = 0x7fffffff;
/** Pyro4 annotation chunk lengths and their total are u16. */
export const MAX_ANNOTATIONS_LENGTH_48 = 0xffff;

/** Size of a correlation id (a UUID's bytes). */
export const CORRELATION_ID_SIZE = 16;
/** Size of a Pyro4 HMAC-SHA1 annotation. */
export const HMAC_SIZE = 20;

/** Pyro5 zlib level (Pyro's `zlib.compress(data, 4)`). Pyro4 uses zlib's default (6). */
export const PYRO5_COMPRESSION_LEVEL = 4;
/** Pyro4 annotation carrying the correlation id. */
export const CORR_ANNOTATION = 'CORR';
/** Pyro4 annotation carrying the HMAC. */
export const HMAC_ANNOTATION = 'HMAC';

/** Payloads at least this large are sent as their own chunk instead of being copied. */
export const COPY_THRESHOLD = 16 * 1024;
