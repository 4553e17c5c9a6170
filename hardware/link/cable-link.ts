/**
 * `CableLink`: whole messages between the wall module and the vehicle module over the charge cable, whatever
 * the medium (CAN ISO-TP on the pilot line, IP over PLC). The daemons see only this interface.
 *
 * Events:
 * - `message(bytes)`: one complete message from the peer;
 * - `up`: the peer is reachable (each implementation documents what counts as evidence);
 * - `down(reason)`: the peer or the medium went away (emitted once per up→down transition);
 * - `error(err)`: a non-fatal problem worth logging (malformed input, a failed reconnect attempt); emitted
 *   only when observed.
 * The protocol layer above runs its own heartbeats; link up/down is a hint, not a session state.
 */
import type { EventEmitter } from 'node:events';

/** Event map of a {@link CableLink}. */
export interface CableLinkEvents {
  message: [bytes: Uint8Array];
  up: [];
  down: [reason: string];
  error: [error: Error];
}

export interface CableLink extends EventEmitter<CableLinkEvents> {
  /** True between `up` and `down`. */
  readonly isUp: boolean;
  /**
   * Starts the link (opens the adapter / binds sockets). The link may come up later.
   * @throws LinkError subclasses or the medium's own typed errors when the medium cannot be opened at all
   */
  open(): Promise<void>;
  /**
   * Sends one message.
   * @param bytes the message, 1..the implementation's maximum bytes
   * @returns resolves when the message has been transmitted (CAN: last frame accepted by the adapter;
   *   IP: written to the socket)
   * @throws LinkDown when there is no medium/peer to send to; LinkMessageTooLong; the medium's errors
   */
  send(bytes: Uint8Array): Promise<void>;
  /** Stops the link; emits `down('closed')` if it was up. Idempotent. */
  close(): Promise<void>;
}
