/**
 * `Evse` for an OpenEVSE controller over RAPI. Stop is sleep (`$FS`), never disable (`$FD`); the current
 * limit is set volatile (`$SC A V`) so a reboot falls back to the unit's own safe setting. If the controller
 * reboots (`$AB`) while the driver holds it asleep, the driver puts it back to sleep at once: a rebooted
 * OpenEVSE comes up enabled, and a car that stopped paying must not start charging again.
 */
import { EventEmitter } from 'node:events';
import type { Clock } from '../clock.js';
import { SystemClock } from '../clock.js';
import {
  EvseCommandFailed,
  pilotMeansPlugged,
  type Evse,
  type EvseEvents,
  type EvseReadings,
  type EvseStatus,
  type EvseWatchdogStatus,
  EvseWatchdogUnsupported,
  type PilotState,
} from './evse.js';
import { heartbeatAckCookie, heartbeatMissedOfCode } from './heartbeat-supervision.js';
import { RapiClient, RapiNegativeAck, type RapiClientOptions } from './rapi-client.js';
import type { RapiLine } from './rapi-frame.js';
import { faultOfState, pilotOfState, RapiEvseState } from './rapi-states.js';

export interface OpenEvseOptions extends RapiClientOptions {
  /** Poll `$GS` every this many ms and emit `status` on change (0 = rely on `$AT`/`$ST` only; default 0). */
  statusPollMs?: number;
}

/** A reply whose parameters are not what the RAPI specification says. */
export class RapiUnexpectedReply extends EvseCommandFailed {
  override readonly name = 'RapiUnexpectedReply';
  /** @param command the command; @param params the reply's parameters; @param expected what was expected */
  constructor(command: string, params: string[], expected: string) {
    super(command, `unexpected reply "${params.join(' ')}", expected ${expected}`);
  }
}

/** Vehicle connection as reported by `$G0`. */
export type ConnectState = 'connected' | 'not-connected' | 'unknown';

/** OpenEVSE over RAPI. Create, `open()`, use, `close()`. */
export class OpenEvse extends EventEmitter<EvseEvents> implements Evse {
  /** The RAPI transport (exposed for diagnostics and extra commands). */
  readonly rapi: RapiClient;
  private readonly clock: Clock;
  private last: EvseStatus | null = null;
  private currentLimitA = 0;
  private wantAsleep = false;
  private opened = false;
  private pollTimer: { cancel(): void } | null = null;

  /** @param options serial port and RAPI options; see `OpenEvseOptions` */
  constructor(readonly options: OpenEvseOptions) {
    super();
    this.clock = options.clock ?? new SystemClock();
    this.rapi = new RapiClient({ ...options, clock: this.clock });
    this.rapi.on('async', (line) => this.onAsync(line));
    this.rapi.on('link', (up) => {
      this.emit('link', up);
      // after a reconnect the controller may have been power-cycled without us hearing $AB: re-assert sleep if
      // we hold it asleep, and refresh the limit and status
      if (up && this.opened) void this.reassert();
    });
  }

  /**
   * Opens the serial port and reads the initial status and current limit.
   *
   * @returns the status read
   * @throws EvseUnreachable when the port cannot be opened; RapiTimeout when the controller does not answer
   */
  async open(): Promise<EvseStatus> {
    await this.rapi.open();
    await this.readCurrentLimit();
    const status = await this.status();
    this.opened = true;
    const pollMs = this.options.statusPollMs ?? 0;
    if (pollMs > 0) this.schedulePoll(pollMs);
    return status;
  }

  /** Reads `$GS` (and uses the last known current limit). Emits `status`/`fault` on change. */
  async status(): Promise<EvseStatus> {
    const p = await this.rapi.command('GS');
    const evseState = parseHex(p[0], 'GS', p);
    const pilotCode = p[2] !== undefined ? parseHex(p[2], 'GS', p) : null;
    return this.publish(evseState, pilotCode);
  }

  /** Reads `$GG` (current, voltage) and `$GU` (energy). */
  async readings(): Promise<EvseReadings> {
    const gg = await this.rapi.command('GG');
    const gu = await this.rapi.command('GU');
    const mA = parseDec(gg[0], 'GG', gg);
    const mV = parseDec(gg[1], 'GG', gg);
    const ws = parseDec(gu[0], 'GU', gu);
    const wh = parseDec(gu[1], 'GU', gu);
    return {
      currentA: mA < 0 ? Number.NaN : mA / 1000,
      voltageV: mV < 0 ? Number.NaN : mV / 1000,
      sessionEnergyWh: ws / 3600,
      lifetimeEnergyWh: wh,
      atMs: this.clock.now(),
    };
  }

  /**
   * Reads `$G0`: whether a vehicle is connected (works while sleeping).
   *
   * @returns connected, not-connected, or unknown (pilot at −12 V)
   */
  async connectState(): Promise<ConnectState> {
    const p = await this.rapi.command('G0');
    const v = parseDec(p[0], 'G0', p);
    return v === 1 ? 'connected' : v === 0 ? 'not-connected' : 'unknown';
  }

  /** `$FE`: allow charging. */
  async enable(): Promise<void> {
    await this.rapi.command('FE');
    this.wantAsleep = false; // only once acknowledged: a failed enable leaves a held sleep held
  }

  /** `$FS`: stop delivering power by sleeping (relay opens, pilot stops oscillating). */
  async pause(): Promise<void> {
    this.wantAsleep = true; // before sending: a pause that fails now is re-asserted on reconnect or reboot
    await this.rapi.command('FS');
  }

  /**
   * `$FD`: disable the unit (needs `$FE` or a reboot to leave). Not used to stop a session; for operators only.
   */
  async disable(): Promise<void> {
    await this.rapi.command('FD');
  }

  /**
   * `$SC amps V`: sets the advertised current, volatile (lost at reboot).
   *
   * @param amps requested limit, amps (integer; fractions are rounded down, never up)
   * @returns the limit the controller applied, amps (it clamps to its min/max and answers `$NK ampsset`)
   */
  async setCurrentLimitA(amps: number): Promise<number> {
    if (!(amps >= 0) || !Number.isFinite(amps))
      throw new RangeError(`current limit must be >= 0 A, got ${amps}`);
    let applied: number;
    try {
      const p = await this.rapi.command('SC', [Math.floor(amps), 'V']);
      applied = p[0] !== undefined ? parseDec(p[0], 'SC', p) : Math.floor(amps);
    } catch (err) {
      // $NK ampsset: the request was out of range and the controller clamped it
      if (err instanceof RapiNegativeAck && err.params[0] !== undefined && /^\d+$/.test(err.params[0]))
        applied = Number(err.params[0]);
      else throw err;
    }
    this.currentLimitA = applied;
    if (this.last) this.publish(null, null);
    return applied;
  }

  /**
   * `$GY`: heartbeat supervision state.
   *
   * @returns the state, or null when the firmware answers `$NK` (built without HEARTBEAT_SUPERVISION)
   */
  async watchdogStatus(): Promise<EvseWatchdogStatus | null> {
    try {
      return parseSupervision(await this.rapi.command('GY'), 'GY');
    } catch (err) {
      if (err instanceof RapiNegativeAck && err.params.length === 0) return null;
      throw err;
    }
  }

  /**
   * `$SY interval amps`: arms heartbeat supervision (the firmware keeps it in EEPROM across reboots).
   *
   * @param intervalSec seconds (0 disarms); @param fallbackCurrentA amps (upstream firmware clamps to ≥ 6 A)
   * @returns the state after arming
   * @throws EvseWatchdogUnsupported when the firmware does not know `$SY`
   */
  async armWatchdog(intervalSec: number, fallbackCurrentA: number): Promise<EvseWatchdogStatus> {
    if (!Number.isInteger(intervalSec) || intervalSec < 0 || intervalSec > 0xffff)
      throw new RangeError(`watchdog interval must be 0..65535 s, got ${intervalSec}`);
    if (!Number.isInteger(fallbackCurrentA) || fallbackCurrentA < 0 || fallbackCurrentA > 0xff)
      throw new RangeError(`watchdog fallback must be 0..255 A, got ${fallbackCurrentA}`);
    return this.supervisionCommand([intervalSec, fallbackCurrentA]);
  }

  /** `$SY`: pulse. A `$NK` carrying the state means a missed pulse is unacknowledged (returned, not thrown). */
  async petWatchdog(): Promise<EvseWatchdogStatus> {
    return this.supervisionCommand([]);
  }

  /**
   * `$SY 165`: acknowledges a missed pulse (the firmware restores its maximum current capacity).
   *
   * @throws EvseCommandFailed when the firmware refuses (e.g. still over temperature)
   */
  async ackWatchdog(): Promise<EvseWatchdogStatus> {
    const s = await this.supervisionCommand([heartbeatAckCookie]);
    if (s.missed === 'unacknowledged') throw new EvseCommandFailed('$SY 165', 'acknowledgement refused');
    return s;
  }

  private async supervisionCommand(params: number[]): Promise<EvseWatchdogStatus> {
    const label = `$SY${params.length ? ' ' + params.join(' ') : ''}`;
    try {
      return parseSupervision(await this.rapi.command('SY', params), 'SY');
    } catch (err) {
      if (!(err instanceof RapiNegativeAck)) throw err;
      if (err.params.length === 0) throw new EvseWatchdogUnsupported(`${label} answered $NK`);
      return parseSupervision(err.params, 'SY');
    }
  }

  /** Stops polling and closes the port. */
  async close(): Promise<void> {
    this.pollTimer?.cancel();
    this.pollTimer = null;
    await this.rapi.close();
  }

  private async readCurrentLimit(): Promise<void> {
    const p = await this.rapi.command('GE');
    this.currentLimitA = parseDec(p[0], 'GE', p);
  }

  private schedulePoll(pollMs: number): void {
    this.pollTimer = this.clock.setTimer(pollMs, () => {
      void this.status()
        .catch(() => undefined)
        .finally(() => {
          if (this.pollTimer) this.schedulePoll(pollMs);
        });
    });
  }

  private onAsync(line: RapiLine): void {
    const p = line.params;
    if (line.code === 'AT' && p.length >= 3) {
      const cap = Number(p[2]);
      if (Number.isInteger(cap)) this.currentLimitA = cap;
      this.publish(parseInt(p[0] ?? '', 16), parseInt(p[1] ?? '', 16));
    } else if (line.code === 'ST' && p.length >= 1) {
      this.publish(parseInt(p[0] ?? '', 16), null);
    } else if (line.code === 'AB') {
      // The controller rebooted: it came up enabled with its saved limit. Re-assert what we hold.
      void this.reassert();
    }
  }

  private async reassert(): Promise<void> {
    try {
      if (this.wantAsleep) await this.rapi.command('FS');
      await this.readCurrentLimit();
      await this.status();
    } catch {
      // the next status poll or command surfaces the problem
    }
  }

  /** Builds a status from codes (null = keep the last known) and emits on change. */
  private publish(evseState: number | null, pilotCode: number | null): EvseStatus {
    const prev = this.last;
    const state = evseState !== null && Number.isFinite(evseState) ? evseState : this.rawState;
    if (pilotCode !== null && Number.isFinite(pilotCode)) this.rawPilot = pilotCode;
    else if (evseState !== null && pilotOfState(evseState)) this.rawPilot = evseState;
    const fault = faultOfState(state);
    let pilot: PilotState = pilotOfState(this.rawPilot) ?? (fault ? 'F' : 'A');
    if (fault !== null) pilot = fault === 'diode-check-failed' ? 'E' : 'F';
    const sleeping = state === RapiEvseState.sleeping;
    const disabled = state === RapiEvseState.disabled;
    const status: EvseStatus = {
      pilot,
      plugged: pilotMeansPlugged(pilotOfState(this.rawPilot) ?? 'A'),
      charging: !sleeping && !disabled && fault === null && (pilot === 'C' || pilot === 'D'),
      sleeping,
      disabled,
      fault,
      currentLimitA: this.currentLimitA,
      atMs: this.clock.now(),
    };
    this.rawState = state;
    this.last = status;
    if (!prev || !sameStatus(prev, status)) {
      this.emit('status', status);
      if (fault && prev?.fault !== fault) this.emit('fault', fault, status);
    }
    return status;
  }

  private rawState: number = RapiEvseState.unknown;
  private rawPilot: number = RapiEvseState.unknown;
}

function sameStatus(a: EvseStatus, b: EvseStatus): boolean {
  return (
    a.pilot === b.pilot &&
    a.charging === b.charging &&
    a.sleeping === b.sleeping &&
    a.disabled === b.disabled &&
    a.fault === b.fault &&
    a.currentLimitA === b.currentLimitA
  );
}

function parseSupervision(p: string[], cmd: string): EvseWatchdogStatus {
  const missed = heartbeatMissedOfCode(parseDec(p[2], cmd, p));
  if (missed === null) throw new RapiUnexpectedReply(`$${cmd}`, p, 'trigger 0, 1 or 2');
  return { intervalSec: parseDec(p[0], cmd, p), fallbackCurrentA: parseDec(p[1], cmd, p), missed };
}

function parseHex(v: string | undefined, cmd: string, params: string[]): number {
  if (v === undefined || !/^[0-9A-Fa-f]+$/.test(v))
    throw new RapiUnexpectedReply(`$${cmd}`, params, 'hex value');
  return parseInt(v, 16);
}

function parseDec(v: string | undefined, cmd: string, params: string[]): number {
  if (v === undefined || !/^-?\d+$/.test(v))
    throw new RapiUnexpectedReply(`$${cmd}`, params, 'decimal value');
  return Number(v);
}
