/**
 * The secure-channel bookkeeping both session machines share: sending on and opening from the channel (with
 * the rx/tx times the heartbeat rule reads), the heartbeat rule itself, resending a stored clear frame, and
 * reading the clear frames of the hello exchange. One module serves the seller and the buyer.
 */
import { fromHex } from './bytes.js';
import { openFrame, type ChannelState } from './channel.js';
import { fail, ok, protocolError, type Result } from './errors.js';
import type { Effect } from './effects.js';
import { encodeClearFrame, parseFrame } from './frame.js';
import type { ClearErrorMessage, ClearMessage, ErrorMessage, SealedMessage } from './messages.js';
import { Reason, type ReasonCode } from './reasons.js';
import { record, rejectFrame, sendSealed } from './sessionCommon.js';

/** What a machine keeps about its secure channel: the channel (null before keys) and last rx/tx times, ms. */
export interface ChannelSide {
  channel: ChannelState | null;
  lastRxMs: number;
  lastTxMs: number;
}

/**
 * Seals `message` on the side's channel, appends the `send` effect and notes the send time.
 * Does nothing before the channel exists.
 * @param atMs time of the send, ms
 */
export function sendOnChannel(s: ChannelSide, message: SealedMessage, out: Effect[], atMs: number): void {
  if (s.channel === null) return;
  s.channel = sendSealed(s.channel, message, out);
  s.lastTxMs = atMs;
}

/**
 * Opens a sealed frame on the side's channel (which must exist). On success advances the channel, notes the
 * receive time and records lost frames; on failure changes nothing, and the caller decides (reject, or accept
 * a harmless repeat).
 * @param atMs time of reception, ms
 * @returns the message, or the ProtocolError of `openFrame`
 */
export function openOnChannel(
  s: ChannelSide,
  bytes: Uint8Array,
  out: Effect[],
  atMs: number,
): Result<SealedMessage> {
  if (s.channel === null) return fail(protocolError('UnexpectedMessage', 'sealed frame before keys exist'));
  const opened = openFrame(s.channel, bytes);
  if (!opened.ok) return opened;
  s.channel = opened.value.channel;
  s.lastRxMs = atMs;
  if (opened.value.gap > 0) out.push(record('framesLost', { count: opened.value.gap }));
  return ok(opened.value.message);
}

/**
 * True once more than `limitMs` have passed since `sinceMs` (a null start counts as now: not yet).
 * @param sinceMs start of the wait, ms, or null
 * @param atMs now, ms
 */
export function waitedLonger(sinceMs: number | null, atMs: number, limitMs: number): boolean {
  return atMs - (sinceMs ?? atMs) > limitMs;
}

/** Heartbeat rule: the peer is lost when nothing arrived for more than `heartbeatTimeoutMs`. */
export function peerSilent(s: ChannelSide, atMs: number, heartbeatTimeoutMs: number): boolean {
  return atMs - s.lastRxMs > heartbeatTimeoutMs;
}

/** Heartbeat rule: a ping is due when this side sent nothing for a third of `heartbeatTimeoutMs`. */
export function pingDue(s: ChannelSide, atMs: number, heartbeatTimeoutMs: number): boolean {
  return atMs - s.lastTxMs >= heartbeatTimeoutMs / 3;
}

/**
 * Records a message that is not expected in `phase`.
 * @returns the error message to send back to the peer
 */
export function unexpectedMessage(m: SealedMessage, phase: string, out: Effect[]): ErrorMessage {
  out.push(record('unexpectedMessage', { type: m.type, phase }));
  return { type: 'error', reason: Reason.UNEXPECTED_MESSAGE, text: `${m.type} not expected in ${phase}` };
}

/** Sends a stored clear frame (this side's hello, hex) again, byte for byte. */
export function resendClearFrame(frameHex: string, out: Effect[]): void {
  const parsed = parseFrame(fromHex(frameHex));
  if (parsed.ok && parsed.value.kind === 'clear') {
    out.push({ type: 'send', frame: fromHex(frameHex), message: parsed.value.message });
  }
}

/**
 * Reads a frame of the hello exchange: it must parse and be clear. Anything else is rejected (`rejectFrame`).
 * @param sealedText what to say when a sealed frame arrives instead
 * @returns the clear message, or null when the frame was rejected
 */
export function readClearFrame(bytes: Uint8Array, sealedText: string, out: Effect[]): ClearMessage | null {
  const parsed = parseFrame(bytes);
  if (!parsed.ok) {
    rejectFrame(parsed.error, out);
    return null;
  }
  if (parsed.value.kind !== 'clear') {
    rejectFrame(protocolError('UnexpectedMessage', sealedText), out);
    return null;
  }
  return parsed.value.message;
}

/**
 * Refuses the handshake for want of a common protocol version: sends a clear error listing the versions this
 * side speaks.
 * @param ownVersions versions this side speaks
 * @param wallVersions, vehicleVersions both sides' lists, for the text
 * @returns the error text
 */
export function refuseVersions(
  ownVersions: number[],
  wallVersions: number[],
  vehicleVersions: number[],
  out: Effect[],
): string {
  const text = `no common protocol version: wall [${wallVersions.join(',')}], vehicle [${vehicleVersions.join(',')}]`;
  sendClearError(Reason.VERSION_MISMATCH, ownVersions, text, out);
  return text;
}

/**
 * Sends a clear `clearError` (before any channel exists): a refusal of the handshake or of the session.
 * @param reason the reason code
 * @param ownVersions versions this side speaks
 * @param text why, for the peer's log (cut to 200 characters)
 */
export function sendClearError(reason: ReasonCode, ownVersions: number[], text: string, out: Effect[]): void {
  const message: ClearErrorMessage = {
    type: 'clearError',
    reason,
    versions: ownVersions,
    text: text.slice(0, 200),
  };
  const frame = encodeClearFrame(message);
  if (frame.ok) out.push({ type: 'send', frame: frame.value, message });
}
