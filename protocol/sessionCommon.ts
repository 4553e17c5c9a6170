/**
 * Helpers shared by the seller and buyer machines: sealing and sending, rejecting frames, building meter
 * messages and end-of-session effects. One module serves both machines.
 */
import type { ChannelState } from './channel.js';
import { sealMessage } from './channel.js';
import type { Effect, MeterEvent, RecordValue, SessionSummary } from './effects.js';
import type { ProtocolError } from './errors.js';
import type { MeterMessage, ReceiptMessage, SealedMessage } from './messages.js';
import { reasonName, Reason, type ReasonCode } from './reasons.js';

/**
 * Seals `message` on `channel` and appends a `send` effect.
 * @returns the advanced channel (unchanged if sealing failed; a `record` effect then says why)
 */
export function sendSealed(channel: ChannelState, message: SealedMessage, out: Effect[]): ChannelState {
  const sealed = sealMessage(channel, message);
  if (!sealed.ok) {
    out.push(
      record('sendFailed', { type: message.type, error: sealed.error.name, message: sealed.error.message }),
    );
    return channel;
  }
  out.push({ type: 'send', frame: sealed.value.frame, message });
  return sealed.value.channel;
}

/** A `record` effect. */
export function record(kind: string, data: Record<string, RecordValue>): Effect {
  return { type: 'record', kind, data };
}

/** Effects for a frame that was rejected: a record and an alarm (tampering, replay, foreign session...). */
export function rejectFrame(error: ProtocolError, out: Effect[]): void {
  out.push(record('frameRejected', { error: error.name, message: error.message }));
  out.push({ type: 'alarm', reason: Reason.MALFORMED_MESSAGE, message: `${error.name}: ${error.message}` });
}

function clampU32(v: number): number {
  return Number.isFinite(v) ? Math.max(0, Math.min(0xffffffff, Math.round(v))) : 0;
}

/**
 * Meter message for a reading.
 * @param ev the meter event (register Wh, W, V, A, ms)
 * @param sessionWh energy since the session start, Wh
 */
export function meterMessage(ev: MeterEvent, sessionWh: number): MeterMessage {
  return {
    type: 'meter',
    energyWh: clampU32(sessionWh),
    registerWh: Math.max(0, Math.floor(ev.energyWh)),
    powerW: clampU32(ev.powerW),
    voltageMv: clampU32(ev.voltageV * 1000),
    currentMa: clampU32(ev.currentA * 1000),
    atMs: Math.max(0, Math.floor(ev.atMs)),
  };
}

/** True when a meter event's fields are usable numbers (energy a finite non-negative number). */
export function meterEventValid(ev: MeterEvent): boolean {
  return (
    Number.isFinite(ev.energyWh) &&
    ev.energyWh >= 0 &&
    ev.energyWh <= Number.MAX_SAFE_INTEGER &&
    Number.isFinite(ev.powerW) &&
    Number.isFinite(ev.voltageV) &&
    Number.isFinite(ev.currentA)
  );
}

/** The `sessionEnded` effect. */
export function sessionEnded(
  reason: ReasonCode,
  summary: SessionSummary,
  outcome: { receipt: ReceiptMessage; error?: string } | { error: string },
): Effect {
  return { type: 'sessionEnded', reason, reasonName: reasonName(reason), summary, ...outcome };
}

/** Decimal string of a bigint, for record entries. */
export function msat(v: bigint): string {
  return v.toString();
}
