// `npm run demo -- --offline both` (issue 15 case 3), shortened: the car's lnd (with its own chain backend) and the
// vehicle daemon run in a network namespace whose only link, once the daemons are up, is the cable (veth, IP
// link); the wall offers no relay. The car's node has no route, so the car signs a promise for each invoice; the
// wall credits the blocks up to its per-car cap (`tariff.promiseCapWh`, half the target) and ends the session
// there. Then either the namespace gets its route back and the car's daemon pays every promise by itself (books =
// both nodes), or it never does: the promised invoices expire and the wall lists them unpaid (`boltcharge
// sessions`). Real lnd, real daemons (CLI processes), real payments. Fails (never skips) when namespaces cannot
// be made.
import { describe, expect, it } from 'vitest';
import { runOfflineDemo, type OfflineDemoResult } from '../../scripts/demo/offline.js';
import { speedForDuration, DEMO_MAX_POWER_W } from '../../scripts/demo/cadence.js';
import { main } from '../../bin/cli/main.js';

const PRICE = 100;

async function runBoth(targetWh: number, neverReconnect: boolean) {
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  return runOfflineDemo({
    mode: 'both',
    targetWh,
    speed: speedForDuration(targetWh, DEMO_MAX_POWER_W, 20),
    invoiceIntervalSec: 16,
    priceMsatPerWh: PRICE,
    neverReconnect,
    keepNetwork: true,
    say: log,
    show: log,
  });
}

/** The session stopped at the wall's cap, on promises made while the car's namespace had only lo and the cable. */
function expectCapped(r: OfflineDemoResult, targetWh: number): void {
  const p = r.offline.promises!;
  expect(r.offline.case).toBe('3');
  expect(r.stopReason).toBe('PROMISE_REFUSED');
  expect(p.capWh).toBe(targetWh / 2);
  expect(p.made).toBeGreaterThan(0);
  expect(p.promisedWh).toBeLessThanOrEqual(p.capWh);
  // the energy stopped at the cap (the wall's grace at most beyond what was promised)
  expect(r.energyWhWall).toBeLessThanOrEqual(p.promisedWh + 30);
  expect(r.energyWhWall).toBeGreaterThanOrEqual(p.promisedWh - 30);
  expect(r.offline.namespaceInterfaces).toHaveLength(2);
  expect(r.offline.namespaceInterfaces).toContain('lo');
  expect(r.offline.relayConnections).toBe(0);
}

describe('demo --offline both (promises to pay)', () => {
  it('stops at the cap on promises, and the car pays every promise once its route is back', async () => {
    const targetWh = 800;
    const { code, result } = await runBoth(targetWh, false);
    expect(code, JSON.stringify(result?.failedChecks ?? 'no result')).toBe(0);
    const r = result!;
    expectCapped(r, targetWh);
    const p = r.offline.promises!;
    expect(p.paid).toBe(p.made);
    expect(p.unpaid).toBe(0);
    // every promised block was paid once back: paid = price × promised energy, books = both nodes (code 0)
    expect(BigInt(r.paidMsat)).toBe(BigInt(p.promisedWh) * BigInt(PRICE));
    expect(r.receiptValid).toBe(true);
  }, 300_000);

  it('a car that never reconnects: its promises expire and show unpaid in boltcharge sessions', async () => {
    const targetWh = 400;
    const { code, result } = await runBoth(targetWh, true);
    expect(code, JSON.stringify(result?.failedChecks ?? 'no result')).toBe(0);
    const r = result!;
    expectCapped(r, targetWh);
    const p = r.offline.promises!;
    expect(p.unpaid).toBe(p.made);
    expect(BigInt(r.paidMsat)).toBe(0n);
    let text = '';
    expect(await main(['sessions', '--db', p.wallDb, '--json'], (t) => void (text += t))).toBe(0);
    const sessions = JSON.parse(text) as {
      stopReason: string;
      promises?: { counts: Record<string, number>; unpaidWh: number; unpaidMsat: string };
    }[];
    const s = sessions.find((x) => x.promises !== undefined);
    expect(s?.stopReason).toBe('PROMISE_REFUSED');
    expect(s?.promises?.counts['unpaid']).toBe(p.made);
    expect(s?.promises?.unpaidWh).toBe(p.promisedWh);
    expect(BigInt(s!.promises!.unpaidMsat)).toBe(BigInt(p.promisedWh) * BigInt(PRICE));
    let listing = '';
    await main(['sessions', '--db', p.wallDb], (t) => void (listing += t));
    expect(listing).toMatch(
      new RegExp(`promises: ${p.made} unpaid \\(${p.promisedWh} Wh, \\d+ msat unpaid\\)`),
    );
  }, 300_000);
});
