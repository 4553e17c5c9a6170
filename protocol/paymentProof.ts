/**
 * Payment proofs (protocol version 2, offline case 1b: the car is online, the charger is not). The pure part of
 * both sides:
 *
 * - the car answers every payment it made in a version-2 session with a sealed `paymentProof` (in place of the
 *   informational `paid`), carrying the preimage its node returned;
 * - the wall, when its node is unreachable, serves an invoice request from its stock of fixed-denomination
 *   invoices (payments/invoice-stock.ts): the requested block shrinks to the denomination
 *   (`sellerStepWithStock`), so the `invoice` message stays consistent (amount = price × block);
 * - a proof the wall receives is checked here for what the session knows (the preimage hashes to the payment
 *   hash; the hash is an invoice of this session), then handed to the shell in a `verifyPaymentProof` effect;
 *   the shell's stock keeper decides whether it is a stocked invoice, unused (write-ahead), and answers with an
 *   `invoiceSettled` event. A proof for an invoice the node issued normally is informational (the node's
 *   settlement counts).
 *
 * Refusals are named (`PROOF_*`, the words of payments/invoice-stock.ts): they reach the car in an `error` message
 * (reason UNEXPECTED_MESSAGE, text = the refusal), the alarm and the ledger.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import type { Effect, InvoiceCreatedEvent, SellerEvent, Step } from './effects.js';
import type { SellerInvoice } from './invoiceBook.js';
import type { PaidMessage, PaymentProofMessage, SealedMessage } from './messages.js';
import { messageInVersion } from './messages.js';
import { Reason } from './reasons.js';
import { record } from './sessionCommon.js';
import type { SellerBase, SellerKeyed, SellerState } from './seller.js';
import { sellerStep, toNextLimitWh } from './seller.js';
import { amountMsatForBlock } from './tariff.js';

/** The protocol version from which payment proofs exist. */
export const PAYMENT_PROOF_VERSION = 2;

/** Refusals the session itself can name (the keeper names the rest: PROOF_NOT_HANDED_TO_SESSION …). */
export type SessionProofRefusal = 'PROOF_MALFORMED' | 'PROOF_PREIMAGE_MISMATCH' | 'PROOF_UNKNOWN_INVOICE';

/**
 * The message the car sends after a successful payment: `paymentProof` in a version-2 session, `paid` before.
 *
 * @param version the session's negotiated protocol version (null before the handshake: `paid`)
 * @param p {seq, paymentHash (hex), preimage (hex), paidAtMs: the car's clock when the payment succeeded, ms}
 * @returns the sealed message to send
 */
export function paymentReport(
  version: number | null,
  p: { seq: number; paymentHash: string; preimage: string; paidAtMs: number },
): PaidMessage | PaymentProofMessage {
  if (version !== null && messageInVersion('paymentProof', version))
    return { type: 'paymentProof', ...p, paidAtMs: Math.max(0, Math.floor(p.paidAtMs)) };
  return { type: 'paid', seq: p.seq, paymentHash: p.paymentHash, preimage: p.preimage };
}

/**
 * Checks a proof against what the session knows.
 *
 * @param invoices the session's invoices
 * @param m the proof
 * @returns the invoice it proves, or the refusal
 */
export function checkProof(
  invoices: readonly SellerInvoice[],
  m: PaymentProofMessage,
): { ok: true; invoice: SellerInvoice } | { ok: false; refusal: SessionProofRefusal } {
  const hash = m.paymentHash.toLowerCase();
  const preimage = m.preimage.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hash) || !/^[0-9a-f]{64}$/.test(preimage))
    return { ok: false, refusal: 'PROOF_MALFORMED' };
  if (bytesToHex(sha256(hexToBytes(preimage))) !== hash)
    return { ok: false, refusal: 'PROOF_PREIMAGE_MISMATCH' };
  const invoice = invoices.find((i) => i.paymentHash === hash);
  if (invoice === undefined) return { ok: false, refusal: 'PROOF_UNKNOWN_INVOICE' };
  return { ok: true, invoice };
}

/**
 * The seller's handling of a `paymentProof` (the dispatch hook of protocol/seller.ts calls it for an
 * authenticated session). A proof for an invoice of this session becomes a `verifyPaymentProof` effect; any
 * other is refused by name (error to the car, alarm, record) and buys nothing.
 *
 * @param s the seller state (read only: the keeper's answer comes back as an `invoiceSettled` event)
 * @param m the proof
 * @param out the step's effects
 * @param reply seals and sends a message to the car
 * @returns false when the session's version has no proofs (the caller treats the message as unexpected)
 */
export function onPaymentProof(
  s: Pick<SellerKeyed, 'version' | 'invoices'>,
  m: PaymentProofMessage,
  out: Effect[],
  reply: (message: SealedMessage) => void,
): boolean {
  if (!messageInVersion('paymentProof', s.version)) return false;
  const checked = checkProof(s.invoices, m);
  if (!checked.ok) {
    refuseProof({ seq: m.seq, paymentHash: m.paymentHash, refusal: checked.refusal }, out, reply);
    return true;
  }
  const inv = checked.invoice;
  out.push(record('paymentProofReceived', { seq: inv.seq, paymentHash: m.paymentHash.toLowerCase() }));
  out.push({
    type: 'verifyPaymentProof',
    seq: inv.seq,
    paymentHash: m.paymentHash.toLowerCase(),
    preimage: m.preimage.toLowerCase(),
  });
  return true;
}

/**
 * Refuses a payment proof by name: a record for the ledger, an alarm, and an `error` to the car (reason
 * UNEXPECTED_MESSAGE, text = the refusal and the invoice) when the session can still send. Used for the refusals
 * the session names and for those of the stock keeper (`paymentProofRefused` event).
 *
 * @param proof the invoice's sequence number and payment hash, and the refusal's name
 * @param out the step's effects
 * @param reply seals and sends a message to the car (null when the session can no longer send)
 */
export function refuseProof(
  proof: { seq: number; paymentHash: string; refusal: string },
  out: Effect[],
  reply: ((message: SealedMessage) => void) | null,
): void {
  const text = `${proof.refusal} (invoice ${proof.seq})`;
  out.push(
    record('paymentProofRefused', {
      seq: proof.seq,
      paymentHash: proof.paymentHash.toLowerCase(),
      refusal: proof.refusal,
    }),
  );
  out.push({ type: 'alarm', reason: Reason.UNEXPECTED_MESSAGE, message: `payment proof refused: ${text}` });
  reply?.({ type: 'error', reason: Reason.UNEXPECTED_MESSAGE, text });
}

/**
 * The block a stocked invoice of `amountMsat` buys in place of a requested one: the request's price, the block
 * shrunk so that price × block = the denomination exactly. Only a shrink (never a larger block: it could cross
 * the target or the car's largest block), and never one that leaves a tail before the next limit (the car's
 * target, a stop, a price boundary) smaller than `minBlockWh`: that tail would need an invoice below Lightning's
 * 1-sat minimum payment (e.g. 4 Wh = 400 msat at 100 msat/Wh), which no channel carries.
 *
 * @param s the session (its limits and `config.minBlockWh`)
 * @param inv the requested invoice
 * @param amountMsat the stocked denomination, msat
 * @returns the block, Wh, or null when the denomination does not fit (larger, not a whole number of Wh, or it
 *   would leave an unpayable tail)
 */
export function stockedBlockWh(
  s: Pick<SellerBase, 'pendingRenew' | 'stopAtWh' | 'targetEnergyWh' | 'schedule'> & {
    config: Pick<SellerBase['config'], 'minBlockWh'>;
  },
  inv: Pick<SellerInvoice, 'priceMsatPerWh' | 'amountMsat' | 'blockWh' | 'fromWh'>,
  amountMsat: bigint,
): number | null {
  if (inv.priceMsatPerWh <= 0n || amountMsat <= 0n || amountMsat > inv.amountMsat) return null;
  if (amountMsat % inv.priceMsatPerWh !== 0n) return null;
  const blockWh = Number(amountMsat / inv.priceMsatPerWh);
  if (blockWh < 1 || blockWh > inv.blockWh) return null;
  if (amountMsatForBlock(inv.priceMsatPerWh, blockWh) !== amountMsat) return null;
  const tailWh = toNextLimitWh(s, inv.fromWh) - blockWh;
  if (tailWh > 0 && tailWh < s.config.minBlockWh) return null;
  return blockWh;
}

/**
 * The seller's step for a wall that may serve invoices from its offline stock: an `invoiceCreated` event with
 * `stockedAmountMsat` first shrinks the requested block to the denomination, then the ordinary step runs (which
 * checks the BOLT11 against it as against any invoice). Every other event is the ordinary step.
 *
 * @param state current seller state
 * @param event the event
 * @returns the next state and effects
 */
export function sellerStepWithStock(state: SellerState, event: SellerEvent): Step<SellerState> {
  if (event.type !== 'invoiceCreated' || event.stockedAmountMsat === undefined)
    return sellerStep(state, event);
  return sellerStep(resizedForStock(state, event), event);
}

function resizedForStock(state: SellerState, ev: InvoiceCreatedEvent): SellerState {
  const amountMsat = ev.stockedAmountMsat;
  if (amountMsat === undefined) return state;
  const invoices = state.invoices.map((inv) => {
    if (inv.seq !== ev.seq || inv.status !== 'requested') return inv;
    const blockWh = stockedBlockWh(state, inv, amountMsat);
    // a denomination that does not fit leaves the request as it was: the ordinary step refuses the amount
    return blockWh === null ? inv : { ...inv, blockWh, amountMsat };
  });
  return { ...state, invoices };
}
