// Caller frames on a failed call's error, when `config.callerStacks` asks for them.

/**
 * Gives a failed call's error the caller's frames instead of Cinder's. A reply's error is made where
 * the socket's data is decoded, so its own stack shows only Cinder internals; captured here, in the
 * rejection handler the caller's `await` waits on, V8's async stack traces give the caller's lines
 * (`at async main (app.mjs:12:3)`). When no caller frame is found (the promise is not awaited in an
 * async function) the original stack stays. The extra reaction costs every call, failed or not,
 * about 5% of a pipelined call's CPU, so it is on only with `config.callerStacks`.
 */
export function withCallerFrames(err: unknown): never {
  if (err instanceof Error && typeof err.stack === 'string') {
    const here: { stack?: string } = {};
    Error.captureStackTrace(here, withCallerFrames);
    const frames = here.stack ?? '';
    const at = frames.indexOf('\n    at ');
    if (at >= 0) {
      const own = err.stack.indexOf('\n    at ');
      err.stack = (own >= 0 ? err.stack.slice(0, own) : err.stack) + frames.slice(at);
    }
  }
  throw err;
}
