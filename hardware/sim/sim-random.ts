/**
 * Seeded pseudo-random numbers for the simulator, so a simulated session (meter noise included) replays
 * identically from the same seed.
 */

/** A seeded generator (mulberry32) with uniform and Gaussian draws. */
export class SimRandom {
  private state: number;

  /** @param seed any 32-bit integer */
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal (mean 0, standard deviation 1), Box–Muller. */
  gaussian(): number {
    const u = Math.max(this.next(), Number.MIN_VALUE);
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** A new generator derived from this one (independent stream for another component). */
  fork(): SimRandom {
    return new SimRandom(Math.floor(this.next() * 4294967296));
  }
}
