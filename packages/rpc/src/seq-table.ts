// The calls a session has in flight, by their 16-bit seq. Seqs are handed out in order, so an
// array indexed by the seq's low bits holds them without collisions most of the time; two live
// seqs on one slot double the array (65,536 slots can hold every seq). A Map does the same job
// but rebuilds its table as it fills and empties, which with 128 calls in flight cost about
// 90 bytes of garbage per call.

/** Something kept by its seq; the seq must not change while it is in the table. */
export interface HasSeq {
  readonly seq: number;
}

const SEQ_MASK = 0xffff;
const FIRST_SIZE = 16;
/**
 * What a table holds until its first entry (one slot, never written): a session that never makes
 * a call of its own — most of a server's — allocates no table.
 */
const NO_SLOTS: undefined[] = [undefined];

export class SeqTable<T extends HasSeq> {
  private slots: (T | undefined)[] = NO_SLOTS;
  private mask = 0;
  /** Entries held. */
  size = 0;

  get(seq: number): T | undefined {
    const entry = this.slots[seq & this.mask];
    return entry !== undefined && entry.seq === seq ? entry : undefined;
  }

  has(seq: number): boolean {
    return this.get(seq) !== undefined;
  }

  /** Adds `entry` under its seq, replacing one held under the same seq. */
  set(entry: T): void {
    if (this.slots === NO_SLOTS) {
      this.slots = new Array<T | undefined>(FIRST_SIZE).fill(undefined);
      this.mask = FIRST_SIZE - 1;
    }
    const seq = entry.seq;
    let slot = seq & this.mask;
    let held = this.slots[slot];
    while (held !== undefined && held.seq !== seq && this.mask < SEQ_MASK) {
      this.grow();
      slot = seq & this.mask;
      held = this.slots[slot];
    }
    if (held === undefined) this.size++;
    this.slots[slot] = entry;
  }

  /** Removes what is held under `seq`; false when nothing was. */
  delete(seq: number): boolean {
    const slot = seq & this.mask;
    const entry = this.slots[slot];
    if (entry === undefined || entry.seq !== seq) return false;
    this.slots[slot] = undefined;
    this.size--;
    return true;
  }

  /** The entries, oldest first given the seq handed out last. */
  values(newest: number): T[] {
    const out: T[] = [];
    for (const entry of this.slots) if (entry !== undefined) out.push(entry);
    return out.sort((a, b) => ((newest - b.seq) & SEQ_MASK) - ((newest - a.seq) & SEQ_MASK));
  }

  clear(): void {
    this.slots = NO_SLOTS;
    this.mask = 0;
    this.size = 0;
  }

  private grow(): void {
    const old = this.slots;
    const size = old.length * 2;
    const slots = new Array<T | undefined>(size).fill(undefined);
    const mask = size - 1;
    for (const entry of old) if (entry !== undefined) slots[entry.seq & mask] = entry;
    this.slots = slots;
    this.mask = mask;
  }
}
