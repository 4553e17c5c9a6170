import { describe, expect, it } from 'vitest';
import { Reason } from '../../protocol/index.js';
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
