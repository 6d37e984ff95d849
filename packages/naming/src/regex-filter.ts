// Runs a name-server regex over the registered names under a time limit. Patterns come from the
// network and JavaScript regexes backtrack: `(a+)+b` against a long name would otherwise stall the
// event loop — the whole name server — for minutes. node:vm's timeout interrupts a running match.
import { createContext, Script } from 'node:vm';
import { NamingError } from '@cinder/core';

export class RegexFilter {
  readonly timeoutMs: number;
  readonly #context: { job?: (() => void) | undefined };
  readonly #script = new Script('job()');

  /** `timeoutMs` 0 turns the limit off. */
  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
    this.#context = createContext({});
  }

  /**
   * Indices of the `names` that `regex` matches (`test`, so it must not be global or sticky).
   * `pattern` is the text the user gave, for the error message.
   */
  select(regex: RegExp, names: readonly string[], pattern: string = regex.source): number[] {
    const hits: number[] = [];
    const job = () => {
      for (let i = 0; i < names.length; i++) if (regex.test(names[i]!)) hits.push(i);
    };
    if (this.timeoutMs <= 0) {
      job();
      return hits;
    }
    this.#context.job = job;
    try {
      this.#script.runInContext(this.#context, { timeout: this.timeoutMs });
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
        throw new NamingError(
          `regex ${JSON.stringify(pattern.length > 80 ? `${pattern.slice(0, 80)}…` : pattern)} ` +
            `took longer than ${this.timeoutMs} ms over ${names.length} names: simplify the pattern`,
          { cause: err },
        );
      }
      throw err;
    } finally {
      this.#context.job = undefined;
    }
    return hits;
  }
}
