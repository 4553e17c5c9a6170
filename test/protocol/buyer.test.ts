import { describe, expect, it } from 'vitest';
import {
  buyerStep,
  createBuyer,
  encodeClearFrame,
  evaluateOffer,
  offerFor,
  Reason,
  type Effect,
  type OfferMessage,
} from '../../protocol/index.js';
import {
  CAR_NODE_KEY,
  injectFromWall,
  OTHER_KEY,
  Sim,
  testBuyerConfig,
  testSellerConfig,
  wallInvoice,
  WALL_PUB,
} from './harness.js';
import { buyerKeyed, publicKeyOf, sellerKeyed, sellerPeer } from '../../protocol/index.js';

function refusals(effects: Effect[]): number[] {
  return effects.flatMap((e) =>
    e.type === 'record' && e.kind === 'invoiceRefused' ? [e.data.code as number] : [],
  );
}
function pays(effects: Effect[]) {
  return effects.filter((e) => e.type === 'pay');
}
function charging(over: Parameters<typeof testBuyerConfig>[0] = {}): Sim {
  const sim = new Sim(testSellerConfig(), testBuyerConfig(over));
  sim.plug();
  expect(sim.buyer.phase).toBe('charging');
  return sim;
}
const offer: OfferMessage = offerFor(testSellerConfig());

describe('buyer: handshake', () => {
  it('buffers a wall hello that arrives before the plug event, then answers it', () => {
    const sim = new Sim();
    sim.stepSeller({ type: 'plug', atMs: sim.now, entropyHex: 'aa'.repeat(32) });
    const hello = sim.toBuyer.shift() as Uint8Array;
    sim.stepBuyer({ type: 'frame', atMs: sim.now, bytes: hello });
    expect(sim.buyer.phase === 'idle' && sim.buyer.bufferedHello).not.toBeNull();
    const effects = sim.stepBuyer({ type: 'plug', atMs: sim.now, entropyHex: 'bb'.repeat(32) });
    expect(sim.buyer.phase).toBe('authenticating');
    expect(effects.filter((e) => e.type === 'send').map((e) => e.type === 'send' && e.message.type)).toEqual([
      'hello',
      'auth',
    ]);
  });

  it('authenticates with a fresh per-session key by default (different every session)', () => {
    const a = new Sim();
    a.plug();
    const b = new Sim();
    b.stepBuyer({ type: 'plug', atMs: b.now, entropyHex: 'cc'.repeat(32) });
    b.stepSeller({ type: 'plug', atMs: b.now, entropyHex: 'aa'.repeat(32) });
    b.run();
    expect(sellerPeer(a.seller)).not.toBe(sellerPeer(b.seller));
    const carHello = a.buyerEffects.find((e) => e.type === 'send' && e.message.type === 'hello');
    expect(
      carHello?.type === 'send' && carHello.message.type === 'hello' && carHello.message.identityPub,
    ).toBe(sellerPeer(a.seller));
  });

  it('authenticates with its node key when configured, through signWithNodeKey', () => {
    const sim = new Sim(
      testSellerConfig(),
      testBuyerConfig({ identity: { kind: 'node', nodePubkey: publicKeyOf(CAR_NODE_KEY) } }),
    );
    sim.plug();
    expect(sim.buyerEffects.some((e) => e.type === 'signWithNodeKey')).toBe(true);
    expect(sellerPeer(sim.seller)).toBe(publicKeyOf(CAR_NODE_KEY));
    expect(sim.buyer.phase).toBe('charging');
  });

  it('ends with a clear error to both sides when no version is common', () => {
    const sim = new Sim(testSellerConfig({ versions: [2] }), testBuyerConfig({ versions: [1] }));
    sim.plug();
    const b = sim.ofType(sim.buyerEffects, 'sessionEnded')[0];
    const s = sim.ofType(sim.sellerEffects, 'sessionEnded')[0];
    expect(b?.reason).toBe(Reason.VERSION_MISMATCH);
    expect(s?.reason).toBe(Reason.VERSION_MISMATCH);
    expect(s?.error).toMatch(/vehicle versions \[1\]/);
    expect(b?.error).toMatch(/wall \[2\], vehicle \[1\]/);
  });

  it('picks the highest common version', () => {
    const sim = new Sim(testSellerConfig({ versions: [1, 2, 3] }), testBuyerConfig({ versions: [1, 2] }));
    sim.plug();
    expect(buyerKeyed(sim.buyer) && sim.buyer.version).toBe(2);
    expect(sellerKeyed(sim.seller) && sim.seller.version).toBe(2);
    expect(sim.buyer.phase).toBe('charging');
  });

  it('refuses a wall whose handshake signature is not by the key it announced', () => {
    const sim = new Sim();
    sim.exchangeHellos();
    sim.sellerQueue = [];
    const effects = injectFromWall(sim, { type: 'auth', signature: '1f' + '11'.repeat(64) });
    expect(sim.buyer.phase).toBe('ended');
    expect(sim.ofType(effects, 'sessionEnded')[0]?.reason).toBe(Reason.HANDSHAKE_FAILED);
  });

  it('times out a handshake that never completes', () => {
    const sim = new Sim();
    sim.stepBuyer({ type: 'plug', atMs: sim.now, entropyHex: 'bb'.repeat(32) });
    const e = sim.stepBuyer({ type: 'tick', atMs: sim.now + 31_000 });
    expect(sim.ofType(e, 'sessionEnded')[0]?.reason).toBe(Reason.HANDSHAKE_TIMEOUT);
  });

  it('rejects messages other than auth before the wall is authenticated', () => {
    const sim = new Sim();
    sim.exchangeHellos();
    const e = injectFromWall(sim, offer);
    expect(e.some((x) => x.type === 'record' && x.kind === 'unexpectedMessage')).toBe(true);
    expect(sim.buyer.phase).toBe('authenticating');
  });
});

describe('buyer: offers', () => {
  const c = testBuyerConfig({ maxPrepaidWh: 100 });
  it('accepts an offer within limits, capping the block to what the prepaid limit allows', () => {
    expect(evaluateOffer(c, offer)).toEqual({ accept: true, maxBlockWh: 50 });
  });
  it.each([
    ['price', { priceMsatPerWh: 151n }, Reason.PRICE_TOO_HIGH],
    ['network', { network: 'bitcoin' as const }, Reason.WRONG_NETWORK],
    ['min block', { minBlockWh: 300, maxBlockWh: 400 }, Reason.BLOCK_TOO_LARGE],
    ['deposit', { depositBlocks: 20 }, Reason.PREPAID_TOO_HIGH],
    ['terms', { minBlockWh: 50, maxBlockWh: 40 }, Reason.BAD_TERMS],
  ])('declines an offer with a bad %s', (_n, over, reason) => {
    const v = evaluateOffer(c, { ...offer, ...over });
    expect(v).toMatchObject({ accept: false, reason });
  });
  it('declines when the deposit does not fit the session or daily budget', () => {
    expect(evaluateOffer(testBuyerConfig({ sessionBudgetMsat: 1000n }), offer)).toMatchObject({
      reason: Reason.SESSION_BUDGET,
    });
    expect(
      evaluateOffer(testBuyerConfig({ dailyBudgetMsat: 100_000n, spentTodayMsat: 99_000n }), offer),
    ).toMatchObject({ reason: Reason.DAILY_BUDGET });
  });
  it('sends decline with the reason and ends with a receipt for an empty session', () => {
    const sim = new Sim(testSellerConfig({ priceMsatPerWh: 500n }), testBuyerConfig());
    sim.plug();
    const declines = sim.buyerEffects.flatMap((e) =>
      e.type === 'send' && e.message.type === 'decline' ? [e.message] : [],
    );
    expect(declines[0]?.reason).toBe(Reason.PRICE_TOO_HIGH);
    const ended = sim.ofType(sim.buyerEffects, 'sessionEnded')[0];
    expect(ended?.reason).toBe(Reason.PRICE_TOO_HIGH);
    expect(ended?.receipt?.totalPaidMsat).toBe(0n);
  });
});

describe('buyer: invoices (each refusal has its own reason)', () => {
  it('pays a correct invoice once', () => {
    const sim = charging();
    sim.autoPay = false;
    const e = injectFromWall(sim, wallInvoice(sim));
    expect(pays(e)).toHaveLength(1);
    expect(e.findIndex((x) => x.type === 'record' && x.kind === 'paymentIntent')).toBeLessThan(
      e.findIndex((x) => x.type === 'pay'),
    );
  });

  it('refuses an invoice signed by another node (INVOICE_WRONG_PAYEE) and stops', () => {
    const sim = charging();
    const e = injectFromWall(sim, wallInvoice(sim, { key: OTHER_KEY }));
    expect(pays(e)).toHaveLength(0);
    expect(refusals(e)).toEqual([Reason.INVOICE_WRONG_PAYEE]);
    expect(sim.buyer.phase).toBe('closing');
  });

  it('refuses an over-priced invoice (INVOICE_OVERPRICED)', () => {
    const sim = charging();
    const e = injectFromWall(sim, wallInvoice(sim, { priceMsatPerWh: 120n }));
    expect(refusals(e)).toEqual([Reason.INVOICE_OVERPRICED]);
    const sim2 = charging();
    const e2 = injectFromWall(sim2, wallInvoice(sim2, { amountMsat: 2001n }));
    expect(refusals(e2)).toEqual([Reason.INVOICE_OVERPRICED]);
    expect(pays(e2)).toHaveLength(0);
  });

  it('refuses an expired invoice (INVOICE_EXPIRED), declining it so the wall can reissue', () => {
    const sim = charging();
    const e = injectFromWall(sim, wallInvoice(sim, { timestampSec: Math.floor(sim.now / 1000) - 595 }));
    expect(refusals(e)).toEqual([Reason.INVOICE_EXPIRED]);
    expect(
      e.some(
        (x) =>
          x.type === 'send' && x.message.type === 'decline' && x.message.reason === Reason.INVOICE_EXPIRED,
      ),
    ).toBe(true);
    expect(sim.buyer.phase).toBe('charging');
  });

  it('refuses a duplicate invoice (INVOICE_DUPLICATE): same hash or same sequence, never paying twice', () => {
    const sim = charging();
    sim.autoPay = false;
    const inv = wallInvoice(sim);
    expect(pays(injectFromWall(sim, inv))).toHaveLength(1);
    // the very same invoice again is a repeat (the wall resends what was not answered): not paid, not refused
    const again = injectFromWall(sim, inv);
    expect(refusals(again)).toEqual([]);
    expect(again.some((e) => e.type === 'record' && e.kind === 'invoiceRepeated')).toBe(true);
    const hash = sim.buyer.payments.at(-1)?.paymentHash as string;
    const sameHash = injectFromWall(sim, wallInvoice(sim, { paymentHash: hash }));
    expect(refusals(sameHash)).toEqual([Reason.INVOICE_DUPLICATE]);
    // the same sequence number with another invoice
    const sameSeq = injectFromWall(sim, wallInvoice(sim, { seq: inv.seq }));
    expect(refusals(sameSeq)).toEqual([Reason.INVOICE_DUPLICATE]);
    expect(pays(again).length + pays(sameHash).length + pays(sameSeq).length).toBe(0);
  });

  it('refuses malformed, wrong-network, amount-mismatch, oversized and over-budget invoices with distinct reasons', () => {
    const cases: [Parameters<typeof wallInvoice>[1], number][] = [
      [{ bolt11: 'lnbcrt1nonsense' }, Reason.INVOICE_MALFORMED],
      [{ network: 'testnet' }, Reason.INVOICE_WRONG_NETWORK],
      [{ bolt11Amount: 2100n }, Reason.INVOICE_AMOUNT_MISMATCH],
      [{ blockWh: 201, amountMsat: 20_100n }, Reason.INVOICE_BLOCK_TOO_LARGE],
    ];
    for (const [over, reason] of cases) {
      const sim = charging();
      expect(refusals(injectFromWall(sim, wallInvoice(sim, over)))).toEqual([reason]);
    }
    const sim = charging({ sessionBudgetMsat: 20_000n });
    const e = injectFromWall(sim, wallInvoice(sim, { blockWh: 150, amountMsat: 15_000n }));
    expect(refusals(e)).toEqual([Reason.INVOICE_OVER_BUDGET]);
    expect(
      sim
        .ofType(sim.buyerEffects, 'send')
        .some((x) => x.message.type === 'stop' && x.message.reason === Reason.BUDGET_SPENT),
    ).toBe(true);
  });

  it('holds an invoice beyond the prepaid bound and pays it once its own meter catches up', () => {
    const sim = charging({ maxPrepaidWh: 100 });
    sim.autoPay = false;
    const committed = sim.buyer.committedWh;
    const e = injectFromWall(sim, wallInvoice(sim, { blockWh: 50, amountMsat: 5000n }));
    expect(pays(e)).toHaveLength(0);
    expect(sim.buyer.held).not.toBeNull();
    sim.carRegisterWh += committed + 50 - 100;
    sim.wallRegisterWh += committed + 50 - 100;
    const m = sim.stepBuyer({
      type: 'meter',
      atMs: sim.now,
      energyWh: sim.carRegisterWh,
      powerW: 7000,
      voltageV: 230,
      currentA: 30,
    });
    expect(pays(m)).toHaveLength(1);
  });

  it('declines an invoice when no offer was accepted yet', () => {
    const sim = new Sim();
    sim.plugBoth();
    sim.run(10_000, () => sim.buyer.phase === 'negotiating');
    expect(sim.buyer.phase).toBe('negotiating');
    const e = injectFromWall(sim, wallInvoice(sim));
    expect(refusals(e)).toEqual([Reason.INVOICE_UNEXPECTED]);
  });

  it('declines a failed payment so the wall reissues, and stops after three failures', () => {
    const sim = charging();
    sim.failPayments = true;
    sim.advance(30_000);
    expect(
      sim.buyerEffects.some(
        (e) =>
          e.type === 'send' && e.message.type === 'decline' && e.message.reason === Reason.PAYMENT_FAILED,
      ),
    ).toBe(true);
    expect(['closing', 'ended']).toContain(sim.buyer.phase);
  });
});

describe('buyer: payments of replaced invoices', () => {
  it('a payment failing for an invoice the wall has since replaced (its node was away) is not counted as a failure', () => {
    const sim = charging();
    sim.autoPay = false; // the car's node holds every payment in flight, as during an outage
    for (let round = 0; round < 4; round++) {
      sim.advance(5_000);
      const inflight = sim.heldPayments.splice(0);
      expect(inflight.length).toBeGreaterThan(0);
      // the wall gives up on each unpaid invoice (cancels it at its node) and issues a new one in its place
      for (const { hash } of inflight) {
        const inv = sim.nodeInvoices.find((i) => i.paymentHash === hash);
        if (inv) inv.status = 'cancelled';
        sim.sellerQueue.push({ type: 'invoiceExpired', atMs: sim.now, paymentHash: hash });
      }
      sim.advance(2_000);
      // the car's node comes back and reports the old payments failed (their invoices are cancelled)
      for (const { hash } of inflight) sim.settle(hash);
      sim.advance(1_000);
    }
    expect(sim.buyer.consecutiveFailures).toBe(0);
    expect(sim.buyer.phase).toBe('charging');
    expect(sim.ofType(sim.buyerEffects, 'record').filter((r) => r.kind === 'paymentSuperseded').length).toBe(
      4,
    );
    // once payments go through again, charging goes on
    sim.autoPay = true;
    for (const { hash } of sim.heldPayments.splice(0)) sim.settle(hash);
    const paidBefore = sim.buyer.paidMsat;
    sim.advance(30_000);
    expect(sim.buyer.paidMsat).toBeGreaterThan(paidBefore);
    expect(sim.buyer.phase).toBe('charging');
  });
});

describe('buyer: metering, stop and receipt', () => {
  it('stops when the wall claims more energy than its own meter beyond tolerance', () => {
    const sim = charging();
    sim.advance(10_000);
    sim.wallRegisterWh += 200;
    sim.advance(2_000);
    const stop = sim.buyerEffects.find((e) => e.type === 'send' && e.message.type === 'stop');
    expect(stop?.type === 'send' && stop.message.type === 'stop' && stop.message.reason).toBe(
      Reason.METER_MISMATCH,
    );
    expect(sim.ofType(sim.buyerEffects, 'sessionEnded')[0]?.receipt).toBeDefined();
  });

  it('stops at its target energy and receives a receipt listing every payment', () => {
    const sim = charging({ targetEnergyWh: 150 });
    sim.advance(120_000);
    const ended = sim.ofType(sim.buyerEffects, 'sessionEnded')[0];
    expect(ended?.reason).toBe(Reason.TARGET_REACHED);
    expect(ended?.receipt?.invoices.length).toBe(
      sim.buyer.payments.filter((p) => p.status === 'paid').length,
    );
    expect(ended?.error).toBeUndefined();
    expect(sim.buyer.committedWh).toBeLessThanOrEqual(150);
  });

  it('rejects a receipt not signed by the wall', () => {
    const sim = charging();
    sim.stepBuyer({ type: 'stopRequest', atMs: sim.now, reason: Reason.USER_STOP });
    const e = injectFromWall(sim, {
      type: 'receipt',
      sessionId: sim.buyer.sessionId as string,
      sellerPub: WALL_PUB,
      startRegisterWh: 0,
      endRegisterWh: 0,
      energyWh: 0,
      startMs: 0,
      endMs: 0,
      reason: 1,
      invoices: [],
      totalPaidMsat: 0n,
      signature: '1f' + '22'.repeat(64),
    });
    expect(sim.ofType(e, 'sessionEnded')[0]).toMatchObject({ reason: Reason.RECEIPT_INVALID });
  });

  it('ends with an explicit error when no receipt comes', () => {
    const sim = charging();
    sim.linkUp = false;
    sim.stepBuyer({ type: 'stopRequest', atMs: sim.now, reason: Reason.USER_STOP });
    const e = sim.stepBuyer({ type: 'tick', atMs: sim.now + 11_000 });
    expect(sim.ofType(e, 'sessionEnded')[0]?.error).toMatch(/no receipt/);
  });

  it('ends on heartbeat loss and on unplug, each with an explicit error', () => {
    const a = charging();
    const e = a.stepBuyer({ type: 'tick', atMs: a.now + 10_001 });
    expect(a.ofType(e, 'sessionEnded')[0]).toMatchObject({ reason: Reason.HEARTBEAT_LOST });
    const b = charging();
    const u = b.stepBuyer({ type: 'unplug', atMs: b.now });
    expect(b.ofType(u, 'sessionEnded')[0]).toMatchObject({
      reason: Reason.UNPLUGGED,
      error: expect.any(String),
    });
  });

  it('answers ping with pong; ignores garbage before the plug', () => {
    const sim = charging();
    const e = injectFromWall(sim, { type: 'ping', atMs: 42 });
    expect(e.some((x) => x.type === 'send' && x.message.type === 'pong')).toBe(true);
    const state = createBuyer(testBuyerConfig());
    expect(buyerStep(state, { type: 'frame', atMs: 0, bytes: Uint8Array.of(1, 2, 3) }).effects).toEqual([]);
  });

  it('rejects a clear hello once keys exist, with an alarm', () => {
    const sim = charging();
    const hello = encodeClearFrame({
      type: 'hello',
      role: 'wall',
      versions: [1],
      sessionId: '00'.repeat(16),
      ephemeralPub: '09'.repeat(32),
      identityPub: WALL_PUB,
    });
    if (!hello.ok) throw new Error('encode');
    const e = sim.stepBuyer({ type: 'frame', atMs: sim.now, bytes: hello.value });
    expect(e.some((x) => x.type === 'alarm')).toBe(true);
    expect(sim.buyer.phase).toBe('charging');
  });
});

describe('buyer: renewals', () => {
  it('accepts a renewal within its limits and checks later invoices at the new price', () => {
    const sim = charging();
    sim.stepSeller({ type: 'renewRequest', atMs: sim.now, priceMsatPerWh: 120n, afterWh: 0 });
    sim.run();
    expect(sim.seller.schedule).toHaveLength(2);
    expect(sim.buyer.schedule).toEqual(sim.seller.schedule);
    sim.advance(60_000);
    const settled = sim.seller.invoices.filter(
      (i) => i.status === 'settled' && i.fromWh >= (sim.seller.schedule[1]?.fromWh ?? 0),
    );
    expect(settled.length).toBeGreaterThan(0);
    expect(settled.every((i) => i.priceMsatPerWh === 120n)).toBe(true);
    expect(sim.buyer.phase).toBe('charging');
  });

  it('declines a renewal above its maximum; the session ends at the boundary', () => {
    const sim = charging();
    sim.stepSeller({ type: 'renewRequest', atMs: sim.now, priceMsatPerWh: 200n, afterWh: 40 });
    sim.run();
    sim.advance(120_000);
    const ended = sim.ofType(sim.sellerEffects, 'sessionEnded')[0];
    expect(ended?.reason).toBe(Reason.RENEWAL_DECLINED);
    expect(ended?.receipt?.invoices.every((i) => i.amountMsat === 100n * BigInt(i.blockWh))).toBe(true);
  });
});
