/**
 * OpenEVSE heartbeat supervision (firmware `HEARTBEAT_SUPERVISION`, `J1772EvseController::HeartbeatSupervision`,
 * `HsPulse`, `HsExpirationCheck`, `HsAckMissedPulse`), as a small state holder with time passed in: the
 * simulated charger runs it, and through it the RAPI emulator answers `$SY`/`$GY` the way the firmware does.
 *
 * Firmware semantics kept here:
 * - `$SY interval amps` arms (interval 0 disarms) and clears the missed flag; the interval restarts.
 * - `$SY` is a pulse: it restarts the interval; it is answered `$NK` while a missed pulse is unacknowledged.
 * - When more than `interval` seconds pass without a pulse, the controller lowers its current capacity to the
 *   fallback (if the fallback is lower), sets the flag to 2 (missed, not acknowledged) and restarts the interval.
 * - `$SY 165` (cookie 0xA5) acknowledges: capacity goes back to the maximum, the flag becomes 1 (missed once,
 *   acknowledged); a wrong cookie is refused.
 * The flag is what `$SY`/`$GY` report as `hearbeattrigger`: 0 never missed, 2 unacknowledged, 1 acknowledged.
 */
import type { EvseWatchdogStatus, WatchdogMissed } from './evse.js';

/** The firmware's acknowledgement cookie (`HS_ACK_COOKIE`). */
export const heartbeatAckCookie = 0xa5;

/** The firmware's `hearbeattrigger` code for a missed-pulse state. */
export function heartbeatTriggerCode(missed: WatchdogMissed): number {
  return missed === 'never' ? 0 : missed === 'unacknowledged' ? 2 : 1;
}

/**
 * The missed-pulse state for a firmware `hearbeattrigger` code.
 *
 * @param code 0, 1 or 2
 * @returns the state, or null for any other code
 */
export function heartbeatMissedOfCode(code: number): WatchdogMissed | null {
  return code === 0 ? 'never' : code === 2 ? 'unacknowledged' : code === 1 ? 'acknowledged' : null;
}

/** The supervision state of one controller. Time is passed in (ms of the controller's clock). */
export class HeartbeatSupervision {
  private intervalSec = 0;
  private fallbackCurrentA = 0;
  private missed: WatchdogMissed = 'never';
  private lastPulseMs = 0;

  /** Current state, as `$GY` reports it. */
  status(): EvseWatchdogStatus {
    return { intervalSec: this.intervalSec, fallbackCurrentA: this.fallbackCurrentA, missed: this.missed };
  }

  /**
   * `$SY interval amps`: arms (or, with interval 0, disarms) and clears the missed flag.
   *
   * @param intervalSec seconds, 0..65535
   * @param fallbackCurrentA amps, 0..255
   * @param nowMs controller time
   * @returns whether a missed state was pending (the caller restores capacity when disarming)
   */
  arm(intervalSec: number, fallbackCurrentA: number, nowMs: number): boolean {
    const wasMissed = this.missed !== 'never';
    this.intervalSec = Math.max(0, Math.min(0xffff, Math.floor(intervalSec)));
    this.fallbackCurrentA = Math.max(0, Math.min(0xff, Math.floor(fallbackCurrentA)));
    this.missed = 'never';
    this.lastPulseMs = nowMs;
    return wasMissed;
  }

  /**
   * `$SY`: a pulse.
   *
   * @param nowMs controller time
   * @returns false when a missed pulse is still unacknowledged (the firmware answers `$NK`)
   */
  pulse(nowMs: number): boolean {
    this.lastPulseMs = nowMs;
    return this.missed !== 'unacknowledged';
  }

  /**
   * `HsExpirationCheck`: whether the interval ran out now. When it did, the flag is set, the interval
   * restarts, and the caller applies the fallback current.
   *
   * @param nowMs controller time
   * @returns true when the fallback must be applied now
   */
  expired(nowMs: number): boolean {
    if (this.intervalSec === 0 || nowMs - this.lastPulseMs <= this.intervalSec * 1000) return false;
    this.missed = 'unacknowledged';
    this.lastPulseMs = nowMs;
    return true;
  }

  /** Controller time at which `expired` next becomes true, or null while disarmed. */
  deadlineMs(): number | null {
    return this.intervalSec === 0 ? null : this.lastPulseMs + this.intervalSec * 1000 + 1;
  }

  /**
   * `$SY cookie`: acknowledges a missed pulse.
   *
   * @param cookie must be 0xA5
   * @returns `restore` (capacity goes back to the maximum), `none` (nothing was pending) or `refused`
   */
  ack(cookie: number): 'restore' | 'none' | 'refused' {
    if (cookie !== heartbeatAckCookie) return 'refused';
    if (this.missed !== 'unacknowledged') return 'none';
    this.missed = 'acknowledged';
    return 'restore';
  }
}
