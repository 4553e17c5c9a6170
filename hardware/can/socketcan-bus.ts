/**
 * `SocketCanBus`: a CAN bus on a Linux SocketCAN interface (`can0`, `vcan0`) through the optional `socketcan`
 * package, imported only when a bus is opened (machines without AF_CAN never load its native module). The
 * interface itself (bitrate, up/down) is configured by the OS: `ip link set can0 type can bitrate 33333 up`.
 * Frame mapping is pure and unit-tested against a fake channel; `scripts/socketcan-smoke.ts` exercises real
 * hardware.
 */
import { EventEmitter } from 'node:events';
import { emitErrorIfObserved, type CanBus, type CanBusEvents } from './bus.js';
import { CanBusClosed, CanError, InvalidCanFrame } from './errors.js';
import { canFrame, type CanFrame } from './frame.js';

/** A message as the `socketcan` package passes it. */
export interface SocketCanMessage {
  id: number;
  ext: boolean;
  rtr: boolean;
  data: Buffer;
  err?: boolean;
}

/** The part of `socketcan`'s RawChannel this bus uses. */
export interface SocketCanChannel {
  addListener(event: 'onMessage', callback: (message: SocketCanMessage) => void): void;
  addListener(event: 'onStopped', callback: () => void): void;
  start(): void;
  stop(): void;
  send(message: SocketCanMessage): void;
  sendFD(message: SocketCanMessage): void;
}

/** A bus error frame reported by the kernel (bus-off, error passive, lost arbitration…). */
export class CanBusErrorFrame extends CanError {
  override name = 'CanBusErrorFrame';
  /** @param errorClass the kernel's CAN_ERR_* class bits (the frame id) */
  constructor(readonly errorClass: number) {
    super(`CAN error frame, class 0x${errorClass.toString(16)}`);
  }
}

/**
 * Our frame → the package's message.
 * @throws InvalidCanFrame for FD frames with BRS (the package cannot set flags) — send without BRS
 */
export function toSocketCanMessage(frame: CanFrame): SocketCanMessage {
  if (frame.brs) throw new InvalidCanFrame('socketcan package cannot send bit-rate-switched FD frames');
  return {
    id: frame.id,
    ext: frame.extended,
    rtr: frame.rtr,
    data: frame.rtr ? Buffer.alloc(frame.rtrLength) : Buffer.from(frame.data),
  };
}

/**
 * The package's message → our frame (payloads over 8 bytes are FD frames).
 * @returns the frame, or a CanBusErrorFrame for kernel error frames
 * @throws InvalidCanFrame when the message cannot be a CAN frame
 */
export function fromSocketCanMessage(message: SocketCanMessage): CanFrame | CanBusErrorFrame {
  if (message.err) return new CanBusErrorFrame(message.id);
  if (message.rtr)
    return canFrame({
      id: message.id,
      extended: message.ext,
      rtr: true,
      rtrLength: Math.min(8, message.data.length),
    });
  return canFrame({ id: message.id, extended: message.ext, fd: message.data.length > 8, data: message.data });
}

/** Options of {@link SocketCanBus}. */
export interface SocketCanBusOptions {
  /** Interface name, e.g. `can0`. */
  interface: string;
  /** Bitrate the interface is configured with, bit/s (informational: the OS sets it). */
  bitrate: number;
  /** Creates the channel; default `socketcan.createRawChannelWithOptions(iface, {non_block_send: false})`. */
  createChannel?: (iface: string) => Promise<SocketCanChannel>;
}

interface SocketCanModule {
  createRawChannelWithOptions(channel: string, options: { timestamps?: boolean }): SocketCanChannel;
}

async function defaultChannel(iface: string): Promise<SocketCanChannel> {
  let mod: SocketCanModule;
  try {
    mod = (await import('socketcan')) as unknown as SocketCanModule;
  } catch (err) {
    throw new CanError(`the optional 'socketcan' package is not installed: ${(err as Error).message}`);
  }
  return mod.createRawChannelWithOptions(iface, { timestamps: false });
}

export class SocketCanBus extends EventEmitter<CanBusEvents> implements CanBus {
  readonly bitrate: number;
  private channel: SocketCanChannel | undefined;

  /** @param options interface name and bitrate */
  constructor(private readonly options: SocketCanBusOptions) {
    super();
    this.bitrate = options.bitrate;
  }

  get isOpen(): boolean {
    return this.channel !== undefined;
  }

  /** Opens the raw socket. @throws CanError when the package or the interface is missing */
  async open(): Promise<void> {
    if (this.channel) return;
    let channel: SocketCanChannel;
    try {
      channel = await (this.options.createChannel ?? defaultChannel)(this.options.interface);
    } catch (err) {
      if (err instanceof CanError) throw err;
      throw new CanError(
        `cannot open SocketCAN interface ${this.options.interface}: ${(err as Error).message}`,
      );
    }
    channel.addListener('onMessage', (message) => {
      let frame: CanFrame | CanBusErrorFrame;
      try {
        frame = fromSocketCanMessage(message);
      } catch (err) {
        emitErrorIfObserved(this, err as Error);
        return;
      }
      if (frame instanceof CanBusErrorFrame) emitErrorIfObserved(this, frame);
      else this.emit('frame', frame);
    });
    channel.addListener('onStopped', () => {
      if (this.channel !== channel) return;
      this.channel = undefined;
      this.emit('close', new CanBusClosed(`SocketCAN interface ${this.options.interface} stopped`));
    });
    channel.start();
    this.channel = channel;
  }

  /** Writes a frame to the socket. @throws CanBusClosed, InvalidCanFrame, the socket's write error */
  async send(frame: CanFrame): Promise<void> {
    const channel = this.channel;
    if (!channel) throw new CanBusClosed(`SocketCAN interface ${this.options.interface} is not open`);
    const message = toSocketCanMessage(frame);
    if (frame.fd) channel.sendFD(message);
    else channel.send(message);
  }

  /** Stops the channel. */
  async close(): Promise<void> {
    const channel = this.channel;
    if (!channel) return;
    this.channel = undefined;
    channel.stop();
    this.emit('close', undefined);
  }
}
