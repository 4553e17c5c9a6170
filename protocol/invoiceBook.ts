/**
 * The seller's invoice book: the invoices of one session, their one status vocabulary (`InvoiceStatus`, the
 * words the wall's store uses too) and legal changes (`INVOICE_TRANSITIONS`), and the questions the seller asks
 * of the book (the outstanding invoice, what is settled, the receipt's lines).
 */
import type { ReceiptInvoice } from './messages.js';

/**
 * Status of an invoice, in the machine and in the wall's ledger:
 * - `requested`: asked of the node (`createInvoice`), not yet returned;
 * - `open`: returned by the node and sent to the car, payable;
 * - `settled`: paid (the node reported the settlement);
 * - `expired`: the node reported it expired unpaid;
 * - `cancelled`: withdrawn by the wall (the car declined it, the session closed, or it was reissued while the
 *   power was cut); a settlement that still arrives is counted (`cancelled → settled`);
 * - `failed`: the node did not create it, or created a wrong one (never sent to the car).
 */
export type InvoiceStatus = 'requested' | 'open' | 'settled' | 'expired' | 'cancelled' | 'failed';

/** Every invoice status, in lifecycle order. */
export const INVOICE_STATUSES: readonly InvoiceStatus[] = [
  'requested',
  'open',
  'settled',
  'expired',
  'cancelled',
  'failed',
];

/** The status changes the seller makes (a store applying the machine's records may check against them). */
export const INVOICE_TRANSITIONS: Readonly<Record<InvoiceStatus, readonly InvoiceStatus[]>> = {
  requested: ['open', 'failed', 'cancelled'],
  open: ['settled', 'expired', 'cancelled'],
  settled: [],
  expired: [],
  cancelled: ['settled'],
  failed: [],
};

/** One invoice of the session, as the seller tracks it. */
export interface SellerInvoice {
  seq: number;
  /** Cumulative paid energy at which the block starts, Wh. */
  fromWh: number;
  blockWh: number;
  priceMsatPerWh: bigint;
  amountMsat: bigint;
  status: InvoiceStatus;
  paymentHash: string | null;
  bolt11: string | null;
  /** What the node reported received, msat. */
  settledMsat: bigint | null;
  /** When it was asked of the node (`createInvoice`), ms; null in states written before it was kept. */
  requestedAtMs: number | null;
  /** When the node returned it (invoiceCreated), ms; null until then. */
  issuedAtMs: number | null;
  /**
   * While the power is cut for lack of payment, the invoice is cancelled and a fresh one issued at this time if
   * still unpaid (issued + `reissueAfterSec`), ms; null until issued.
   */
  reissueAtMs: number | null;
  /**
   * When the seller accepted the car's signed promise to pay it (offline case 3, protocol/promise.ts), ms; null
   * if not promised. A promised invoice stays `open` (payable at the node) but its block is credited: it is no
   * longer outstanding, never cancelled or reissued, and its settlement only adds the money.
   */
  promisedAtMs: number | null;
}

/** A settled invoice (it has a payment hash: the node settled it by that hash). */
export type SettledInvoice = SellerInvoice & { status: 'settled'; paymentHash: string };

/** True when the invoice is settled (narrows: its payment hash is known). */
export function isSettled(inv: SellerInvoice): inv is SettledInvoice {
  return inv.status === 'settled' && inv.paymentHash !== null;
}

/** The invoices settled so far, in sequence order. */
export function settledInvoices(book: readonly SellerInvoice[]): SettledInvoice[] {
  return book.filter(isSettled);
}

/** What the node received for a settled invoice (its amount when the node did not say), msat. */
export function receivedMsat(inv: SellerInvoice): bigint {
  return inv.settledMsat ?? inv.amountMsat;
}

/**
 * The receipt's lines and total: one line per settled invoice with what the node received.
 * @returns lines in sequence order and their sum, msat
 */
export function receiptLines(book: readonly SellerInvoice[]): {
  invoices: ReceiptInvoice[];
  totalMsat: bigint;
} {
  const settled = settledInvoices(book);
  return {
    invoices: settled.map((i) => ({
      seq: i.seq,
      paymentHash: i.paymentHash,
      blockWh: i.blockWh,
      amountMsat: receivedMsat(i),
    })),
    totalMsat: settled.reduce((a, i) => a + receivedMsat(i), 0n),
  };
}

/** True for an open invoice whose block was credited on the car's promise to pay it (offline case 3). */
export function isPromised(inv: SellerInvoice): boolean {
  return inv.status === 'open' && inv.promisedAtMs !== null;
}

/**
 * The invoice asked of the node or sent to the car and not yet decided, if any (at most one at a time); a
 * promised one is decided (its block is credited).
 */
export function outstandingInvoice(book: readonly SellerInvoice[]): SellerInvoice | undefined {
  return book.find((i) => i.status === 'requested' || (i.status === 'open' && i.promisedAtMs === null));
}

/** The invoice with this payment hash (lower-case hex), if any. */
export function invoiceByHash(
  book: readonly SellerInvoice[],
  paymentHash: string,
): SellerInvoice | undefined {
  return book.find((i) => i.paymentHash === paymentHash);
}

/**
 * Withdraws every outstanding invoice (the session closes): each becomes `cancelled`.
 * @returns the payment hashes to cancel at the node (invoices the node had returned)
 */
export function cancelOutstanding(book: SellerInvoice[]): string[] {
  const hashes: string[] = [];
  for (const inv of book) {
    if (inv.status !== 'open' && inv.status !== 'requested') continue;
    if (isPromised(inv)) continue; // promised: it stays payable, the car pays it once its node is back
    if (inv.status === 'open' && inv.paymentHash !== null) hashes.push(inv.paymentHash);
    inv.status = 'cancelled';
  }
  return hashes;
}

/**
 * Appends a fresh `requested` invoice for the next block.
 * @param block sequence number, start (cumulative paid Wh), size (Wh), price (msat/Wh) and amount (msat)
 * @returns the new invoice
 */
export function requestInvoice(
  book: SellerInvoice[],
  block: Pick<
    SellerInvoice,
    'seq' | 'fromWh' | 'blockWh' | 'priceMsatPerWh' | 'amountMsat' | 'requestedAtMs'
  >,
): SellerInvoice {
  const inv: SellerInvoice = {
    ...block,
    status: 'requested',
    paymentHash: null,
    bolt11: null,
    settledMsat: null,
    issuedAtMs: null,
    reissueAtMs: null,
    promisedAtMs: null,
  };
  book.push(inv);
  return inv;
}
