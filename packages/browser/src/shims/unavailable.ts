// Node modules the browser build cannot have (zlib, dgram, fs, path, tls, http…): importing is
// fine, using anything is an error that says so. Compression is off in the browser build.
function unavailable(): never {
  throw new Error('not available in the browser build');
}

export const deflateSync = unavailable;
export const inflateSync = unavailable;
export const createSocket = unavailable;
export const readFileSync = unavailable;
export const readdirSync = unavailable;
export const statSync = unavailable;
export const chownSync = unavailable;
export const execFileSync = unavailable;
export const join = unavailable;
export default {};
