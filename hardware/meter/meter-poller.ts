/**
 * Polls an `EnergyMeter` on a clock and publishes readings as events, so a daemon reacts to readings instead
 * of scheduling reads itself. Errors are published too (a dropout is an event, not a crash), and after
 * `failuresBeforeDown` consecutive failures a `down` event tells the daemon to stop selling energy it
 * cannot measure; the first good reading afterwards emits `up`.
 */
import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../clock.js';
import type { EnergyMeter, MeterReading } from './energy-meter.js';

export interface MeterPollerEvents {
  /** A good reading. */
  reading: [reading: MeterReading];
  /** A failed read. */
  error: [error: Error];
  /** `failuresBeforeDown` consecutive reads failed. */
  down: [lastError: Error];
  /** A read succeeded after `down`. */
  up: [reading: MeterReading];
}

export interface MeterPollerOptions {
  /** Time between the end of one read and the start of the next, ms (default 1000). */
  intervalMs?: number;
  /** Consecutive failures that make the meter `down` (default 3). */
  failuresBeforeDown?: number;
  /** Time between reads while resting (`rest(true)`: nothing is metered), ms (default: `intervalMs`). */
  restIntervalMs?: number;
}

/** Polls a meter. `start()`, listen, `stop()`. Listen to `error` (Node throws on unheard `error` events). */
export class MeterPoller extends EventEmitter<MeterPollerEvents> {
  private timer: TimerHandle | null = null;
  private running = false;
  private failures = 0;
  private isDown = false;
  private resting = false;
  /** The latest good reading, or null. */
  latest: MeterReading | null = null;

  /**
   * @param meter the meter to poll
   * @param clock the clock the interval runs on
   * @param options interval and down threshold
   */
  constructor(
    readonly meter: EnergyMeter,
    private readonly clock: Clock,
    private readonly options: MeterPollerOptions = {},
  ) {
    super();
  }

  /** Starts polling; the first read happens at once. */
  start(): void {
    if (this.running) return;
    this.running = true;
    void this.poll();
  }

  /** Stops polling (a read in progress completes but is not followed by another). */
  stop(): void {
    this.running = false;
    this.timer?.cancel();
    this.timer = null;
  }

  /**
   * Rests (reads every `restIntervalMs`) or wakes (reads every `intervalMs`). Waking from a rest reads at once
   * when no read is in flight, so a session that starts gets a fresh reading.
   *
   * @param resting true between sessions
   */
  rest(resting: boolean): void {
    if (resting === this.resting) return;
    this.resting = resting;
    if (resting || !this.running || this.timer === null) return;
    this.timer.cancel();
    this.timer = null;
    void this.poll();
  }

  /** True after `down` until the next good reading. */
  get down(): boolean {
    return this.isDown;
  }

  private async poll(): Promise<void> {
    if (!this.running) return;
    try {
      const reading = await this.meter.read();
      this.failures = 0;
      this.latest = reading;
      if (this.isDown) {
        this.isDown = false;
        this.emit('up', reading);
      }
      this.emit('reading', reading);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.failures++;
      if (this.listenerCount('error') > 0) this.emit('error', error);
      if (!this.isDown && this.failures >= (this.options.failuresBeforeDown ?? 3)) {
        this.isDown = true;
        this.emit('down', error);
      }
    }
    if (!this.running) return;
    const intervalMs = this.options.intervalMs ?? 1000;
    // resting reads fall on multiples of the rest interval of clock time: a site's idle meters are read together
    const restMs = this.options.restIntervalMs ?? intervalMs;
    const now = this.clock.now();
    const waitMs = this.resting ? (Math.floor(now / restMs) + 1) * restMs - now : intervalMs;
    this.timer = this.clock.setTimer(waitMs, () => {
      this.timer = null;
      void this.poll();
    });
  }
}
