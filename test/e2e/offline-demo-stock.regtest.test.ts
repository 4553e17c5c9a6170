// `npm run demo -- --offline charger-stock` (issue 15 case 1b), shortened: the wall daemon runs in a network
// namespace whose only link, once its invoices are stocked and its node delegated a signing key, is the cable (veth,
// IP link) to the car; its node is remote (on the host) and unreachable from the namespace from before the car
// plugs in until half the target: the session starts offline (the delegate key signs the handshake). Every block meanwhile is a stocked invoice handed over the cable;
// the car's node pays it through its own network and returns the preimage in a sealed paymentProof; the wall
// credits it with no node call. Then the namespace gets its route back, the wall daemon reconciles every stocked
// invoice it handed out with its node (offline: true), and the books are checked against both nodes. Real lnd,
// real daemons (CLI processes), real payments. Fails (never skips) when namespaces cannot be made.
import { describe, expect, it } from 'vitest';
import { speedForDuration, DEMO_MAX_POWER_W } from '../../scripts/demo/cadence.js';
import { expectOfflineSession, runShortOffline } from './offline-demo-checks.js';

describe('demo --offline charger-stock', () => {
  it('charges a session on stocked invoices with the wall daemon isolated, then reconciles: books = nodes', async () => {
    const targetWh = 400;
    const { code, result } = await runShortOffline('charger-stock', {
      targetWh,
      speed: speedForDuration(targetWh, DEMO_MAX_POWER_W, 60),
    });
    expect(code, JSON.stringify(result?.failedChecks ?? 'no result')).toBe(0);
    expectOfflineSession(result, { mode: 'charger-stock', targetWh, priceMsatPerWh: 100 });
    const r = result!;
    expect(r.offline.case).toBe('1b');
    // the handshake was signed by the delegated key (the node unreachable at plug-in)
    expect(r.offline.signedByDelegate).toBeGreaterThanOrEqual(1);
    // offline from the plug-in to half the target: those blocks were stocked invoices paid by
    // proof, each reconciled settled with the node after the route came back
    expect(r.offline.invoicesPaidOffline).toBeGreaterThan(0);
    expect(r.offline.invoicesPaidOffline).toBeLessThanOrEqual(r.invoicesPaid);
    expect(r.offline.stockReconciled).toEqual({ settled: r.offline.invoicesPaidOffline, unpaid: 0, left: 0 });
  }, 300_000);
});
