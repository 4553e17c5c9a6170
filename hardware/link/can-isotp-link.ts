/**
 * `CanIsoTpLink`: a {@link CableLink} over ISO-TP on any {@link CanBus} (SLCAN adapter on the pilot line,
 * SocketCAN, in-memory). Defaults follow the prior art's ids: the wall transmits on 0x7CD and receives on 0x7CC,
 * the vehicle the reverse. Our ISO-TP defaults (block size 0, STmin 0) stream a message at bus speed.
 *
 * Liveness (documented contract):
 * - up: on the first evidence of the peer — any CAN frame on our receive id (a message, or the flow control
 *   answering one of our multi-frame sends). A single-frame send proves nothing (adapters ack locally).
 * - down: when the bus closes or the adapter vanishes ("bus closed: …"), when the peer stops answering flow
 *   control (ISO-TP N_Bs timeout, "peer not answering"), when `silenceTimeoutMs` is set and nothing arrived
 *   on our receive id for that long ("silence"), and on `close()` ("closed").
 * - after the adapter vanishes the link retries `bus.open()` every `reopenIntervalMs` until it succeeds or the
 *   link is closed; it comes up again on the next evidence of the peer.
 */
import { EventEmitter } from 'node:events';
import { emitErrorIfObserved, type CanBus } from '../can/bus.js';
import type { CanFrame } from '../can/frame.js';
import { SystemClock, type Clock, type TimerHandle } from '../clock.js';
import { IsoTpTimeout, IsoTpTransmitFailed } from '../isotp/errors.js';
import { IsoTpTransport, type IsoTpOptions } from '../isotp/transport.js';
import type { CableLink, CableLinkEvents } from './cable-link.js';
import { LinkDown, LinkMessageTooLong } from './errors.js';

/** Which side of the cable this module is. */
export type CableRole = 'wall' | 'vehicle';

/** CAN ids per role: [tx, rx]. */
export const DEFAULT_CAN_IDS: Readonly<Record<CableRole, { txId: number; rxId: number }>> = {
  wall: { txId: 0x7cd, rxId: 0x7cc },
  vehicle: { txId: 0x7cc, rxId: 0x7cd },
};

/** Options of {@link CanIsoTpLink}. */
export interface CanIsoTpLinkOptions {
  /** The CAN bus (not yet opened; the link opens and closes it). */
  bus: CanBus;
  /** Sets the default ids. */
  role: CableRole;
  /** Override the transmit id (default per role). */
  txId?: number;
  /** Override the receive id (default per role). */
  rxId?: number;
  /** Default SystemClock. */
  clock?: Clock;
  /** ISO-TP settings beyond ids and clock (padding, block size, STmin, timeouts, TX_DL, max length). */
  isotp?: Omit<IsoTpOptions, 'txId' | 'rxId' | 'clock'>;
  /** Retry period after the adapter vanished, ms; default 1000. */
  reopenIntervalMs?: number;
  /** Declare the link down after this many ms without a frame from the peer; default off. */
  silenceTimeoutMs?: number;
}

export class CanIsoTpLink extends EventEmitter<CableLinkEvents> implements CableLink {
  private readonly bus: CanBus;
  private readonly clock: Clock;
  private readonly rxId: number;
  private readonly isotp: IsoTpTransport;
  private readonly reopenIntervalMs: number;
  private readonly silenceTimeoutMs: number | undefined;
  private up = false;
  private closed = false;
  private reopenTimer: TimerHandle | undefined;
  private silenceTimer: TimerHandle | undefined;

  /** @param options bus, role, optional ids, ISO-TP and liveness settings */
  constructor(options: CanIsoTpLinkOptions) {
    super();
    this.bus = options.bus;
    this.clock = options.clock ?? new SystemClock();
    const ids = DEFAULT_CAN_IDS[options.role];
    this.rxId = options.rxId ?? ids.rxId;
    this.reopenIntervalMs = options.reopenIntervalMs ?? 1000;
    this.silenceTimeoutMs = options.silenceTimeoutMs;
    this.isotp = new IsoTpTransport(this.bus, {
      ...options.isotp,
      txId: options.txId ?? ids.txId,
      rxId: this.rxId,
      clock: this.clock,
    });
    this.isotp.on('message', (bytes) => this.emit('message', bytes));
    this.isotp.on('error', (err) => emitErrorIfObserved(this, err));
    this.bus.on('frame', this.onFrame);
    this.bus.on('close', this.onBusClose);
    this.bus.on('error', this.onBusError);
  }

  get isUp(): boolean {
    return this.up;
  }

  /** Opens the bus. @throws the bus's errors (e.g. the adapter path does not exist) */
  async open(): Promise<void> {
    if (this.closed) throw new LinkDown('link is closed');
    await this.bus.open();
  }

  /**
   * Sends one message over ISO-TP.
   * @param bytes 1..isotp.maxMessageBytes bytes
   * @returns resolves when the last frame was accepted by the bus
   * @throws LinkDown (bus not open, or the peer stopped answering), LinkMessageTooLong, IsoTpError subclasses
   */
  async send(bytes: Uint8Array): Promise<void> {
    if (this.closed || !this.bus.isOpen) throw new LinkDown('CAN bus is not open');
    if (bytes.length > this.isotp.maxMessageBytes)
      throw new LinkMessageTooLong(bytes.length, this.isotp.maxMessageBytes);
    try {
      await this.isotp.send(bytes);
    } catch (err) {
      if (err instanceof IsoTpTimeout && err.timer === 'N_Bs') {
        this.setDown('peer not answering (ISO-TP N_Bs timeout)');
        throw new LinkDown('peer did not answer flow control', { cause: err });
      }
      if (err instanceof IsoTpTransmitFailed && !this.bus.isOpen)
        throw new LinkDown('CAN bus closed during send', { cause: err });
      throw err;
    }
  }

  /** Closes ISO-TP and the bus; emits `down('closed')` if up. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.reopenTimer?.cancel();
    this.silenceTimer?.cancel();
    this.isotp.close();
    this.bus.off('frame', this.onFrame);
    this.bus.off('close', this.onBusClose);
    await this.bus.close();
    this.bus.off('error', this.onBusError);
    this.setDown('closed');
  }

  private readonly onFrame = (frame: CanFrame): void => {
    if (frame.id !== this.rxId) return;
    if (this.silenceTimeoutMs !== undefined) {
      this.silenceTimer?.cancel();
      this.silenceTimer = this.clock.setTimer(this.silenceTimeoutMs, () => this.setDown('silence'));
    }
    if (!this.up) {
      this.up = true;
      this.emit('up');
    }
  };

  private readonly onBusError = (err: Error): void => emitErrorIfObserved(this, err);

  private readonly onBusClose = (reason: Error | undefined): void => {
    if (this.closed) return;
    this.setDown(`bus closed: ${reason?.message ?? 'closed'}`);
    this.scheduleReopen();
  };

  private scheduleReopen(): void {
    this.reopenTimer?.cancel();
    this.reopenTimer = this.clock.setTimer(this.reopenIntervalMs, () => {
      if (this.closed || this.bus.isOpen) return;
      this.bus.open().catch((err: unknown) => {
        emitErrorIfObserved(this, err instanceof Error ? err : new Error(String(err)));
        if (!this.closed) this.scheduleReopen();
      });
    });
  }

  private setDown(reason: string): void {
    this.silenceTimer?.cancel();
    if (!this.up) return;
    this.up = false;
    this.emit('down', reason);
  }
}
