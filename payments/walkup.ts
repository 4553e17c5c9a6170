/**
 * The walk-up session machine (issue 12): a driver with a phone wallet pays a hold-invoice deposit, charges,
 * and pays only the metered energy. Pure: `walkupStep(state, event, config) → { state, effects, records }`.
 *
 * Phases: idle → awaitingDeposit (deposit hold invoice being created / offered) → charging (deposit held,
 * energized; credit = deposit / price) → stopping (power cut, waiting for the final meter reading) →
 * awaitingFinal (a final hold invoice for the exact metered cost) → closing (node calls in flight) → ended,
 * or, on a walk-away with a remainder, refundOpen → refundClaimed → ended.
 *
 * Money rules: cost = min(deliveredWh × price, deposit) (never above what the meter shows); the final invoice
 * is settled only after the deposit was cancelled (Distributed Charge's order: final held → deposit cancelled →
 * final settled); a walk-away settles the deposit before `htlcExpiry − settleMarginMs` and the payer may
 * withdraw deposit − cost (LUD-03, single use, min = max), its secret readable only with the deposit preimage
 * (LUD-10 aes). Every node call is written ahead as an intent status and completed by an event.
 */
import { createHash } from 'node:crypto';
import { fromHex, isHex } from '../protocol/bytes.js';
import { fail, ok, type Result } from '../protocol/errors.js';
import { encryptAesSuccessAction } from './lnurl.js';
import type { WalkupConfig } from './walkup-config.js';
import {
  alarm,
  cancelInvoice,
  emitIntent,
  end,
  invoiceOf,
  msat,
  newInvoice,
  rec,
  refuse,
  sessionOf,
  text,
  settledTotal,
  settleInvoice,
  view,
  type Active,
  type Out,
  type S,
} from './walkup-output.js';
import { emitPayRefund, onPayResult, onRefundClaim } from './walkup-refund.js';
import {
  WALKUP_SCHEMA_VERSION,
  type ClosingPlan,
  type HoldInvoice,
  type NodeInvoiceFact,
  type NodePaymentFact,
  type Refund,
  type WalkupEndReason,
  type WalkupEvent,
  type WalkupRefusalName,
  type WalkupSession,
  type WalkupState,
  type WalkupStep,
  type WalkupStopReason,
  type WalkupView,
} from './walkup-state.js';

/** Longest request id or session id accepted, characters. */
export const WALKUP_ID_MAX_CHARS = 128;

/**
 * A fresh machine, waiting for a deposit request.
 * @returns state in phase `idle`
 */
export function createWalkup(): WalkupState {
  return { schemaVersion: WALKUP_SCHEMA_VERSION, phase: 'idle' };
}

/**
 * True while the walk-up occupies the EVSE (a deposit offered or held, charging, or the final payment open):
 * a vehicle-module handshake must not start a second session then. Refund phases leave the EVSE free.
 */
export function walkupOccupiesEvse(state: WalkupState): boolean {
  return ['awaitingDeposit', 'charging', 'stopping', 'awaitingFinal', 'closing'].includes(state.phase);
}

function sha256Hex(hex: string): string {
  return createHash('sha256').update(fromHex(hex)).digest('hex');
}

const ID_RE = /^[A-Za-z0-9_.:-]{1,128}$/;

function startSession(ev: Extract<WalkupEvent, { type: 'depositRequested' }>, o: Out, c: WalkupConfig): S {
  const idle = createWalkup();
  const bad = (name: WalkupRefusalName, message: string): S => {
    refuse(o, ev.requestId, name, message);
    rec(idle, o, 'depositRefused', {
      refusal: name,
      amountMsat: typeof ev.amountMsat === 'bigint' ? msat(ev.amountMsat) : null,
    });
    return idle;
  };
  if (
    typeof ev.amountMsat !== 'bigint' ||
    ev.amountMsat < c.minDepositMsat ||
    ev.amountMsat > c.maxDepositMsat
  )
    return bad('DepositOutOfRange', `deposit must be ${c.minDepositMsat}..${c.maxDepositMsat} msat`);
  if (typeof ev.sessionId !== 'string' || !ID_RE.test(ev.sessionId))
    return bad('RequestInvalid', 'session id: 1..128 characters [A-Za-z0-9_.:-]');
  const hex32 = [ev.depositPreimageHex, ev.finalPreimageHex, ev.withdrawSecretHex];
  if (
    !hex32.every((h) => typeof h === 'string' && isHex(h, 32)) ||
    typeof ev.ivHex !== 'string' ||
    !isHex(ev.ivHex, 16)
  )
    return bad('EntropyInvalid', 'preimages and secret must be 32 bytes hex, iv 16 bytes hex');
  if (new Set(hex32.map((h) => h.toLowerCase())).size !== 3)
    return bad('EntropyInvalid', 'secrets must differ');
  const dh = ev.descriptionHashHex;
  if (dh !== undefined && (typeof dh !== 'string' || !isHex(dh, 32)))
    return bad('RequestInvalid', 'description hash must be 32 bytes hex');
  const withdrawSecretHex = ev.withdrawSecretHex.toLowerCase();
  const action = encryptAesSuccessAction(
    fromHex(ev.depositPreimageHex),
    fromHex(ev.ivHex),
    c.refundLinkPrefix + withdrawSecretHex,
    c.refundDescription,
  );
  if (!action.ok) return bad('EntropyInvalid', action.error.message);
  const deposit = newInvoice(
    'deposit',
    sha256Hex(ev.depositPreimageHex),
    ev.depositPreimageHex.toLowerCase(),
    ev.amountMsat,
    dh?.toLowerCase() ?? null,
  );
  const session: WalkupSession = {
    sessionId: ev.sessionId,
    startMs: ev.atMs,
    priceMsatPerWh: c.priceMsatPerWh,
    graceWh: c.graceWh,
    deposit,
    finalPaymentHash: sha256Hex(ev.finalPreimageHex),
    finalPreimageHex: ev.finalPreimageHex.toLowerCase(),
    final: null,
    withdrawSecretHex,
    successAction: action.value,
    energized: false,
    startRegisterWh: null,
    lastRegisterWh: null,
    deliveredWh: 0,
    settleByMs: null,
    stopReason: null,
    stoppedAtMs: null,
    costMsat: null,
    forfeitedMsat: 0n,
    refundPaidMsat: 0n,
    refundFeeMsat: 0n,
  };
  const next: S = {
    schemaVersion: WALKUP_SCHEMA_VERSION,
    phase: 'awaitingDeposit',
    session,
    requestId: ev.requestId,
    quoteDeadlineMs: ev.atMs + c.quoteTimeoutMs,
  };
  rec(next, o, 'depositRequested', {
    paymentHash: deposit.paymentHash,
    amountMsat: msat(ev.amountMsat),
    priceMsatPerWh: msat(c.priceMsatPerWh),
  });
  emitIntent(deposit, o, c);
  return next;
}

/** Cuts power (if on) and waits for the final meter reading. */
function stop(s: Extract<S, { phase: 'charging' }>, reason: WalkupStopReason, o: Out, c: WalkupConfig): S {
  const session = s.session;
  if (session.energized) {
    session.energized = false;
    o.effects.push({ type: 'cutPower', reason });
  }
  session.stopReason = reason;
  session.stoppedAtMs = o.atMs;
  rec(s, o, 'stopped', { reason, deliveredWh: session.deliveredWh });
  const next: S = { ...s, phase: 'stopping', meterDeadlineMs: o.atMs + c.finalMeterTimeoutMs };
  return c.finalMeterTimeoutMs === 0 ? finishMetering(next, o, c) : next;
}

function closing(s: Active, plan: ClosingPlan, endReason: WalkupEndReason): S {
  return { schemaVersion: WALKUP_SCHEMA_VERSION, phase: 'closing', session: s.session, plan, endReason };
}

/** Metering is final: cost = min(delivered × price, deposit held); choose how to close. */
function finishMetering(s: Extract<S, { phase: 'stopping' }>, o: Out, c: WalkupConfig): S {
  const session = s.session;
  const d = session.deposit;
  const heldMsat = d.heldMsat ?? 0n;
  const metered = BigInt(session.deliveredWh) * session.priceMsatPerWh;
  const cost = metered < heldMsat ? metered : heldMsat;
  session.costMsat = cost;
  rec(s, o, 'metered', { energyWh: session.deliveredWh, costMsat: msat(cost), depositMsat: msat(heldMsat) });
  const depositLive = d.status === 'held';
  if (cost < c.minInvoiceMsat) {
    if (!depositLive) return end(s, 'NOTHING_DUE', o, c, null);
    cancelInvoice(s, d, o, c);
    return closing(s, 'cancelDeposit', 'NOTHING_DUE');
  }
  if (depositLive && cost === heldMsat) {
    settleInvoice(s, d, o, c);
    return closing(s, 'settleDeposit', 'FINAL_PAID');
  }
  if (depositLive && session.settleByMs !== null && o.atMs >= session.settleByMs) {
    // no time left for a final invoice: the deposit must be settled now; the rest becomes a refund
    return walkAway(s, o, c);
  }
  const final = newInvoice('final', session.finalPaymentHash, session.finalPreimageHex, cost);
  session.final = final;
  rec(s, o, 'finalRequested', { paymentHash: final.paymentHash, amountMsat: msat(cost) });
  emitIntent(final, o, c);
  return {
    schemaVersion: WALKUP_SCHEMA_VERSION,
    phase: 'awaitingFinal',
    session,
    finalDeadlineMs: o.atMs + c.finalInvoiceTimeoutMs,
  };
}

/** The final was not paid in time: cancel it, settle the deposit (a refund of the rest follows). */
function walkAway(s: Active, o: Out, c: WalkupConfig): S {
  const session = s.session;
  if (session.final !== null) cancelInvoice(s, session.final, o, c);
  const d = session.deposit;
  rec(s, o, 'walkedAway', { costMsat: msat(session.costMsat ?? 0n), depositStatus: d.status });
  if (d.status !== 'held') {
    alarm(o, `walk-up ${session.sessionId}: deposit ${d.status} before the final was paid`);
    return closing(s, 'walkAway', 'UNPAID');
  }
  settleInvoice(s, d, o, c);
  return closing(s, 'walkAway', 'WALKED_AWAY');
}

const TERMINAL = new Set(['settled', 'cancelled']);

/** Moves a closing session on as its node calls complete. */
function advance(s: S, o: Out, c: WalkupConfig): S {
  if (s.phase !== 'closing') return s;
  const d = s.session.deposit;
  const f = s.session.final;
  switch (s.plan) {
    case 'cancelDeposit':
      return TERMINAL.has(d.status)
        ? end(s, d.status === 'settled' ? 'FINAL_PAID' : s.endReason, o, c, null)
        : s;
    case 'settleDeposit':
      return TERMINAL.has(d.status)
        ? end(s, d.status === 'settled' ? 'FINAL_PAID' : 'UNPAID', o, c, null)
        : s;
    case 'final':
      if (f === null) return s;
      if (d.status === 'cancelled' && f.status === 'held') settleInvoice(s, f, o, c);
      if (TERMINAL.has(d.status) && TERMINAL.has(f.status))
        return end(s, f.status === 'settled' ? 'FINAL_PAID' : 'UNPAID', o, c, null);
      return s;
    case 'walkAway': {
      if (!TERMINAL.has(d.status) || (f !== null && !TERMINAL.has(f.status))) return s;
      if (d.status !== 'settled')
        return end(s, settledTotal(s.session) > 0n ? 'FINAL_PAID' : 'UNPAID', o, c, null);
      const cost = s.session.costMsat ?? 0n;
      const remainder = settledTotal(s.session) - cost;
      if (remainder < c.minRefundMsat) {
        s.session.forfeitedMsat = remainder > 0n ? remainder : 0n;
        return end(s, 'WALKED_AWAY', o, c, null);
      }
      const refund: Refund = {
        amountMsat: remainder,
        withdrawSecretHex: s.session.withdrawSecretHex,
        openedAtMs: o.atMs,
        expiresAtMs: o.atMs + c.refundValidityMs,
        claim: null,
        failedAttempts: 0,
      };
      const next: S = {
        schemaVersion: WALKUP_SCHEMA_VERSION,
        phase: 'refundOpen',
        session: s.session,
        refund,
      };
      rec(next, o, 'refundOpened', { amountMsat: msat(remainder), expiresAtMs: refund.expiresAtMs });
      return next;
    }
  }
}

function onCreated(s: S, paymentHash: string, bolt11: string, o: Out): S {
  const session = sessionOf(s);
  const inv = session === null ? null : invoiceOf(session, paymentHash);
  if (inv === null) {
    rec(s, o, 'unknownInvoice', { event: 'holdInvoiceCreated', paymentHash: text(paymentHash) });
    return s;
  }
  if (typeof bolt11 === 'string' && bolt11.length <= 4096) inv.bolt11 = bolt11;
  if (inv.status === 'cancelled') {
    // created after it was given up (its cancel met no invoice): cancel it again so it cannot be paid
    rec(s, o, 'lateInvoiceCancelled', { purpose: inv.purpose, paymentHash: inv.paymentHash });
    o.effects.push({ type: 'cancelHoldInvoice', paymentHash: inv.paymentHash });
    return s;
  }
  if (inv.status !== 'creating') return s;
  inv.status = 'open';
  inv.retryAtMs = null;
  rec(s, o, 'invoiceCreated', {
    purpose: inv.purpose,
    paymentHash: inv.paymentHash,
    amountMsat: msat(inv.amountMsat),
  });
  if (inv.purpose === 'deposit' && s.phase === 'awaitingDeposit') {
    o.effects.push({
      type: 'reply',
      requestId: s.requestId,
      reply: {
        kind: 'depositInvoice',
        bolt11: inv.bolt11 ?? '',
        paymentHash: inv.paymentHash,
        successAction: s.session.successAction,
      },
    });
  }
  return s;
}

function onCreateFailed(s: S, paymentHash: string, error: string, o: Out, c: WalkupConfig): S {
  const session = sessionOf(s);
  const inv = session === null ? null : invoiceOf(session, paymentHash);
  if (inv === null || s.phase === 'idle' || s.phase === 'ended') return s;
  if (inv.status === 'cancelling') {
    inv.status = 'cancelled';
    rec(s, o, 'invoiceCancelled', { purpose: inv.purpose, paymentHash: inv.paymentHash, never: true });
    return s;
  }
  if (inv.status !== 'creating') return s;
  if (inv.purpose === 'deposit' && s.phase === 'awaitingDeposit') {
    inv.status = 'cancelled';
    refuse(o, s.requestId, 'WalkupBusy', 'the charger could not create an invoice, try again');
    alarm(o, `walk-up deposit invoice not created: ${text(error)}`);
    return end(s, 'DEPOSIT_INVOICE_FAILED', o, c, null);
  }
  inv.retryAtMs = o.atMs + c.nodeRetryMs;
  rec(s, o, 'nodeCallFailed', {
    call: 'create',
    paymentHash: inv.paymentHash,
    error: text(error),
  });
  return s;
}

function onHeld(
  s: S,
  paymentHash: string,
  amountMsat: bigint,
  htlcExpiryMs: number,
  o: Out,
  c: WalkupConfig,
): S {
  const session = sessionOf(s);
  const inv = session === null ? null : invoiceOf(session, paymentHash);
  if (inv === null || session === null || s.phase === 'idle') {
    rec(s, o, 'heldIgnored', { paymentHash: text(paymentHash), phase: s.phase });
    return s;
  }
  if (
    inv.status === 'held' &&
    inv.purpose === 'deposit' &&
    session.settleByMs !== null &&
    Number.isSafeInteger(htlcExpiryMs) &&
    htlcExpiryMs - c.settleMarginMs < session.settleByMs
  ) {
    // a fresh look at the chain (blocks came faster than assumed): the deadline moves forward, never back
    session.settleByMs = htlcExpiryMs - c.settleMarginMs;
    inv.htlcExpiryMs = htlcExpiryMs;
    rec(s, o, 'settleByAdvanced', { paymentHash: inv.paymentHash, settleByMs: session.settleByMs });
    return s;
  }
  if ((inv.status !== 'creating' && inv.status !== 'open') || s.phase === 'ended') {
    rec(s, o, 'heldIgnored', { paymentHash: inv.paymentHash, status: inv.status });
    // an HTLC held on an invoice already given up: release it at once rather than at its expiry
    if (inv.status === 'cancelled')
      o.effects.push({ type: 'cancelHoldInvoice', paymentHash: inv.paymentHash });
    return s;
  }
  const amountOk = typeof amountMsat === 'bigint' && amountMsat >= inv.amountMsat;
  const expiry = Number.isSafeInteger(htlcExpiryMs) ? htlcExpiryMs : o.atMs;
  inv.status = 'held';
  inv.heldMsat = amountOk ? amountMsat : inv.amountMsat;
  inv.htlcExpiryMs = expiry;
  rec(s, o, inv.purpose === 'deposit' ? 'depositHeld' : 'finalHeld', {
    paymentHash: inv.paymentHash,
    amountMsat: typeof amountMsat === 'bigint' ? msat(amountMsat) : null,
    htlcExpiryMs: expiry,
  });
  if (inv.purpose === 'deposit') {
    if (s.phase !== 'awaitingDeposit') return s;
    const settleByMs = expiry - c.settleMarginMs;
    if (!amountOk || settleByMs <= o.atMs) {
      alarm(
        o,
        `walk-up deposit refused: ${amountOk ? 'HTLC expires too soon' : 'held for less than invoiced'}`,
      );
      inv.heldMsat = null;
      cancelInvoice(s, inv, o, c);
      return closing(s, 'cancelDeposit', 'DEPOSIT_REFUSED');
    }
    session.settleByMs = settleByMs;
    session.energized = true;
    session.startRegisterWh = session.lastRegisterWh;
    o.effects.push({ type: 'energize' });
    rec(s, o, 'energized', { creditWh: Number(inv.heldMsat / session.priceMsatPerWh), settleByMs });
    return { schemaVersion: WALKUP_SCHEMA_VERSION, phase: 'charging', session };
  }
  if (s.phase !== 'awaitingFinal') return s;
  if (!amountOk) {
    alarm(o, 'walk-up final invoice held for less than invoiced');
    return s;
  }
  if (session.deposit.status === 'held') {
    cancelInvoice(s, session.deposit, o, c);
    return closing(s, 'final', 'FINAL_PAID');
  }
  settleInvoice(s, inv, o, c);
  return closing(s, 'final', 'FINAL_PAID');
}

function onSettled(s: S, paymentHash: string, amountMsat: bigint, o: Out): S {
  const session = sessionOf(s);
  const inv = session === null ? null : invoiceOf(session, paymentHash);
  if (inv === null || inv.status === 'settled') {
    rec(s, o, 'settledIgnored', { paymentHash: text(paymentHash) });
    return s;
  }
  if (inv.status !== 'settling') alarm(o, `walk-up invoice ${inv.paymentHash} settled while ${inv.status}`);
  inv.status = 'settled';
  inv.retryAtMs = null;
  inv.settledMsat = typeof amountMsat === 'bigint' ? amountMsat : (inv.heldMsat ?? inv.amountMsat);
  rec(s, o, 'invoiceSettled', {
    purpose: inv.purpose,
    paymentHash: inv.paymentHash,
    amountMsat: msat(inv.settledMsat),
  });
  return s;
}

function onCancelled(s: S, paymentHash: string, o: Out, c: WalkupConfig): S {
  const session = sessionOf(s);
  const inv = session === null ? null : invoiceOf(session, paymentHash);
  if (inv === null || session === null || inv.status === 'cancelled' || inv.status === 'settled') {
    rec(s, o, 'cancelledIgnored', { paymentHash: text(paymentHash) });
    return s;
  }
  const byNode = inv.status !== 'cancelling';
  const wasHeld = inv.status === 'held' || inv.status === 'settling';
  inv.status = 'cancelled';
  inv.retryAtMs = null;
  rec(s, o, 'invoiceCancelled', {
    purpose: inv.purpose,
    paymentHash: inv.paymentHash,
    amountMsat: msat(inv.heldMsat ?? 0n),
    byNode,
  });
  if (!byNode) return s;
  if (wasHeld) alarm(o, `walk-up ${inv.purpose} HTLC cancelled by the node (expiry?)`);
  if (inv.purpose === 'deposit' && s.phase === 'awaitingDeposit')
    return end(s, 'DEPOSIT_NOT_PAID', o, c, null);
  if (inv.purpose === 'deposit' && s.phase === 'charging') return stop(s, 'DEPOSIT_LOST', o, c);
  if (inv.purpose === 'final' && s.phase === 'awaitingFinal') return walkAway(s, o, c);
  return s;
}

function onRetry(inv: HoldInvoice | null, error: string, s: S, o: Out, c: WalkupConfig): void {
  if (inv === null || (inv.status !== 'settling' && inv.status !== 'cancelling')) return;
  inv.retryAtMs = o.atMs + c.nodeRetryMs;
  rec(s, o, 'nodeCallFailed', {
    paymentHash: inv.paymentHash,
    status: inv.status,
    error: text(error),
  });
}

function onMeter(s: S, energyWh: number, o: Out, c: WalkupConfig): S {
  const session = sessionOf(s);
  if (session === null || s.phase === 'ended' || s.phase === 'refundOpen' || s.phase === 'refundClaimed')
    return s;
  if (
    typeof energyWh !== 'number' ||
    !Number.isFinite(energyWh) ||
    energyWh < 0 ||
    energyWh > Number.MAX_SAFE_INTEGER
  ) {
    alarm(o, 'invalid meter reading');
    return s.phase === 'charging' ? stop(s, 'EQUIPMENT_FAULT', o, c) : s;
  }
  const reg = Math.floor(energyWh);
  if (session.lastRegisterWh !== null && reg < session.lastRegisterWh) {
    alarm(o, `meter register went back from ${session.lastRegisterWh} to ${reg} Wh`);
    return s.phase === 'charging' ? stop(s, 'EQUIPMENT_FAULT', o, c) : s;
  }
  session.lastRegisterWh = reg;
  if (s.phase !== 'charging' && s.phase !== 'stopping') return s;
  if (session.startRegisterWh === null) session.startRegisterWh = reg;
  session.deliveredWh = Math.max(session.deliveredWh, reg - session.startRegisterWh);
  if (s.phase === 'stopping') return finishMetering(s, o, c);
  const deposit = session.deposit.heldMsat ?? 0n;
  const costMsat = BigInt(session.deliveredWh) * session.priceMsatPerWh;
  if (costMsat >= deposit - BigInt(session.graceWh) * session.priceMsatPerWh)
    return stop(s, 'CREDIT_EXHAUSTED', o, c);
  return s;
}

/** Gives up a deposit that was never held: cancel its invoice (a payment racing in is cancelled too). */
function abandonDeposit(
  s: Extract<S, { phase: 'awaitingDeposit' }>,
  why: string,
  o: Out,
  c: WalkupConfig,
): S {
  rec(s, o, 'depositAbandoned', { why, paymentHash: s.session.deposit.paymentHash });
  cancelInvoice(s, s.session.deposit, o, c);
  return closing(s, 'cancelDeposit', 'DEPOSIT_NOT_PAID');
}

function stopRequest(s: S, reason: WalkupStopReason, o: Out, c: WalkupConfig): S {
  if (s.phase === 'charging') return stop(s, reason, o, c);
  if (s.phase === 'awaitingDeposit') return abandonDeposit(s, reason, o, c);
  return s;
}

function onTick(s: S, o: Out, c: WalkupConfig): S {
  const session = sessionOf(s);
  if (session === null || s.phase === 'ended') return s;
  for (const inv of [session.deposit, session.final]) {
    if (inv !== null && inv.retryAtMs !== null && o.atMs >= inv.retryAtMs) {
      inv.retryAtMs = null;
      emitIntent(inv, o, c);
    }
  }
  switch (s.phase) {
    case 'awaitingDeposit':
      return o.atMs >= s.quoteDeadlineMs ? abandonDeposit(s, 'QUOTE_EXPIRED', o, c) : s;
    case 'charging':
      return session.settleByMs !== null && o.atMs >= session.settleByMs
        ? stop(s, 'DEPOSIT_EXPIRING', o, c)
        : s;
    case 'stopping':
      return o.atMs >= s.meterDeadlineMs || (session.settleByMs !== null && o.atMs >= session.settleByMs)
        ? finishMetering(s, o, c)
        : s;
    case 'awaitingFinal':
      return o.atMs >= s.finalDeadlineMs || (session.settleByMs !== null && o.atMs >= session.settleByMs)
        ? walkAway(s, o, c)
        : s;
    case 'refundOpen':
      if (o.atMs < s.refund.expiresAtMs) return s;
      s.session.forfeitedMsat += s.refund.amountMsat;
      rec(s, o, 'refundExpired', { amountMsat: msat(s.refund.amountMsat) });
      return end(s, 'REFUND_EXPIRED', o, c, s.refund);
    default:
      return s;
  }
}

/** Applies the node's truth after a restart, then re-issues every written-ahead call the node has not done. */
function onRestored(
  s: S,
  invoices: NodeInvoiceFact[],
  payment: NodePaymentFact | null,
  o: Out,
  c: WalkupConfig,
): S {
  const session = sessionOf(s);
  if (session === null) return s;
  rec(s, o, 'restored', { phase: s.phase });
  const pendingBefore = [session.deposit, session.final].filter(
    (i): i is HoldInvoice =>
      i !== null && (i.status === 'creating' || i.status === 'settling' || i.status === 'cancelling'),
  );
  const statusBefore = new Map(pendingBefore.map((i) => [i.paymentHash, i.status]));
  let next = s;
  const INVOICE_STATES = ['open', 'held', 'settled', 'cancelled', 'unknown'];
  const facts = (Array.isArray(invoices) ? invoices.slice(0, 8) : []).filter(
    (f: unknown): f is NodeInvoiceFact =>
      typeof f === 'object' &&
      f !== null &&
      typeof (f as NodeInvoiceFact).paymentHash === 'string' &&
      INVOICE_STATES.includes((f as NodeInvoiceFact).state),
  );
  // deposit first: its outcome decides what the final's means
  facts.sort((a, b) =>
    a.paymentHash === session.deposit.paymentHash
      ? -1
      : b.paymentHash === session.deposit.paymentHash
        ? 1
        : 0,
  );
  for (const f of facts) {
    const cur = sessionOf(next);
    const inv = cur === null ? null : invoiceOf(cur, f.paymentHash);
    if (inv === null) continue;
    const amount = typeof f.amountMsat === 'bigint' ? f.amountMsat : (inv.heldMsat ?? inv.amountMsat);
    if (f.state === 'settled') next = onSettled(next, inv.paymentHash, amount, o);
    else if (f.state === 'cancelled' || (f.state === 'unknown' && inv.status !== 'creating'))
      next = onCancelled(next, inv.paymentHash, o, c);
    else if (f.state === 'held' && (inv.status === 'creating' || inv.status === 'open'))
      next = onHeld(next, inv.paymentHash, amount, f.htlcExpiryMs ?? inv.htlcExpiryMs ?? o.atMs, o, c);
    else if (f.state === 'open' && inv.status === 'creating')
      next = onCreated(next, inv.paymentHash, f.bolt11 ?? '', o);
  }
  next = advance(next, o, c);
  const after = sessionOf(next);
  if (after !== null) {
    for (const inv of [after.deposit, after.final]) {
      if (inv === null || statusBefore.get(inv.paymentHash) !== inv.status) continue;
      const already = o.effects.some((e) => 'paymentHash' in e && e.paymentHash === inv.paymentHash);
      if (!already) emitIntent(inv, o, c);
    }
  }
  if (next.phase === 'charging' && next.session.energized) o.effects.push({ type: 'energize' });
  if (next.phase === 'refundClaimed' && next.refund.claim !== null) {
    const p =
      typeof payment === 'object' &&
      payment !== null &&
      payment.paymentHash === next.refund.claim.paymentHash &&
      ['succeeded', 'failed', 'inFlight', 'unknown'].includes(payment.state)
        ? payment
        : null;
    const state = p?.state ?? 'unknown';
    if (state === 'unknown') emitPayRefund(next.refund, o);
    else {
      const outcome = state === 'succeeded' ? 'succeeded' : state === 'failed' ? 'failed' : 'inDoubt';
      next = onPayResult(
        next,
        {
          type: 'payResult',
          atMs: o.atMs,
          paymentHash: next.refund.claim.paymentHash,
          outcome,
          feeMsat: p?.feeMsat,
        },
        o,
        c,
      );
    }
  }
  return next;
}

function handle(s: S, ev: WalkupEvent, o: Out, c: WalkupConfig): S {
  switch (ev.type) {
    case 'depositRequested':
      if (s.phase === 'idle') return startSession(ev, o, c);
      refuse(
        o,
        ev.requestId,
        walkupOccupiesEvse(s) ? 'WalkupBusy' : 'SessionOver',
        `walk-up session is ${s.phase}`,
      );
      return s;
    case 'holdInvoiceCreated':
      return onCreated(s, ev.paymentHash, ev.bolt11, o);
    case 'holdInvoiceFailed':
      return onCreateFailed(s, ev.paymentHash, ev.error, o, c);
    case 'held':
      return onHeld(s, ev.paymentHash, ev.amountMsat, ev.htlcExpiryMs, o, c);
    case 'settled':
      return onSettled(s, ev.paymentHash, ev.amountMsat, o);
    case 'cancelled':
      return onCancelled(s, ev.paymentHash, o, c);
    case 'nodeCallFailed': {
      const session = sessionOf(s);
      onRetry(session === null ? null : invoiceOf(session, ev.paymentHash), ev.error, s, o, c);
      return s;
    }
    case 'meter':
      return onMeter(s, ev.energyWh, o, c);
    case 'unplug':
      return s.phase === 'charging' ? stop(s, 'UNPLUGGED', o, c) : s;
    case 'driverStop': {
      const can = s.phase === 'charging' || s.phase === 'awaitingDeposit';
      if (!can) {
        refuse(o, ev.requestId, 'NotCharging', `walk-up session is ${s.phase}`);
        return s;
      }
      o.effects.push({ type: 'reply', requestId: ev.requestId, reply: { kind: 'accepted' } });
      return stopRequest(s, 'DRIVER_STOPPED', o, c);
    }
    case 'remoteStop':
      if (s.phase !== 'idle') rec(s, o, 'remoteStop', { reason: text(ev.reason), phase: s.phase });
      return stopRequest(s, 'REMOTE_STOP', o, c);
    case 'evseFault':
      alarm(o, `EVSE fault: ${text(ev.message)}`);
      return stopRequest(s, 'EQUIPMENT_FAULT', o, c);
    case 'tick':
      return onTick(s, o, c);
    case 'refundClaim':
      return onRefundClaim(s, ev, o, c);
    case 'payResult':
      return onPayResult(s, ev, o, c);
    case 'cableSessionRequested':
      if (walkupOccupiesEvse(s))
        refuse(o, ev.requestId, 'WalkupActive', 'a walk-up payment session is active on this EVSE');
      else o.effects.push({ type: 'reply', requestId: ev.requestId, reply: { kind: 'accepted' } });
      return s;
    case 'restored':
      return onRestored(s, ev.invoices, ev.payment, o, c);
    default:
      return s;
  }
}

function viewKey(v: WalkupView): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
}

/**
 * One step of the walk-up machine. Pure: the input state is not modified.
 * @param state current state (from {@link createWalkup}, a previous step, or {@link deserializeWalkup})
 * @param event what happened; `atMs` is the shell's clock (ms since the epoch)
 * @param config validated configuration (see `walkupConfig`)
 * @returns the next state, the effects to carry out in order after persisting it (write-ahead), and the
 *   ledger records to store in the same transaction
 */
export function walkupStep(state: WalkupState, event: WalkupEvent, config: WalkupConfig): WalkupStep {
  // + 0 turns -0 into 0 (JSON cannot keep -0)
  const o: Out = { atMs: Number.isSafeInteger(event.atMs) ? event.atMs + 0 : 0, effects: [], records: [] };
  const s = structuredClone(state);
  const before = viewKey(view(s));
  let next = handle(s, event, o, config);
  next = advance(next, o, config);
  const v = view(next);
  if (viewKey(v) !== before) o.effects.push({ type: 'display', view: v });
  return { state: next, effects: o.effects, records: o.records };
}

/** Why a stored walk-up state cannot be restored. */
export interface WalkupStateInvalid {
  readonly kind: 'WalkupStateInvalid';
  readonly name: 'WalkupStateMalformed' | 'WalkupSchemaUnsupported';
  readonly message: string;
}

/**
 * Checks a value read from the store (after `deserializeState`) is a walk-up state of this schema version.
 * @returns the state, or `WalkupStateInvalid` (malformed, or another schema version)
 */
export function checkWalkupState(value: unknown): Result<WalkupState, WalkupStateInvalid> {
  const bad = (name: WalkupStateInvalid['name'], message: string) =>
    fail({ kind: 'WalkupStateInvalid' as const, name, message });
  if (value === null || typeof value !== 'object') return bad('WalkupStateMalformed', 'not an object');
  const v = value as { schemaVersion?: unknown; phase?: unknown; session?: unknown };
  if (v.schemaVersion !== WALKUP_SCHEMA_VERSION)
    return bad('WalkupSchemaUnsupported', `schema ${text(v.schemaVersion)}`);
  const phases = [
    'idle',
    'awaitingDeposit',
    'charging',
    'stopping',
    'awaitingFinal',
    'closing',
    'refundOpen',
    'refundClaimed',
    'ended',
  ];
  if (typeof v.phase !== 'string' || !phases.includes(v.phase))
    return bad('WalkupStateMalformed', 'unknown phase');
  if (v.phase !== 'idle' && v.phase !== 'ended' && (v.session === null || typeof v.session !== 'object'))
    return bad('WalkupStateMalformed', 'no session');
  return ok(value as WalkupState);
}
