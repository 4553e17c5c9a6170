/**
 * A simulated charger implementing `Evse`. Commands are acknowledged at once and take physical effect with
 * realistic delays run by the world: the relay closes `relayCloseDelayMs` after the car asks for power, opens
 * `relayOpenDelayMs` after a pause, and the car ramps its current. The physics lives in `sim-world.ts`; this
 * file holds the charger's own state and its `Evse` face.
 */
import { EventEmitter } from 'node:events';
import { SystemClock, type Clock, type TimerHandle } from '../clock.js';
import type {
  Evse,
  EvseEvents,
  EvseFault,
  EvseReadings,
  EvseStatus,
  EvseWatchdogStatus,
  PilotState,
} from '../evse/evse.js';
import {
  EvseCommandFailed,
  EvseUnreachable,
  EvseWatchdogUnsupported,
  pilotMeansPlugged,
} from '../evse/evse.js';
import { heartbeatAckCookie, HeartbeatSupervision } from '../evse/heartbeat-supervision.js';

export interface SimChargerOptions {
  /** Supply voltage (line to neutral), V (default 230). */
  supplyVoltageV: number;
  /** 1 or 3 phases (default 1). */
  phases: 1 | 3;
  /** Highest current the unit can advertise, A (default 32). */
  maxCurrentA: number;
  /** Lowest current J1772 allows advertising, A (default 6). */
  minCurrentA: number;
  /** Advertised current at start, A (default `maxCurrentA`). */
  initialCurrentLimitA?: number;
  /** Delay from the car asking for power (C) to the relay closing, ms (default 500). */
  relayCloseDelayMs: number;
  /** Delay from a pause to the relay opening, ms (default 100). */
  relayOpenDelayMs: number;
  /** Start enabled (true, default) or asleep. */
  startEnabled: boolean;
  /** The controller has heartbeat supervision (OpenEVSE `HEARTBEAT_SUPERVISION`; default true). */
  watchdog: boolean;
  /**
   * What a missed heartbeat does when the fallback current is below `minCurrentA`: `stop` (default) puts the
   * charger to sleep, so a fallback of 0 stops delivery; `clamp` is what OpenEVSE firmware 8.x does
   * (`SetCurrentCapacity` clamps to MIN_CURRENT_CAPACITY_J1772 = 6 A: the car keeps charging at 6 A).
   */
  watchdogBelowMinimum: 'stop' | 'clamp';
  /**
   * Clock of the supervision interval (default real time, like the firmware's `millis()`: a daemon that stalls
   * for the interval trips it whatever the simulation speed).
   */
  watchdogClock?: Clock;
}

/** Defaults for `SimChargerOptions`. */
export const defaultSimCharger: SimChargerOptions = {
  supplyVoltageV: 230,
  phases: 1,
  maxCurrentA: 32,
  minCurrentA: 6,
  relayCloseDelayMs: 500,
  relayOpenDelayMs: 100,
  startEnabled: true,
  watchdog: true,
  watchdogBelowMinimum: 'stop',
};

/** What the charger needs from the world it lives in. */
export interface SimChargerHost {
  /** Integrate energy up to now before a state change. */
  sync(): void;
  /** A command changed the charger's state: re-evaluate the physics. */
  changed(): void;
  /** The pilot state the car presents. */
  carPilot(): PilotState;
  /** True current through the relay now, A per phase. */
  currentA(): number;
  /** Energy delivered at the charger output this session / ever, Wh. */
  energyWh(): { sessionWh: number; lifetimeWh: number };
}

/** The simulated charger. */
export class SimCharger extends EventEmitter<EvseEvents> implements Evse {
  readonly options: SimChargerOptions;
  /** Pilot PWM allowed (`enable()`); false while sleeping. */
  sleeping: boolean;
  disabled = false;
  currentLimitA: number;
  fault: EvseFault | null = null;
  /** The contactor is closed. */
  relayClosed = false;
  /** Fault injection: the contactor is welded and the controller does not notice (current keeps flowing). */
  stuckRelay = false;
  /** Fault injection: the controller stops answering (commands throw `EvseUnreachable`). */
  unreachable = false;
  private lastEmitted: EvseStatus | null = null;
  private readonly supervision = new HeartbeatSupervision();
  private supervisionTimer: TimerHandle | null = null;
  /** Times the watchdog fell back (tests, the demo). */
  watchdogFallbacks = 0;
  private readonly watchdogClock: Clock;

  /**
   * @param host the world
   * @param clock the world's clock
   * @param options charger parameters; missing ones take `defaultSimCharger`
   */
  constructor(
    private readonly host: SimChargerHost,
    private readonly clock: Clock,
    options: Partial<SimChargerOptions> = {},
  ) {
    super();
    this.options = { ...defaultSimCharger, ...options };
    this.sleeping = !this.options.startEnabled;
    this.currentLimitA = this.options.initialCurrentLimitA ?? this.options.maxCurrentA;
    this.watchdogClock = this.options.watchdogClock ?? new SystemClock();
  }

  /** The pilot oscillates (the car may draw): enabled, not asleep, no fault, car plugged. */
  pwmOn(): boolean {
    return !this.sleeping && !this.disabled && this.fault === null && pilotMeansPlugged(this.host.carPilot());
  }

  /** Current status (synchronous; `status()` is the `Evse` form). */
  snapshot(): EvseStatus {
    const carPilot = this.host.carPilot();
    const pilot: PilotState = this.fault !== null ? 'F' : carPilot;
    return {
      pilot,
      plugged: pilotMeansPlugged(carPilot),
      charging:
        this.relayClosed &&
        !this.sleeping &&
        !this.disabled &&
        this.fault === null &&
        (carPilot === 'C' || carPilot === 'D'),
      sleeping: this.sleeping,
      disabled: this.disabled,
      fault: this.fault,
      currentLimitA: this.currentLimitA,
      atMs: this.clock.now(),
    };
  }

  /** @returns the current status */
  async status(): Promise<EvseStatus> {
    this.check('status');
    return this.snapshot();
  }

  /** @returns the charger's own ammeter and energy counters (no gain error: it is not the billing meter) */
  async readings(): Promise<EvseReadings> {
    this.check('readings');
    this.host.sync();
    const e = this.host.energyWh();
    return {
      currentA: this.host.currentA(),
      voltageV: this.options.supplyVoltageV,
      sessionEnergyWh: e.sessionWh,
      lifetimeEnergyWh: e.lifetimeWh,
      atMs: this.clock.now(),
    };
  }

  /** Leaves sleep (and the disabled state): the car may ask for power. */
  async enable(): Promise<void> {
    this.check('enable');
    this.host.sync();
    this.sleeping = false;
    this.disabled = false;
    this.host.changed();
  }

  /** Sleeps: pilot stops oscillating, relay opens after `relayOpenDelayMs` (unless the relay is stuck). */
  async pause(): Promise<void> {
    this.check('pause');
    this.host.sync();
    this.sleeping = true;
    this.host.changed();
  }

  /** Disables the unit (operator action; not used to stop sessions). */
  async disable(): Promise<void> {
    this.check('disable');
    this.host.sync();
    this.disabled = true;
    this.host.changed();
  }

  /**
   * @param amps requested limit, A
   * @returns the applied limit, clamped to [minCurrentA, maxCurrentA] and rounded down to whole amps
   */
  async setCurrentLimitA(amps: number): Promise<number> {
    this.check('setCurrentLimitA');
    if (!(amps >= 0) || !Number.isFinite(amps))
      throw new RangeError(`current limit must be >= 0 A, got ${amps}`);
    this.host.sync();
    const o = this.options;
    this.currentLimitA = Math.min(o.maxCurrentA, Math.max(o.minCurrentA, Math.floor(amps)));
    this.host.changed();
    return this.currentLimitA;
  }

  /** @returns the heartbeat supervision state, or null when the controller has none */
  async watchdogStatus(): Promise<EvseWatchdogStatus | null> {
    this.check('watchdogStatus');
    return this.options.watchdog ? this.supervision.status() : null;
  }

  /**
   * Arms heartbeat supervision (interval 0 disarms, restoring the current capacity if it had fallen back).
   *
   * @param intervalSec seconds without a pet before the fallback
   * @param fallbackCurrentA amps; below `minCurrentA` see `watchdogBelowMinimum`
   * @returns the state after arming
   * @throws EvseWatchdogUnsupported when `watchdog` is off
   */
  async armWatchdog(intervalSec: number, fallbackCurrentA: number): Promise<EvseWatchdogStatus> {
    this.check('armWatchdog');
    if (!this.options.watchdog) throw new EvseWatchdogUnsupported('simulated charger built without it');
    const wasMissed = this.supervision.arm(intervalSec, fallbackCurrentA, this.watchdogClock.now());
    if (intervalSec === 0 && wasMissed) this.restoreCapacity();
    this.scheduleSupervision();
    return this.supervision.status();
  }

  /** @returns the state after the pet (`missed: 'unacknowledged'` = the firmware's `$NK`) */
  async petWatchdog(): Promise<EvseWatchdogStatus> {
    this.check('petWatchdog');
    if (!this.options.watchdog) throw new EvseWatchdogUnsupported('simulated charger built without it');
    this.supervision.pulse(this.watchdogClock.now());
    this.scheduleSupervision();
    return this.supervision.status();
  }

  /**
   * Acknowledges a missed pet: current capacity back to the maximum. A charger the watchdog put to sleep stays
   * asleep (the caller decides whether power goes back on).
   *
   * @param cookie acknowledgement cookie (default the firmware's 0xA5)
   * @returns the state after the acknowledgement
   * @throws EvseCommandFailed on a wrong cookie
   */
  async ackWatchdog(cookie: number = heartbeatAckCookie): Promise<EvseWatchdogStatus> {
    this.check('ackWatchdog');
    if (!this.options.watchdog) throw new EvseWatchdogUnsupported('simulated charger built without it');
    const outcome = this.supervision.ack(cookie);
    if (outcome === 'refused') throw new EvseCommandFailed('ackWatchdog', `wrong cookie ${cookie}`);
    if (outcome === 'restore') this.restoreCapacity();
    return this.supervision.status();
  }

  /** Stops the supervision timer (the world owns the other timers). */
  async close(): Promise<void> {
    this.supervisionTimer?.cancel();
    this.supervisionTimer = null;
  }

  private scheduleSupervision(): void {
    this.supervisionTimer?.cancel();
    this.supervisionTimer = null;
    const deadline = this.supervision.deadlineMs();
    if (deadline === null) return;
    const wd = this.watchdogClock;
    this.supervisionTimer = wd.setTimer(deadline - wd.now(), () => {
      this.supervisionTimer = null;
      if (this.supervision.expired(wd.now())) this.fallBack();
      this.scheduleSupervision();
    });
  }

  /** `HsExpirationCheck`: lower the capacity to the fallback (or, below the J1772 minimum, stop). */
  private fallBack(): void {
    const { fallbackCurrentA } = this.supervision.status();
    if (fallbackCurrentA >= this.currentLimitA) return;
    const o = this.options;
    const stop = fallbackCurrentA < o.minCurrentA && o.watchdogBelowMinimum === 'stop';
    const limitA = Math.max(o.minCurrentA, fallbackCurrentA);
    if (stop ? this.sleeping : limitA === this.currentLimitA) return; // already fallen back
    this.host.sync();
    this.watchdogFallbacks++;
    if (stop) this.sleeping = true;
    else this.currentLimitA = limitA;
    this.host.changed();
  }

  private restoreCapacity(): void {
    this.host.sync();
    this.currentLimitA = this.options.maxCurrentA;
    this.host.changed();
  }

  /** Called by the world after every change: emits `status` (and `fault`) when the status changed. */
  publish(): void {
    const s = this.snapshot();
    const p = this.lastEmitted;
    if (
      p &&
      p.pilot === s.pilot &&
      p.charging === s.charging &&
      p.sleeping === s.sleeping &&
      p.disabled === s.disabled &&
      p.fault === s.fault &&
      p.currentLimitA === s.currentLimitA
    )
      return;
    this.lastEmitted = s;
    this.emit('status', s);
    if (s.fault !== null && p?.fault !== s.fault) this.emit('fault', s.fault, s);
  }

  private check(what: string): void {
    if (this.unreachable) throw new EvseUnreachable(`simulated charger not answering (${what})`);
  }
}
