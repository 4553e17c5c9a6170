/**
 * The EVSE (charging station control board) interface, in the spirit of EVerest's `evse_board_support`:
 * a few commands, published values (status, readings) and faults. The OpenEVSE RAPI driver and the
 * simulated charger both implement it, so the daemons swap one for the other by configuration.
 */
import type { EventEmitter } from 'node:events';

/**
 * J1772 control-pilot state as seen by the EVSE:
 * A +12 V no vehicle, B +9 V vehicle connected, C +6 V charging, D +3 V charging with ventilation,
 * E 0 V (pilot shorted / EVSE error), F −12 V (EVSE not available).
 */
export type PilotState = 'A' | 'B' | 'C' | 'D' | 'E' | 'F';

/** A fault the EVSE reports; while faulted it does not deliver power. */
export type EvseFault =
  | 'diode-check-failed'
  | 'gfi-fault'
  | 'no-ground'
  | 'stuck-relay'
  | 'gfi-self-test-failed'
  | 'over-temperature'
  | 'over-current'
  | 'unknown';

/** What the EVSE is doing, as a whole. */
export interface EvseStatus {
  /** Pilot state the EVSE sees. */
  pilot: PilotState;
  /** A vehicle is plugged in (pilot B, C or D). */
  plugged: boolean;
  /** The contactor is closed and the vehicle is drawing (pilot C or D, not sleeping/disabled/faulted). */
  charging: boolean;
  /** `pause()` was called: pilot held at +12 V / relay open, resumes with `enable()`. */
  sleeping: boolean;
  /** Administratively disabled (the RAPI `$FD` state); never entered by this interface's commands. */
  disabled: boolean;
  /** Active fault, or null. */
  fault: EvseFault | null;
  /** Current the pilot advertises to the vehicle, amps. */
  currentLimitA: number;
  /** When this status was observed, ms since epoch (the driver's clock). */
  atMs: number;
}

/** The EVSE's own measurements (its ammeter is not a billing meter). */
export interface EvseReadings {
  /** Measured charging current, amps (0 when not charging; NaN when the EVSE has no ammeter). */
  currentA: number;
  /** Measured or configured supply voltage, volts. */
  voltageV: number;
  /** Energy delivered in the current (or last) session, Wh, fractional. */
  sessionEnergyWh: number;
  /** Energy delivered over the EVSE's lifetime, Wh. */
  lifetimeEnergyWh: number;
  /** When these were read, ms since epoch. */
  atMs: number;
}

/** Events every `Evse` emits. */
export interface EvseEvents {
  /** The status changed (pilot, charging, sleeping, fault or limit). */
  status: [status: EvseStatus];
  /** A fault became active. */
  fault: [fault: EvseFault, status: EvseStatus];
  /** The link to the EVSE dropped (`connected` false) or came back (`connected` true). */
  link: [connected: boolean];
}

/** A controllable EVSE. All commands resolve once the EVSE acknowledged them. */
export interface Evse extends Pick<EventEmitter<EvseEvents>, 'on' | 'off' | 'once'> {
  /** Reads the current status from the device. */
  status(): Promise<EvseStatus>;
  /** Reads current, voltage and energy counters. */
  readings(): Promise<EvseReadings>;
  /** Allows charging (leaves sleep). The vehicle then moves B → C when it wants power. */
  enable(): Promise<void>;
  /**
   * Stops delivering power by putting the EVSE to sleep: the pilot stops oscillating and the relay opens.
   * This is how every stop (end of payment, over-billing) is done; it never disables the unit.
   */
  pause(): Promise<void>;
  /**
   * Sets the current the pilot advertises.
   *
   * @param amps requested limit, amps (the device clamps to its own min/max)
   * @returns the limit actually applied, amps
   */
  setCurrentLimitA(amps: number): Promise<number>;
  /**
   * Reads the EVSE's own watchdog (OpenEVSE heartbeat supervision).
   *
   * @returns its state, or null when the EVSE has none (firmware built without HEARTBEAT_SUPERVISION)
   */
  watchdogStatus(): Promise<EvseWatchdogStatus | null>;
  /**
   * Arms the watchdog: unless `petWatchdog()` is called at least every `intervalSec`, the EVSE itself falls
   * back to `fallbackCurrentA` (0 = stop) and stays there until `ackWatchdog()`. Arming clears the missed flag,
   * so read `watchdogStatus()` first to learn about a miss while nobody was watching.
   *
   * @param intervalSec supervision interval, whole seconds (1..65535; 0 disarms)
   * @param fallbackCurrentA current to fall back to on a missed pet, amps (0 = stop delivering)
   * @returns the state after arming
   * @throws EvseWatchdogUnsupported when the EVSE has no watchdog
   */
  armWatchdog(intervalSec: number, fallbackCurrentA: number): Promise<EvseWatchdogStatus>;
  /**
   * Pets the watchdog (restarts its interval).
   *
   * @returns the state; `missed === 'unacknowledged'` means a pet was missed earlier and is not yet acknowledged
   */
  petWatchdog(): Promise<EvseWatchdogStatus>;
  /**
   * Acknowledges a missed pet: the EVSE leaves the fallback (current capacity restored to its maximum;
   * the caller re-applies its own limit and power state).
   *
   * @returns the state after the acknowledgement (`missed` becomes `acknowledged`)
   */
  ackWatchdog(): Promise<EvseWatchdogStatus>;
  /** Releases the device (closes the port, stops timers). */
  close(): Promise<void>;
}

/** Whether the watchdog has fired (firmware `hearbeattrigger`: 0 never, 2 unacknowledged, 1 acknowledged). */
export type WatchdogMissed = 'never' | 'unacknowledged' | 'acknowledged';

/** The EVSE watchdog's state. */
export interface EvseWatchdogStatus {
  /** Supervision interval, seconds (0 = not armed). */
  intervalSec: number;
  /** Current the EVSE falls back to on a missed pet, amps (0 = stop). */
  fallbackCurrentA: number;
  /** Whether a pet was missed, and whether that was acknowledged. */
  missed: WatchdogMissed;
}

/** The EVSE has no watchdog (e.g. OpenEVSE firmware built without HEARTBEAT_SUPERVISION). */
export class EvseWatchdogUnsupported extends Error {
  override readonly name = 'EvseWatchdogUnsupported';
  /** @param detail what the EVSE answered */
  constructor(readonly detail: string) {
    super(`EVSE has no watchdog: ${detail}`);
  }
}

/** A command to the EVSE failed (it answered negatively, or never answered). */
export class EvseCommandFailed extends Error {
  override readonly name: string = 'EvseCommandFailed';
  /** @param command what was asked (e.g. `$FS`); @param reason why it failed */
  constructor(
    readonly command: string,
    reason: string,
  ) {
    super(`EVSE command ${command} failed: ${reason}`);
  }
}

/** The EVSE is not reachable (port closed or vanished); commands fail until it reconnects. */
export class EvseUnreachable extends Error {
  override readonly name = 'EvseUnreachable';
  /** @param detail what is known about the link */
  constructor(readonly detail: string) {
    super(`EVSE unreachable: ${detail}`);
  }
}

/**
 * Whether a pilot state means a vehicle is connected.
 *
 * @param pilot J1772 pilot state
 * @returns true for B, C and D
 */
export function pilotMeansPlugged(pilot: PilotState): boolean {
  return pilot === 'B' || pilot === 'C' || pilot === 'D';
}
