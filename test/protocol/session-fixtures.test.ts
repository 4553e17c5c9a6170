// Sessions persisted mid-way by earlier releases go on after an upgrade: each fixture in test/vectors/sessions/
// holds both machines' persisted states and the simulated world around them (clock, meters, the fake wall
// node's invoices, held payments, events and frames in flight) at one moment of a session (handshake, charging,
// suspended, closing). The v2 fixtures were written by the flat-state release (before the states became unions
// by phase); restoring them migrates each machine to its phase's variant, and the session continues: invoices
// are issued, paid and settled, and it ends with a receipt both sides agree on.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  fromHex,
  Reason,
  restoreBuyerState,
  restoreSellerState,
  type BuyerEvent,
  type SellerEvent,
} from '../../protocol/index.js';
import { settledInvoices } from '../../protocol/invoiceBook.js';
import { deserializeState } from '../../protocol/serialize.js';
import { Sim, type NodeInvoice } from './harness.js';

const dir = new URL('../vectors/sessions/', import.meta.url);
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.json'));

interface World {
  phase: string;
  seller: string;
  buyer: string;
  now: number;
  wallRegisterWh: number;
  carRegisterWh: number;
  energized: boolean;
  autoPay: boolean;
  nodeInvoices: NodeInvoice[];
  heldPayments: { hash: string }[];
  sellerQueue: SellerEvent[];
  buyerQueue: BuyerEvent[];
  toBuyer: string[];
  toSeller: string[];
}

/** A fresh simulation set to the fixture's moment, both machines restored from their persisted text. */
function restoreWorld(file: string): { sim: Sim; world: World } {
  const parsed = deserializeState<World>(readFileSync(new URL(file, dir), 'utf8'));
  if (!parsed.ok) throw new Error(parsed.error.message);
  const world = parsed.value;
  const sim = new Sim();
  const seller = restoreSellerState(world.seller);
  if (!seller.ok) throw new Error(seller.error.message);
  const buyer = restoreBuyerState(world.buyer);
  if (!buyer.ok) throw new Error(buyer.error.message);
  sim.seller = seller.value;
  sim.buyer = buyer.value;
  sim.now = world.now;
  sim.wallRegisterWh = world.wallRegisterWh;
  sim.carRegisterWh = world.carRegisterWh;
  sim.energized = world.energized;
  sim.autoPay = world.autoPay;
  sim.nodeInvoices = world.nodeInvoices;
  sim.heldPayments = world.heldPayments;
  sim.sellerQueue = world.sellerQueue;
  sim.buyerQueue = world.buyerQueue;
  sim.toBuyer = world.toBuyer.map(fromHex);
  sim.toSeller = world.toSeller.map(fromHex);
  return { sim, world };
}

describe('sessions persisted mid-way go on after restoring', () => {
  it('has a v2 (flat-state) fixture for the handshake, charging, suspended and closing phases', () => {
    for (const phase of ['handshake', 'charging', 'suspended', 'closing'])
      expect(fixtures).toContain(`v2-${phase}.json`);
  });

  for (const file of fixtures) {
    it(`${file}: restores in its phase, the next invoices are paid and settled, the receipt matches`, () => {
      const { sim, world } = restoreWorld(file);
      expect(sim.seller.phase).toBe(world.phase);
      const settledBefore = settledInvoices(sim.seller.invoices).length;
      const paidBefore = sim.seller.paidMsat;
      if (world.phase === 'suspended') {
        // the car pays again: its held payments settle and the power comes back
        sim.autoPay = true;
        for (const p of sim.heldPayments.splice(0)) sim.settle(p.hash);
      }
      sim.run();
      if (world.phase !== 'closing') {
        sim.advance(30_000);
        expect(sim.seller.phase).toBe('charging');
        expect(sim.buyer.phase).toBe('charging');
        expect(settledInvoices(sim.seller.invoices).length).toBeGreaterThan(settledBefore);
        expect(sim.seller.paidMsat).toBeGreaterThan(paidBefore);
        // what the car paid is what the wall was paid for
        expect(sim.buyer.paidMsat).toBe(sim.seller.paidMsat);
        sim.stepBuyer({ type: 'stopRequest', atMs: sim.now, reason: Reason.USER_STOP });
        sim.run();
      }
      expect(sim.seller.phase).toBe('ended');
      expect(sim.buyer.phase).toBe('ended');
      const sellerEnd = sim.ofType(sim.sellerEffects, 'sessionEnded')[0];
      const buyerEnd = sim.ofType(sim.buyerEffects, 'sessionEnded')[0];
      if (sellerEnd === undefined || buyerEnd === undefined) throw new Error('the session did not end');
      const sellerReceipt = 'receipt' in sellerEnd ? sellerEnd.receipt : undefined;
      const buyerReceipt = 'receipt' in buyerEnd ? buyerEnd.receipt : undefined;
      if (sellerReceipt === undefined || buyerReceipt === undefined) throw new Error('no receipt');
      expect(buyerReceipt.totalPaidMsat).toBe(sellerReceipt.totalPaidMsat);
      expect(sellerReceipt.totalPaidMsat).toBe(sim.seller.paidMsat);
      expect(sellerReceipt.invoices.length).toBe(settledInvoices(sim.seller.invoices).length);
    });
  }
});
