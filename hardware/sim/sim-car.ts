/**
 * A simulated electric car: battery, state of charge, a charge curve that tapers near full, an on-board
 * charger with a maximum AC power and an efficiency, and the J1772 pilot behaviour (A unplugged, B connected,
 * C asking for power). The world (`sim-plant.ts`) moves energy into it; this file is the car's own state.
 */
import type { PilotState } from '../evse/evse.js';

export interface SimCarOptions {
  /** Usable battery capacity, Wh (default 60 000). */
  batteryCapacityWh: number;
  /** State of charge at start, % (default 20). */
  initialSocPct: number;
  /** The car stops asking for power at this state of charge, % (default 100). */
  targetSocPct: number;
  /** On-board charger limit, W of AC input (default 11 000). */
  maxAcPowerW: number;
  /** DC fast-charge limit, W (default 100 000; informational: the simulator charges over AC). */
  maxDcPowerW: number;
  /** Above this state of charge the accepted power falls linearly, % (default 80). */
  taperStartSocPct: number;
  /** Accepted power at 100 %, as a fraction of `maxAcPowerW` (default 0.1). */
  taperEndFraction: number;
  /** Fraction of AC input energy that reaches the battery (default 0.92). */
  chargerEfficiency: number;
  /** Time the car takes to react to the pilot (PWM on → C, PWM off → B), ms (default 1000; J1772 ≤ 3000). */
  responseMs: number;
  /** How fast the car ramps its current up or down, A/s (default 10). */
  rampAps: number;
  /** The car asks for power with state D (charging with ventilation) instead of C (default false). */
  requiresVentilation: boolean;
}

/** Defaults for `SimCarOptions`. */
export const defaultSimCar: SimCarOptions = {
  batteryCapacityWh: 60_000,
  initialSocPct: 20,
  targetSocPct: 100,
  maxAcPowerW: 11_000,
  maxDcPowerW: 100_000,
  taperStartSocPct: 80,
  taperEndFraction: 0.1,
  chargerEfficiency: 0.92,
  responseMs: 1000,
  rampAps: 10,
  requiresVentilation: false,
};

/** The car's state. */
export class SimCar {
  readonly options: SimCarOptions;
  /** Energy in the battery, Wh. */
  batteryWh: number;
  /** The pilot state the car presents (A when unplugged). */
  pilot: PilotState = 'A';

  /** @param options car parameters; missing ones take `defaultSimCar` */
  constructor(options: Partial<SimCarOptions> = {}) {
    this.options = { ...defaultSimCar, ...options };
    const o = this.options;
    if (!(o.batteryCapacityWh > 0)) throw new RangeError('batteryCapacityWh must be > 0');
    if (!(o.chargerEfficiency > 0 && o.chargerEfficiency <= 1))
      throw new RangeError('chargerEfficiency in (0, 1]');
    if (!(o.taperStartSocPct > 0 && o.taperStartSocPct <= 100))
      throw new RangeError('taperStartSocPct in (0, 100]');
    this.batteryWh = (o.batteryCapacityWh * o.initialSocPct) / 100;
  }

  /** State of charge, % (0..100). */
  get socPct(): number {
    return (100 * this.batteryWh) / this.options.batteryCapacityWh;
  }

  /** True when plugged in (pilot B, C or D). */
  get plugged(): boolean {
    return this.pilot !== 'A';
  }

  /** True while the car asks for power (pilot C, or D when it needs ventilation). */
  get asking(): boolean {
    return this.pilot === 'C' || this.pilot === 'D';
  }

  /** True while the battery is below the target state of charge. */
  wantsCharge(): boolean {
    return this.socPct < this.options.targetSocPct;
  }

  /**
   * The AC input power the car accepts at its current state of charge: flat up to `taperStartSocPct`, then
   * falling linearly to `taperEndFraction × maxAcPowerW` at 100 %, and 0 once at the target.
   *
   * @returns W of AC input
   */
  acceptedPowerW(): number {
    const o = this.options;
    if (!this.wantsCharge()) return 0;
    const soc = this.socPct;
    if (soc <= o.taperStartSocPct) return o.maxAcPowerW;
    const span = 100 - o.taperStartSocPct;
    const f = span > 0 ? (soc - o.taperStartSocPct) / span : 1;
    return o.maxAcPowerW * (1 - f * (1 - o.taperEndFraction));
  }

  /**
   * Adds AC input energy to the battery (after on-board charger losses), capped at capacity.
   *
   * @param acEnergyWh energy received at the inlet, Wh
   */
  absorb(acEnergyWh: number): void {
    const o = this.options;
    this.batteryWh = Math.min(o.batteryCapacityWh, this.batteryWh + acEnergyWh * o.chargerEfficiency);
  }
}
