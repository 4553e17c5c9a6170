// The invoice book and the payment book (protocol/invoiceBook.ts, paymentBook.ts): the seller only ever moves
// an invoice along INVOICE_TRANSITIONS (the vocabulary the wall's store shares), through a session with unpaid
// stretches, reissues, late settlements and a stop; the payment book's sums.
import { describe, expect, it } from 'vitest';
import {
  INVOICE_STATUSES,
  INVOICE_TRANSITIONS,
  receiptLines,
  type InvoiceStatus,
} from '../../protocol/invoiceBook.js';
import { daySpendMsat, undecidedMsat, type BuyerPayment } from '../../protocol/paymentBook.js';
import { Reason } from '../../protocol/index.js';
import { Sim, testSellerConfig } from './harness.js';

describe('invoice book', () => {
  it('every status change the seller makes is in INVOICE_TRANSITIONS', () => {
    const sim = new Sim(testSellerConfig({ reissueAfterSec: 5, maxSuspendSec: 120 }));
    const seen = new Map<number, InvoiceStatus>();
    const moves = new Set<string>();
    const check = (): void => {
      for (const inv of sim.seller.invoices) {
        const before = seen.get(inv.seq);
        if (before !== undefined && before !== inv.status) {
          expect(INVOICE_TRANSITIONS[before], `${before} → ${inv.status}`).toContain(inv.status);
          moves.add(`${before}→${inv.status}`);
        }
        seen.set(inv.seq, inv.status);
      }
    };
    const stepSeller = sim.stepSeller.bind(sim);
    sim.stepSeller = (ev) => {
      const effects = stepSeller(ev);
      check();
      return effects;
    };
    sim.plug();
    sim.advance(20_000);
    sim.autoPay = false;
    for (let i = 0; i < 300 && sim.seller.phase !== 'suspended'; i++) sim.advance(1_000);
    sim.advance(10_000);
    sim.autoPay = true;
    const held = sim.heldPayments.splice(0);
    // the first held payment settles after its invoice was reissued (cancelled): counted late
    const first = held[0];
    if (first !== undefined) {
      const inv = sim.seller.invoices.find((i) => i.paymentHash === first.hash);
      if (inv !== undefined)
        sim.stepSeller({
          type: 'invoiceSettled',
          atMs: sim.now,
          paymentHash: first.hash,
          amountMsat: inv.amountMsat,
        });
    }
    sim.run();
    sim.advance(10_000);
    sim.stepBuyer({ type: 'stopRequest', atMs: sim.now, reason: Reason.USER_STOP });
    sim.run();
    expect(sim.seller.phase).toBe('ended');
    expect(moves).toContain('requested→open');
    expect(moves).toContain('open→settled');
    expect(moves).toContain('open→cancelled');
    expect(moves).toContain('cancelled→settled');
    for (const s of Object.keys(INVOICE_TRANSITIONS)) expect(INVOICE_STATUSES).toContain(s);
    const lines = receiptLines(sim.seller.invoices);
    expect(lines.totalMsat).toBe(sim.seller.paidMsat);
  });
});

describe('payment book', () => {
  const p = (over: Partial<BuyerPayment>): BuyerPayment => ({
    seq: 0,
    paymentHash: '00'.repeat(32),
    blockWh: 10,
    amountMsat: 1_000n,
    maxFeeMsat: 10n,
    status: 'paid',
    feeMsat: 1n,
    bolt11: 'lnbcrt',
    sentAtMs: 100,
    expiresAtMs: 10_000,
    attempts: 1,
    retryAtMs: null,
    lastFailure: null,
    ...over,
  });

  it('undecided payments count with their fee limit whatever their day; paid ones in the day they were sent', () => {
    const book = [
      p({ status: 'paid', sentAtMs: 50 }),
      p({ status: 'paid', sentAtMs: 150, amountMsat: 2_000n }),
      p({ status: 'inflight', sentAtMs: 50, amountMsat: 4_000n }),
      p({ status: 'retrying', sentAtMs: 50, amountMsat: 8_000n }),
      p({ status: 'failed', sentAtMs: 150, amountMsat: 16_000n }),
    ];
    expect(undecidedMsat(book)).toBe(4_010n + 8_010n);
    expect(daySpendMsat(book, 100)).toBe(2_001n + 4_010n + 8_010n);
    expect(daySpendMsat(book, -Infinity)).toBe(1_001n + 2_001n + 4_010n + 8_010n);
  });
});
