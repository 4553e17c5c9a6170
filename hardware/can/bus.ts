/**
 * The `CanBus` interface every backend implements (SLCAN adapter, SocketCAN, in-memory network).
 *
 * Events:
 * - `frame(frame, adapterTimestampMs?)`: a frame received from the bus (never our own transmissions);
 * - `error(err)`: a non-fatal problem (unparseable adapter output, adapter error reply, bus error frame);
 *   emitted only when someone listens, so an unobserved bus never crashes the process;
 * - `close(reason)`: the bus closed; `reason` is undefined after `close()`, an Error when the adapter or
 *   interface went away.
 */
import type { EventEmitter } from 'node:events';
import type { CanFrame } from './frame.js';

/** Event map of a {@link CanBus}. */
export interface CanBusEvents {
  /** `adapterTimestampMs`: the adapter's own receive timestamp when it reports one (SLCAN `Z1`), ms mod 60 000 */
  frame: [frame: CanFrame, adapterTimestampMs?: number];
  error: [error: Error];
  close: [reason: Error | undefined];
}

export interface CanBus extends EventEmitter<CanBusEvents> {
  /** Nominal (arbitration) bitrate in bit/s. */
  readonly bitrate: number;
  /** True between a successful `open()` and `close()` or the loss of the adapter. */
  readonly isOpen: boolean;
  /**
   * Opens the bus (configures and starts the adapter). Idempotent while open.
   * @throws CanError subclasses when the adapter refuses or cannot be reached
   */
  open(): Promise<void>;
  /**
   * Sends one frame.
   * @returns resolves when the backend has accepted the frame (SLCAN: adapter ack; in-memory: frame on the wire
   *   complete; SocketCAN: written to the socket)
   * @throws CanBusClosed when not open; InvalidCanFrame when the backend cannot carry the frame
   */
  send(frame: CanFrame): Promise<void>;
  /** Closes the bus; pending sends reject with CanBusClosed. Idempotent. */
  close(): Promise<void>;
}

/**
 * Emits `error` on an emitter only if a listener is attached (Node would otherwise throw it).
 *
 * @param emitter any emitter with an `error` event
 * @param error the error to report
 */
export function emitErrorIfObserved(emitter: EventEmitter, error: Error): void {
  if (emitter.listenerCount('error') > 0) emitter.emit('error', error);
}
