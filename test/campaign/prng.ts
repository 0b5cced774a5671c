/**
 * A small seeded PRNG (mulberry32 over an FNV-1a hash of the seed text). Campaigns print the
 * seed; the same seed picks the same faults in the same order, so any failure can be replayed.
 */
export class Prng {
  private state: number;

  constructor(readonly seed: string) {
    let h = 0x811c9dc5;
    for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193);
    this.state = h >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** A child generator for one run: run N of seed S is reproducible on its own. */
  fork(label: string): Prng {
    return new Prng(`${this.seed}/${label}`);
  }
}
