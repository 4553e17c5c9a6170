import { describe, expect, it } from 'vitest';
import { deserializeState, Reason, serializeState } from '../../protocol/index.js';
import { Sim } from './harness.js';

describe('seller and buyer together', () => {
  it('handshake, offer, deposit, charging, stop, receipt', () => {
    const sim = new Sim();
    sim.plug();
    expect(sim.seller.phase).toBe('charging');
    expect(sim.buyer.phase).toBe('charging');
    sim.advance(60_000);
    expect(sim.seller.deliveredWh).toBeGreaterThan(100);
    sim.stepBuyer({ type: 'stopRequest', atMs: sim.now, reason: Reason.USER_STOP });
    sim.run();
    const ended = sim.ofType(sim.buyerEffects, 'sessionEnded');
    expect(ended).toHaveLength(1);
    expect(ended[0]?.receipt?.totalPaidMsat).toBe(sim.seller.paidMsat);
    expect(ended[0]?.error).toBeUndefined();
  });
});

describe('persistence', () => {
  it('states survive serialise → deserialise mid-session (bigints included) and the session continues', () => {
    const sim = new Sim();
    sim.plug();
    sim.advance(20_000);
    const s = deserializeState<typeof sim.seller>(serializeState(sim.seller));
    const b = deserializeState<typeof sim.buyer>(serializeState(sim.buyer));
    if (!s.ok || !b.ok) throw new Error('deserialise');
    expect(s.value).toEqual(sim.seller);
    expect(b.value).toEqual(sim.buyer);
    expect(typeof s.value.paidMsat).toBe('bigint');
    sim.seller = s.value;
    sim.buyer = b.value;
    const paid = sim.seller.paidMsat;
    sim.advance(20_000);
    expect(sim.seller.paidMsat).toBeGreaterThan(paid);
    expect(sim.seller.phase).toBe('charging');
    expect(deserializeState('{nope').ok).toBe(false);
  });
});
