/**
 * The buyer's payment book: the payments of one session, their status vocabulary (`PaymentStatus`) and the
 * questions the buyer asks of the book (what is undecided, what was spent in a budget day, which retries are
 * due). Retry policy and budgets live in buyer.ts; this module only keeps and sums the book.
 */
import type { Effect, PaymentFailureKind } from './effects.js';

/**
 * Status of a payment: `inflight` (a `pay` effect awaits its result), `retrying` (the last attempt failed
 * retryably; paid again at `retryAtMs`, still committed and counted against the budgets), `paid`, `failed`
 * (certainly unpaid), `promised` (the node could not pay it for lack of a route; the car promised the wall to pay
 * it once its node is back online: committed, owed, counted against the budgets; protocol/promise.ts).
 */
export type PaymentStatus = 'inflight' | 'retrying' | 'paid' | 'failed' | 'promised';

/** A payment the buyer made or attempted. */
export interface BuyerPayment {
  seq: number;
  paymentHash: string;
  blockWh: number;
  amountMsat: bigint;
  maxFeeMsat: bigint;
  status: PaymentStatus;
  feeMsat: bigint | null;
  /** The invoice (paid again on retry). */
  bolt11: string;
  /** When the first attempt was sent, ms: the payment counts in the budget day of this instant. */
  sentAtMs: number;
  /** When the invoice expires, ms (no retry that would be too late). */
  expiresAtMs: number;
  /** Attempts made (`pay` effects emitted). */
  attempts: number;
  /** Next attempt at this time (status `retrying`), ms; else null. */
  retryAtMs: number | null;
  /** The last failure's kind, or null. */
  lastFailure: PaymentFailureKind | null;
}

/** A payment not yet decided (in flight, or waiting to be paid again). */
export function undecided(p: BuyerPayment): boolean {
  return p.status === 'inflight' || p.status === 'retrying';
}

/** Most the undecided payments can still cost: amounts + fee limits, msat. */
export function undecidedMsat(book: readonly BuyerPayment[]): bigint {
  return book.filter(undecided).reduce((a, p) => a + p.amountMsat + p.maxFeeMsat, 0n);
}

/**
 * What the book spends against a budget day starting at `dayStartMs`: payments paid that were sent in the day
 * (amount + fee) plus every undecided payment whatever its day (amount + fee limit).
 * @param dayStartMs start of the budget day, ms (−Infinity: all)
 * @returns msat
 */
export function daySpendMsat(book: readonly BuyerPayment[], dayStartMs: number): bigint {
  let sum = undecidedMsat(book);
  for (const p of book) {
    if (p.status === 'paid' && p.sentAtMs >= dayStartMs) sum += p.amountMsat + (p.feeMsat ?? 0n);
    if (p.status === 'promised') sum += p.amountMsat + p.maxFeeMsat;
  }
  return sum;
}

/** What this session's promises owe (amounts), msat. */
export function promisedMsat(book: readonly BuyerPayment[]): bigint {
  return book.filter((p) => p.status === 'promised').reduce((a, p) => a + p.amountMsat, 0n);
}

/** The payments paid so far. */
export function paidPayments(book: readonly BuyerPayment[]): BuyerPayment[] {
  return book.filter((p) => p.status === 'paid');
}

/** The next attempt of a payment: counts it, marks it in flight. @returns the `pay` effect */
export function nextAttempt(p: BuyerPayment): Effect {
  p.attempts += 1;
  p.status = 'inflight';
  p.retryAtMs = null;
  return {
    type: 'pay',
    seq: p.seq,
    bolt11: p.bolt11,
    paymentHash: p.paymentHash,
    amountMsat: p.amountMsat,
    maxFeeMsat: p.maxFeeMsat,
    attempt: p.attempts,
  };
}

/**
 * Gives up the payments waiting to be paid again for invoices before `beforeSeq`: they become `failed`.
 * @returns the payments given up (their energy is no longer committed)
 */
export function giveUpRetries(book: BuyerPayment[], beforeSeq: number): BuyerPayment[] {
  const given: BuyerPayment[] = [];
  for (const p of book) {
    if (p.status !== 'retrying' || p.seq >= beforeSeq) continue;
    p.status = 'failed';
    p.retryAtMs = null;
    given.push(p);
  }
  return given;
}

/** The payments whose retry time has come at `atMs`. */
export function dueRetries(book: readonly BuyerPayment[], atMs: number): BuyerPayment[] {
  return book.filter((p) => p.status === 'retrying' && p.retryAtMs !== null && atMs >= p.retryAtMs);
}
