/**
 * How a walk-up step writes its output (issue 12): ledger records, replies and alarms, the node-call intents
 * written ahead on hold invoices, the page view, and the end of a session with its receipt data. Shared by
 * the machine (`walkup.ts`) and its refund half (`walkup-refund.ts`).
 */
import type { WalkupConfig } from './walkup-config.js';
import {
  WALKUP_SCHEMA_VERSION,
  type HoldInvoice,
  type Refund,
  type WalkupEffect,
  type WalkupEndReason,
  type WalkupReceipt,
  type WalkupRecord,
  type WalkupRecordValue,
  type WalkupRefusalName,
  type WalkupSession,
  type WalkupState,
  type WalkupView,
} from './walkup-state.js';

/** Shorthand for the machine state. */
export type S = WalkupState;
/** A state with a session under way (neither idle nor ended). */
export type Active = Exclude<S, { phase: 'idle' } | { phase: 'ended' }>;

/** Output of a step under construction. */
export interface Out {
  atMs: number;
  effects: WalkupEffect[];
  records: WalkupRecord[];
}

/** Decimal string of an amount, for records. */
export function msat(v: bigint): string {
  return v.toString();
}

/**
 * A bounded text for records and alarms from a field of a hostile event (any type, never throws).
 * @param maxChars longest text kept
 */
export function text(v: unknown, maxChars = 200): string {
  if (typeof v === 'string') return v.slice(0, maxChars);
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean')
    return `${v}`.slice(0, maxChars);
  return `<${v === null ? 'null' : typeof v}>`;
}

/** The session of a state (null when idle). */
export function sessionOf(s: S): WalkupSession | null {
  return s.phase === 'idle' ? null : s.session;
}

/** Appends a ledger record for the state's session at the step's time. */
export function rec(s: S, o: Out, kind: string, data: Record<string, WalkupRecordValue>): void {
  o.records.push({ kind, sessionId: sessionOf(s)?.sessionId ?? null, atMs: o.atMs, data });
}

/** Answers request `requestId` with a named refusal. */
export function refuse(o: Out, requestId: string, name: WalkupRefusalName, message: string): void {
  o.effects.push({ type: 'reply', requestId, reply: { kind: 'refused', refusal: { name, message } } });
}

/** Raises an alarm for the host. */
export function alarm(o: Out, message: string): void {
  o.effects.push({ type: 'alarm', message });
}

/** The session's hold invoice with this payment hash (any case), or null. */
export function invoiceOf(session: WalkupSession, paymentHash: string): HoldInvoice | null {
  const h = typeof paymentHash === 'string' ? paymentHash.toLowerCase() : '';
  if (session.deposit.paymentHash === h) return session.deposit;
  if (session.final !== null && session.final.paymentHash === h) return session.final;
  return null;
}

/** Emits the node call for an invoice's written-ahead intent (create, settle or cancel); nothing otherwise. */
export function emitIntent(inv: HoldInvoice, o: Out, c: WalkupConfig): void {
  if (inv.status === 'settling')
    o.effects.push({ type: 'settleHoldInvoice', paymentHash: inv.paymentHash, preimageHex: inv.preimageHex });
  else if (inv.status === 'cancelling')
    o.effects.push({ type: 'cancelHoldInvoice', paymentHash: inv.paymentHash });
  else if (inv.status === 'creating') {
    const expiryMs = inv.purpose === 'deposit' ? c.quoteTimeoutMs : c.finalInvoiceTimeoutMs;
    o.effects.push({
      type: 'createHoldInvoice',
      purpose: inv.purpose,
      paymentHash: inv.paymentHash,
      amountMsat: inv.amountMsat,
      expirySec: Math.ceil(expiryMs / 1000),
      memo: inv.purpose === 'deposit' ? 'boltcharge walk-up deposit' : 'boltcharge walk-up energy',
      descriptionHashHex: inv.descriptionHashHex,
    });
  }
}

/** Writes ahead the intent to cancel `inv` (if it may still be paid) and emits the call. */
export function cancelInvoice(s: S, inv: HoldInvoice, o: Out, c: WalkupConfig): void {
  if (inv.status !== 'creating' && inv.status !== 'open' && inv.status !== 'held') return;
  inv.status = 'cancelling';
  inv.retryAtMs = null;
  rec(s, o, 'cancelRequested', { purpose: inv.purpose, paymentHash: inv.paymentHash });
  emitIntent(inv, o, c);
}

/** Writes ahead the intent to settle a held `inv` and emits the call. */
export function settleInvoice(s: S, inv: HoldInvoice, o: Out, c: WalkupConfig): void {
  if (inv.status !== 'held') return;
  inv.status = 'settling';
  inv.retryAtMs = null;
  rec(s, o, 'settleRequested', { purpose: inv.purpose, paymentHash: inv.paymentHash });
  emitIntent(inv, o, c);
}

/** A hold invoice about to be created (intent `creating`). */
export function newInvoice(
  purpose: 'deposit' | 'final',
  paymentHash: string,
  preimageHex: string,
  amountMsat: bigint,
  descriptionHashHex: string | null = null,
): HoldInvoice {
  return {
    purpose,
    paymentHash,
    preimageHex,
    amountMsat,
    status: 'creating',
    bolt11: null,
    heldMsat: null,
    htlcExpiryMs: null,
    settledMsat: null,
    retryAtMs: null,
    descriptionHashHex,
  };
}

/** What the charger page shows for a state. */
export function view(s: S): WalkupView {
  const session = sessionOf(s);
  const deadlineMs =
    s.phase === 'awaitingDeposit'
      ? s.quoteDeadlineMs
      : s.phase === 'awaitingFinal'
        ? s.finalDeadlineMs
        : s.phase === 'refundOpen'
          ? s.refund.expiresAtMs
          : null;
  const refund =
    s.phase === 'refundOpen' || s.phase === 'refundClaimed' || s.phase === 'ended' ? s.refund : null;
  return {
    phase: s.phase,
    sessionId: session?.sessionId ?? null,
    priceMsatPerWh: session?.priceMsatPerWh ?? null,
    depositMsat: session?.deposit.heldMsat ?? session?.deposit.amountMsat ?? null,
    deliveredWh: session?.deliveredWh ?? 0,
    costMsat: session?.costMsat ?? null,
    finalBolt11: s.phase === 'awaitingFinal' ? (s.session.final?.bolt11 ?? null) : null,
    deadlineMs,
    refundMsat: refund?.amountMsat ?? null,
    stopReason: session?.stopReason ?? null,
    endReason: s.phase === 'ended' || s.phase === 'closing' ? s.endReason : null,
  };
}

/** Sum the node settled for the session (deposit and final), msat. */
export function settledTotal(session: WalkupSession): bigint {
  let total = 0n;
  for (const inv of [session.deposit, session.final])
    if (inv?.status === 'settled') total += inv.settledMsat ?? 0n;
  return total;
}

/**
 * Ends a session: phase `ended`, a `sessionEnded` record and the `endSession` effect with the receipt data
 * (energy, price, deposit and final hashes, preimages of what was settled, cost, settled, refund, dust kept).
 * @param refund the refund of a walk-away (claimed or expired), else null
 * @returns the ended state
 */
export function end(s: Active, reason: WalkupEndReason, o: Out, c: WalkupConfig, refund: Refund | null): S {
  const session = s.session;
  const d = session.deposit;
  const f = session.final;
  const next: S = {
    schemaVersion: WALKUP_SCHEMA_VERSION,
    phase: 'ended',
    session,
    refund,
    endReason: reason,
  };
  const receipt: WalkupReceipt = {
    sessionId: session.sessionId,
    endReason: reason,
    stopReason: session.stopReason,
    network: c.network,
    startMs: session.startMs,
    endMs: o.atMs,
    energyWh: session.deliveredWh,
    priceMsatPerWh: session.priceMsatPerWh,
    depositMsat: d.heldMsat ?? 0n,
    depositPaymentHash: d.paymentHash,
    depositOutcome: d.status === 'settled' ? 'settled' : d.heldMsat !== null ? 'cancelled' : 'none',
    depositPreimageHex: d.status === 'settled' ? d.preimageHex : null,
    finalPaymentHash: f?.paymentHash ?? null,
    finalPreimageHex: f?.status === 'settled' ? f.preimageHex : null,
    costMsat: session.costMsat ?? 0n,
    settledMsat: settledTotal(session),
    refundPaidMsat: session.refundPaidMsat,
    refundFeeMsat: session.refundFeeMsat,
    forfeitedMsat: session.forfeitedMsat,
  };
  rec(next, o, 'sessionEnded', {
    reason,
    energyWh: session.deliveredWh,
    costMsat: msat(receipt.costMsat),
    settledMsat: msat(receipt.settledMsat),
    refundPaidMsat: msat(session.refundPaidMsat),
    forfeitedMsat: msat(session.forfeitedMsat),
  });
  o.effects.push({ type: 'endSession', receipt });
  return next;
}
