// Offline case 1b in the machines (protocol version 2): the wall's node is unreachable, so every invoice comes
// from its stock (payments/invoice-stock.ts, the real pure stock) with a fixed denomination; the car pays through
// its own node and returns the preimage in a sealed `paymentProof`; the wall credits a block only on a proof the
// stock accepts (no settlement from the node arrives). Attacks are refused by name and buy nothing.
import { describe, expect, it } from 'vitest';
import { acceptProof, emptyStock, handOut, type StockState } from '../../payments/invoice-stock.js';
import type { Effect, SellerEvent } from '../../protocol/effects.js';
import { sellerStepWithStock, stockedBlockWh } from '../../protocol/paymentProof.js';
import { sellerKeyed, type SellerState } from '../../protocol/seller.js';
import { Reason } from '../../protocol/reasons.js';
import {
  injectFromVehicle,
  makeInvoice,
  sha256hex,
  Sim,
  testBuyerConfig,
  testSellerConfig,
} from './harness.js';

const PRICE = 100n; // msat/Wh (testSellerConfig)
const DENOMINATION = 2_000n; // 20 Wh at the price

/** A Sim whose wall is offline: its invoices come from a stock made "while online", settlements reach it only
 * through the car's proofs, checked by the pure stock. */
class OfflineSim extends Sim {
  stock: StockState = emptyStock();
  /** proofs the stock refused, by name */
  refusals: string[] = [];
  private made = 0;

  /** The wall's node is reachable again: invoices come from it and its settlements arrive (as in `Sim`). */
  online = false;

  /**
   * @param maxBlockWh the block both sides agree (30 Wh asks 3 000 msat: a 2 000 msat invoice shrinks it)
   * @param targetEnergyWh the car's target (0: none)
   */
  constructor(
    denominations: bigint[],
    perDenomination: number,
    versions = [1, 2],
    maxBlockWh = 30,
    targetEnergyWh = 0,
  ) {
    super(
      testSellerConfig({ versions, maxBlockWh, minBlockWh: 10, depositBlocks: 1 }),
      testBuyerConfig({ versions, maxBlockWh, targetEnergyWh }),
    );
    for (const amountMsat of denominations)
      for (let k = 0; k < perDenomination; k++) this.stockInvoice(amountMsat);
  }

  /** One invoice of the wall's node put in the stock (its preimage known to the fake node, so the car can pay). */
  stockInvoice(amountMsat: bigint): string {
    const preimage = sha256hex(`stock ${this.made++}`);
    const paymentHash = sha256hex(Buffer.from(preimage, 'hex'));
    const bolt11 = makeInvoice({
      key: this.wallKey,
      amountMsat,
      paymentHash,
      timestampSec: Math.floor(this.now / 1000),
      expirySec: 7 * 86_400,
    });
    this.nodeInvoices.push({ seq: -1, paymentHash, preimage, amountMsat, status: 'open' });
    this.stock = {
      ...this.stock,
      invoices: {
        ...this.stock.invoices,
        [paymentHash]: {
          phase: 'stocked',
          paymentHash,
          bolt11,
          amountMsat,
          expiresAtMs: this.now + 7 * 86_400_000,
        },
      },
    };
    return paymentHash;
  }

  override stepSeller(ev: SellerEvent): Effect[] {
    // the node is unreachable: its settlements never arrive (only proofs settle)
    if (!this.online && ev.type === 'invoiceSettled' && !this.provenHashes.has(ev.paymentHash)) return [];
    const r = sellerStepWithStock(this.seller, ev);
    this.seller = r.state;
    this.sellerEffects.push(...r.effects);
    for (const e of r.effects) this.onOfflineEffect(e);
    return r.effects;
  }

  private readonly provenHashes = new Set<string>();

  private onOfflineEffect(e: Effect): void {
    if (e.type === 'createInvoice' && !this.online) {
      // the shell's offline path: the largest stocked denomination not above the request, whole Wh at the price,
      // that the machine can sell (wall-daemon.ts issueFromStock)
      const requested = this.seller.invoices.find((i) => i.seq === e.seq)!;
      const handed = handOut(this.stock, {
        sessionId: this.seller.sessionId ?? '',
        minMsat: 0n,
        maxMsat: e.amountMsat,
        stepMsat: PRICE,
        fits: (amountMsat) => stockedBlockWh(this.seller, requested, amountMsat) !== null,
        atMs: this.now,
      });
      this.stock = handed.state;
      if (handed.result === null) {
        this.sellerQueue.push({
          type: 'invoiceCreateFailed',
          atMs: this.now,
          seq: e.seq,
          error: 'stock out',
        });
        return;
      }
      this.sellerQueue.push({
        type: 'invoiceCreated',
        atMs: this.now,
        seq: e.seq,
        bolt11: handed.result.bolt11,
        paymentHash: handed.result.paymentHash,
        stockedAmountMsat: handed.result.amountMsat,
      });
      return;
    }
    if (e.type === 'verifyPaymentProof') {
      const r = acceptProof(this.stock, {
        sessionId: this.seller.sessionId ?? '',
        paymentHash: e.paymentHash,
        preimage: e.preimage,
        atMs: this.now,
      });
      if (!r.result.ok) {
        this.refusals.push(r.result.refusal);
        // the shell hands the keeper's refusal back to the machine, which names it to the car
        this.sellerQueue.push({
          type: 'paymentProofRefused',
          atMs: this.now,
          seq: e.seq,
          paymentHash: e.paymentHash,
          refusal: r.result.refusal,
        });
        return;
      }
      this.stock = r.state;
      this.provenHashes.add(e.paymentHash);
      this.sellerQueue.push({
        type: 'invoiceSettled',
        atMs: this.now,
        paymentHash: e.paymentHash,
        amountMsat: r.result.amountMsat,
      });
      return;
    }
    // everything else as the ordinary fake shell does
    (this as unknown as { onSellerEffect(e: Effect): void }).onSellerEffect(e);
  }
}

/** What `stockedBlockWh` reads of a session at 100 msat/Wh, minBlockWh 10, with the car's target (0: none). */
const limitsOf = (targetEnergyWh: number) => ({
  pendingRenew: null,
  stopAtWh: null,
  targetEnergyWh,
  schedule: [{ fromWh: 0, priceMsatPerWh: 100n }],
  config: { minBlockWh: 10 },
});

/** The protocol version of the seller's session (null before its keys exist). */
const sellerVersion = (s: SellerState): number | null => (sellerKeyed(s) ? s.version : null);

function records(effects: Effect[], kind: string): Extract<Effect, { type: 'record' }>[] {
  return effects.filter(
    (e): e is Extract<Effect, { type: 'record' }> => e.type === 'record' && e.kind === kind,
  );
}

describe('payment proofs: charging on the wall’s invoice stock while the wall is offline', () => {
  it('a whole session is paid by proofs only: every block shrinks to the stocked denomination, each proof buys once', () => {
    const sim = new OfflineSim([DENOMINATION], 8);
    sim.plug();
    expect(sellerVersion(sim.seller)).toBe(2);
    sim.advance(60_000);
    const settled = sim.seller.invoices.filter((i) => i.status === 'settled');
    expect(settled.length).toBeGreaterThanOrEqual(3);
    for (const inv of settled) {
      expect(inv.amountMsat).toBe(DENOMINATION);
      expect(inv.blockWh).toBe(20);
      expect(sim.stock.invoices[inv.paymentHash as string]?.phase).toBe('proven');
    }
    expect(sim.seller.paidMsat).toBe(DENOMINATION * BigInt(settled.length));
    expect(sim.refusals).toEqual([]);
    // the car sent proofs, never the version-1 `paid`
    expect(records(sim.sellerEffects, 'paymentProofReceived').length).toBeGreaterThanOrEqual(settled.length);
    expect(records(sim.sellerEffects, 'buyerReportsPaid')).toEqual([]);
    // the requested 30 Wh blocks (3 000 msat) were served by 2 000 msat invoices: 20 Wh each, the car agreed
    expect(records(sim.sellerEffects, 'invoiceRequested')[0]?.data['amountMsat']).toBe('3000');
    expect(sim.seller.deliveredWh).toBeGreaterThan(40);
    expect(sim.seller.deliveredWh).toBeLessThanOrEqual(sim.seller.paidWh + sim.seller.config.graceWh);
  });

  it('stops when the stock runs out: no invoice, the power is cut for lack of payment', () => {
    const sim = new OfflineSim([DENOMINATION], 2);
    sim.plug();
    sim.advance(120_000);
    const settled = sim.seller.invoices.filter((i) => i.status === 'settled');
    expect(settled.length).toBe(2);
    expect(sim.seller.paidWh).toBe(40);
    // delivered never passes what the stock paid for plus the grace
    expect(sim.seller.deliveredWh).toBeLessThanOrEqual(40 + sim.seller.config.graceWh + 3);
    expect(sim.energized).toBe(false);
  });

  it('refuses by name: a replayed proof, a preimage of a foreign invoice, a wrong preimage; none buys energy', () => {
    const sim = new OfflineSim([DENOMINATION], 4);
    sim.plug();
    sim.advance(3_000);
    const first = sim.seller.invoices.find((i) => i.status === 'settled');
    if (first?.paymentHash == null) throw new Error('no settled invoice');
    const preimage = sim.nodeInvoices.find((n) => n.paymentHash === first.paymentHash)?.preimage as string;
    const paidBefore = sim.seller.paidMsat;

    // the same proof again (sealed afresh, so not a frame replay): the stock refuses it as used
    const replay = injectFromVehicle(sim, {
      type: 'paymentProof',
      seq: first.seq,
      paymentHash: first.paymentHash,
      preimage,
      paidAtMs: sim.now,
    });
    const sentBefore = sim.sellerEffects.length;
    sim.run();
    expect(replay.some((e) => e.type === 'verifyPaymentProof')).toBe(true);
    expect(sim.refusals).toEqual(['PROOF_ALREADY_USED']);
    // the car is told by name, and the ledger has it
    const afterReplay = sim.sellerEffects.slice(sentBefore);
    expect(
      afterReplay
        .filter((e) => e.type === 'send' && e.message.type === 'error')
        .map((e) => e.type === 'send' && e.message),
    ).toEqual([
      { type: 'error', reason: Reason.UNEXPECTED_MESSAGE, text: `PROOF_ALREADY_USED (invoice ${first.seq})` },
    ]);
    expect(records(afterReplay, 'paymentProofRefused')[0]?.data['refusal']).toBe('PROOF_ALREADY_USED');

    // a genuinely paid invoice of the same wall node, not from the stock and not of this session
    const foreignPreimage = sha256hex('foreign');
    const foreign = injectFromVehicle(sim, {
      type: 'paymentProof',
      seq: 99,
      paymentHash: sha256hex(Buffer.from(foreignPreimage, 'hex')),
      preimage: foreignPreimage,
      paidAtMs: sim.now,
    });
    expect(records(foreign, 'paymentProofRefused')[0]?.data['refusal']).toBe('PROOF_UNKNOWN_INVOICE');
    expect(foreign.some((e) => e.type === 'send' && e.message.type === 'error')).toBe(true);

    // a preimage that does not hash to the claimed invoice
    const wrong = injectFromVehicle(sim, {
      type: 'paymentProof',
      seq: first.seq,
      paymentHash: first.paymentHash,
      preimage: '00'.repeat(32),
      paidAtMs: sim.now,
    });
    expect(records(wrong, 'paymentProofRefused')[0]?.data['refusal']).toBe('PROOF_PREIMAGE_MISMATCH');
    sim.run();
    expect(sim.seller.paidMsat).toBe(paidBefore);
  });

  it('in a version-1 session a paymentProof is an unexpected message and the car reports `paid`', () => {
    const sim = new OfflineSim([], 0, [1]);
    sim.plug();
    expect(sellerVersion(sim.seller)).toBe(1);
    const preimage = sha256hex('x');
    const e = injectFromVehicle(sim, {
      type: 'paymentProof',
      seq: 0,
      paymentHash: sha256hex(Buffer.from(preimage, 'hex')),
      preimage,
      paidAtMs: sim.now,
    });
    expect(e.some((x) => x.type === 'verifyPaymentProof')).toBe(false);
    expect(e.some((x) => x.type === 'send' && x.message.type === 'error')).toBe(true);
  });

  it('a stocked denomination shrinks the requested block to whole Wh, never grows it', () => {
    const session = limitsOf(0);
    const inv = { priceMsatPerWh: 100n, amountMsat: 3_000n, blockWh: 30, fromWh: 0 };
    expect(stockedBlockWh(session, inv, 2_000n)).toBe(20);
    expect(stockedBlockWh(session, inv, 3_000n)).toBe(30);
    expect(stockedBlockWh(session, inv, 5_000n)).toBeNull(); // larger than asked
    expect(stockedBlockWh(session, inv, 2_050n)).toBeNull(); // not whole Wh
  });

  it('never shrinks a block so that the tail before the car’s target is below minBlockWh (an unpayable invoice)', () => {
    const session = limitsOf(400);
    // 386 → 400: 14 Wh asked; a 10 Wh denomination would leave 4 Wh = 400 msat, below the 1-sat minimum
    const last = { priceMsatPerWh: 100n, amountMsat: 1_400n, blockWh: 14, fromWh: 386 };
    expect(stockedBlockWh(session, last, 1_000n)).toBeNull();
    expect(stockedBlockWh(session, last, 1_400n)).toBe(14);
    // 376 → 400: 24 Wh asked; 10 Wh leaves 14 Wh (payable), 20 Wh leaves 4 Wh (not)
    const before = { priceMsatPerWh: 100n, amountMsat: 2_400n, blockWh: 24, fromWh: 376 };
    expect(stockedBlockWh(session, before, 1_000n)).toBe(10);
    expect(stockedBlockWh(session, before, 2_000n)).toBeNull();
  });

  it('an offline session never reaches a tail it cannot invoice: it waits for its node instead of asking 400 msat', () => {
    // 32 Wh blocks shrink to 30 Wh up to 360; then 35 Wh to the target of 395: a 30 Wh invoice would leave 5 Wh
    // (500 msat, unpayable), so 10 Wh ones are used, down to a 15 Wh tail no denomination fits without leaving 5
    const sim = new OfflineSim([3_000n, 1_000n], 20, [1, 2], 48, 395);
    sim.plug();
    sim.advance(240_000); // 380 Wh at 7.2 kW, then a minute suspended (within maxSuspendSec)
    const settled = sim.seller.invoices.filter((i) => i.status === 'settled');
    // every invoice a channel can carry; the session stops short of the target, waiting for its node
    for (const inv of sim.seller.invoices) expect(inv.amountMsat).toBeGreaterThanOrEqual(1_000n);
    expect(settled.slice(-3).map((i) => [i.fromWh, i.blockWh])).toEqual([
      [330, 30],
      [360, 10],
      [370, 10],
    ]);
    expect(sim.seller.paidWh).toBe(380);
    // the node is back: it issues the 15 Wh tail as an ordinary invoice and the session ends at the target
    sim.online = true;
    sim.advance(120_000);
    expect(sim.seller.paidWh).toBe(395);
    expect(sim.ofType(sim.sellerEffects, 'sessionEnded')[0]?.reason).toBe(Reason.TARGET_REACHED);
  });
});
