/**
 * The refund half of the walk-up machine (issue 12): a walk-away leaves deposit − cost for the payer, claimable
 * once (LUD-03 withdraw, min = max = the remainder) with the secret only the payer could decrypt (LUD-10 aes
 * keyed by the deposit preimage). A claim is checked (secret, single use, exact amount, network, expiry) and
 * paid; an in-doubt payout stays in doubt until the node decides; a failed one reopens the claim.
 */
import { timingSafeEqual } from 'node:crypto';
import { checkNetwork, checkUnexpired, decodeInvoice } from '../protocol/bolt11.js';
import { fromHex, isHex } from '../protocol/bytes.js';
import type { WalkupConfig } from './walkup-config.js';
import { alarm, end, msat, rec, refuse, text, type Out, type S } from './walkup-output.js';
import type { Refund, WalkupEvent, WalkupRefusalName } from './walkup-state.js';

/** A refund invoice must stay valid this long after the claim, s. */
export const REFUND_INVOICE_MARGIN_SEC = 30;

/** True when `given` is the withdraw secret (constant-time comparison). */
function secretMatches(given: string, expected: string): boolean {
  if (typeof given !== 'string' || !isHex(given, 32)) return false;
  return timingSafeEqual(fromHex(given.toLowerCase()), fromHex(expected));
}

/**
 * A LUD-03 withdraw claim: refused by name (RefundNotOpen, RefundSecretWrong, RefundAlreadyClaimed, RefundExpired,
 * RefundInvoiceInvalid, RefundAmountWrong) or accepted: `refundClaimed`, reply accepted, `payRefund`.
 */
export function onRefundClaim(
  s: S,
  ev: Extract<WalkupEvent, { type: 'refundClaim' }>,
  o: Out,
  c: WalkupConfig,
): S {
  const no = (name: WalkupRefusalName, message: string): S => {
    refuse(o, ev.requestId, name, message);
    rec(s, o, 'refundClaimRefused', { refusal: name });
    return s;
  };
  const refund =
    s.phase === 'refundOpen' || s.phase === 'refundClaimed' || s.phase === 'ended' ? s.refund : null;
  if (refund === null) return no('RefundNotOpen', 'no refund to claim for this session');
  if (!secretMatches(ev.secretHex, refund.withdrawSecretHex))
    return no('RefundSecretWrong', 'wrong withdraw secret');
  if (s.phase === 'refundClaimed' || (s.phase === 'ended' && s.endReason === 'REFUND_CLAIMED'))
    return no('RefundAlreadyClaimed', 'this refund was already claimed');
  if (s.phase !== 'refundOpen') return no('RefundExpired', 'the refund has expired');
  if (o.atMs >= refund.expiresAtMs) return no('RefundExpired', 'the refund has expired');
  if (typeof ev.bolt11 !== 'string' || ev.bolt11.length > 4096)
    return no('RefundInvoiceInvalid', 'no invoice');
  const inv = decodeInvoice(ev.bolt11);
  if (!inv.ok) return no('RefundInvoiceInvalid', inv.error.message);
  const net = checkNetwork(inv.value, c.network);
  if (!net.ok) return no('RefundInvoiceInvalid', net.error.message);
  if (inv.value.amountMsat !== refund.amountMsat)
    return no('RefundAmountWrong', `the invoice must be for exactly ${refund.amountMsat} msat`);
  const fresh = checkUnexpired(inv.value, o.atMs, REFUND_INVOICE_MARGIN_SEC);
  if (!fresh.ok) return no('RefundInvoiceInvalid', fresh.error.message);
  if (
    inv.value.paymentHash === s.session.deposit.paymentHash ||
    inv.value.paymentHash === s.session.finalPaymentHash
  )
    return no('RefundInvoiceInvalid', 'the invoice reuses a payment hash of this session');
  refund.claim = {
    requestId: ev.requestId,
    bolt11: ev.bolt11,
    paymentHash: inv.value.paymentHash,
    status: 'paying',
    maxFeeMsat: c.refundMaxFeeMsat,
  };
  const next: S = { ...s, phase: 'refundClaimed' };
  rec(next, o, 'refundClaimAccepted', {
    paymentHash: inv.value.paymentHash,
    amountMsat: msat(refund.amountMsat),
  });
  o.effects.push({ type: 'reply', requestId: ev.requestId, reply: { kind: 'accepted' } });
  emitPayRefund(refund, o);
  return next;
}

/** Emits the payout of an accepted claim (again after a restart when the node never saw it). */
export function emitPayRefund(refund: Refund, o: Out): void {
  const claim = refund.claim;
  if (claim === null) return;
  o.effects.push({
    type: 'payRefund',
    requestId: claim.requestId,
    bolt11: claim.bolt11,
    paymentHash: claim.paymentHash,
    amountMsat: refund.amountMsat,
    maxFeeMsat: claim.maxFeeMsat,
  });
}

/** The payout's outcome: succeeded ends the session (REFUND_CLAIMED), failed reopens the claim, inDoubt waits. */
export function onPayResult(
  s: S,
  ev: Extract<WalkupEvent, { type: 'payResult' }>,
  o: Out,
  c: WalkupConfig,
): S {
  if (
    s.phase !== 'refundClaimed' ||
    s.refund.claim === null ||
    s.refund.claim.paymentHash !== ev.paymentHash
  ) {
    rec(s, o, 'payResultIgnored', { paymentHash: text(ev.paymentHash), outcome: text(ev.outcome) });
    return s;
  }
  const refund = s.refund;
  const claim = s.refund.claim;
  const fee = typeof ev.feeMsat === 'bigint' && ev.feeMsat >= 0n ? ev.feeMsat : 0n;
  switch (ev.outcome) {
    case 'succeeded':
      s.session.refundPaidMsat = refund.amountMsat;
      s.session.refundFeeMsat = fee;
      rec(s, o, 'refundPaid', {
        paymentHash: claim.paymentHash,
        amountMsat: msat(refund.amountMsat),
        feeMsat: msat(fee),
      });
      return end(s, 'REFUND_CLAIMED', o, c, refund);
    case 'failed':
      refund.claim = null;
      refund.failedAttempts += 1;
      rec(s, o, 'refundPaymentFailed', {
        paymentHash: claim.paymentHash,
        error: text(ev.error ?? ''),
      });
      return { ...s, phase: 'refundOpen' };
    default:
      if (claim.status !== 'inDoubt') {
        claim.status = 'inDoubt';
        rec(s, o, 'refundInDoubt', { paymentHash: claim.paymentHash, amountMsat: msat(refund.amountMsat) });
        alarm(o, `walk-up refund ${claim.paymentHash} in doubt`);
      }
      return s;
  }
}
