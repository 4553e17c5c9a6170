/**
 * Helpers shared by the seller and buyer machines: sealing and sending, rejecting frames, meter readings and
 * reports, checking the own node's signature, ending a session, and the pure step wrapper. One module serves
 * both machines.
 */
import type { ChannelState } from './channel.js';
import { sealMessage } from './channel.js';
import type { Effect, MeterEvent, RecordValue, SessionSummary, Step } from './effects.js';
import type { Delegation } from './delegation.js';
import { fail, ok, type ProtocolError, type Result } from './errors.js';
import type { MeterMessage, ReceiptMessage, SealedMessage, StopMessage } from './messages.js';
import { normaliseSignature, verifyNodeSignature } from './nodeSignature.js';
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

/**
 * How a session ended: a receipt (with the delegation it was verified under, buyer side, when the wall announced
 * one; see the `sessionEnded` effect) and maybe an error, or only an error saying why there is no receipt.
 */
export type SessionOutcome =
  { receipt: ReceiptMessage; delegation?: Delegation; error?: string } | { error: string };

/** The `sessionEnded` effect. */
export function sessionEnded(reason: ReasonCode, summary: SessionSummary, outcome: SessionOutcome): Effect {
  return { type: 'sessionEnded', reason, reasonName: reasonName(reason), summary, ...outcome };
}

/** Decimal string of a bigint, for record entries. */
export function msat(v: bigint): string {
  return v.toString();
}

/**
 * Checks a signature this side's own node returned for `text`: it must verify against the configured node
 * key and normalise to the 65-byte form.
 * @param nodePubkey the configured node key, hex
 * @returns the normalised signature (hex), or why verification failed ('' when it verified but did not
 *   normalise)
 */
export function checkOwnNodeSignature(
  text: string,
  signature: string,
  nodePubkey: string,
): Result<string, string> {
  const verified = verifyNodeSignature(text, signature, nodePubkey);
  const normalised = normaliseSignature(signature);
  if (!verified.ok || !normalised.ok) return fail(verified.ok ? '' : verified.error.message);
  return ok(normalised.value);
}

/**
 * Appends the ended session's ledger record and the `sessionEnded` effect. The machine builds its `ended`
 * state itself (each machine's state is a union by phase).
 * @param s the session's id and what was paid, msat
 * @param summary this side's summary of the session
 */
export function finishSession(
  s: { sessionId: string | null; paidMsat: bigint },
  reason: ReasonCode,
  summary: SessionSummary,
  out: Effect[],
  outcome: SessionOutcome,
): void {
  out.push(
    record('sessionEnded', {
      sessionId: s.sessionId,
      reason: reasonName(reason),
      paidMsat: msat(s.paidMsat),
    }),
  );
  out.push(sessionEnded(reason, summary, outcome));
}

/** The outcome of a session that closed before both sides were authenticated: no receipt, an error. */
export function endedBeforeAuthentication(reason: ReasonCode): { error: string } {
  return { error: `session ended before authentication: ${reasonName(reason)}` };
}

/** The stop message for `reason` (text: the reason's name). */
export function stopMessage(reason: ReasonCode): StopMessage {
  return { type: 'stop', reason, text: reasonName(reason) };
}

/** True when no session is under way (never plugged, or over): plug starts one, frames and meters are moot. */
export function idleOrEnded(phase: string): boolean {
  return phase === 'idle' || phase === 'ended';
}

/**
 * A plug event is taken only between sessions; during one it is recorded as ignored.
 * @returns whether the plug starts a session
 */
export function plugStartsSession(phase: string, out: Effect[]): boolean {
  if (idleOrEnded(phase)) return true;
  out.push(record('plugIgnored', { phase }));
  return false;
}

/** True while a session is under way and not yet closing: a stop request has something to close. */
export function stoppable(phase: string): boolean {
  return !idleOrEnded(phase) && phase !== 'closing';
}

/**
 * Takes a meter reading into the session: sets the start register on the first reading.
 * @param previousWh session energy so far, Wh
 * @returns session energy after the reading (register advance since the start, never decreasing), Wh
 */
export function sessionEnergyWh(
  s: { startRegisterWh: number | null },
  ev: MeterEvent,
  previousWh: number,
): number {
  if (s.startRegisterWh === null) s.startRegisterWh = Math.floor(ev.energyWh);
  return Math.max(previousWh, Math.floor(ev.energyWh) - s.startRegisterWh);
}

/**
 * The meter report to send the peer for a reading, at most one per `intervalMs`; notes it as sent.
 * @param sessionWh this side's session energy, Wh
 * @returns the meter message, or null when the last report is too recent
 */
export function dueMeterReport(
  s: { lastMeterSentMs: number | null },
  ev: MeterEvent,
  sessionWh: number,
  intervalMs: number,
): MeterMessage | null {
  if (s.lastMeterSentMs !== null && ev.atMs - s.lastMeterSentMs < intervalMs) return null;
  s.lastMeterSentMs = ev.atMs;
  return meterMessage(ev, sessionWh);
}

/** Checks a meter event; an unusable one raises an EQUIPMENT_FAULT alarm. @returns whether it is usable */
export function acceptMeterEvent(ev: MeterEvent, out: Effect[]): boolean {
  if (meterEventValid(ev)) return true;
  out.push({ type: 'alarm', reason: Reason.EQUIPMENT_FAULT, message: 'invalid meter reading' });
  return false;
}

/**
 * One pure step of a session machine: `handle` works on a deep copy, so the caller's state is not modified.
 * @returns the next state and the effects to execute in order
 */
export function pureStep<S, E>(state: S, event: E, handle: (s: S, ev: E, out: Effect[]) => S): Step<S> {
  const out: Effect[] = [];
  const s = structuredClone(state);
  const next = handle(s, event, out);
  return { state: next, effects: out };
}
