// Block sizing next to a limit (target, stop, renewal or price boundary): no block crosses it, and no remainder
// smaller than the minimum block is left before it (a 4 Wh last block at 100 msat/Wh would be 400 msat, below
// Lightning's 1-sat minimum payment: unpayable, and the session would end PAYMENT_FAILED one block short).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blockBeforeLimit } from '../../protocol/seller.js';

describe('blockBeforeLimit', () => {
  it('issues the cadence block when the limit is far, the exact rest when it is within one block', () => {
    expect(blockBeforeLimit(50, Infinity, 10, 200)).toBe(50);
    expect(blockBeforeLimit(50, 500, 10, 200)).toBe(50);
    expect(blockBeforeLimit(50, 30, 10, 200)).toBe(30);
    expect(blockBeforeLimit(50, 0, 10, 200)).toBe(0);
  });

  it('absorbs a remainder below the minimum block (886 → 900 Wh in one 14 Wh block instead of 10 + 4)', () => {
    expect(blockBeforeLimit(10, 14, 10, 200)).toBe(14);
  });

  it('shrinks the block when absorbing would exceed the agreed maximum, leaving exactly the minimum', () => {
    expect(blockBeforeLimit(200, 204, 10, 200)).toBe(194);
  });

  it('property: never crosses the limit, never leaves 0 < rest < min, never exceeds the maximum', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 10, max: 40 }),
        fc.integer({ min: 80, max: 400 }),
        fc.integer({ min: 1, max: 2000 }),
        (minBlockWh, maxBlockWh, toLimitWh) => {
          const blockWh = minBlockWh + ((toLimitWh * 7) % (maxBlockWh - minBlockWh + 1));
          const got = blockBeforeLimit(blockWh, toLimitWh, minBlockWh, maxBlockWh);
          expect(got).toBeGreaterThan(0);
          expect(got).toBeLessThanOrEqual(Math.min(toLimitWh, maxBlockWh));
          const rest = toLimitWh - got;
          expect(rest === 0 || rest >= minBlockWh).toBe(true);
        },
      ),
    );
  });
});
