// `npm run demo -- --offline car` (issue 15 case 2), shortened: the car's lnd and the vehicle daemon run in a
// network namespace; after the first paid invoice the car loses its uplink, and its node reaches the wall's node
// and its chain backend only through the wall daemon's blind relay, which serves only the car of the
// authenticated session (and refuses it once the session is over). Afterwards the car's node gets its route back
// and the books are reconciled with both nodes. Real lnd, real daemons (CLI processes), real payments.
// Fails (never skips) when namespaces cannot be made.
import { describe, expect, it } from 'vitest';
import { expectOfflineSession, runShortOffline } from './offline-demo-checks.js';

describe('demo --offline car', () => {
  it('keeps paying through the wall’s relay after the car loses its signal, and the books match', async () => {
    const targetWh = 400;
    // slow enough that the car's node is back through the relay before the next invoice (about 1.5 s here; an invoice every 3.2 s)
    // speed 5: an invoice every 3.2 s, time enough for the car's node to be back through the relay (about 1.5 s)
    const { code, result } = await runShortOffline('car', { targetWh, speed: 5 });
    expect(code, JSON.stringify(result?.failedChecks ?? 'no result')).toBe(0);
    expectOfflineSession(result, { mode: 'car', targetWh, priceMsatPerWh: 100 });
    expect(result!.offline.invoicesPaidOffline).toBeGreaterThanOrEqual(2);
    expect(result!.offline.relayConnections).toBeGreaterThanOrEqual(2); // chain backend + channel partner
    expect(result!.offline.reconnectMs).not.toBeNull();
  }, 240_000);
});
