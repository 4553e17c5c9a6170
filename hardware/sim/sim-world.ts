/**
 * The simulated world: a car, a charger and a meter on each side of the cable, driven by an injected clock.
 * `createSimWorld()` returns the charger as an `Evse` and the meters as `EnergyMeter`s, so the daemons and the
 * demo use them exactly as they would the OpenEVSE and SDM drivers.
 *
 * Physics: the current is constant between events (physics steps every `stepMs`, commands, plug, delayed
 * relay and car reactions) and energy is integrated exactly over each constant piece, so a meter's register
 * equals ∫P dt of its side up to floating-point rounding. The car ramps its current at `rampAps` and its
 * accepted power tapers above `taperStartSocPct`. Cable resistance makes the vehicle side see I²R less than
 * the wall side.
 */
import type { Clock, TimerHandle } from '../clock.js';
import type { EvseFault, PilotState } from '../evse/evse.js';
import { SimCar, type SimCarOptions } from './sim-car.js';
import { SimCharger, type SimChargerOptions } from './sim-charger.js';
import { SimMeter, type SimMeterOptions } from './sim-meter.js';
import { SimRandom } from './sim-random.js';

export interface SimWorldOptions {
  /** The clock everything runs on (ManualClock in tests, ScaledClock in the demo). */
  clock: Clock;
  /** Physics step, ms of clock time (default 1000). */
  stepMs?: number;
  /** Seed for meter noise (default 1). */
  seed?: number;
  car?: Partial<SimCarOptions>;
  charger?: Partial<SimChargerOptions>;
  wallMeter?: Partial<SimMeterOptions>;
  vehicleMeter?: Partial<SimMeterOptions>;
  /** Loop resistance of the cable between the two meters, Ω per phase (default 0.02). */
  cableResistanceOhm?: number;
  /** Start with the car plugged in (default false). */
  plugged?: boolean;
}

/** Which meter a fault applies to. */
export type SimMeterSide = 'wall' | 'vehicle';

/** Faults on demand. */
export interface SimFaults {
  /** The meter's gain error starts drifting by `ppmPerHour` (0 stops the drift). */
  meterDrift(side: SimMeterSide, ppmPerHour: number): void;
  /** The meter stops answering (true) or answers again (false). */
  meterDropout(side: SimMeterSide, dropped: boolean): void;
  /** The contactor welds: after `pause()` the charger reports sleeping but current keeps flowing. */
  stuckRelay(stuck: boolean): void;
  /** The charger reports a fault (and stops delivering), or clears it with null. */
  evseFault(fault: EvseFault | null): void;
  /** The charger stops answering commands (true) or answers again (false). */
  evseUnreachable(unreachable: boolean): void;
}

/** Ground truth, for tests and the demo's display. */
export interface SimTruth {
  /** Current per phase through the cable, A. */
  currentA: number;
  /** Power at the wall meter / vehicle meter, W. */
  wallPowerW: number;
  vehiclePowerW: number;
  /** True energy through each meter position since the world started, Wh. */
  wallEnergyWh: number;
  vehicleEnergyWh: number;
  /** Energy in the car's battery, Wh, and its state of charge, %. */
  batteryWh: number;
  socPct: number;
  relayClosed: boolean;
  carPilot: PilotState;
}

/** A simulated car + charger + two meters. */
export interface SimWorld {
  readonly clock: Clock;
  /** The charger, as an `Evse`. */
  readonly evse: SimCharger;
  /** The meter beside the charger, as an `EnergyMeter`. */
  readonly wallMeter: SimMeter;
  /** The meter in the car, as an `EnergyMeter`. */
  readonly vehicleMeter: SimMeter;
  readonly car: SimCar;
  readonly faults: SimFaults;
  /** The car is plugged in (pilot B). */
  plug(): void;
  /** The car is unplugged (pilot A; current stops at once). */
  unplug(): void;
  /** The true state now (integrated up to the clock's now). */
  truth(): SimTruth;
  /** Stops the physics timers. */
  stop(): void;
}

/**
 * Builds a simulated world and starts its physics on `options.clock`.
 *
 * @param options clock, step, seed and the car, charger, meter and cable parameters
 * @returns the world; call `stop()` when done
 */
export function createSimWorld(options: SimWorldOptions): SimWorld {
  return new SimPlant(options);
}

class SimPlant implements SimWorld {
  readonly clock: Clock;
  readonly evse: SimCharger;
  readonly wallMeter: SimMeter;
  readonly vehicleMeter: SimMeter;
  readonly car: SimCar;
  readonly faults: SimFaults;
  private readonly stepMs: number;
  private readonly cableOhm: number;
  private currentA = 0;
  private lastSyncMs: number;
  private wallWh = 0;
  private vehicleWh = 0;
  private sessionWh = 0;
  private lifetimeWh = 0;
  private readonly pending = new Map<string, TimerHandle>();
  private tickTimer: TimerHandle | null = null;
  private stopped = false;

  constructor(o: SimWorldOptions) {
    this.clock = o.clock;
    this.stepMs = o.stepMs ?? 1000;
    if (!(this.stepMs > 0)) throw new RangeError(`stepMs must be > 0, got ${o.stepMs}`);
    this.cableOhm = o.cableResistanceOhm ?? 0.02;
    this.lastSyncMs = this.clock.now();
    const random = new SimRandom(o.seed ?? 1);
    this.car = new SimCar(o.car);
    this.evse = new SimCharger(
      {
        sync: () => this.sync(),
        changed: () => this.reconcile(),
        carPilot: () => this.car.pilot,
        currentA: () => this.currentA,
        energyWh: () => ({ sessionWh: this.sessionWh, lifetimeWh: this.lifetimeWh }),
      },
      this.clock,
      o.charger,
    );
    const source = (side: SimMeterSide) => ({
      sync: () => this.sync(),
      instant: () => ({
        voltageV: side === 'wall' ? this.supplyV() : this.vehicleV(),
        currentA: this.currentA,
        powerW: side === 'wall' ? this.wallPowerW() : this.vehiclePowerW(),
      }),
    });
    this.wallMeter = new SimMeter('wall meter', source('wall'), this.clock, random.fork(), o.wallMeter);
    this.vehicleMeter = new SimMeter(
      'vehicle meter',
      source('vehicle'),
      this.clock,
      random.fork(),
      o.vehicleMeter,
    );
    const meter = (side: SimMeterSide): SimMeter => (side === 'wall' ? this.wallMeter : this.vehicleMeter);
    this.faults = {
      meterDrift: (side, ppm) => {
        this.sync();
        meter(side).setDrift(ppm);
      },
      meterDropout: (side, dropped) => meter(side).setDropout(dropped),
      stuckRelay: (stuck) => {
        this.sync();
        this.evse.stuckRelay = stuck;
        this.reconcile();
      },
      evseFault: (fault) => {
        this.sync();
        this.evse.fault = fault;
        this.reconcile();
      },
      evseUnreachable: (unreachable) => {
        this.evse.unreachable = unreachable;
      },
    };
    if (o.plugged) this.plug();
    this.scheduleTick();
    this.reconcile();
  }

  plug(): void {
    this.sync();
    if (this.car.pilot !== 'A') return;
    this.car.pilot = 'B';
    this.sessionWh = 0;
    this.reconcile();
  }

  unplug(): void {
    this.sync();
    this.car.pilot = 'A';
    this.currentA = 0;
    if (!this.evse.stuckRelay) this.evse.relayClosed = false;
    this.reconcile();
  }

  truth(): SimTruth {
    this.sync();
    return {
      currentA: this.currentA,
      wallPowerW: this.wallPowerW(),
      vehiclePowerW: this.vehiclePowerW(),
      wallEnergyWh: this.wallWh,
      vehicleEnergyWh: this.vehicleWh,
      batteryWh: this.car.batteryWh,
      socPct: this.car.socPct,
      relayClosed: this.evse.relayClosed,
      carPilot: this.car.pilot,
    };
  }

  stop(): void {
    this.stopped = true;
    this.tickTimer?.cancel();
    void this.evse.close();
    for (const t of this.pending.values()) t.cancel();
    this.pending.clear();
  }

  private supplyV(): number {
    return this.evse.options.supplyVoltageV;
  }
  private vehicleV(): number {
    return this.supplyV() - this.currentA * this.cableOhm;
  }
  private wallPowerW(): number {
    return this.evse.options.phases * this.supplyV() * this.currentA;
  }
  private vehiclePowerW(): number {
    return this.evse.options.phases * this.vehicleV() * this.currentA;
  }

  /** Integrates energy at the present (constant) current from the last sync to now. */
  private sync(): void {
    const now = this.clock.now();
    const from = this.lastSyncMs;
    if (now <= from) return;
    this.lastSyncMs = now;
    if (this.currentA === 0) return;
    const pw = this.wallPowerW();
    const pv = this.vehiclePowerW();
    this.wallMeter.accumulate(pw, from, now);
    this.vehicleMeter.accumulate(pv, from, now);
    const wallWh = (pw * (now - from)) / 3_600_000;
    const vehicleWh = (pv * (now - from)) / 3_600_000;
    this.wallWh += wallWh;
    this.vehicleWh += vehicleWh;
    this.sessionWh += wallWh;
    this.lifetimeWh += wallWh;
    this.car.absorb(vehicleWh);
  }

  private scheduleTick(): void {
    if (this.stopped) return;
    this.tickTimer = this.clock.setTimer(this.stepMs, () => {
      this.sync();
      this.rampCurrent();
      this.reconcile();
      this.scheduleTick();
    });
  }

  /** Moves the car's current toward what it may and wants to draw, at `rampAps`. */
  private rampCurrent(): void {
    const drawing = this.evse.relayClosed && this.car.asking;
    if (!drawing) {
      this.currentA = 0;
      return;
    }
    const perPhaseW = this.car.acceptedPowerW() / this.evse.options.phases;
    const target = Math.min(this.evse.currentLimitA, perPhaseW / this.supplyV());
    const step = (this.car.options.rampAps * this.stepMs) / 1000;
    const diff = target - this.currentA;
    this.currentA = Math.abs(diff) <= step ? target : this.currentA + Math.sign(diff) * step;
  }

  /** Applies the car's and the charger's reactions to the present state; emits the charger's status. */
  private reconcile(): void {
    if (this.stopped) return;
    this.sync();
    const car = this.car;
    const evse = this.evse;
    const stuck = evse.stuckRelay && evse.relayClosed;
    // with a welded contactor the car keeps getting power and keeps drawing (the case the verifier catches)
    const carSeesPwm = evse.pwmOn() || stuck;
    if (car.asking && !car.wantsCharge()) car.pilot = 'B';
    if (car.pilot === 'B' && carSeesPwm && car.wantsCharge()) {
      this.later('car-to-C', car.options.responseMs, () => {
        if (car.pilot === 'B' && (evse.pwmOn() || (evse.stuckRelay && evse.relayClosed)) && car.wantsCharge())
          car.pilot = car.options.requiresVentilation ? 'D' : 'C';
      });
    }
    if (car.asking && !carSeesPwm) {
      this.later('car-to-B', car.options.responseMs, () => {
        if (car.asking && !(evse.pwmOn() || (evse.stuckRelay && evse.relayClosed))) car.pilot = 'B';
      });
    }
    if (!evse.relayClosed && car.asking && evse.pwmOn()) {
      this.later('relay-close', evse.options.relayCloseDelayMs, () => {
        if (car.asking && evse.pwmOn()) evse.relayClosed = true;
      });
    }
    if (evse.relayClosed && !evse.stuckRelay && (!evse.pwmOn() || !car.asking)) {
      this.later('relay-open', evse.options.relayOpenDelayMs, () => {
        if (!evse.stuckRelay && (!evse.pwmOn() || !car.asking)) evse.relayClosed = false;
      });
    }
    if (!evse.relayClosed || !car.asking) this.currentA = 0;
    evse.publish();
  }

  /** Runs `fn` after `delayMs` unless a timer with the same key is already pending. */
  private later(key: string, delayMs: number, fn: () => void): void {
    if (this.pending.has(key)) return;
    this.pending.set(
      key,
      this.clock.setTimer(delayMs, () => {
        this.pending.delete(key);
        if (this.stopped) return;
        this.sync();
        fn();
        this.reconcile();
      }),
    );
  }
}
