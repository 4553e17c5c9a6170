// Offline case 3 in the machines (protocol version 3): neither node reaches the Lightning network. The car's
// payments fail for lack of a route, so it signs a promise to pay each invoice; the wall credits the block within
// its per-car cap (earlier sessions' unpaid promises from the store) and keeps the signed promise. Energy stops
// at the cap; the promised invoices stay open at the node (never cancelled) and, once the car pays them, only the
// money is added. Forged or unwanted promises are refused by name.
import { describe, expect, it } from 'vitest';
import type { Effect } from '../../protocol/effects.js';
import { promiseText } from '../../protocol/promise.js';
import { signNodeMessage } from '../../protocol/nodeSignature.js';
import { buyerKeyed } from '../../protocol/buyer.js';
import { sellerKeyed } from '../../protocol/seller.js';
import { Reason, reasonName } from '../../protocol/reasons.js';
import { publicKeyOf } from '../../protocol/nodeSignature.js';
import {
  CAR_NODE_KEY,
  injectFromVehicle,
  OTHER_KEY,
  Sim,
  testBuyerConfig,
  testSellerConfig,
} from './harness.js';

const CAR_PUB = publicKeyOf(CAR_NODE_KEY);

/** Both sides offline: every payment fails for lack of a route; the wall's store answers promise lookups. */
class OfflineBothSim extends Sim {
  /** earlier sessions' unpaid promised energy the store reports (this car, all cars) */
  earlier = { carWh: 0, siteWh: 0 };
  /** the store does not answer lookups (a wall that cannot read its promises) */
  silentStore = false;
  offline = true;

  constructor(o: { capWh: number; siteCapWh?: number; promiseMaxMsat?: bigint; versions?: number[] }) {
    const versions = o.versions ?? [1, 2, 3];
    super(
      testSellerConfig({
        versions,
        minBlockWh: 10,
        maxBlockWh: 20,
        graceWh: 5,
        promiseCapWh: o.capWh,
        promiseSiteCapWh: o.siteCapWh ?? 0,
      }),
      testBuyerConfig({
        versions,
        maxBlockWh: 20,
        promiseMaxMsat: o.promiseMaxMsat ?? 1_000_000n,
        identity: { kind: 'node', nodePubkey: CAR_PUB },
      }),
    );
    this.autoPay = false;
  }

  override stepSeller(ev: Parameters<Sim['stepSeller']>[0]): Effect[] {
    const effects = super.stepSeller(ev);
    for (const e of effects)
      if (e.type === 'lookupPromises' && !this.silentStore)
        this.sellerQueue.push({
          type: 'promisesOutstanding',
          atMs: this.now,
          vehiclePub: e.vehiclePub,
          ...this.earlier,
        });
    return effects;
  }

  /** The car's node answers the held payments: no route while offline, paid once online. */
  answerPayments(): void {
    for (const p of this.heldPayments.splice(0)) {
      if (!this.offline) this.settle(p.hash);
      else
        this.buyerQueue.push({
          type: 'paymentResult',
          atMs: this.now,
          paymentHash: p.hash,
          ok: false,
          error: 'no route',
          failure: 'noRoute',
        });
    }
  }

  /** Time passes; the car's node answers each second. */
  runFor(ms: number): void {
    for (let t = 0; t < ms; t += 1000) {
      this.advance(1000);
      this.answerPayments();
      this.run();
    }
  }
}

function records(effects: Effect[], kind: string): Record<string, unknown>[] {
  return effects
    .filter((e) => e.type === 'record' && e.kind === kind)
    .map((e) => (e as { data: Record<string, unknown> }).data);
}

describe('promises to pay (offline case 3)', () => {
  it('credits promised blocks up to the per-car cap, then the car stops; promised invoices stay payable', () => {
    const sim = new OfflineBothSim({ capWh: 100 });
    sim.plugBoth();
    sim.runFor(120_000);
    const promised = records(sim.sellerEffects, 'invoicePromised');
    expect(promised.length).toBeGreaterThan(0);
    const promisedWh = promised.reduce((a, p) => a + Number(p['blockWh']), 0);
    expect(promisedWh).toBeLessThanOrEqual(100);
    // the next promise would have crossed the cap: refused by name, and the car ended the session with it
    expect(records(sim.sellerEffects, 'promiseRefused').map((r) => r['refusal'])).toContain(
      'PROMISE_CAP_REACHED',
    );
    expect(sim.buyer.phase).toBe('ended');
    if (sim.buyer.phase === 'ended') expect(reasonName(sim.buyer.endReason)).toBe('PROMISE_REFUSED');
    // energy stopped at the cap (plus the wall's grace)
    expect(sim.seller.deliveredWh).toBeLessThanOrEqual(100 + 5);
    expect(sim.seller.deliveredWh).toBeGreaterThanOrEqual(promisedWh - 20);
    // every promise is signed by the car's node key, the evidence the wall keeps
    for (const p of promised) expect(p['vehiclePub']).toBe(CAR_PUB);
    // promised invoices were not cancelled at the close; the car keeps them owed
    const promisedHashes = new Set(promised.map((p) => String(p['paymentHash'])));
    for (const inv of sim.nodeInvoices.filter((i) => promisedHashes.has(i.paymentHash)))
      expect(inv.status).toBe('open');
    expect(
      sim.buyer.payments
        .filter((p) => p.status === 'promised')
        .map((p) => p.paymentHash)
        .sort(),
    ).toEqual([...promisedHashes].sort());
    // the receipt lists no payment (nothing was paid yet)
    const ended = sim.sellerEffects.find((e) => e.type === 'sessionEnded');
    expect(ended?.type === 'sessionEnded' && ended.receipt?.invoices.length).toBe(0);

    // back online, the car pays a promise: the wall adds the money, not the energy again
    const paidWhBefore = sim.seller.paidWh;
    const first = [...promisedHashes][0] as string;
    sim.offline = false;
    sim.settle(first);
    sim.run();
    expect(sim.seller.paidWh).toBe(paidWhBefore);
    expect(
      records(sim.sellerEffects, 'invoiceSettled').some(
        (r) => r['paymentHash'] === first && r['promised'] === true,
      ),
    ).toBe(true);
  });

  it("counts the car's earlier unpaid promises against its cap, and all cars' against the site cap", () => {
    const car = new OfflineBothSim({ capWh: 100 });
    car.earlier = { carWh: 95, siteWh: 95 };
    car.plugBoth();
    car.runFor(30_000);
    expect(records(car.sellerEffects, 'invoicePromised')).toHaveLength(0);
    expect(records(car.sellerEffects, 'promiseRefused')[0]?.['refusal']).toBe('PROMISE_CAP_REACHED');
    expect(car.seller.deliveredWh).toBeLessThanOrEqual(5);

    const site = new OfflineBothSim({ capWh: 100, siteCapWh: 500 });
    site.earlier = { carWh: 0, siteWh: 495 };
    site.plugBoth();
    site.runFor(30_000);
    expect(records(site.sellerEffects, 'promiseRefused')[0]?.['refusal']).toBe('PROMISE_SITE_CAP_REACHED');
  });

  it('refuses promises when the wall takes none (cap 0, the default) or before its store answered', () => {
    const off = new OfflineBothSim({ capWh: 0 });
    off.plugBoth();
    off.runFor(30_000);
    expect(records(off.sellerEffects, 'promiseRefused')[0]?.['refusal']).toBe('PROMISES_OFF');
    expect(off.sellerEffects.some((e) => e.type === 'lookupPromises')).toBe(false);

    const silent = new OfflineBothSim({ capWh: 100 });
    silent.silentStore = true;
    silent.plugBoth();
    silent.runFor(30_000);
    expect(records(silent.sellerEffects, 'promiseRefused')[0]?.['refusal']).toBe('PROMISE_CAP_UNKNOWN');
  });

  it('refuses forged promises by name: wrong signer, wrong amount, unknown invoice, a repeat', () => {
    const sim = new OfflineBothSim({ capWh: 1_000 });
    sim.plugBoth();
    // deposit invoice issued; hold the car's payment so the invoice stays open for the forgeries
    sim.runFor(1_000);
    const seller = sim.seller;
    if (!sellerKeyed(seller) || !buyerKeyed(sim.buyer)) throw new Error('no session');
    const inv = seller.invoices.find((i) => i.status === 'open' && i.promisedAtMs === null);
    if (!inv || !inv.paymentHash) throw new Error('no open invoice');
    const terms = {
      sessionId: seller.sessionId,
      sellerPub: seller.config.nodePubkey,
      buyerPub: CAR_PUB,
      seq: inv.seq,
      paymentHash: inv.paymentHash,
      amountMsat: inv.amountMsat,
    };
    const forge = (key: string, t = terms) => signNodeMessage(promiseText(t), key).signatureHex;
    const refusalOf = (effects: Effect[]) => records(effects, 'promiseRefused')[0]?.['refusal'];
    const base = {
      type: 'promise' as const,
      seq: inv.seq,
      paymentHash: inv.paymentHash,
      amountMsat: inv.amountMsat,
    };
    expect(refusalOf(injectFromVehicle(sim, { ...base, signature: forge(OTHER_KEY) }))).toBe(
      'PROMISE_SIGNATURE_INVALID',
    );
    expect(
      refusalOf(
        injectFromVehicle(sim, { ...base, amountMsat: inv.amountMsat - 1n, signature: forge(CAR_NODE_KEY) }),
      ),
    ).toBe('PROMISE_AMOUNT_MISMATCH');
    expect(
      refusalOf(
        injectFromVehicle(sim, { ...base, paymentHash: 'ab'.repeat(32), signature: forge(CAR_NODE_KEY) }),
      ),
    ).toBe('PROMISE_UNKNOWN_INVOICE');
    // the same signature over another session's text does not verify either
    const otherSession = forge(CAR_NODE_KEY, { ...terms, sessionId: 'cd'.repeat(16) });
    expect(refusalOf(injectFromVehicle(sim, { ...base, signature: otherSession }))).toBe(
      'PROMISE_SIGNATURE_INVALID',
    );
    // a valid one is credited once; its repeat names the invoice as no longer promisable
    const good = injectFromVehicle(sim, { ...base, signature: forge(CAR_NODE_KEY) });
    expect(records(good, 'invoicePromised')).toHaveLength(1);
    expect(refusalOf(injectFromVehicle(sim, { ...base, signature: forge(CAR_NODE_KEY) }))).toBe(
      'PROMISE_UNKNOWN_INVOICE',
    );
    // each refusal reached the car as an authenticated error naming it
    const alarms = sim.sellerEffects.filter((e) => e.type === 'alarm' && e.reason === Reason.PROMISE_REFUSED);
    expect(alarms).toHaveLength(5);
  });

  it('a version-2 session has no promises: the car does not promise and the wall treats one as unexpected', () => {
    const sim = new OfflineBothSim({ capWh: 100, versions: [1, 2] });
    sim.plugBoth();
    sim.runFor(20_000);
    expect(records(sim.buyerEffects, 'paymentPromised')).toHaveLength(0);
    expect(records(sim.sellerEffects, 'invoicePromised')).toHaveLength(0);
  });

  it('a promised block survives a restart of both machines (persisted, migrated state)', () => {
    const sim = new OfflineBothSim({ capWh: 100 });
    sim.plugBoth();
    sim.runFor(5_000);
    const before = sim.seller.invoices.filter((i) => i.promisedAtMs !== null).length;
    expect(before).toBeGreaterThan(0);
    sim.restart();
    expect(sim.seller.invoices.filter((i) => i.promisedAtMs !== null)).toHaveLength(before);
    expect(sim.seller.promisedWh).toBeGreaterThan(0);
    expect(sim.buyer.payments.some((p) => p.status === 'promised')).toBe(true);
  });
});
