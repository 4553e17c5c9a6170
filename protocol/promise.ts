/**
 * Promises to pay (protocol version 3, offline case 3: neither the car's node nor the wall's reaches the
 * Lightning network). The pure part of both sides:
 *
 * - the car, whose node failed to pay an invoice for lack of a route (`noRoute`: its node is offline), and whose
 *   owner allows it (`BuyerConfig.promiseMaxMsat`, node identity only), signs `promiseText` with its node key and
 *   sends a sealed `promise`; it keeps the invoice and pays it as soon as its node is back online;
 * - the wall checks the promise (an open invoice of this session, its amount, the car's identity key's
 *   signature) and its caps (`SellerConfig.promiseCapWh` per car key over all its sessions,
 *   `promiseSiteCapWh` over all cars; the shell supplies the earlier sessions' unpaid promises in a
 *   `promisesOutstanding` event answering the `lookupPromises` effect), then credits the block: the invoice stays
 *   open at the node (payable), its `promisedAtMs` is set, `paidWh` grows by its block and `promisedWh` counts
 *   it. When the node settles it later, only the money is added. The record `invoicePromised` carries the
 *   signature: the evidence the wall keeps.
 *
 * Refusals are named (`PROMISE_*`); they reach the car in an `error` (reason PROMISE_REFUSED, text
 * `<refusal> (invoice <seq>)`), the ledger and the alarm. The car ends the session on one: it can neither pay
 * nor promise.
 */
import type { Effect } from './effects.js';
import type { SellerInvoice } from './invoiceBook.js';
import type { PromiseMessage, SealedMessage } from './messages.js';
import { messageInVersion } from './messages.js';
import { verifyNodeSignature } from './nodeSignature.js';
import { Reason } from './reasons.js';
import { record } from './sessionCommon.js';

/** The protocol version from which promises exist. */
export const PROMISE_VERSION = 3;

/** Why the wall refuses a promise. */
export type PromiseRefusal =
  /** the wall takes no promises (`promiseCapWh` 0) */
  | 'PROMISES_OFF'
  /** no open invoice of this session has that seq and payment hash (or it is already promised) */
  | 'PROMISE_UNKNOWN_INVOICE'
  /** the promised amount is not the invoice's */
  | 'PROMISE_AMOUNT_MISMATCH'
  /** the signature is not the car's identity key's over the promise text */
  | 'PROMISE_SIGNATURE_INVALID'
  /** the car's earlier unpaid promises are not known yet (the store did not answer) */
  | 'PROMISE_CAP_UNKNOWN'
  /** the car's unpaid promised energy would exceed `promiseCapWh` */
  | 'PROMISE_CAP_REACHED'
  /** all cars' unpaid promised energy would exceed `promiseSiteCapWh` */
  | 'PROMISE_SITE_CAP_REACHED';

/** What a promise commits to, and between whom. */
export interface PromiseTerms {
  /** session id (hex, 16 bytes) */
  sessionId: string;
  /** the wall's node key (hex, 33 bytes) */
  sellerPub: string;
  /** the car's identity key (hex, 33 bytes), the signer */
  buyerPub: string;
  /** the invoice's seq in the session */
  seq: number;
  /** the invoice's payment hash (hex, 32 bytes) */
  paymentHash: string;
  /** the invoice's amount, msat */
  amountMsat: bigint;
}

/**
 * The text the car's identity key signs (lnd signmessage format, see nodeSignature.ts): one line per field, so
 * that a promise cannot be read as another message the key signs (the handshake's text starts otherwise).
 *
 * @param t the promise's terms (hex fields lower-cased)
 * @returns UTF-8 text
 */
export function promiseText(t: PromiseTerms): string {
  return [
    'boltcharge promise to pay v3',
    `session ${t.sessionId.toLowerCase()}`,
    `seller ${t.sellerPub.toLowerCase()}`,
    `buyer ${t.buyerPub.toLowerCase()}`,
    `invoice ${t.seq} ${t.paymentHash.toLowerCase()} ${t.amountMsat} msat`,
  ].join('\n');
}

/** What the seller's session knows when a promise arrives. */
export interface PromiseContext {
  version: number;
  sessionId: string;
  sellerPub: string;
  vehiclePub: string;
  invoices: readonly SellerInvoice[];
  /** per-car and site caps, Wh (SellerConfig) */
  promiseCapWh: number;
  promiseSiteCapWh: number;
  /** earlier sessions' unpaid promised energy (this car, all cars), Wh; null until the store answered */
  promisesEarlier: { carWh: number; siteWh: number } | null;
  /** this session's unpaid promised energy, Wh */
  promisedWh: number;
}

/**
 * Checks a promise against the session, the signature and the caps.
 *
 * @param c the session's context
 * @param m the promise
 * @returns the invoice it promises to pay, or the refusal
 */
export function checkPromise(
  c: PromiseContext,
  m: PromiseMessage,
): { ok: true; invoice: SellerInvoice } | { ok: false; refusal: PromiseRefusal } {
  if (c.promiseCapWh <= 0) return { ok: false, refusal: 'PROMISES_OFF' };
  const hash = m.paymentHash.toLowerCase();
  const invoice = c.invoices.find(
    (i) => i.seq === m.seq && i.paymentHash === hash && i.status === 'open' && i.promisedAtMs === null,
  );
  if (invoice === undefined) return { ok: false, refusal: 'PROMISE_UNKNOWN_INVOICE' };
  if (m.amountMsat !== invoice.amountMsat) return { ok: false, refusal: 'PROMISE_AMOUNT_MISMATCH' };
  const text = promiseText({
    sessionId: c.sessionId,
    sellerPub: c.sellerPub,
    buyerPub: c.vehiclePub,
    seq: invoice.seq,
    paymentHash: hash,
    amountMsat: invoice.amountMsat,
  });
  if (!verifyNodeSignature(text, m.signature, c.vehiclePub).ok)
    return { ok: false, refusal: 'PROMISE_SIGNATURE_INVALID' };
  if (c.promisesEarlier === null) return { ok: false, refusal: 'PROMISE_CAP_UNKNOWN' };
  const afterWh = c.promisedWh + invoice.blockWh;
  if (c.promisesEarlier.carWh + afterWh > c.promiseCapWh)
    return { ok: false, refusal: 'PROMISE_CAP_REACHED' };
  if (c.promiseSiteCapWh > 0 && c.promisesEarlier.siteWh + afterWh > c.promiseSiteCapWh)
    return { ok: false, refusal: 'PROMISE_SITE_CAP_REACHED' };
  return { ok: true, invoice };
}

/** What the seller does with a checked promise. */
export interface PromiseActions {
  /** seals and sends a message to the car */
  reply(message: SealedMessage): void;
  /** credits the promised invoice's block to the session (sets `promisedAtMs`, paidWh, promisedWh) */
  credit(invoice: SellerInvoice): void;
  /**
   * a cap is reached: the refused invoice is withdrawn and the session ends once the energy already credited is
   * delivered (no further block can be paid or promised)
   */
  capReached(seq: number): void;
}

/**
 * The seller's handling of a `promise` (protocol/seller.ts calls it for an active session). An accepted promise
 * credits the block; a refused one is named to the car, the ledger and the alarm; at a cap the session ends once
 * what was credited is delivered.
 *
 * @param c the session's context
 * @param m the promise
 * @param out the step's effects
 * @param act what the seller does (reply, credit, end at the cap)
 * @returns false when the session's version has no promises (the caller treats the message as unexpected)
 */
export function onPromise(c: PromiseContext, m: PromiseMessage, out: Effect[], act: PromiseActions): boolean {
  if (!messageInVersion('promise', c.version)) return false;
  const checked = checkPromise(c, m);
  if (!checked.ok) {
    const text = `${checked.refusal} (invoice ${m.seq})`;
    out.push(
      record('promiseRefused', {
        seq: m.seq,
        paymentHash: m.paymentHash.toLowerCase(),
        refusal: checked.refusal,
        vehiclePub: c.vehiclePub,
      }),
    );
    out.push({ type: 'alarm', reason: Reason.PROMISE_REFUSED, message: `promise refused: ${text}` });
    act.reply({ type: 'error', reason: Reason.PROMISE_REFUSED, text });
    if (checked.refusal === 'PROMISE_CAP_REACHED' || checked.refusal === 'PROMISE_SITE_CAP_REACHED')
      act.capReached(m.seq);
    return true;
  }
  const inv = checked.invoice;
  act.credit(inv);
  out.push(
    record('invoicePromised', {
      seq: inv.seq,
      paymentHash: inv.paymentHash,
      amountMsat: inv.amountMsat.toString(),
      blockWh: inv.blockWh,
      vehiclePub: c.vehiclePub,
      signature: m.signature.toLowerCase(),
      promisedWh: c.promisedWh + inv.blockWh,
    }),
  );
  return true;
}

/**
 * The invoice seq a PROMISE_REFUSED error names (`... (invoice <seq>)`), or null.
 * @param text the error's text
 */
export function refusedPromiseSeq(text: string): number | null {
  const m = /\(invoice (\d{1,10})\)$/.exec(text);
  if (m === null) return null;
  const seq = Number(m[1]);
  return Number.isSafeInteger(seq) ? seq : null;
}

/** First wait before the car pays a promised invoice again after a failed attempt, ms (doubles to the max). */
export const PROMISE_RETRY_FIRST_MS = 2_000;
/** Longest wait between attempts to pay a promised invoice, ms. */
export const PROMISE_RETRY_MAX_MS = 60_000;

/**
 * When the car next tries to pay a promised invoice after `attempts` failed attempts (its node is offline until
 * one succeeds): 2 s doubling to 60 s.
 *
 * @param attempts failed attempts so far (≥ 1)
 * @param atMs now, ms
 * @returns ms
 */
export function nextPromiseAttemptAtMs(attempts: number, atMs: number): number {
  return (
    atMs +
    Math.min(PROMISE_RETRY_MAX_MS, PROMISE_RETRY_FIRST_MS * 2 ** Math.min(20, Math.max(0, attempts - 1)))
  );
}

/**
 * When the car next tries an outstanding promise once another promise was just paid: its node can pay again, so
 * the rest of the back-off is dropped (without this, a promise could wait up to `PROMISE_RETRY_MAX_MS` after the
 * node came back and run into its invoice's expiry).
 *
 * @param nextAttemptAtMs the promise's scheduled next attempt, ms
 * @param atMs when the other promise was paid, ms
 * @returns the new next attempt, ms
 */
export function promiseAttemptAfterOnePaidAtMs(nextAttemptAtMs: number, atMs: number): number {
  return Math.min(nextAttemptAtMs, atMs);
}
