// The seller sends again what the car has not answered (offer, renewal, open invoice) when the link comes up,
// and the buyer takes a repeat for the same message: it answers again and never pays twice.
import { describe, expect, it } from 'vitest';
import type { Effect } from '../../protocol/index.js';
import { Sim } from './harness.js';

/** The records of `kind` among effects. */
function records(effects: Effect[], kind: string): Extract<Effect, { type: 'record' }>[] {
  return effects.filter(
    (e): e is Extract<Effect, { type: 'record' }> => e.type === 'record' && e.kind === kind,
  );
}

/** The link drops and comes back on the wall's side: its `linkUp` resends. */
function relink(sim: Sim): Effect[] {
  sim.stepSeller({ type: 'linkDown', atMs: sim.now });
  const effects = sim.stepSeller({ type: 'linkUp', atMs: sim.now });
  sim.run();
  return effects;
}

describe('resending unanswered messages', () => {
  it('a lost offer (the wall restarted before sending it) is sent again on linkUp', () => {
    const sim = new Sim();
    sim.plugBoth();
    sim.meters();
    sim.run(10_000, () => sim.seller.phase === 'offered');
    // the crash: the committed state says `offered`, the frame never left
    sim.toBuyer = [];
    sim.restart();
    const effects = relink(sim);
    expect(records(effects, 'messageResent').map((r) => r.data['type'])).toEqual(['offer']);
    expect(sim.seller.phase).toBe('charging');
    expect(sim.buyer.phase).toBe('charging');
    expect(records(sim.buyerEffects, 'unexpectedMessage')).toEqual([]);
  });

  it('a repeat of the accepted offer (the accept was lost) is accepted again, without an error', () => {
    const sim = new Sim();
    sim.plugBoth();
    sim.meters();
    sim.run(10_000, () => sim.buyer.phase === 'charging');
    sim.toSeller = []; // the accept is lost
    expect(sim.seller.phase).toBe('offered');
    relink(sim);
    expect(records(sim.buyerEffects, 'offerRepeated')).toHaveLength(1);
    expect(sim.seller.phase).toBe('charging');
    expect(sim.ofType(sim.buyerEffects, 'send').map((e) => e.message.type)).not.toContain('error');
  });

  it('a lost invoice is sent again and paid once; repeats of a paid or in-flight invoice are not paid again', () => {
    const sim = new Sim();
    sim.autoPay = false;
    sim.plugBoth();
    sim.meters();
    sim.run(10_000, () => sim.seller.invoices.some((i) => i.status === 'open'));
    sim.toBuyer = []; // the deposit invoice's frame is lost (crash after the commit)
    sim.restart();
    relink(sim);
    expect(sim.heldPayments).toHaveLength(1);
    // the link drops again while the payment is in flight: the repeat is the same invoice
    relink(sim);
    expect(records(sim.buyerEffects, 'invoiceRepeated')).toHaveLength(1);
    expect(sim.heldPayments).toHaveLength(1);
    expect(sim.ofType(sim.buyerEffects, 'pay')).toHaveLength(1);
    sim.settle(sim.heldPayments[0]!.hash);
    sim.run();
    expect(sim.seller.paidMsat).toBeGreaterThan(0n);
    expect(sim.buyer.paidMsat).toBe(sim.seller.paidMsat);
    expect(sim.ofType(sim.buyerEffects, 'alarm')).toEqual([]);
  });

  it('a renewal whose accept was lost is sent again and answered the same way', () => {
    const sim = new Sim();
    sim.plug();
    sim.advance(10_000);
    sim.stepSeller({ type: 'renewRequest', atMs: sim.now, priceMsatPerWh: 120n, afterWh: 40 });
    sim.run(10_000, () => sim.toSeller.length > 0 && sim.buyer.offerSeq === 1);
    sim.toSeller = []; // the accept is lost
    expect(sim.seller.pendingRenew).not.toBeNull();
    const effects = relink(sim);
    expect(records(effects, 'messageResent').map((r) => r.data['type'])).toContain('renew');
    expect(records(sim.buyerEffects, 'renewRepeated')).toHaveLength(1);
    expect(sim.seller.pendingRenew).toBeNull();
    expect(sim.seller.schedule.map((s) => s.priceMsatPerWh)).toEqual([100n, 120n]);
    // nothing left unanswered: a further linkUp resends nothing but an open invoice
    const again = relink(sim);
    expect(records(again, 'messageResent').map((r) => r.data['type'])).not.toContain('renew');
  });
});
