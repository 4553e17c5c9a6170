/**
 * A simulated energy meter implementing `EnergyMeter`. Its energy register integrates the true power the
 * world gives it exactly (piecewise constant between physics steps), multiplied by its gain error; its
 * instantaneous readings (W, V, A) carry the gain error plus Gaussian noise. Two of these, one at the wall and
 * one in the car, disagree the way two real class-1 meters do. Faults: gain drift over time and dropout.
 */
import type { Clock } from '../clock.js';
import { MeterTimeout, type EnergyMeter, type MeterReading } from '../meter/energy-meter.js';
import type { SimRandom } from './sim-random.js';

export interface SimMeterOptions {
  /** Gain error as a fraction: +0.01 reads 1 % high (default 0). Applies to energy, power and current. */
  gainError: number;
  /** Relative standard deviation of the noise on instantaneous W, V and A readings (default 0.002). */
  noiseFraction: number;
  /** Register value at start, Wh (default 0; real meters arrive with history). */
  initialEnergyWh: number;
  /** How long a read takes to fail while the meter is dropped out, ms (default 1000). */
  timeoutMs: number;
}

/** Defaults for `SimMeterOptions`. */
export const defaultSimMeter: SimMeterOptions = {
  gainError: 0,
  noiseFraction: 0.002,
  initialEnergyWh: 0,
  timeoutMs: 1000,
};

/** The true electrical values at a meter's position, from the world. */
export interface SimMeterSource {
  /** Brings the world's integration up to the clock's now. */
  sync(): void;
  /** True voltage (V), per-phase current (A) and total power (W) at this meter now. */
  instant(): { voltageV: number; currentA: number; powerW: number };
}

/** A simulated meter. */
export class SimMeter implements EnergyMeter {
  readonly options: SimMeterOptions;
  private energyWh: number;
  private driftPpmPerHour = 0;
  private driftSinceMs = 0;
  private dropped = false;

  /**
   * @param name label used in errors, e.g. `wall meter`
   * @param source the world's true values at this meter
   * @param clock the world's clock
   * @param random noise source
   * @param options gain error, noise, initial register, dropout timeout
   */
  constructor(
    readonly name: string,
    private readonly source: SimMeterSource,
    private readonly clock: Clock,
    private readonly random: SimRandom,
    options: Partial<SimMeterOptions> = {},
  ) {
    this.options = { ...defaultSimMeter, ...options };
    this.energyWh = this.options.initialEnergyWh;
  }

  /**
   * Reads the meter. During a dropout, waits `timeoutMs` on the clock and fails like a silent Modbus meter.
   *
   * @returns the reading, with gain error and noise applied
   * @throws MeterTimeout while dropped out
   */
  async read(): Promise<MeterReading> {
    if (this.dropped) {
      await this.clock.sleep(this.options.timeoutMs);
      throw new MeterTimeout(`simulated ${this.name}`, this.options.timeoutMs, 1);
    }
    this.source.sync();
    const now = this.clock.now();
    const g = 1 + this.gainAt(now);
    const t = this.source.instant();
    const noise = (): number => 1 + this.options.noiseFraction * this.random.gaussian();
    return {
      energyImportWh: this.energyWh,
      powerW: t.powerW * g * noise(),
      voltageV: t.voltageV * noise(),
      currentA: t.currentA * g * noise(),
      atMs: now,
    };
  }

  /** Nothing to release. */
  async close(): Promise<void> {}

  /** The register value without noise or dropout (for tests and the SDM emulator's ground truth), Wh. */
  get registerWh(): number {
    return this.energyWh;
  }

  /**
   * Fault: the gain error starts drifting by `ppmPerHour` parts per million per hour of clock time from now.
   *
   * @param ppmPerHour drift rate (0 stops drifting; the error accumulated so far stays)
   */
  setDrift(ppmPerHour: number): void {
    const now = this.clock.now();
    this.options.gainError = this.gainAt(now);
    this.driftPpmPerHour = ppmPerHour;
    this.driftSinceMs = now;
  }

  /** Fault: the meter stops answering (true) or answers again (false). Energy keeps accumulating inside. */
  setDropout(dropped: boolean): void {
    this.dropped = dropped;
  }

  /** Current gain error (fraction) including drift, at `atMs`. */
  gainAt(atMs: number): number {
    return this.options.gainError + (this.driftPpmPerHour * 1e-6 * (atMs - this.driftSinceMs)) / 3_600_000;
  }

  /**
   * Called by the world: the true power `powerW` flowed from `fromMs` to `toMs`. Exact for linear drift
   * (the gain is taken at the interval's midpoint).
   */
  accumulate(powerW: number, fromMs: number, toMs: number): void {
    if (toMs <= fromMs || powerW === 0) return;
    const g = 1 + this.gainAt((fromMs + toMs) / 2);
    this.energyWh += (powerW * g * (toMs - fromMs)) / 3_600_000;
  }
}
