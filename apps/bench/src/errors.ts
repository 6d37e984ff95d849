// Errors of the bench harness itself. The bench is an app that may only depend on @cinder/cinder
// (whose public surface is still empty), so it keeps one small class with the same shape as
// Cinder's errors (`name`, `code`, `cause`) instead of importing @cinder/core directly.

export type BenchErrorCode =
  /** Bad command-line arguments. */
  | 'USAGE'
  /** A child process misbehaved: exited early, printed garbage, or reported an error. */
  | 'CHILD'
  /** A child did not answer in time. */
  | 'TIMEOUT'
  /** Bytes on a baseline connection that are not a valid frame. */
  | 'PROTOCOL'
  /** A figure came out wrong (e.g. the server saw a different byte count than was sent). */
  | 'CHECK';

export class BenchError extends Error {
  override readonly name = 'BenchError';
  readonly code: BenchErrorCode;

  constructor(code: BenchErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
