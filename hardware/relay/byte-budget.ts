/**
 * Rate bounds of the blind relay, on an injected time: a token bucket of bytes per second (shared by every
 * relayed connection, both directions) and a sliding window of connection attempts per minute. Pure: the caller
 * passes `nowMs`.
 */

/** A token bucket of bytes. */
export class ByteBucket {
  private tokens: number;
  private lastMs: number;

  /**
    @param bytesPerSec refill rate and capacity (one second of burst), > 0
    @param nowMs the current time, ms
  */
  constructor(
    private readonly bytesPerSec: number,
    nowMs: number,
  ) {
    this.tokens = bytesPerSec;
    this.lastMs = nowMs;
  }

  /** Spends `bytes` (the balance may go negative: the bytes were already received).

    @param bytes bytes just forwarded
    @param nowMs current time, ms
    @returns how long the sender must pause before the balance is back to zero, ms (0 = no pause)
  */
  spend(bytes: number, nowMs: number): number {
    this.refill(nowMs);
    this.tokens -= bytes;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.bytesPerSec);
  }

  private refill(nowMs: number): void {
    const elapsed = Math.max(0, nowMs - this.lastMs);
    this.lastMs = nowMs;
    this.tokens = Math.min(this.bytesPerSec, this.tokens + (elapsed * this.bytesPerSec) / 1000);
  }
}

/** At most `limit` events in any 60 s window. */
export class PerMinuteWindow {
  private readonly times: number[] = [];

  /** @param limit events allowed per rolling minute, ≥ 0 */
  constructor(private readonly limit: number) {}

  /** Records an attempt if the window has room.

    @param nowMs current time, ms
    @returns whether it is within the limit (a refused attempt is not recorded)
  */
  tryRecord(nowMs: number): boolean {
    while (this.times.length > 0 && this.times[0]! <= nowMs - 60_000) this.times.shift();
    if (this.times.length >= this.limit) return false;
    this.times.push(nowMs);
    return true;
  }
}
