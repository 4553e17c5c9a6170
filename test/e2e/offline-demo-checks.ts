// Shared run and assertions of the offline demo tests (offline-demo-*.regtest.test.ts, offline-kill-*).
import { DEMO_VEHICLE_LIMITS } from '../../scripts/demo/rig.js';
import { expect } from 'vitest';
import {
  runOfflineDemo,
  type OfflineCrash,
  type OfflineDemoResult,
  type OfflineMode,
} from '../../scripts/demo/offline.js';

/**
 * Runs a shortened offline demo on the test network (left running), logging to stderr.
 *
 * @param mode which side is offline
 * @param run target energy (Wh), clock speed, and an optional kill -9
 * @returns exit code and JSON line (100 msat/Wh, an invoice every 16 s of charging)
 */
export async function runShortOffline(
  mode: OfflineMode,
  run: { targetWh: number; speed: number; crash?: OfflineCrash },
): Promise<{ code: number; result: OfflineDemoResult | null }> {
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  return runOfflineDemo({
    mode,
    targetWh: run.targetWh,
    speed: run.speed,
    invoiceIntervalSec: 16,
    priceMsatPerWh: 100,
    keepNetwork: true,
    say: log,
    show: log,
    ...(run.crash ? { crash: run.crash } : {}),
  });
}

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
  // both machines end at the target on their own meter, whichever reads it first (protocol/seller.ts advance,
  // protocol/buyer.ts checkMeters); the other meter may read a few Wh below it (two meters, sampled apart)
  expect(Math.max(r.energyWhWall, r.energyWhVehicle)).toBeGreaterThanOrEqual(want.targetWh);
  expect(Math.abs(r.energyWhWall - r.energyWhVehicle)).toBeLessThanOrEqual(
    DEMO_VEHICLE_LIMITS.meterToleranceWh,
  );
  expect(BigInt(r.paidMsat)).toBe(BigInt(want.targetWh) * BigInt(want.priceMsatPerWh));
  expect(r.offline.mode).toBe(want.mode);
  expect(r.offline.namespaceInterfaces).toHaveLength(2);
  expect(r.offline.namespaceInterfaces).toContain('lo');
  expect(BigInt(r.offline.paidOfflineMsat)).toBeGreaterThan(0n);
}

/**
 * Asserts a kill -9 run: the run passed (the daemon was killed while offline, every session closed with a reason
 * on both sides, the two ledgers agree with each other and with both nodes, no hash paid twice), invoices were
 * paid offline in a namespace with only lo and the cable.
 *
 * @param run the run's exit code and JSON line
 * @param victim the daemon that was killed
 */
export function expectCrashRun(
  run: { code: number; result: OfflineDemoResult | null },
  victim: OfflineCrash['victim'],
): void {
  // on failure: which checks failed and how each session ended on each side
  const why = run.result
    ? { failedChecks: run.result.failedChecks, crash: run.result.crash, offline: run.result.offline }
    : 'no result (the run failed before its books: see its log above)';
  expect(run.code, JSON.stringify(why)).toBe(0);
  const r = run.result!;
  expect(r.crash?.victim).toBe(victim);
  expect(r.offline.namespaceInterfaces).toHaveLength(2);
  expect(BigInt(r.offline.paidOfflineMsat)).toBeGreaterThan(0n);
  process.stderr.write(
    `crash run: ${JSON.stringify(r.crash)}, stop ${r.stopReason}, paid ${r.paidMsat} msat\n`,
  );
}
