// Shared assertions of the offline demo tests (offline-demo-*.regtest.test.ts).
import { expect } from 'vitest';
import type { OfflineDemoResult, OfflineMode } from '../../scripts/demo/offline.js';

/**
 * Asserts what every offline session must show: a normal ending at the target, a valid receipt, paid =
 * price × energy bought, invoices paid while the namespace had only lo and the cable.
 *
 * @param result the demo's JSON line (null = the run failed before its books)
 * @param want mode, target energy (Wh) and price (msat/Wh) of the run
 */
export function expectOfflineSession(
  result: OfflineDemoResult | null,
  want: { mode: OfflineMode; targetWh: number; priceMsatPerWh: number },
): void {
  expect(result).not.toBeNull();
  const r = result!;
  expect(r.stopReason).toBe('TARGET_REACHED');
  expect(r.receiptValid).toBe(true);
  expect(r.energyWhWall).toBeGreaterThanOrEqual(want.targetWh);
  expect(BigInt(r.paidMsat)).toBe(BigInt(want.targetWh) * BigInt(want.priceMsatPerWh));
  expect(r.offline.mode).toBe(want.mode);
  expect(r.offline.namespaceInterfaces).toHaveLength(2);
  expect(r.offline.namespaceInterfaces).toContain('lo');
  expect(BigInt(r.offline.paidOfflineMsat)).toBeGreaterThan(0n);
}
