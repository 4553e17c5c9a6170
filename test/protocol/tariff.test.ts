import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  amountMsatForBlock,
  blockWhForPower,
  buyerMaxExposure,
  feeLimitMsat,
  invoiceTerms,
  meterToleranceWh,
  priceAt,
  sellerMaxExposure,
} from '../../protocol/index.js';

describe('tariff', () => {
  it('sizes blocks for the target cadence, rounding down, within bounds', () => {
    expect(blockWhForPower(7200, 16, 10, 200)).toBe(32);
    expect(blockWhForPower(11_000, 16, 10, 200)).toBe(48); // 48.9 → 48
    expect(blockWhForPower(100, 16, 10, 200)).toBe(10);
    expect(blockWhForPower(200_000, 16, 10, 200)).toBe(200);
    expect(blockWhForPower(0, 16, 10, 200)).toBe(10);
    expect(blockWhForPower(Number.NaN, 16, 10, 200)).toBe(10);
  });

  it('charges exactly price × Wh', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 9n }), fc.integer({ min: 0, max: 10 ** 6 }), (p, wh) => {
        expect(amountMsatForBlock(p, wh)).toBe(p * BigInt(wh));
      }),
      { numRuns: 200 },
    );
  });

  it('applies the price in force at the block start', () => {
    const schedule = [
      { fromWh: 0, priceMsatPerWh: 100n },
      { fromWh: 500, priceMsatPerWh: 120n },
    ];
    expect(priceAt(schedule, 499)).toBe(100n);
    expect(priceAt(schedule, 500)).toBe(120n);
    expect(invoiceTerms(schedule, 500, 30)).toEqual({ priceMsatPerWh: 120n, amountMsat: 3600n });
  });

  it('limits fees and tolerances rounding down', () => {
    expect(feeLimitMsat(100_000n, 1000n, 10_000)).toBe(1000n);
    expect(feeLimitMsat(50_000n, 1000n, 10_000)).toBe(500n);
    expect(feeLimitMsat(99n, 1000n, 10_000)).toBe(0n);
    expect(meterToleranceWh(1000, 20, 20_000)).toBe(40);
  });

  it('states each side’s maximum exposure', () => {
    expect(sellerMaxExposure({ priceMsatPerWh: 100n, graceWh: 5, maxPowerW: 7200 })).toEqual({
      unpaidWh: 5,
      unpaidMsat: 500n,
      perSecondBetweenReadingsWh: 2,
    });
    expect(buyerMaxExposure({ maxPriceMsatPerWh: 150n, maxPrepaidWh: 500, sessionBudgetMsat: 1n })).toEqual({
      prepaidMsat: 75_000n,
      sessionMsat: 1n,
    });
  });
});
