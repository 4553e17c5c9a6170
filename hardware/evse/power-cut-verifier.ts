/**
 * Power-cut verification: after the EVSE was told to stop (`pause()`), trust the meter, not the command.
 * The verifier polls a meter until the measured current falls below a threshold; if it has not within the
 * allowed time (a welded contactor, a stuck relay, an EVSE that ignored the command), it raises an `alarm`.
 * A meter that cannot be read during the whole window also raises the alarm: an unverified cut is not a cut.
 */
import { EventEmitter } from 'node:events';
import type { Clock } from '../clock.js';
import type { EnergyMeter } from '../meter/energy-meter.js';

export interface PowerCutVerifierOptions {
  /** Current below which the power counts as cut, A (default 0.5). */
  thresholdA?: number;
  /** Time allowed from the cut until the current is below the threshold, ms (default 5000: J1772 gives the
   * vehicle 3 s to stop drawing once the pilot stops oscillating, plus relay and meter latency). */
  withinMs?: number;
  /** Interval between meter reads, ms (default 250). */
  pollMs?: number;
}

/** The current fell below the threshold in time. */
export interface PowerCutVerified {
  ok: true;
  /** When the cut was commanded, ms since epoch. */
  cutAtMs: number;
  /** Time from the cut to the first reading below the threshold, ms. */
  elapsedMs: number;
  /** That reading's current, A. */
  currentA: number;
}

/** The current did not fall below the threshold in time (or could not be measured). */
export interface PowerCutAlarm {
  ok: false;
  cutAtMs: number;
  /** Time from the cut to the decision, ms (≥ `withinMs`). */
  elapsedMs: number;
  /** `current-still-flowing` (stuck relay) or `meter-unreadable` (no reading in the whole window). */
  reason: 'current-still-flowing' | 'meter-unreadable';
  /** Last measured current, A (NaN if none). */
  lastCurrentA: number;
  /** Last measured power, W (NaN if none). */
  lastPowerW: number;
  /** Last meter error, if any read failed. */
  lastError: Error | null;
}

export type PowerCutOutcome = PowerCutVerified | PowerCutAlarm;

export interface PowerCutVerifierEvents {
  verified: [outcome: PowerCutVerified];
  alarm: [outcome: PowerCutAlarm];
}

/** Verifies cuts against one meter. One verifier can check many cuts in turn. */
export class PowerCutVerifier extends EventEmitter<PowerCutVerifierEvents> {
  readonly thresholdA: number;
  readonly withinMs: number;
  readonly pollMs: number;

  /**
   * @param meter the meter that sees the current the cut should stop (the wall-side meter)
   * @param clock the clock the window is measured on
   * @param options threshold, window and poll interval
   */
  constructor(
    readonly meter: EnergyMeter,
    private readonly clock: Clock,
    options: PowerCutVerifierOptions = {},
  ) {
    super();
    this.thresholdA = options.thresholdA ?? 0.5;
    this.withinMs = options.withinMs ?? 5000;
    this.pollMs = options.pollMs ?? 250;
    if (!(this.thresholdA >= 0)) throw new RangeError(`thresholdA must be >= 0, got ${options.thresholdA}`);
    if (!(this.pollMs > 0)) throw new RangeError(`pollMs must be > 0, got ${options.pollMs}`);
  }

  /**
   * Watches the meter after a cut until the current is below the threshold or the window ends, then emits
   * `verified` or `alarm` with the same outcome it resolves with.
   *
   * @param cutAtMs when the cut was commanded, ms since epoch (default: now)
   * @returns the outcome (never rejects)
   */
  async verify(cutAtMs: number = this.clock.now()): Promise<PowerCutOutcome> {
    const deadline = cutAtMs + this.withinMs;
    let lastCurrentA = Number.NaN;
    let lastPowerW = Number.NaN;
    let lastError: Error | null = null;
    for (;;) {
      try {
        const r = await this.meter.read();
        lastCurrentA = r.currentA;
        lastPowerW = r.powerW;
        if (r.currentA < this.thresholdA && r.atMs >= cutAtMs) {
          const outcome: PowerCutVerified = {
            ok: true,
            cutAtMs,
            elapsedMs: this.clock.now() - cutAtMs,
            currentA: r.currentA,
          };
          this.emit('verified', outcome);
          return outcome;
        }
      } catch (err) {
        lastError = err instanceof Error ? err : new Error(String(err));
      }
      const now = this.clock.now();
      if (now >= deadline) {
        const outcome: PowerCutAlarm = {
          ok: false,
          cutAtMs,
          elapsedMs: now - cutAtMs,
          reason: Number.isNaN(lastCurrentA) ? 'meter-unreadable' : 'current-still-flowing',
          lastCurrentA,
          lastPowerW,
          lastError,
        };
        this.emit('alarm', outcome);
        return outcome;
      }
      await this.clock.sleep(Math.min(this.pollMs, deadline - now));
    }
  }
}
