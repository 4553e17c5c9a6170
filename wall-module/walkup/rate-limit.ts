/**
 * A fixed-window request limit per client address for the walk-up pay endpoints: at most `perMinute` requests
 * per address per minute; the table of addresses is bounded (oldest windows dropped first), so a flood of
 * addresses costs bounded memory.
 */

/** Options of the limiter. */
export interface RateLimitOptions {
  /** requests allowed per address per window */
  perMinute: number;
  /** most addresses remembered at once (default 10 000) */
  maxAddresses?: number;
  /** clock, ms (real time: a client's requests arrive in real time) */
  nowMs?: () => number;
}

const WINDOW_MS = 60_000;

/** Counts requests per address. */
export class RateLimiter {
  private readonly windows = new Map<string, { startMs: number; count: number }>();
  private readonly max: number;
  private readonly now: () => number;

  /** @param o limit, table bound and clock */
  constructor(private readonly o: RateLimitOptions) {
    this.max = o.maxAddresses ?? 10_000;
    this.now = o.nowMs ?? Date.now;
  }

  /**
   * Counts one request.
   * @param address the client's address
   * @returns true when it is allowed, false when the address is over its limit in this window
   */
  allow(address: string): boolean {
    const now = this.now();
    const w = this.windows.get(address);
    if (w === undefined || now - w.startMs >= WINDOW_MS) {
      this.windows.delete(address);
      if (this.windows.size >= this.max) {
        const oldest = this.windows.keys().next();
        if (!oldest.done) this.windows.delete(oldest.value);
      }
      this.windows.set(address, { startMs: now, count: 1 });
      return true;
    }
    w.count++;
    return w.count <= this.o.perMinute;
  }
}
