// The text the json and serpent writers build, piece by piece. Appending a million small pieces to
// one string makes a rope of millions of nodes that survives until the end, so the garbage collector
// copies it around and flattening it costs as much again (two thirds of encoding a million strings
// was garbage collection). Every 16 Ki characters the text so far becomes UTF-8 bytes instead: the
// rope stays small and dies young. Encoding a million-element list costs about a third as much.

const SPILL_AT = 16 * 1024;

export class TextOutput {
  /** The text since the last spill; writers append to it. */
  out: string;
  #chunks: Buffer[] | undefined;

  constructor(start = '') {
    this.out = start;
  }

  /** Turns the text so far into bytes once it is long enough; call between whole tokens. */
  spill(): void {
    if (this.out.length > SPILL_AT) {
      (this.#chunks ??= []).push(Buffer.from(this.out, 'utf8'));
      this.out = '';
    }
  }

  /** Everything written, as UTF-8. */
  bytes(): Uint8Array {
    const last = Buffer.from(this.out, 'utf8');
    if (this.#chunks === undefined) return last;
    this.#chunks.push(last);
    return Buffer.concat(this.#chunks);
  }

  /** Everything written, as text (the writers escape lone surrogates, so UTF-8 keeps it intact). */
  text(): string {
    return this.#chunks === undefined ? this.out : Buffer.from(this.bytes()).toString('utf8');
  }
}
