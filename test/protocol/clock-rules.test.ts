// The session rules that run on the clock, in the machines on a manual clock (issue 11 item 1): suspension →
// reissue → max-suspend end, invoice-creation retry backoff, handshake re-greeting, payment retry by failure
// kind, the maximum consecutive payment failures, and the daily budget across the budget day's midnight. Each
// schedule is interrupted by a restart (persist + restore of both machines) and its deadline survives.
import { describe, expect, it } from 'vitest';
import {
  budgetDayStartMs,
  Reason,
  spentTodayMsat,
  type Effect,
  type SellerState,
  buyerEndReason,
} from '../../protocol/index.js';
import { injectFromWall, Sim, T0, testBuyerConfig, testSellerConfig, wallInvoice } from './harness.js';

/** Advances one second at a time until `done()` holds. @returns the time it first held */
function advanceUntil(sim: Sim, done: () => boolean, maxSec = 600): number {
  for (let i = 0; i < maxSec; i++) {
    if (done()) return sim.now;
    sim.advance(1_000);
  }
  throw new Error('condition not reached');
}

function records(effects: Effect[], kind: string): Extract<Effect, { type: 'record' }>[] {
  return effects.filter(
    (e): e is Extract<Effect, { type: 'record' }> => e.type === 'record' && e.kind === kind,
  );
}

/** The max-suspend deadline while suspended, else undefined. */
function suspendDeadline(s: SellerState): number | null | undefined {
  return s.phase === 'suspended' ? s.suspendDeadlineMs : undefined;
}

function openInvoice(s: SellerState) {
  return s.invoices.find((i) => i.status === 'open');
}

describe('seller: suspension → reissue → max-suspend end', () => {
  it('cuts, reissues the unpaid invoice after reissueAfterSec, ends with UNPAID at the deadline; restarts keep both', () => {
    const sim = new Sim(testSellerConfig({ maxSuspendSec: 90, reissueAfterSec: 20 }));
    sim.plug();
    sim.advance(20_000);
    expect(sim.seller.phase).toBe('charging');
    sim.autoPay = false;
    const cutAt = advanceUntil(sim, () => sim.seller.phase === 'suspended');
    expect(sim.seller.energized).toBe(false);
    expect(suspendDeadline(sim.seller)).toBe(cutAt + 90_000);

    const first = openInvoice(sim.seller);
    if (first === undefined || first.issuedAtMs === null) throw new Error('no open invoice');
    expect(first.reissueAtMs).toBe(first.issuedAtMs + 20_000);
    sim.restart();
    expect(suspendDeadline(sim.seller)).toBe(cutAt + 90_000);
    expect(openInvoice(sim.seller)?.reissueAtMs).toBe(first.reissueAtMs);

    const before = sim.sellerEffects.length;
    const reissuedAt = advanceUntil(sim, () => sim.seller.invoices[first.seq]?.status === 'cancelled');
    expect(reissuedAt).toBe(Math.max(first.reissueAtMs ?? 0, cutAt + 1_000));
    const after = sim.sellerEffects.slice(before);
    expect(after).toContainEqual({ type: 'cancelInvoice', paymentHash: first.paymentHash });
    expect(records(after, 'invoiceReissue')).toHaveLength(1);
    // a fresh invoice replaces it at once
    expect(sim.ofType(after, 'createInvoice').some((e) => e.seq > first.seq)).toBe(true);
    expect(openInvoice(sim.seller)?.seq).toBeGreaterThan(first.seq);

    sim.advance(30_000);
    sim.restart();
    expect(sim.seller.phase).toBe('suspended');
    const endedAt = advanceUntil(sim, () => sim.seller.phase === 'ended');
    expect(endedAt).toBe(cutAt + 90_000);
    const ended = sim.ofType(sim.sellerEffects, 'sessionEnded');
    expect(ended).toHaveLength(1);
    expect(ended[0]?.reason).toBe(Reason.UNPAID);
    expect(ended[0]?.receipt).toBeDefined();
    expect(sim.ofType(sim.sellerEffects, 'alarm').some((a) => a.reason === Reason.UNPAID)).toBe(true);
  });

  it('a settlement of the reissued (cancelled) invoice that still arrives is counted and power resumes', () => {
    const sim = new Sim(testSellerConfig({ reissueAfterSec: 10 }));
    sim.plug();
    sim.advance(20_000);
    sim.autoPay = false;
    advanceUntil(sim, () => sim.seller.phase === 'suspended');
    const first = openInvoice(sim.seller);
    if (first === undefined || first.paymentHash === null) throw new Error('no open invoice');
    advanceUntil(sim, () => sim.seller.invoices[first.seq]?.status === 'cancelled');
    const paidWh = sim.seller.paidWh;
    sim.stepSeller({
      type: 'invoiceSettled',
      atMs: sim.now,
      paymentHash: first.paymentHash,
      amountMsat: first.amountMsat,
    });
    expect(sim.seller.invoices[first.seq]?.status).toBe('settled');
    expect(sim.seller.paidWh).toBe(paidWh + first.blockWh);
  });

  it('leaving the suspension clears the deadline; maxSuspendSec 0 never ends the session', () => {
    const sim = new Sim(testSellerConfig({ maxSuspendSec: 0, reissueAfterSec: 3_600 }));
    sim.plug();
    sim.advance(20_000);
    sim.autoPay = false;
    advanceUntil(sim, () => sim.seller.phase === 'suspended');
    expect(suspendDeadline(sim.seller)).toBeNull();
    sim.advance(400_000);
    expect(sim.seller.phase).toBe('suspended');
    sim.autoPay = true;
    for (const p of sim.heldPayments.splice(0)) sim.settle(p.hash);
    sim.run();
    sim.advance(2_000);
    expect(sim.seller.phase).toBe('charging');
    expect(suspendDeadline(sim.seller)).toBeUndefined();
  });
});

describe('seller: invoice-creation retry backoff', () => {
  it('asks again after 2 s, 4 s, then the 5 s cap; a success resets the wait; a restart keeps the schedule', () => {
    const sim = new Sim(testSellerConfig({ invoiceRetryFirstMs: 2_000, invoiceRetryMaxMs: 5_000 }));
    sim.failInvoices = true;
    sim.plug();
    expect(sim.seller.phase).toBe('deposit');
    const requestedAt: number[] = [sim.now];
    let seen = sim.ofType(sim.sellerEffects, 'createInvoice').length;
    expect(seen).toBe(1);
    expect(sim.seller.invoiceRetryAtMs).toBe(T0 + 2_000);
    for (let i = 0; i < 12; i++) {
      sim.advance(1_000);
      const n = sim.ofType(sim.sellerEffects, 'createInvoice').length;
      if (n > seen) requestedAt.push(sim.now);
      seen = n;
      if (i === 4) sim.restart(); // between the second and third attempt
    }
    expect(requestedAt).toEqual([T0, T0 + 2_000, T0 + 6_000, T0 + 11_000]);
    expect(sim.seller.invoiceRetryAtMs).toBe(T0 + 16_000);
    sim.failInvoices = false;
    sim.advance(5_000);
    expect(sim.seller.invoices.at(-1)?.status).not.toBe('failed');
    expect(sim.seller.invoices.at(-1)?.paymentHash).not.toBeNull();
    expect(sim.seller.invoiceRetryAtMs).toBeNull();
    expect(sim.seller.invoiceRetryDelayMs).toBe(2_000);
  });
});

describe('seller: re-greeting a plugged-in car whose handshake timed out', () => {
  const config = testSellerConfig({ handshakeTimeoutMs: 5_000, regreetFirstMs: 4_000, regreetMaxMs: 10_000 });

  /** Ticks the seller alone (no car answers) for `sec` seconds; answers `greetAgain` with a plug. */
  function tick(sim: Sim, sec: number, greetings: number[]): void {
    for (let i = 0; i < sec; i++) {
      sim.now += 1_000;
      const effects = sim.stepSeller({ type: 'tick', atMs: sim.now });
      if (effects.some((e) => e.type === 'greetAgain')) {
        greetings.push(sim.now);
        sim.stepSeller({
          type: 'plug',
          atMs: sim.now,
          entropyHex: (greetings.length + 1).toString(16).padStart(64, 'c'),
        });
      }
    }
  }

  it('greets again after 4 s, 8 s, then the 10 s cap, across a restart; unplugging stops it', () => {
    const sim = new Sim(config);
    sim.stepSeller({ type: 'plug', atMs: sim.now, entropyHex: 'aa'.repeat(32) });
    const greetings: number[] = [];
    tick(sim, 6, greetings); // the handshake times out after 5 s (> 5,000 ms): at T0 + 6 s
    expect(sim.seller.phase).toBe('ended');
    expect(sim.seller.regreetAtMs).toBe(T0 + 10_000);
    sim.restart();
    tick(sim, 40, greetings);
    // each greeting's handshake times out 6 s later, then the wait doubles: 4 s, 8 s, 10 s (cap), 10 s
    expect(greetings).toEqual([T0 + 10_000, T0 + 24_000, T0 + 40_000]);
    const timeouts = sim
      .ofType(sim.sellerEffects, 'sessionEnded')
      .filter((e) => e.reason === Reason.HANDSHAKE_TIMEOUT);
    expect(timeouts.length).toBe(4);
    sim.stepSeller({ type: 'unplug', atMs: sim.now });
    expect(sim.seller.plugged).toBe(false);
    expect(sim.seller.regreetAtMs).toBeNull();
    const before = greetings.length;
    tick(sim, 60, greetings);
    expect(greetings.length).toBe(before);
    expect(sim.seller.regreetDelayMs).toBe(4_000);
  });

  it('an unanswered greetAgain is asked again after the next wait', () => {
    const sim = new Sim(config);
    sim.stepSeller({ type: 'plug', atMs: sim.now, entropyHex: 'aa'.repeat(32) });
    const asked: number[] = [];
    for (let i = 0; i < 30; i++) {
      sim.now += 1_000;
      if (sim.stepSeller({ type: 'tick', atMs: sim.now }).some((e) => e.type === 'greetAgain'))
        asked.push(sim.now);
    }
    expect(asked).toEqual([T0 + 10_000, T0 + 18_000, T0 + 26_000]);
  });

  it('a completed handshake resets the wait', () => {
    const sim = new Sim(config);
    sim.plug();
    expect(sim.seller.phase).toBe('charging');
    expect(sim.seller.regreetDelayMs).toBe(4_000);
    expect(sim.seller.plugged).toBe(true);
  });
});

describe('buyer: payment retry by failure kind', () => {
  /** A session charging with the car's node paused: the next `pay` is held. @returns its hash */
  function heldPayment(sim: Sim): string {
    sim.plug();
    sim.advance(5_000);
    sim.autoPay = false;
    advanceUntil(sim, () => sim.heldPayments.length > 0);
    const held = sim.heldPayments.shift();
    if (held === undefined) throw new Error('no payment');
    return held.hash;
  }

  function fail(sim: Sim, hash: string, failure: 'outage' | 'noRoute' | 'final'): Effect[] {
    return sim.stepBuyer({
      type: 'paymentResult',
      atMs: sim.now,
      paymentHash: hash,
      ok: false,
      error: failure,
      failure,
    });
  }

  it('after an outage: paid again after 500 ms, 1 s (backing off), across a restart; then paid', () => {
    const sim = new Sim();
    const hash = heldPayment(sim);
    const effects = fail(sim, hash, 'outage');
    const p = sim.buyer.payments.find((x) => x.paymentHash === hash);
    expect(p).toMatchObject({
      status: 'retrying',
      attempts: 1,
      retryAtMs: sim.now + 500,
      lastFailure: 'outage',
    });
    expect(effects.some((e) => e.type === 'send' && e.message.type === 'decline')).toBe(false);
    expect(sim.buyer.consecutiveFailures).toBe(0);
    sim.restart();
    expect(sim.buyer.payments.find((x) => x.paymentHash === hash)?.retryAtMs).toBe(sim.now + 500);
    const before = sim.buyerEffects.length;
    sim.advance(1_000);
    const pays = sim.ofType(sim.buyerEffects.slice(before), 'pay');
    expect(pays).toHaveLength(1);
    expect(pays[0]).toMatchObject({ paymentHash: hash, attempt: 2 });
    expect(sim.heldPayments.shift()?.hash).toBe(hash);
    fail(sim, hash, 'outage');
    expect(sim.buyer.payments.find((x) => x.paymentHash === hash)?.retryAtMs).toBe(sim.now + 1_000);
    sim.advance(1_000);
    expect(sim.heldPayments.shift()?.hash).toBe(hash);
    sim.settle(hash);
    sim.run();
    expect(sim.buyer.payments.find((x) => x.paymentHash === hash)).toMatchObject({
      status: 'paid',
      attempts: 3,
    });
    expect(sim.seller.invoices.find((i) => i.paymentHash === hash)?.status).toBe('settled');
  });

  it('no route: final unless the node came back from an outage within noRouteRetryWindowMs', () => {
    const sim = new Sim(undefined, testBuyerConfig({ noRouteRetryWindowMs: 10_000 }));
    const hash = heldPayment(sim);
    const effects = fail(sim, hash, 'noRoute');
    expect(sim.buyer.payments.find((x) => x.paymentHash === hash)?.status).toBe('failed');
    expect(effects.some((e) => e.type === 'send' && e.message.type === 'decline')).toBe(true);
    expect(sim.buyer.consecutiveFailures).toBe(1);

    const sim2 = new Sim(undefined, testBuyerConfig({ noRouteRetryWindowMs: 10_000 }));
    const hash2 = heldPayment(sim2);
    sim2.stepBuyer({ type: 'nodeReachable', atMs: sim2.now });
    fail(sim2, hash2, 'noRoute');
    expect(sim2.buyer.payments.find((x) => x.paymentHash === hash2)?.status).toBe('retrying');
    // the window closes: the next no-route failure is final
    sim2.advance(1_000);
    sim2.heldPayments.shift();
    sim2.now += 10_000;
    fail(sim2, hash2, 'noRoute');
    expect(sim2.buyer.payments.find((x) => x.paymentHash === hash2)?.status).toBe('failed');
  });

  it('a final failure is never retried; payMaxAttempts bounds the retries', () => {
    const sim = new Sim(undefined, testBuyerConfig({ payMaxAttempts: 2 }));
    const hash = heldPayment(sim);
    fail(sim, hash, 'outage');
    sim.advance(1_000);
    expect(sim.heldPayments.shift()?.hash).toBe(hash);
    fail(sim, hash, 'outage');
    expect(sim.buyer.payments.find((x) => x.paymentHash === hash)).toMatchObject({
      status: 'failed',
      attempts: 2,
    });
    expect(sim.buyer.consecutiveFailures).toBe(1);
  });

  it('a newer invoice from the wall supersedes a payment waiting to be retried', () => {
    const sim = new Sim();
    const hash = heldPayment(sim);
    fail(sim, hash, 'outage');
    const committed = sim.buyer.committedWh;
    const p = sim.buyer.payments.find((x) => x.paymentHash === hash);
    if (p === undefined) throw new Error('no payment');
    const effects = injectFromWall(sim, wallInvoice(sim, { seq: p.seq + 1, blockWh: 10 }));
    expect(sim.buyer.payments.find((x) => x.paymentHash === hash)?.status).toBe('failed');
    expect(records(effects, 'paymentSuperseded')).toHaveLength(1);
    expect(sim.buyer.committedWh).toBeLessThanOrEqual(committed - p.blockWh + 10);
    sim.advance(2_000);
    expect(sim.ofType(sim.buyerEffects, 'pay').filter((e) => e.paymentHash === hash)).toHaveLength(1);
  });

  it('maxConsecutivePaymentFailures ends the session with PAYMENT_FAILED', () => {
    const sim = new Sim(undefined, testBuyerConfig({ maxConsecutivePaymentFailures: 2 }));
    sim.plug();
    sim.advance(5_000);
    sim.failPayments = true;
    advanceUntil(sim, () => sim.buyer.phase !== 'charging');
    expect(records(sim.buyerEffects, 'paymentFailed')).toHaveLength(2);
    expect(buyerEndReason(sim.buyer)).toBe(Reason.PAYMENT_FAILED);
  });
});

describe('buyer: daily budget per budget day', () => {
  const offsetMin = 60; // the budget day runs from 00:00 at UTC+1
  const midnight = budgetDayStartMs(T0, offsetMin) + 86_400_000;

  function session(startMs: number, spentEarlierMsat: bigint): Sim {
    const sim = new Sim(
      undefined,
      testBuyerConfig({
        dailyBudgetMsat: 30_000n,
        spentTodayMsat: spentEarlierMsat,
        budgetDayUtcOffsetMin: offsetMin,
      }),
    );
    sim.now = startMs;
    sim.plug();
    return sim;
  }

  it('the same session stops with BUDGET_SPENT inside one budget day', () => {
    const sim = session(midnight - 3_600_000, 20_000n);
    advanceUntil(sim, () => sim.buyer.phase !== 'charging', 120);
    expect(buyerEndReason(sim.buyer)).toBe(Reason.BUDGET_SPENT);
  });

  it('across midnight earlier spending drops out and the session goes on; a restart at 23:59:59 keeps the day', () => {
    const sim = session(midnight - 10_000, 20_000n);
    expect(sim.buyer.budgetDayStartMs).toBe(midnight - 86_400_000);
    advanceUntil(sim, () => sim.now === midnight - 1_000);
    sim.restart();
    expect(sim.buyer.spentEarlierTodayMsat).toBe(20_000n);
    sim.advance(1_000);
    expect(sim.buyer.budgetDayStartMs).toBe(midnight);
    expect(sim.buyer.spentEarlierTodayMsat).toBe(0n);
    expect(records(sim.buyerEffects, 'budgetDayStarted')).toHaveLength(1);
    sim.advance(30_000);
    expect(sim.buyer.phase).toBe('charging');
    // what was paid before midnight no longer counts today
    const paidBefore = sim.buyer.payments.filter((p) => p.status === 'paid' && p.sentAtMs < midnight);
    expect(paidBefore.length).toBeGreaterThan(0);
    const today = sim.buyer.payments
      .filter((p) => p.status === 'paid' && p.sentAtMs >= midnight)
      .reduce((a, p) => a + p.amountMsat + (p.feeMsat ?? 0n), 0n);
    expect(spentTodayMsat(sim.buyer)).toBe(today);
  });

  it('a payment in doubt counts against the budget until decided, then in the day it was sent', () => {
    const sim = session(midnight - 20_000, 0n);
    sim.autoPay = false;
    advanceUntil(sim, () => sim.heldPayments.length > 0);
    const hash = sim.heldPayments[0]?.hash;
    const p = sim.buyer.payments.find((x) => x.paymentHash === hash);
    if (p === undefined || hash === undefined) throw new Error('no payment');
    expect(p.sentAtMs).toBeLessThan(midnight);
    advanceUntil(sim, () => sim.now >= midnight + 1_000);
    const inDoubt = spentTodayMsat(sim.buyer);
    expect(inDoubt).toBeGreaterThanOrEqual(p.amountMsat + p.maxFeeMsat);
    sim.heldPayments.shift();
    sim.settle(hash);
    // only the car's payment result (no further invoice may arrive meanwhile)
    const result = sim.buyerQueue.shift();
    if (result === undefined) throw new Error('no payment result');
    sim.stepBuyer(result);
    expect(sim.buyer.payments.find((x) => x.paymentHash === hash)?.status).toBe('paid');
    expect(spentTodayMsat(sim.buyer)).toBe(inDoubt - p.amountMsat - p.maxFeeMsat);
  });

  it('the history event supplies earlier sessions spending (overriding the configuration)', () => {
    const sim = new Sim(undefined, testBuyerConfig({ spentTodayMsat: 5n }));
    sim.stepBuyer({ type: 'plug', atMs: sim.now, entropyHex: 'bb'.repeat(32) });
    sim.stepSeller({ type: 'plug', atMs: sim.now, entropyHex: 'aa'.repeat(32) });
    const s = sim.seller;
    if (s.sessionId === null) throw new Error('no session');
    sim.stepBuyer({
      type: 'history',
      atMs: sim.now,
      wallPub: s.config.nodePubkey,
      sessionId: s.sessionId,
      undeliveredWallWh: 0,
      undeliveredTotalWh: 0,
      backoffUntilMs: null,
      sessionIdKnown: false,
      spentTodayMsat: 1_234n,
    });
    expect(sim.buyer.spentEarlierTodayMsat).toBe(1_234n);
  });

  it('budgetDayStartMs: 00:00 at the offset', () => {
    const t = Date.UTC(2026, 0, 10, 23, 30);
    expect(budgetDayStartMs(t, 0)).toBe(Date.UTC(2026, 0, 10));
    expect(budgetDayStartMs(t, 60)).toBe(Date.UTC(2026, 0, 10, 23)); // 00:30 on the 11th at UTC+1
    expect(budgetDayStartMs(t, -300)).toBe(Date.UTC(2026, 0, 10, 5)); // 18:30 on the 10th at UTC−5
  });
});
