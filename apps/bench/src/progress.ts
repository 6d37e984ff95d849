// The progress line on stderr: rewritten in place on a terminal, plain lines when stderr is a file
// or a pipe (CI logs, the test), so stdout stays clean for the table.

export class Progress {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #started = performance.now();
  #current = '';

  constructor(out: NodeJS.WriteStream = process.stderr) {
    this.#out = out;
    this.#tty = out.isTTY === true;
  }

  /** Replaces the progress line (prefixed with the time since the start). */
  update(text: string): void {
    const elapsed = ((performance.now() - this.#started) / 1000).toFixed(1);
    text = `${elapsed.padStart(6)}s ${text}`;
    if (text === this.#current) return;
    this.#current = text;
    if (this.#tty) {
      const width = Math.max(20, (this.#out.columns || 100) - 1);
      this.#out.write(`\r\x1b[2K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
    } else {
      this.#out.write(`${text}\n`);
    }
  }

  /** A line that stays (a skip, a failure), printed above the progress line. */
  log(line: string): void {
    if (this.#tty) {
      this.#out.write(`\r\x1b[2K${line}\n`);
      if (this.#current) this.#out.write(this.#current);
    } else {
      this.#out.write(`${line}\n`);
    }
  }

  /** Removes the progress line (the terminal is left as it was). */
  done(): void {
    if (this.#tty && this.#current) this.#out.write('\r\x1b[2K');
    this.#current = '';
  }
}
