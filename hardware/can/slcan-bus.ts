/**
 * `SlcanBus`: a CAN bus through a Lawicel SLCAN adapter on a serial port (CANable, CANUSB, USBtin, MCP2515
 * bridges...). Commands are pipelined: every command waits for its own reply in FIFO order, within the ack
 * timeout (1 s). Ack styles differ between firmwares:
 * - `cr`: every command, transmits included, is answered by CR (OK) or BEL (error);
 * - `z`: like `cr`, but transmits are answered `z\r` (11-bit) / `Z\r` (29-bit) — original Lawicel CANUSB;
 * - `none`: the adapter never answers; a command counts as done once written to the port.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { SerialPort } from 'serialport';
import { SystemClock, type Clock, type TimerHandle } from '../clock.js';
import { emitErrorIfObserved, type CanBus, type CanBusEvents } from './bus.js';
import { CanBusClosed, CanError, SlcanAckTimeout, SlcanCommandRejected, SlcanParseError } from './errors.js';
import type { CanFrame } from './frame.js';
import { frameDurationMs } from './bit-timing.js';
import {
  bitrateCommand,
  decodeSlcanFrame,
  encodeSlcanFrame,
  SlcanTokenizer,
  type SlcanToken,
} from './slcan-codec.js';
import { openSerialDevice } from '../serial-port.js';
import { CoalescingWriter } from './coalescing-writer.js';

/** How the adapter acknowledges commands. */
export type SlcanAckStyle = 'cr' | 'z' | 'none';

/** Options of {@link SlcanBus}. */
export interface SlcanBusOptions {
  /** Serial device path, e.g. `/dev/ttyACM0` (ignored when `openSerial` is given). */
  path?: string;
  /** Serial baud rate (USB CDC adapters ignore it); default 115200. */
  baudRate?: number;
  /** CAN bitrate in bit/s: an `Sn` rate, 33 333 (raw timing built in) or any rate with `rawTiming`. */
  bitrate: number;
  /** 4-hex-digit BTR0BTR1 for the `s` command, overriding the built-in tables. */
  rawTiming?: string;
  /** Default `cr`. */
  ackStyle?: SlcanAckStyle;
  /** Ask the adapter for receive timestamps (`Z1`); default false (sends `Z0` only if true was never asked). */
  timestamps?: boolean;
  /** Open in listen-only mode (`L`): receive, never transmit or ack on the bus. */
  listenOnly?: boolean;
  /** Reply timeout per command in ms; default 1000. */
  ackTimeoutMs?: number;
  /** Time source for ack timeouts; default SystemClock. */
  clock?: Clock;
  /**
   * Most frames handed to the adapter and not yet on the bus, estimated from each frame's bus time at `bitrate`;
   * `send` waits rather than overflow the adapter's transmit buffer (which it would refuse with BEL).
   * Default 16: Lawicel-style adapters buffer a few dozen frames, and frames still in transit over USB/serial
   * are already on their way into that buffer.
   */
  maxTxBacklogFrames?: number;
  /** Opens the byte stream to the adapter; default opens `path` with serialport. For tests. */
  openSerial?: () => Promise<Duplex>;
}

interface PendingCommand {
  command: string;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: TimerHandle | undefined;
}

export class SlcanBus extends EventEmitter<CanBusEvents> implements CanBus {
  readonly bitrate: number;
  private readonly ackStyle: SlcanAckStyle;
  private readonly ackTimeoutMs: number;
  private readonly clock: Clock;
  private port: Duplex | undefined;
  /** Writes to `port`; the commands of one event-loop turn go out in one write. */
  private writer: CoalescingWriter | undefined;
  private open_ = false;
  private opening: Promise<void> | undefined;
  private pending: PendingCommand[] = [];
  /** Estimated time (this clock's ms) at which the adapter has put every frame handed to it on the bus. */
  private txBusyUntilMs = 0;
  /** Frames that had to wait are paced and written one after another, in `send` call order. */
  private txChain: Promise<void> = Promise.resolve();
  /** Frames queued in `txChain` and not yet written. */
  private txWaiting = 0;
  private tokenizer = new SlcanTokenizer();

  /** @param options device, bitrate, ack style and timing; see {@link SlcanBusOptions} */
  constructor(private readonly options: SlcanBusOptions) {
    super();
    this.bitrate = options.bitrate;
    this.ackStyle = options.ackStyle ?? 'cr';
    this.ackTimeoutMs = options.ackTimeoutMs ?? 1000;
    this.clock = options.clock ?? new SystemClock();
    bitrateCommand(options.bitrate, options.rawTiming); // validate early: throws UnsupportedBitrate
  }

  get isOpen(): boolean {
    return this.open_;
  }

  /**
   * Opens the serial port and starts the adapter: `C` (close a channel left open, error tolerated), the bitrate
   * command, `Z1` if timestamps are wanted, then `O` (or `L`).
   * @throws SlcanCommandRejected / SlcanAckTimeout when the adapter refuses or stays silent; the serial
   *   port's own error when the device cannot be opened
   */
  open(): Promise<void> {
    if (this.open_) return Promise.resolve();
    this.opening ??= this.doOpen().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async doOpen(): Promise<void> {
    const port = await (this.options.openSerial ?? (() => openSerialPort(this.options)))();
    this.port = port;
    this.writer = new CoalescingWriter(port);
    this.tokenizer = new SlcanTokenizer();
    port.on('data', (chunk: Buffer) => this.onData(chunk));
    port.on('error', (err: Error) => emitErrorIfObserved(this, err));
    port.on('close', () => this.onPortClosed(port));
    try {
      await this.command('C').catch((err: unknown) => {
        if (!(err instanceof SlcanCommandRejected)) throw err;
      });
      await this.command(bitrateCommand(this.options.bitrate, this.options.rawTiming));
      if (this.options.timestamps) await this.command('Z1');
      await this.command(this.options.listenOnly ? 'L' : 'O');
      this.open_ = true;
    } catch (err) {
      this.port = undefined;
      this.failPending(err instanceof Error ? err : new CanError(String(err)));
      await destroyAndWait(port);
      throw err;
    }
  }

  /**
   * Sends one frame.
   * @returns resolves when the adapter acknowledged it (or, with ack style `none`, when written to the port)
   * @throws CanBusClosed, SlcanCommandRejected (adapter BEL, e.g. TX buffer full), SlcanAckTimeout
   */
  async send(frame: CanFrame): Promise<void> {
    if (!this.open_) throw new CanBusClosed('SLCAN bus is not open');
    if (this.options.listenOnly) throw new CanBusClosed('SLCAN bus is listen-only');
    // Pace to the bus: an adapter acks a frame when it is queued, not when it is on the wire, so a sender that
    // only waits for acks outruns the bus and overflows the adapter's buffer. A frame that must wait goes through
    // one chain, and so does every frame sent while one waits, so frames reach the adapter in `send` call order.
    const durationMs = frameDurationMs(frame, { bitrate: this.bitrate });
    const maxBacklogMs = (this.options.maxTxBacklogFrames ?? 16) * durationMs;
    const writeNow = (): Promise<void> => {
      this.txBusyUntilMs = Math.max(this.clock.now(), this.txBusyUntilMs) + durationMs;
      return this.command(encodeSlcanFrame(frame));
    };
    if (this.txWaiting === 0 && this.txBusyUntilMs - this.clock.now() <= maxBacklogMs) return writeNow();
    this.txWaiting++;
    const written = this.txChain.then(async () => {
      const backlogMs = this.txBusyUntilMs - this.clock.now();
      if (backlogMs > maxBacklogMs) await this.clock.sleep(backlogMs - maxBacklogMs);
      this.txWaiting--;
      const ack = writeNow();
      ack.catch(() => undefined); // awaited below; keeps a fast rejection from being reported as unhandled
      return { ack };
    });
    this.txChain = written.then(
      () => undefined,
      () => undefined,
    );
    const { ack } = await written;
    await ack;
  }

  /** Stops the adapter (`C`, best effort) and closes the port. Pending sends reject with CanBusClosed. */
  async close(): Promise<void> {
    const port = this.port;
    if (!port) return;
    if (this.open_) await this.command('C').catch(() => undefined);
    this.open_ = false;
    this.port = undefined;
    this.failPending(new CanBusClosed('SLCAN bus closed'));
    await destroyAndWait(port);
    this.emit('close', undefined);
  }

  /** Writes a command and waits for its reply (per ack style). */
  private command(command: string): Promise<void> {
    const writer = this.writer;
    if (!this.port || !writer) return Promise.reject(new CanBusClosed('SLCAN bus is not open'));
    return new Promise<void>((resolve, reject) => {
      if (this.ackStyle === 'none') {
        writer.write(`${command}\r`, (err) => (err ? reject(err) : resolve()));
        return;
      }
      const entry: PendingCommand = { command, resolve, reject, timer: undefined };
      entry.timer = this.clock.setTimer(this.ackTimeoutMs, () => {
        const i = this.pending.indexOf(entry);
        if (i >= 0) this.pending.splice(i, 1);
        reject(new SlcanAckTimeout(command, this.ackTimeoutMs));
      });
      this.pending.push(entry);
      writer.write(`${command}\r`, (err) => {
        if (!err) return;
        const i = this.pending.indexOf(entry);
        if (i >= 0) this.pending.splice(i, 1);
        entry.timer?.cancel();
        reject(err);
      });
    });
  }

  private onData(chunk: Buffer): void {
    for (const token of this.tokenizer.push(chunk)) this.onToken(token);
  }

  private onToken(token: SlcanToken): void {
    switch (token.kind) {
      case 'frame': {
        let parsed;
        try {
          parsed = decodeSlcanFrame(token.line);
        } catch (err) {
          emitErrorIfObserved(this, err as Error);
          return;
        }
        if (this.open_) this.emit('frame', parsed.frame, parsed.timestampMs);
        return;
      }
      case 'ok':
      case 'txAck':
        this.settleHead(undefined);
        return;
      case 'error': {
        const head = this.pending[0];
        if (head) this.settleHead(new SlcanCommandRejected(head.command));
        else emitErrorIfObserved(this, new SlcanCommandRejected('(unsolicited)'));
        return;
      }
      case 'reply': {
        // Text replies (V1013, Nxxxx, F00) answer the query with the same letter; anything else is noise and
        // must not be taken for another command's ack, or every later ack would be attributed one off.
        const head = this.pending[0];
        if (head && head.command[0] === token.line[0]) this.settleHead(undefined);
        else emitErrorIfObserved(this, new SlcanParseError(token.line, 'unexpected reply'));
        return;
      }
    }
  }

  private settleHead(err: Error | undefined): void {
    const head = this.pending.shift();
    if (!head) return;
    head.timer?.cancel();
    if (err) head.reject(err);
    else head.resolve();
  }

  private failPending(err: Error): void {
    const all = this.pending;
    this.pending = [];
    for (const p of all) {
      p.timer?.cancel();
      p.reject(err);
    }
  }

  private onPortClosed(port: Duplex): void {
    if (this.port !== port) return;
    const wasOpen = this.open_;
    this.open_ = false;
    this.port = undefined;
    const reason = new CanBusClosed('SLCAN adapter disappeared (serial port closed)');
    this.failPending(reason);
    if (wasOpen) this.emit('close', reason);
  }
}

/** Opens the adapter's tty so that an unplugged adapter closes the port (see {@link openSerialDevice}). */
async function openSerialPort(options: SlcanBusOptions): Promise<Duplex> {
  if (!options.path) throw new CanError('SlcanBus needs a serial device path');
  return openSerialDevice({ path: options.path, baudRate: options.baudRate ?? 115_200 });
}

/**
 * Releases the adapter stream and resolves once its resource is free. A SerialPort must be closed with
 * `close()` (its `destroy()` leaves the fd and its lock open); other streams are destroyed.
 */
function destroyAndWait(port: Duplex): Promise<void> {
  return new Promise<void>((resolve) => {
    if (port instanceof SerialPort) {
      if (!port.isOpen) return resolve();
      port.close(() => resolve());
      return;
    }
    if (port.closed) return resolve();
    port.once('close', () => resolve());
    port.destroy();
  });
}
