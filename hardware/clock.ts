/**
 * Time source for everything outside `protocol/` that waits or timestamps: ISO-TP timeouts, drivers' retries,
 * the simulator, the daemons. Production code takes a `Clock`; tests pass a `ManualClock` and advance it, so
 * no test depends on wall-clock speed; the demo passes a `ScaledClock` to run time faster than real time.
 */

/** A scheduled callback; `cancel()` is idempotent. */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /**
   * Current time in milliseconds since the Unix epoch (scaled or manual clocks may differ from real time).
   * Whole milliseconds on every clock a daemon runs on (`SystemClock`, `ScaledClock` at any speed): timestamps go
   * into u64 wire fields and INTEGER columns. Only a test's `ManualClock` moves in the steps the test chooses.
   */
  now(): number;
  /**
   * Calls `fn` once after `delayMs` milliseconds of this clock's time.
   *
   * @param delayMs delay in this clock's milliseconds, >= 0
   * @param fn callback
   * @returns a handle to cancel the timer
   */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
  /** Resolves after `delayMs` milliseconds of this clock's time. */
  sleep(delayMs: number): Promise<void>;
}

/** Real timers of at least this many ms are coalesced (see `coalescedRealDelayMs`). */
const COALESCE_FROM_MS = 1000;
/** Real timers of `COALESCE_FROM_MS` or more fall due on multiples of this many real ms. */
const COALESCE_SLOT_MS = 100;

/**
 * Timer slack for long real timers: a delay of a second or more ends at the next multiple of 100 real ms, so the
 * many periodic timers of a site (every connector's expiry checks, polls, ticks) wake the process together
 * instead of one by one. Shorter delays (ISO-TP pacing, retries) are kept exact.
 *
 * @param delayMs wanted delay, real ms (>= 0)
 * @param nowMs real now, ms since epoch
 * @returns the delay to arm, real ms (never shorter than asked, at most 100 ms longer)
 */
export function coalescedRealDelayMs(delayMs: number, nowMs: number): number {
  if (delayMs < COALESCE_FROM_MS) return Math.max(0, delayMs);
  return Math.ceil((nowMs + delayMs) / COALESCE_SLOT_MS) * COALESCE_SLOT_MS - nowMs;
}

/** Real time. */
export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }
  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const t = setTimeout(fn, coalescedRealDelayMs(delayMs, Date.now()));
    return { cancel: () => clearTimeout(t) };
  }
  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.setTimer(delayMs, resolve));
  }
}

/**
 * Real time sped up by `speed`: `now()` advances `speed` ms per real ms from `startMs`, and timers fire after
 * `delayMs / speed` real milliseconds. Used by the demo to charge a car in minutes instead of hours. Any speed
 * (e.g. 3.3333) gives whole milliseconds: the start is floored and the scaled elapsed time is floored.
 */
export class ScaledClock implements Clock {
  private readonly realStart = Date.now();
  /**
   * @param speed acceleration factor, > 0 (1 = real time)
   * @param startMs this clock's time at construction, ms since epoch (default: real now)
   */
  private readonly startMs: number;
  constructor(
    readonly speed: number,
    startMs: number = Date.now(),
  ) {
    if (!(speed > 0) || !Number.isFinite(speed))
      throw new RangeError(`ScaledClock speed must be > 0, got ${speed}`);
    if (!Number.isFinite(startMs)) throw new RangeError(`ScaledClock start must be finite, got ${startMs}`);
    this.startMs = Math.floor(startMs);
  }
  now(): number {
    return this.startMs + Math.floor((Date.now() - this.realStart) * this.speed);
  }
  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const t = setTimeout(fn, coalescedRealDelayMs(Math.max(0, delayMs) / this.speed, Date.now()));
    return { cancel: () => clearTimeout(t) };
  }
  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.setTimer(delayMs, resolve));
  }
}

interface ManualTimer {
  dueMs: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when told. Timers fire in due order (ties in scheduling order) during `advance`.
 * Timers scheduled by a firing callback fire in the same `advance` call if they fall due within it.
 * For tests only (the daemons run on `SystemClock` or `ScaledClock`): it moves exactly as told, so a test may
 * step in fractions of a millisecond to model bus bit times.
 */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private timers: ManualTimer[] = [];

  /** @param startMs initial time, ms since epoch (default 1_700_000_000_000 for reproducible tests) */
  constructor(startMs = 1_700_000_000_000) {
    this.current = startMs;
  }
  now(): number {
    return this.current;
  }
  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const timer: ManualTimer = {
      dueMs: this.current + Math.max(0, delayMs),
      seq: this.seq++,
      fn,
      cancelled: false,
    };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }
  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.setTimer(delayMs, resolve));
  }
  /** Number of timers scheduled and not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }
  /**
   * Moves time forward by `ms`, firing every timer that falls due, in order, at its due time.
   * Awaits a microtask turn after each timer so promise continuations (e.g. `sleep`) run in order.
   */
  async advance(ms: number): Promise<void> {
    const target = this.current + Math.max(0, ms);
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      this.timers.sort((a, b) => a.dueMs - b.dueMs || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.dueMs > target) break;
      this.timers.shift();
      this.current = next.dueMs;
      next.fn();
      await flushMicrotasks();
    }
    this.current = target;
    await flushMicrotasks();
  }
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}
