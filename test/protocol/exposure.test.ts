// Prepaid exposure sized by the measured settle latency (issue 16, `adaptiveRefill`): with the car's payments
// settling 2 s after the wall asks for the invoice, the car's paid-but-undelivered energy drops from
// `depositBlocks` + 1 blocks to about one block plus the latency margin, and the car is never starved (the
// power is never cut for lack of payment).
import { describe, expect, it } from 'vitest';
import { refillThresholdWh } from '../../protocol/index.js';
import { Sim, testSellerConfig } from './harness.js';

/**
 * Charges for `seconds` with every payment settling `latencySec` after it was asked for.
 * @returns the largest prepaid exposure in the second half (paid − delivered), Wh, and whether power was ever cut
 */
function charge(adaptiveRefill: boolean, latencySec: number, seconds: number) {
  const sim = new Sim(testSellerConfig({ adaptiveRefill, depositBlocks: 2, maxPowerW: 7_400, graceWh: 5 }));
  sim.autoPay = false;
  sim.plugBoth();
  sim.meters();
  const due: { hash: string; atMs: number }[] = [];
  let maxExposureWh = 0;
  for (let t = 0; t < seconds; t++) {
    for (const p of sim.heldPayments.splice(0))
      due.push({ hash: p.hash, atMs: sim.now + latencySec * 1_000 });
    for (const d of due.filter((x) => x.atMs <= sim.now)) {
      due.splice(due.indexOf(d), 1);
      sim.settle(d.hash);
    }
    sim.run();
    sim.advance(1_000);
    // steady state: after the deposit (depositBlocks blocks before power flows, by design) has been used up
    if (t >= seconds / 2 && (sim.seller.phase === 'charging' || sim.seller.phase === 'suspended'))
      maxExposureWh = Math.max(maxExposureWh, sim.seller.paidWh - sim.seller.deliveredWh);
  }
  const cut = sim.sellerEffects.some((e) => e.type === 'record' && e.kind === 'powerCut');
  return { maxExposureWh, cut, sim };
}

describe('prepaid exposure from the measured settle latency', () => {
  it('with adaptiveRefill the exposure is about one block plus the latency margin, and power is never cut', () => {
    const fixed = charge(false, 2, 240);
    const adaptive = charge(true, 2, 240);
    expect(fixed.cut).toBe(false);
    expect(adaptive.cut).toBe(false);
    const blockWh = Math.max(...adaptive.sim.seller.invoices.map((i) => i.blockWh));
    // fixed depth: two deposit blocks ahead plus the one being paid
    expect(fixed.maxExposureWh).toBeGreaterThan(2 * blockWh);
    const thresholdWh = refillThresholdWh(
      adaptive.sim.seller.config,
      adaptive.sim.seller.settleLatenciesMs,
      blockWh,
    );
    expect(adaptive.sim.seller.settleLatenciesMs.every((ms) => ms >= 2_000)).toBe(true);
    expect(adaptive.maxExposureWh).toBeLessThanOrEqual(blockWh + thresholdWh);
    expect(adaptive.maxExposureWh).toBeLessThan(fixed.maxExposureWh);
    // the energy delivered is the same: the car never waited
    expect(Math.abs(adaptive.sim.seller.deliveredWh - fixed.sim.seller.deliveredWh)).toBeLessThanOrEqual(
      blockWh,
    );
  });

  it('a slower node widens the margin (and never starves the car)', () => {
    const slow = charge(true, 6, 240);
    expect(slow.cut).toBe(false);
    const c = slow.sim.seller.config;
    expect(refillThresholdWh(c, [6_000, 6_000, 6_000], 32)).toBeGreaterThan(
      refillThresholdWh(c, [2_000, 2_000, 2_000], 32),
    );
  });

  it('before enough settlements are measured, the depth is depositBlocks blocks', () => {
    const c = testSellerConfig({ adaptiveRefill: true, depositBlocks: 2 });
    expect(refillThresholdWh(c, [1_000, 1_000], 30)).toBe(60);
    expect(refillThresholdWh(c, [1_000, 1_000, 1_000], 30)).toBeLessThan(60);
    expect(refillThresholdWh(testSellerConfig({ adaptiveRefill: false }), [1, 1, 1], 30)).toBe(60);
  });
});
