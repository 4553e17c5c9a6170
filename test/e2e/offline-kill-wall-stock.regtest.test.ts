// kill -9 while offline, case 1b: the wall daemon, in the isolated namespace with its node remote and unreachable,
// selling on its invoice stock, is killed halfway through the offline stretch and restarted 1 s later, still
// offline (it resumes its session on the node identity kept at its last start). No stocked invoice is used twice;
// after the route back every stocked invoice is reconciled and both ledgers equal what each node reports. Real
// lnd, real daemons (CLI processes), network namespaces. Fails (never skips) when namespaces cannot be made.
import { describe, expect, it } from 'vitest';
import { expectCrashRun, runShortOffline } from './offline-demo-checks.js';
import { DEMO_MAX_POWER_W, speedForDuration } from '../../scripts/demo/cadence.js';

describe('kill -9 of the wall daemon while selling on its invoice stock', () => {
  it('restarts offline; no stocked invoice used twice; books = nodes after reconciliation', async () => {
    const targetWh = 400;
    const run = await runShortOffline('charger-stock', {
      targetWh,
      speed: speedForDuration(targetWh, DEMO_MAX_POWER_W, 60),
      crash: { victim: 'wall', atWh: 100, downMs: 1000 },
    });
    expectCrashRun(run, 'wall');
    expect(run.result!.offline.stockReconciled?.left).toBe(0);
    expect(run.result!.offline.stockReconciled?.settled).toBe(run.result!.offline.invoicesPaidOffline);
  }, 300_000);
});
