/**
 * An OpenEVSE RAPI emulator: the firmware's serial side, fronting a simulated charger. It opens a serial
 * device (the far end of a socat PTY pair) and answers `$FE $FS $FD $SC $GS $GG $GU $G0 $GE $GV` the way
 * firmware 5.x/7.x does (XOR checksums, echoed sequence ids, `$NK` on bad checksums and unknown commands,
 * `$AT` on every state change, `$AB` at boot) and heartbeat supervision (`$SY`, `$GY`: firmware built with
 * HEARTBEAT_SUPERVISION, run by the fronted charger's `HeartbeatSupervision`). The tests use it to run the real driver's serial code; the
 * demo can use it to run the real OpenEVSE driver against the simulator.
 *
 * Misbehaviour on demand, for tests: corrupted reply checksums, swallowed commands (timeouts), `$NK`s,
 * async notifications pushed between a command and its reply, replies split across writes, reboots.
 */
import type { SerialPort } from 'serialport';
import { openSerialDevice } from '../serial-port.js';
import type { Clock } from '../clock.js';
import { SystemClock } from '../clock.js';
import type { EvseStatus } from '../evse/evse.js';
import {
  decodeRapiLine,
  encodeRapiLine,
  RapiChecksumMismatch,
  type RapiChecksumKind,
  type RapiLine,
} from '../evse/rapi-frame.js';
import { RapiEvseState, stateOfFault, stateOfPilot } from '../evse/rapi-states.js';
import { heartbeatTriggerCode } from '../evse/heartbeat-supervision.js';
import type { EvseWatchdogStatus } from '../evse/evse.js';
import type { SimCharger } from './sim-charger.js';

export interface RapiEmulatorOptions {
  /** Serial device to open (the emulator's end of the PTY pair). */
  path: string;
  /** The simulated charger the emulator fronts. */
  charger: SimCharger;
  /** Clock for the charge-time counter in `$GS` (default real time). */
  clock?: Clock;
  /** Baud rate (default 115200; a PTY ignores it). */
  baudRate?: number;
  /** Asynchronous state notifications: `AT` (firmware ≥ 4, default), `ST` (older) or `none`. */
  asyncFormat?: 'AT' | 'ST' | 'none';
  /** Checksum on replies: `xor` (firmware ≥ 2, default) or `none` (1.x). */
  replyChecksum?: Exclude<RapiChecksumKind, 'sum'>;
  /** Firmware version reported by `$GV` and `$AB` (default `7.1.3`). */
  firmwareVersion?: string;
  /** Send `$AB 00 version` once the port is open (default true). */
  bootNotification?: boolean;
  /**
   * Firmware built with HEARTBEAT_SUPERVISION (default: the charger's `watchdog` option). When false, `$SY`
   * and `$GY` are unknown commands (`$NK`), as on such firmware.
   */
  heartbeatSupervision?: boolean;
}

/** Misbehaviour queued for the next commands (each counter is decremented per command). */
export interface RapiEmulatorFaults {
  /** Replies sent with a wrong checksum. */
  corruptReplies: number;
  /** Commands swallowed without a reply. */
  dropCommands: number;
  /** Commands answered `$NK` regardless. */
  nakCommands: number;
  /** Commands whose reply is preceded by an async `$AT` notification. */
  asyncBeforeReply: number;
  /** Commands whose reply is written in two pieces 20 ms apart. */
  splitReplies: number;
  /** Commands whose reply is sent `delayMs` late (after the driver gave up on it). */
  delayReplies: number;
  /** Delay for `delayReplies`, ms of real time (default 0). */
  delayMs: number;
}

/** The emulator. `RapiEmulator.open()`, then `close()`. */
export class RapiEmulator {
  /** Every command received, decoded (bad-checksum lines are recorded with `checksum: 'none'`). */
  readonly received: RapiLine[] = [];
  /** Queue misbehaviour here (see `RapiEmulatorFaults`). */
  readonly faults: RapiEmulatorFaults = {
    corruptReplies: 0,
    dropCommands: 0,
    nakCommands: 0,
    asyncBeforeReply: 0,
    splitReplies: 0,
    delayReplies: 0,
    delayMs: 0,
  };
  private rx = '';
  private chargeStartMs: number | null = null;
  private lastChargeMs = 0;
  private readonly clock: Clock;
  private readonly onStatus = (s: EvseStatus): void => this.statusChanged(s);

  private constructor(
    private readonly port: SerialPort,
    readonly options: RapiEmulatorOptions,
  ) {
    this.clock = options.clock ?? new SystemClock();
    port.on('data', (chunk: Buffer) => this.onData(chunk));
    port.on('error', () => undefined);
    options.charger.on('status', this.onStatus);
  }

  /**
   * Opens the serial device and starts answering.
   *
   * @param options device path, charger and behaviour
   * @returns the running emulator
   */
  static async open(options: RapiEmulatorOptions): Promise<RapiEmulator> {
    const port = await openSerialDevice({ path: options.path, baudRate: options.baudRate ?? 115200 });
    const emulator = new RapiEmulator(port, options);
    if (options.bootNotification ?? true) emulator.sendBoot();
    return emulator;
  }

  /** Stops answering and closes the serial device. */
  async close(): Promise<void> {
    this.options.charger.off('status', this.onStatus);
    if (this.port.isOpen) await new Promise<void>((resolve) => this.port.close(() => resolve()));
  }

  /**
   * Sends an asynchronous line now.
   *
   * @param code e.g. `AT`, `ST`, `AB`, `WF`
   * @param params its parameters
   */
  sendAsync(code: string, params: readonly (string | number)[]): void {
    this.write(encodeRapiLine(code, params, { checksum: this.replyKind() }));
  }

  /**
   * Simulates a controller reboot: the charger comes back enabled with its maximum current (volatile settings
   * lost), and `$AB 00 version` is sent.
   */
  async reboot(): Promise<void> {
    const c = this.options.charger;
    await c.enable();
    await c.setCurrentLimitA(c.options.maxCurrentA);
    this.sendBoot();
  }

  private sendBoot(): void {
    this.sendAsync('AB', ['00', this.options.firmwareVersion ?? '7.1.3']);
  }

  private replyKind(): Exclude<RapiChecksumKind, 'sum'> {
    return this.options.replyChecksum ?? 'xor';
  }

  private write(text: string): void {
    if (this.port.isOpen) this.port.write(text);
  }

  private onData(chunk: Buffer): void {
    this.rx += chunk.toString('latin1');
    for (;;) {
      const end = this.rx.indexOf('\r');
      if (end < 0) break;
      const raw = this.rx.slice(0, end);
      this.rx = this.rx.slice(end + 1);
      if (raw.trim() !== '') void this.onLine(raw);
    }
  }

  private async onLine(raw: string): Promise<void> {
    let cmd: RapiLine;
    try {
      cmd = decodeRapiLine(raw);
    } catch (err) {
      this.received.push({ code: '??', params: [raw], seq: null, checksum: 'none' });
      // firmware answers $NK to a line whose checksum is wrong
      if (err instanceof RapiChecksumMismatch) this.reply('NK', [], null);
      return;
    }
    this.received.push(cmd);
    if (this.faults.dropCommands > 0) {
      this.faults.dropCommands--;
      return;
    }
    if (this.faults.asyncBeforeReply > 0) {
      this.faults.asyncBeforeReply--;
      this.sendAsync('AT', this.atParams(this.options.charger.snapshot()));
    }
    if (this.faults.nakCommands > 0) {
      this.faults.nakCommands--;
      this.reply('NK', [], cmd.seq);
      return;
    }
    let ok = true;
    let params: (string | number)[] = [];
    try {
      [ok, params] = await this.execute(cmd);
    } catch {
      ok = false;
      params = [];
    }
    // the firmware puts its buffer on $NK replies too (e.g. `$SY` while a missed pulse is unacknowledged)
    this.reply(ok ? 'OK' : 'NK', params, cmd.seq);
  }

  private async execute(cmd: RapiLine): Promise<[boolean, (string | number)[]]> {
    const c = this.options.charger;
    const p = cmd.params;
    switch (cmd.code) {
      case 'FE':
        await c.enable();
        return [true, []];
      case 'FS':
        await c.pause();
        return [true, []];
      case 'FD':
        await c.disable();
        return [true, []];
      case 'SC': {
        const amps = Number(p[0]);
        if (p[0] === undefined || !/^\d+$/.test(p[0])) return [false, []];
        const applied = await c.setCurrentLimitA(amps);
        return [applied === amps, [applied]];
      }
      case 'GS': {
        const s = c.snapshot();
        return [true, [hex2(this.evseState(s)), this.elapsedS(s), hex2(this.pilotCode(s)), '0000']];
      }
      case 'GG': {
        const r = await c.readings();
        return [true, [Math.round(r.currentA * 1000), Math.round(r.voltageV * 1000)]];
      }
      case 'GU': {
        const r = await c.readings();
        return [true, [Math.round(r.sessionEnergyWh * 3600), Math.floor(r.lifetimeEnergyWh)]];
      }
      case 'G0': {
        const s = c.snapshot();
        return [true, [s.fault !== null ? 2 : s.plugged ? 1 : 0]];
      }
      case 'GE':
        return [true, [c.currentLimitA, '0201']];
      case 'GV':
        return [true, [this.options.firmwareVersion ?? '7.1.3', '5.2.1']];
      case 'SY':
      case 'GY':
        return this.supervision(cmd);
      default:
        return [false, []];
    }
  }

  /** `$GY`, and `$SY` in its three forms (pulse, arm, acknowledge), answered as `rapi_proc.cpp` does. */
  private async supervision(cmd: RapiLine): Promise<[boolean, (string | number)[]]> {
    const c = this.options.charger;
    if (!(this.options.heartbeatSupervision ?? c.options.watchdog)) return [false, []];
    const p = cmd.params;
    const decimal = (v: string | undefined): number | null =>
      v !== undefined && /^\d+$/.test(v) ? Number(v) : null;
    let ok = true;
    if (cmd.code === 'SY') {
      if (p.length === 0) ok = (await c.petWatchdog()).missed !== 'unacknowledged';
      else if (p.length === 2) {
        const interval = decimal(p[0]);
        const amps = decimal(p[1]);
        if (interval === null || amps === null) ok = false;
        else await c.armWatchdog(interval, amps);
      } else if (p.length === 1) {
        const cookie = decimal(p[0]);
        ok =
          cookie !== null &&
          (await c.ackWatchdog(cookie).then(
            () => true,
            () => false,
          ));
      } else ok = false;
    }
    const s = (await c.watchdogStatus()) as EvseWatchdogStatus;
    return [ok, [s.intervalSec, s.fallbackCurrentA, heartbeatTriggerCode(s.missed)]];
  }

  private reply(code: 'OK' | 'NK', params: (string | number)[], seq: number | null): void {
    let line = encodeRapiLine(code, params, { seq, checksum: this.replyKind() });
    if (this.faults.corruptReplies > 0) {
      this.faults.corruptReplies--;
      // flip the last checksum digit
      const i = line.length - 2;
      line = line.slice(0, i) + (line[i] === '0' ? '1' : '0') + '\r';
    }
    if (this.faults.delayReplies > 0) {
      this.faults.delayReplies--;
      const late = line;
      setTimeout(() => this.write(late), this.faults.delayMs);
      return;
    }
    if (this.faults.splitReplies > 0) {
      this.faults.splitReplies--;
      const half = Math.floor(line.length / 2);
      this.write(line.slice(0, half));
      setTimeout(() => this.write(line.slice(half)), 20);
      return;
    }
    this.write(line);
  }

  private statusChanged(s: EvseStatus): void {
    if (s.charging && this.chargeStartMs === null) this.chargeStartMs = this.clock.now();
    if (!s.charging && this.chargeStartMs !== null) {
      this.lastChargeMs = this.clock.now() - this.chargeStartMs;
      this.chargeStartMs = null;
    }
    const format = this.options.asyncFormat ?? 'AT';
    if (format === 'AT') this.sendAsync('AT', this.atParams(s));
    else if (format === 'ST') this.sendAsync('ST', [hex2(this.evseState(s))]);
  }

  private atParams(s: EvseStatus): (string | number)[] {
    return [hex2(this.evseState(s)), hex2(this.pilotCode(s)), s.currentLimitA, '0000'];
  }

  private evseState(s: EvseStatus): number {
    if (s.fault !== null) return stateOfFault(s.fault);
    if (s.disabled) return RapiEvseState.disabled;
    if (s.sleeping) return RapiEvseState.sleeping;
    return stateOfPilot(s.pilot);
  }

  private pilotCode(s: EvseStatus): number {
    if (s.pilot === 'E' || s.pilot === 'F') return s.plugged ? RapiEvseState.B : RapiEvseState.A;
    return stateOfPilot(s.pilot);
  }

  private elapsedS(s: EvseStatus): number {
    const ms =
      s.charging && this.chargeStartMs !== null ? this.clock.now() - this.chargeStartMs : this.lastChargeMs;
    return Math.floor(ms / 1000);
  }
}

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}
