/**
 * OpenEVSE RAPI transport over a serial port: one command in flight at a time, sequence ids so a late reply
 * to an abandoned attempt is never taken for the answer to a new one, timeouts and retries on the injected
 * clock, asynchronous notifications (`$AT`, `$ST`, `$AB`, ...) separated from replies even when they arrive
 * between a command and its reply, and automatic reopening when the port drops (USB adapter unplugged).
 * Callers never see wire framing: `command('SC', [16, 'V'])` resolves with the reply's parameters.
 */
import { EventEmitter } from 'node:events';
import type { SerialPort } from 'serialport';
import { openSerialDevice } from '../serial-port.js';
import type { Clock, TimerHandle } from '../clock.js';
import { SystemClock } from '../clock.js';
import { EvseCommandFailed, EvseUnreachable } from './evse.js';
import { decodeRapiLine, encodeRapiLine, type RapiChecksumKind, type RapiLine } from './rapi-frame.js';

/** The EVSE answered `$NK`. */
export class RapiNegativeAck extends EvseCommandFailed {
  override readonly name = 'RapiNegativeAck';
  /** @param command the command sent; @param params the `$NK` reply's parameters */
  constructor(
    command: string,
    readonly params: string[],
  ) {
    super(command, `EVSE answered $NK${params.length ? ' ' + params.join(' ') : ''}`);
  }
}

/** No valid reply within the timeout, after every retry. */
export class RapiTimeout extends EvseCommandFailed {
  override readonly name = 'RapiTimeout';
  /**
   * @param command the command sent
   * @param attempts how many times it was sent
   * @param timeoutMs the per-attempt timeout, ms
   * @param lastProblem the last thing that went wrong (e.g. a checksum mismatch), if any
   */
  constructor(
    command: string,
    readonly attempts: number,
    readonly timeoutMs: number,
    readonly lastProblem: string | null,
  ) {
    super(
      command,
      `no valid reply after ${attempts} attempt(s) of ${timeoutMs} ms` +
        (lastProblem ? ` (last: ${lastProblem})` : ''),
    );
  }
}

export interface RapiClientOptions {
  /** Serial device, e.g. `/dev/ttyUSB0`. */
  path: string;
  /** Baud rate (OpenEVSE: 115200). */
  baudRate?: number;
  /** Time source for timeouts, retries and reconnects (default: real time). */
  clock?: Clock;
  /** Per-attempt reply timeout, ms (default 1000). */
  timeoutMs?: number;
  /** Extra attempts after the first on timeout or corrupted reply (default 2). */
  retries?: number;
  /** Checksum put on commands: `xor` (default, firmware ≥ 1.0) or legacy `sum`. */
  checksum?: Exclude<RapiChecksumKind, 'none'>;
  /** Append ` :ss` sequence ids (firmware ≥ 3.0; default true). Turn off for older firmware. */
  sequenceIds?: boolean;
  /** Delay between attempts to reopen a dropped port, ms (default 1000). */
  reconnectDelayMs?: number;
  /**
   * Accept lines without a checksum (firmware 1.x). Default false: a line whose `^`/`*` marker was corrupted
   * would otherwise pass as an unchecked line, so unchecked lines count as corrupted.
   */
  acceptUnchecksummed?: boolean;
}

/** Events of the transport. */
export interface RapiClientEvents {
  /** An asynchronous notification (`AT`, `ST`, `AB`, `WF`, `AN`, ...). */
  async: [line: RapiLine];
  /** The port opened (true) or dropped (false). */
  link: [connected: boolean];
  /** A line that could not be used (bad checksum, malformed, stray reply); informational. */
  protocolError: [error: Error];
}

interface Pending {
  command: string;
  seq: number | null;
  resolve: (line: RapiLine) => void;
  reject: (err: Error) => void;
  /** A corrupted line arrived for this attempt: retry now instead of waiting for the timeout. */
  corrupted: (problem: string) => void;
}

/** The RAPI transport. Create, `open()`, then `command()`; `close()` when done. */
export class RapiClient extends EventEmitter<RapiClientEvents> {
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly checksum: Exclude<RapiChecksumKind, 'none'>;
  private readonly sequenceIds: boolean;
  private readonly reconnectDelayMs: number;
  private port: SerialPort | null = null;
  private rx = '';
  private nextSeq = 1;
  private pending: Pending | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private reconnectTimer: TimerHandle | null = null;

  /** @param options see `RapiClientOptions` */
  constructor(readonly options: RapiClientOptions) {
    super();
    this.clock = options.clock ?? new SystemClock();
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.retries = options.retries ?? 2;
    this.checksum = options.checksum ?? 'xor';
    this.sequenceIds = options.sequenceIds ?? true;
    this.reconnectDelayMs = options.reconnectDelayMs ?? 1000;
  }

  /** True while the port is open. */
  get connected(): boolean {
    return this.port?.isOpen ?? false;
  }

  /**
   * Opens the port. If the port later drops, the client keeps trying to reopen it every `reconnectDelayMs`.
   *
   * @throws EvseUnreachable when the port cannot be opened now
   */
  async open(): Promise<void> {
    this.closed = false;
    await this.openPort();
  }

  /**
   * Sends one command and waits for its reply, retrying on timeout or corruption.
   *
   * @param code two-letter command, e.g. `GS`, `SC`
   * @param params command parameters
   * @returns the parameters of the `$OK` reply
   * @throws RapiNegativeAck on `$NK`; RapiTimeout when no valid reply came; EvseUnreachable when the port is down
   */
  command(code: string, params: readonly (string | number)[] = []): Promise<string[]> {
    const run = this.queue.then(() => this.runCommand(code, params));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Closes the port and stops reconnecting. Pending commands fail with EvseUnreachable. */
  async close(): Promise<void> {
    this.closed = true;
    this.reconnectTimer?.cancel();
    this.reconnectTimer = null;
    const port = this.port;
    this.port = null;
    this.pending?.reject(new EvseUnreachable('client closed'));
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  private async runCommand(code: string, params: readonly (string | number)[]): Promise<string[]> {
    const label = `$${code}${params.length ? ' ' + params.join(' ') : ''}`;
    let lastProblem: string | null = null;
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      const port = this.port;
      if (this.closed || !port || !port.isOpen)
        throw new EvseUnreachable(`port ${this.options.path} is not open`);
      const seq = this.sequenceIds ? this.takeSeq() : null;
      const wire = encodeRapiLine(code, params, { seq, checksum: this.checksum });
      const outcome = await new Promise<RapiLine | { problem: string }>((resolve, reject) => {
        const timer = this.clock.setTimer(this.timeoutMs, () =>
          finish({ problem: `timeout after ${this.timeoutMs} ms` }),
        );
        let done = false;
        const finish = (v: RapiLine | { problem: string } | Error): void => {
          if (done) return; // e.g. a write error reported after this attempt already timed out
          done = true;
          timer.cancel();
          if (this.pending === mine) this.pending = null;
          if (v instanceof Error) reject(v);
          else resolve(v);
        };
        const mine: Pending = {
          command: label,
          seq,
          resolve: finish,
          reject: finish,
          corrupted: (problem) => finish({ problem }),
        };
        this.pending = mine;
        port.write(wire, (err) => {
          if (err) finish(new EvseUnreachable(`write to ${this.options.path} failed: ${err.message}`));
        });
      });
      if ('problem' in outcome) {
        lastProblem = outcome.problem;
        continue;
      }
      if (outcome.code === 'NK') throw new RapiNegativeAck(label, outcome.params);
      return outcome.params;
    }
    throw new RapiTimeout(label, this.retries + 1, this.timeoutMs, lastProblem);
  }

  private takeSeq(): number {
    const seq = this.nextSeq;
    this.nextSeq = seq >= 255 ? 1 : seq + 1;
    return seq;
  }

  private async openPort(): Promise<void> {
    let port: SerialPort;
    try {
      // hangup-aware: an unplugged USB serial adapter closes the port instead of going unnoticed
      port = await openSerialDevice({ path: this.options.path, baudRate: this.options.baudRate ?? 115200 });
    } catch (err) {
      throw new EvseUnreachable(`cannot open ${this.options.path}: ${(err as Error).message}`);
    }
    if (this.closed) {
      await new Promise<void>((resolve) => port.close(() => resolve()));
      return;
    }
    this.rx = '';
    this.port = port;
    port.on('data', (chunk: Buffer) => this.onData(chunk));
    port.on('error', (err) => this.emit('protocolError', err));
    port.once('close', () => this.onPortClosed(port));
    this.emit('link', true);
  }

  private onPortClosed(port: SerialPort): void {
    if (this.port !== port) return;
    this.port = null;
    this.pending?.reject(new EvseUnreachable(`port ${this.options.path} closed`));
    this.emit('link', false);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    this.reconnectTimer = this.clock.setTimer(this.reconnectDelayMs, () => {
      this.reconnectTimer = null;
      this.openPort().catch(() => this.scheduleReconnect());
    });
  }

  private onData(chunk: Buffer): void {
    this.rx += chunk.toString('latin1');
    for (;;) {
      const end = this.rx.search(/[\r\n]/);
      if (end < 0) break;
      const raw = this.rx.slice(0, end);
      this.rx = this.rx.slice(end + 1);
      if (raw.trim() !== '') this.onLine(raw);
    }
    if (this.rx.length > 1024) {
      this.emit('protocolError', new Error(`discarding ${this.rx.length} bytes without a line end`));
      this.rx = '';
    }
  }

  private onLine(raw: string): void {
    let line: RapiLine;
    try {
      line = decodeRapiLine(raw);
    } catch (err) {
      this.emit('protocolError', err as Error);
      // A corrupted line while a command waits is most likely its reply: retry at once.
      if (this.pending && /\$(OK|NK)/.test(raw)) this.pending.corrupted((err as Error).message);
      return;
    }
    if (line.checksum === 'none' && !this.options.acceptUnchecksummed) {
      const problem = `line without checksum ${JSON.stringify(raw.trim())} (set acceptUnchecksummed for firmware 1.x)`;
      this.emit('protocolError', new Error(problem));
      if (this.pending && /\$(OK|NK)/.test(raw)) this.pending.corrupted(problem);
      return;
    }
    if (line.code !== 'OK' && line.code !== 'NK') {
      this.emit('async', line);
      return;
    }
    const pending = this.pending;
    if (!pending) {
      this.emit('protocolError', new Error(`reply ${raw.trim()} with no command waiting`));
      return;
    }
    if (pending.seq !== null && line.seq !== null && line.seq !== pending.seq) {
      // the late answer to an attempt we already gave up on
      this.emit(
        'protocolError',
        new Error(
          `stale reply ${raw.trim()} (waiting for :${pending.seq.toString(16).toUpperCase().padStart(2, '0')})`,
        ),
      );
      return;
    }
    pending.resolve(line);
  }
}
