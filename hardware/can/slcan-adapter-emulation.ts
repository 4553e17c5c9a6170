/**
 * The behaviour of one SLCAN adapter, seen from its serial side: it parses the host's commands, answers them in
 * the configured ack style, and puts transmitted frames on a {@link MemoryCanNetwork} (the emulated bus), while
 * frames from the bus are written to the host as `t...`/`T...` lines (with a timestamp after `Z1`).
 *
 * Replies per ack style: `cr` → CR for every accepted command; `z` → CR for setup commands, `z\r` / `Z\r` for
 * 11-/29-bit transmits; `none` → nothing at all, errors included. Refused commands get BEL (styles cr, z):
 * unknown commands, malformed frames, transmit while closed or listen-only, bitrate change while open, opening
 * at a bitrate that differs from the bus's (a real node at the wrong rate would only see error frames), and a
 * full transmit queue.
 */
import type { Duplex } from 'node:stream';
import type { Clock } from '../clock.js';
import type { MemoryCanBus, MemoryCanNetwork } from './memory-bus.js';
import type { CanFrame } from './frame.js';
import { bitrateOfCommand, decodeSlcanFrame, encodeSlcanFrame, isSlcanFrameLine } from './slcan-codec.js';
import type { SlcanAckStyle } from './slcan-bus.js';
import { CoalescingWriter } from './coalescing-writer.js';

/** Options of one emulated adapter. */
export interface SlcanAdapterEmulationOptions {
  /** Label used in diagnostics. */
  name: string;
  /** Default `cr`. */
  ackStyle?: SlcanAckStyle;
  /** Frames accepted but not yet on the wire before transmits are refused with BEL; default 256. */
  txQueueFrames?: number;
}

export class SlcanAdapterEmulation {
  readonly name: string;
  private readonly ackStyle: SlcanAckStyle;
  private readonly txQueueFrames: number;
  private readonly node: MemoryCanBus;
  private bitrate: number | undefined;
  private timestamps = false;
  private listenOnly = false;
  private inFlight = 0;
  private line = '';
  /** Replies and received frames of one event-loop turn go to the host in one write, like a USB packet. */
  private readonly out: CoalescingWriter;
  /** Commands received, for tests and diagnostics (without CR). */
  readonly commandLog: string[] = [];

  /**
   * @param serial the adapter's end of the serial link (e.g. the emulator's side of a PTY pair)
   * @param network the emulated bus
   * @param clock time source for timestamps
   * @param options name, ack style and queue size
   */
  constructor(
    private readonly serial: Duplex,
    private readonly network: MemoryCanNetwork,
    private readonly clock: Clock,
    options: SlcanAdapterEmulationOptions,
  ) {
    this.name = options.name;
    this.ackStyle = options.ackStyle ?? 'cr';
    this.txQueueFrames = options.txQueueFrames ?? 256;
    this.out = new CoalescingWriter(serial);
    this.node = network.attach(options.name);
    this.node.on('frame', (frame) => this.toHost(frame));
    serial.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  /** True while the CAN channel is open (`O` or `L`). */
  get channelOpen(): boolean {
    return this.node.isOpen;
  }

  /** Closes the channel as if the adapter lost power (frames stop; no reply is sent). */
  async powerOff(): Promise<void> {
    await this.node.close();
  }

  private onData(chunk: Buffer): void {
    for (const byte of chunk) {
      if (byte === 0x0d) {
        const cmd = this.line;
        this.line = '';
        this.handle(cmd);
      } else if (byte !== 0x0a && this.line.length < 512) this.line += String.fromCharCode(byte);
    }
  }

  private reply(text: string): void {
    if (this.ackStyle === 'none') return;
    if (!this.serial.destroyed) this.out.write(text);
  }
  private ok(): void {
    this.reply('\r');
  }
  private bel(): void {
    this.reply('\x07');
  }

  private handle(cmd: string): void {
    this.commandLog.push(cmd);
    if (isSlcanFrameLine(cmd)) return this.transmit(cmd);
    const head = cmd[0] ?? '';
    switch (head) {
      case '': // python-can writes an empty data-bitrate command
        return this.ok();
      case 'S':
      case 's': {
        const rate = bitrateOfCommand(cmd);
        if (this.node.isOpen || rate === undefined) return this.bel();
        this.bitrate = rate;
        return this.ok();
      }
      case 'Y': // CAN FD data bitrate (CANable 2 firmware)
        return this.node.isOpen ? this.bel() : this.ok();
      case 'O':
      case 'L': {
        if (this.node.isOpen) return this.bel();
        if ((this.bitrate ?? this.network.rates.bitrate) !== this.network.rates.bitrate) return this.bel();
        this.listenOnly = head === 'L';
        void this.node.open();
        return this.ok();
      }
      case 'C':
        if (!this.node.isOpen) return this.bel();
        void this.node.close();
        return this.ok();
      case 'Z':
        if (cmd !== 'Z0' && cmd !== 'Z1') return this.bel();
        this.timestamps = cmd === 'Z1';
        return this.ok();
      case 'V':
        return this.reply('V1013\r');
      case 'v':
        return this.reply('v0100\r');
      case 'N':
        return this.reply('NEMU1\r');
      case 'F':
        return this.reply('F00\r');
      case 'M':
      case 'm':
      case 'X':
      case 'W':
        return this.ok();
      default:
        return this.bel();
    }
  }

  private transmit(cmd: string): void {
    if (!this.node.isOpen || this.listenOnly) return this.bel();
    let frame: CanFrame;
    try {
      frame = decodeSlcanFrame(cmd).frame;
    } catch {
      return this.bel();
    }
    if (this.inFlight >= this.txQueueFrames) return this.bel();
    this.inFlight++;
    this.node.send(frame).then(
      () => this.inFlight--,
      () => this.inFlight--,
    );
    if (this.ackStyle === 'z') this.reply(frame.extended ? 'Z\r' : 'z\r');
    else this.ok();
  }

  private toHost(frame: CanFrame): void {
    if (this.serial.destroyed) return;
    const ts = this.timestamps ? Math.floor(this.clock.now()) % 60_000 : undefined;
    this.out.write(`${encodeSlcanFrame(frame, ts)}\r`);
  }
}
