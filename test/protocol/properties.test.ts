// Property tests over random event sequences: the two machines run back to back through a random mix of
// time passing, payments held/failed/released, lost/replayed/tampered/reordered/foreign frames, link drops,
// renewals, stops and unplugs. Invariants are checked after every command.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buyerChannel, Reason, sellerChannel, type Effect } from '../../protocol/index.js';
import { Sim, testBuyerConfig, testSellerConfig } from './harness.js';

type Cmd =
  | { k: 'advance'; seconds: number; powerW: number }
  | { k: 'holdPayments'; hold: boolean }
  | { k: 'releasePayments'; count: number }
  | { k: 'failPayments'; fail: boolean }
  | { k: 'drop'; toBuyer: boolean }
  | { k: 'replay'; toBuyer: boolean; back: number }
  | { k: 'tamper'; toBuyer: boolean; at: number; xor: number }
  | { k: 'reorder'; toBuyer: boolean }
  | { k: 'foreign'; toBuyer: boolean }
  | { k: 'expireOpen' }
  | { k: 'renew'; price: number; afterWh: number }
  | { k: 'link'; up: boolean }
  | { k: 'stop'; buyer: boolean }
  | { k: 'overclaim'; wh: number }
  | { k: 'restart' };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      k: fc.constant('advance' as const),
      seconds: fc.integer({ min: 1, max: 8 }),
      powerW: fc.constantFrom(0, 1500, 7200, 11_000),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('holdPayments' as const), hold: fc.boolean() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('releasePayments' as const),
      count: fc.integer({ min: 1, max: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('failPayments' as const), fail: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('restart' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('drop' as const), toBuyer: fc.boolean() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('replay' as const),
      toBuyer: fc.boolean(),
      back: fc.integer({ min: 1, max: 6 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('tamper' as const),
      toBuyer: fc.boolean(),
      at: fc.nat(),
      xor: fc.integer({ min: 1, max: 255 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('reorder' as const), toBuyer: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('foreign' as const), toBuyer: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ k: 'expireOpen' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('renew' as const),
      price: fc.constantFrom(80, 120, 200),
      afterWh: fc.integer({ min: 0, max: 80 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('link' as const), up: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('stop' as const), buyer: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant('overclaim' as const), wh: fc.integer({ min: 1, max: 100 }) }),
  },
);

const GRACE = 5;
const MAX_STEP_WH = Math.floor(11_000 / 3600);
const sellerCfg = testSellerConfig({ graceWh: GRACE, maxPowerW: 11_000 });
const buyerCfg = testBuyerConfig({ maxPrepaidWh: 150, sessionBudgetMsat: 60_000n, maxPriceMsatPerWh: 150n });

/** A stash of frames from an unrelated session, for foreign-session injection. */
function foreignFrames(): { toBuyer: Uint8Array[]; toSeller: Uint8Array[] } {
  const other = new Sim(sellerCfg, buyerCfg);
  other.stepBuyer({ type: 'plug', atMs: other.now, entropyHex: 'c1'.repeat(32) });
  other.stepSeller({ type: 'plug', atMs: other.now, entropyHex: 'c2'.repeat(32) });
  other.meters();
  other.run();
  other.advance(5000);
  const sealed = (f: Uint8Array) => f[2] !== 0;
  return { toBuyer: other.sentBySeller.filter(sealed), toSeller: other.sentByBuyer.filter(sealed) };
}
const FOREIGN = foreignFrames();

const overclaimedWh = new WeakMap<Sim, number>();

function rejectedCount(effects: Effect[]): number {
  return effects.filter((e) => e.type === 'record' && e.kind === 'frameRejected').length;
}

function inject(sim: Sim, toBuyer: boolean, bytes: Uint8Array): Effect[] {
  return toBuyer
    ? sim.stepBuyer({ type: 'frame', atMs: sim.now, bytes })
    : sim.stepSeller({ type: 'frame', atMs: sim.now, bytes });
}

function apply(sim: Sim, c: Cmd): void {
  switch (c.k) {
    case 'advance':
      sim.powerW = c.powerW;
      sim.advance(c.seconds * 1000, c.powerW / 3600);
      return;
    case 'holdPayments':
      sim.autoPay = !c.hold;
      return;
    case 'restart': {
      // every reachable state persists and restores to itself (the validator never refuses a real state)
      const seller = sim.seller;
      const buyer = sim.buyer;
      sim.restart();
      expect(sim.seller).toEqual(seller);
      expect(sim.buyer).toEqual(buyer);
      return;
    }
    case 'releasePayments':
      for (const p of sim.heldPayments.splice(0, c.count)) sim.settle(p.hash);
      sim.run();
      return;
    case 'failPayments':
      sim.failPayments = c.fail;
      return;
    case 'drop':
      (c.toBuyer ? sim.toBuyer : sim.toSeller).shift();
      return;
    case 'replay': {
      const sent = (c.toBuyer ? sim.deliveredToBuyer : sim.deliveredToSeller).filter((f) => f[2] !== 0);
      const frame = sent[sent.length - c.back];
      if (frame === undefined) return;
      const before = c.toBuyer ? buyerChannel(sim.buyer) : sellerChannel(sim.seller);
      if (before === null) return;
      const e = inject(sim, c.toBuyer, frame);
      const phase = c.toBuyer ? sim.buyer.phase : sim.seller.phase;
      if (phase !== 'ended') expect(rejectedCount(e), 'replayed frame must be rejected').toBe(1);
      return;
    }
    case 'tamper': {
      const sent = (c.toBuyer ? sim.sentBySeller : sim.sentByBuyer).filter((f) => f[2] !== 0);
      const frame = sent.at(-1);
      if (frame === undefined) return;
      const t = Uint8Array.from(frame);
      const i = c.at % t.length;
      t[i] = (t[i] as number) ^ c.xor;
      const e = inject(sim, c.toBuyer, t);
      const phase = c.toBuyer ? sim.buyer.phase : sim.seller.phase;
      if (phase !== 'ended' && phase !== 'idle')
        expect(rejectedCount(e), 'tampered frame must be rejected').toBe(1);
      return;
    }
    case 'reorder': {
      const q = c.toBuyer ? sim.toBuyer : sim.toSeller;
      if (q.length >= 2) [q[0], q[1]] = [q[1] as Uint8Array, q[0] as Uint8Array];
      sim.run();
      return;
    }
    case 'foreign': {
      const f = (c.toBuyer ? FOREIGN.toBuyer : FOREIGN.toSeller).at(-1);
      if (f === undefined) return;
      const e = inject(sim, c.toBuyer, f);
      const phase = c.toBuyer ? sim.buyer.phase : sim.seller.phase;
      if (phase !== 'ended' && phase !== 'idle')
        expect(rejectedCount(e), 'foreign frame must be rejected').toBe(1);
      return;
    }
    case 'expireOpen': {
      const open = sim.seller.invoices.find((i) => i.status === 'open');
      if (open?.paymentHash != null) {
        const n = sim.nodeInvoices.find((x) => x.paymentHash === open.paymentHash);
        if (n !== undefined && n.status === 'open') n.status = 'cancelled';
        sim.stepSeller({ type: 'invoiceExpired', atMs: sim.now, paymentHash: open.paymentHash });
        sim.run();
      }
      return;
    }
    case 'renew':
      sim.stepSeller({
        type: 'renewRequest',
        atMs: sim.now,
        priceMsatPerWh: BigInt(c.price),
        afterWh: c.afterWh,
      });
      sim.run();
      return;
    case 'link':
      sim.linkUp = c.up;
      sim.stepSeller({ type: c.up ? 'linkUp' : 'linkDown', atMs: sim.now });
      sim.stepBuyer({ type: c.up ? 'linkUp' : 'linkDown', atMs: sim.now });
      sim.run();
      return;
    case 'stop':
      if (c.buyer) sim.stepBuyer({ type: 'stopRequest', atMs: sim.now, reason: Reason.USER_STOP });
      else sim.stepSeller({ type: 'stopRequest', atMs: sim.now, reason: Reason.USER_STOP });
      sim.run();
      return;
    case 'overclaim':
      // the wall's meter jumps (it over-reads): the buyer must notice; the seller's books see unpaid energy
      sim.wallRegisterWh += c.wh;
      overclaimedWh.set(sim, (overclaimedWh.get(sim) ?? 0) + c.wh);
      return;
  }
}

function checkInvariants(sim: Sim): void {
  const s = sim.seller;
  // the seller never has unpaid energy beyond the grace (plus one meter interval of physics)
  expect(s.energized).toBe(sim.energized);
  if (s.energized) expect(s.deliveredWh).toBeLessThan(s.paidWh + GRACE);
  expect(s.deliveredWh - s.paidWh).toBeLessThanOrEqual(GRACE + MAX_STEP_WH + (overclaimedWh.get(sim) ?? 0));
  // paid total = sum of settled invoices
  const settled = s.invoices.filter((i) => i.status === 'settled');
  expect(s.paidMsat).toBe(settled.reduce((a, i) => a + (i.settledMsat ?? 0n), 0n));
  expect(s.paidWh).toBe(settled.reduce((a, i) => a + i.blockWh, 0));
  // the buyer never pays beyond its limits or twice for one hash
  const b = sim.buyer;
  const pays = sim.buyerEffects.filter((e): e is Extract<Effect, { type: 'pay' }> => e.type === 'pay');
  expect(new Set(pays.map((p) => p.paymentHash)).size).toBe(pays.length);
  const spent = pays.reduce((a, p) => a + p.amountMsat + p.maxFeeMsat, 0n);
  expect(spent).toBeLessThanOrEqual(buyerCfg.sessionBudgetMsat);
  for (const p of pays) {
    const pay = b.payments.find((x) => x.paymentHash === p.paymentHash);
    expect(p.amountMsat).toBeLessThanOrEqual(buyerCfg.maxPriceMsatPerWh * BigInt(pay?.blockWh ?? 0));
  }
  if (b.phase !== 'ended') expect(b.committedWh - b.ownEnergyWh).toBeLessThanOrEqual(buyerCfg.maxPrepaidWh);
  // every end of session carries a receipt or an explicit error
  for (const e of [...sim.sellerEffects, ...sim.buyerEffects]) {
    if (e.type === 'sessionEnded') expect(e.receipt !== undefined || (e.error ?? '').length > 0).toBe(true);
  }
}

describe('properties over random event sequences', () => {
  it('hold for both machines, and every session ends with a receipt or an explicit error', () => {
    fc.assert(
      fc.property(fc.array(cmd, { minLength: 1, maxLength: 30 }), (cmds) => {
        const sim = new Sim(sellerCfg, buyerCfg);
        sim.plug();
        checkInvariants(sim);
        for (const c of cmds) {
          apply(sim, c);
          checkInvariants(sim);
        }
        // the end: unplug both sides, let time pass
        sim.stepSeller({ type: 'unplug', atMs: sim.now });
        sim.stepBuyer({ type: 'unplug', atMs: sim.now });
        sim.run();
        sim.now += 60_000;
        sim.stepSeller({ type: 'tick', atMs: sim.now });
        sim.stepBuyer({ type: 'tick', atMs: sim.now });
        sim.run();
        checkInvariants(sim);
        expect(sim.seller.phase).toBe('ended');
        expect(sim.buyer.phase).toBe('ended');
        const sEnd = sim.sellerEffects.filter((e) => e.type === 'sessionEnded');
        const bEnd = sim.buyerEffects.filter((e) => e.type === 'sessionEnded');
        expect(sEnd).toHaveLength(1);
        expect(bEnd).toHaveLength(1);
        const receipt = sEnd[0]?.type === 'sessionEnded' ? sEnd[0].receipt : undefined;
        if (receipt !== undefined) {
          expect(receipt.totalPaidMsat).toBe(sim.seller.paidMsat);
          expect(receipt.totalPaidMsat).toBe(receipt.invoices.reduce((a, i) => a + i.amountMsat, 0n));
        }
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 200) },
    );
  });
});
