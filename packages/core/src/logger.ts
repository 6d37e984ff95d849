// The logger interface every Cinder component accepts. pino's Logger satisfies it structurally, so
// users inject `pino()` (or a child of their own); by default nothing is logged.

export interface LogFn {
  (obj: object, msg?: string, ...args: unknown[]): void;
  (msg: string, ...args: unknown[]): void;
}

export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

const noop: LogFn = () => {};

/** A logger that discards everything: the default for every component. */
export const silentLogger: Logger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  fatal: noop,
  child: () => silentLogger,
};

/** A child logger for a component, or the silent logger when none was given. */
export function componentLogger(logger: Logger | undefined, component: string): Logger {
  return logger ? logger.child({ component }) : silentLogger;
}
