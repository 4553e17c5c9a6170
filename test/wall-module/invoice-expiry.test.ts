// The wall judges an open invoice expired by the node's clock, and reads its ledger for that only once an
// invoice can have expired: an idle connector (a site has many) costs a timer, not a store query every 5 s.
import { afterEach, describe, expect, it } from 'vitest';
import type { WallStore } from '../../wall-module/store.js';
import { InProcessRig } from './in-process-rig.js';

/** Counts the wall's reads of its open invoices. */
function countOpenReads(store: WallStore): { n: number } {
  const reads = { n: 0 };
  const read = store.invoicesInState.bind(store);
  store.invoicesInState = (state) => {
    if (state === 'open') reads.n++;
    return read(state);
  };
  return reads;
}

describe('invoice expiry check', () => {
  let rig: InProcessRig | null = null;
  afterEach(async () => {
    await rig?.close();
    rig = null;
  });

  it('an idle connector reads no open invoices after its first check', async () => {
    let reads = { n: 0 };
    rig = new InProcessRig({ wallParts: (p) => ((reads = countOpenReads(p.store)), p) });
    await rig.startWall();
    reads.n = 0; // the start's recovery reads them too
    await rig.run(120_000);
    // the first check after the start reads once (the store may hold open invoices from before a restart)
    expect(reads.n).toBe(1);
  }, 60_000);

  it('an invoice the car never pays is expired at its expiry on the node clock, not before', async () => {
    let reads = { n: 0 };
    rig = new InProcessRig({
      tariff: 'invoiceExpirySec: 60, maxSuspendSec: 3600',
      // the car's node never completes its first payment
      carPayGate: (n) => (n === 1 ? new Promise<void>(() => {}) : Promise.resolve()),
      wallParts: (p) => ((reads = countOpenReads(p.store)), p),
    });
    const r = rig;
    await r.startWall();
    await r.startVehicle();
    r.world.plug();
    const first = () => r.wallStore!.invoices(r.wallStore!.listSessions(1)[0]?.id ?? '')[0];
    await r.runUntil('the first invoice is issued', () => first()?.state === 'open', 60_000);
    const issuedAt = first()!.issuedAtMs!;
    const expiresAt = first()!.expiresAtMs!;
    reads.n = 0;
    await r.runUntil('the first invoice closes', () => first()?.state !== 'open', 300_000);
    expect(first()!.state).toBe('expired');
    // at its expiry (the node's clock), within one check period (5 s) of it, and never before
    expect(expiresAt - issuedAt).toBeGreaterThan(50_000);
    expect(r.clock.now()).toBeGreaterThanOrEqual(expiresAt);
    expect(r.clock.now()).toBeLessThanOrEqual(expiresAt + 5_100);
    // while it was open and not yet due, the open invoices were not read every 5 s
    expect(reads.n).toBeLessThanOrEqual(2);
  }, 120_000);
});
