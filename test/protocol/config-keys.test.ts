// One configuration source (issue 11 item 6, protocol side): every tunable has its default, range and YAML
// place in protocol/config.ts, the defaults lie in the ranges, and the new clock-rule keys are validated.
import { describe, expect, it } from 'vitest';
import {
  BUYER_DEFAULTS,
  BUYER_RANGES,
  BUYER_YAML,
  buyerConfig,
  SELLER_DEFAULTS,
  SELLER_RANGES,
  SELLER_YAML,
  sellerConfig,
  YAML_RENAMED_KEYS,
} from '../../protocol/index.js';
import { WALL_PUB } from './harness.js';

describe('configuration keys', () => {
  it('every numeric default lies in its range', () => {
    for (const [k, r] of Object.entries(SELLER_RANGES)) {
      const d: unknown = (SELLER_DEFAULTS as Record<string, unknown>)[k];
      expect(typeof d, k).toBe('number');
      expect(d as number, k).toBeGreaterThanOrEqual(r.min);
      expect(d as number, k).toBeLessThanOrEqual(r.max);
    }
    for (const [k, r] of Object.entries(BUYER_RANGES)) {
      const d: unknown = (BUYER_DEFAULTS as Record<string, unknown>)[k];
      expect(typeof d, k).toBe('number');
      expect(d as number, k).toBeGreaterThanOrEqual(r.min);
      expect(d as number, k).toBeLessThanOrEqual(r.max);
    }
  });

  it('every YAML key has a default, except the ones an operator must set', () => {
    const sellerRequired = ['priceMsatPerWh'];
    for (const k of Object.keys(SELLER_YAML))
      expect(k in SELLER_DEFAULTS || sellerRequired.includes(k), k).toBe(true);
    const buyerRequired = ['maxPriceMsatPerWh', 'sessionBudgetMsat', 'dailyBudgetMsat'];
    for (const k of Object.keys(BUYER_YAML))
      expect(k in BUYER_DEFAULTS || buyerRequired.includes(k), k).toBe(true);
    for (const r of YAML_RENAMED_KEYS)
      expect(r.field in SELLER_YAML || r.field in BUYER_YAML, r.old).toBe(true);
    // ppm everywhere: no key in percent
    for (const k of [...Object.keys(SELLER_YAML), ...Object.keys(BUYER_YAML)]) expect(k).not.toMatch(/Pct$/);
  });

  it('the clock-rule keys are validated', () => {
    const base = { nodePubkey: WALL_PUB, network: 'regtest' as const, priceMsatPerWh: 100n };
    expect(sellerConfig(base).ok).toBe(true);
    expect(sellerConfig({ ...base, maxSuspendSec: -1 })).toMatchObject({
      ok: false,
      error: { field: 'maxSuspendSec' },
    });
    expect(sellerConfig({ ...base, invoiceRetryFirstMs: 9_000, invoiceRetryMaxMs: 8_000 })).toMatchObject({
      ok: false,
      error: { field: 'invoiceRetryFirstMs' },
    });
    expect(sellerConfig({ ...base, regreetFirstMs: 9_000, regreetMaxMs: 8_000 })).toMatchObject({
      ok: false,
      error: { field: 'regreetFirstMs' },
    });
    const car = { network: 'regtest' as const, maxPriceMsatPerWh: 100n, sessionBudgetMsat: 1_000_000n };
    expect(buyerConfig(car).ok).toBe(true);
    expect(buyerConfig({ ...car, budgetDayUtcOffsetMin: 900 })).toMatchObject({
      ok: false,
      error: { field: 'budgetDayUtcOffsetMin' },
    });
    expect(buyerConfig({ ...car, payRetryFirstMs: 10_000, payRetryMaxMs: 5_000 })).toMatchObject({
      ok: false,
      error: { field: 'payRetryFirstMs' },
    });
    expect(buyerConfig({ ...car, maxConsecutivePaymentFailures: 0 })).toMatchObject({
      ok: false,
      error: { field: 'maxConsecutivePaymentFailures' },
    });
  });
});
