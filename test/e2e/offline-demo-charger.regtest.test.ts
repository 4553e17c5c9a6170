// `npm run demo -- --offline charger` (issue 15 case 1a), shortened: the wall's lnd, its chain backend and the
// wall daemon run in a network namespace whose only link is the cable (veth, IP link) to the car; the car's
// daemon and node pay over the direct channel across the cable; afterwards the wall's node gets its route back and
// the books are reconciled with both nodes. Real lnd, real daemons (CLI processes), real payments.
// Fails (never skips) when namespaces cannot be made.
import { describe, expect, it } from 'vitest';
import { speedForDuration, DEMO_MAX_POWER_W } from '../../scripts/demo/cadence.js';
import { expectOfflineSession, runShortOffline } from './offline-demo-checks.js';

describe('demo --offline charger', () => {
  it('charges a session with the wall isolated but for the cable, and the books match both nodes', async () => {
    const targetWh = 500;
    const { code, result } = await runShortOffline('charger', {
      targetWh,
      speed: speedForDuration(targetWh, DEMO_MAX_POWER_W, 20),
    });
    expect(code, JSON.stringify(result?.failedChecks ?? 'no result')).toBe(0);
    expectOfflineSession(result, { mode: 'charger', targetWh, priceMsatPerWh: 100 });
    // the wall was offline from before the plug-in to the end: every paid invoice was paid offline
    expect(result!.offline.invoicesPaidOffline).toBe(result!.invoicesPaid);
    expect(result!.offline.relayConnections).toBe(0);
  }, 240_000);
});
