// The wall's clock rules as the machine now owns them (protocol/seller.ts), driven through the real daemon on a
// manual clock (test/wall-module/in-process-rig.ts): suspension → reissue → max-suspend end, and the re-greeting
// of a plugged-in car whose module did not answer. The shell keeps no timer of its own for either.
import { afterEach, describe, expect, it } from 'vitest';
import { InProcessRig } from './in-process-rig.js';

let rig: InProcessRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const kinds = (r: InProcessRig): string[] => r.wallStore!.events({ limit: 100_000 }).map((e) => e.kind);

describe('wall clock rules (in process, manual clock)', () => {
  it('a car that stops paying: power cut, unpaid invoices reissued, session ended UNPAID after maxSuspendSec', async () => {
    rig = new InProcessRig({
      tariff: 'maxSuspendSec: 90, reissueAfterSec: 20',
      // the car pays twice, then its payments never complete
      carPayGate: (n) => (n <= 2 ? Promise.resolve() : new Promise<void>(() => {})),
    });
    const r = rig;
    await r.startWall();
    await r.startVehicle();
    r.world.plug();
    await r.runUntil('suspended', () => r.wall!.state.phase === 'suspended', 300_000);
    const suspendedAt = r.clock.now();
    await r.runUntil('a reissue', () => kinds(r).includes('machine.invoiceReissue'), 60_000);
    const reissuedAfterMs = r.clock.now() - suspendedAt;
    expect(reissuedAfterMs).toBeLessThanOrEqual(25_000);
    await r.runUntil('ended', () => r.wall!.state.phase === 'ended', 200_000);
    const endedAfterMs = r.clock.now() - suspendedAt;
    expect(endedAfterMs).toBeGreaterThanOrEqual(90_000);
    expect(endedAfterMs).toBeLessThan(95_000);
    const sid = r.wall!.state.sessionId!;
    expect(r.wallStore!.getSession(sid).stopReason).toBe('UNPAID');
    // the reissued invoices were cancelled at the node and closed in the ledger
    const cancelled = r.wallStore!.invoices(sid).filter((i) => i.state === 'cancelled');
    expect(cancelled.length).toBeGreaterThanOrEqual(2);
    for (const inv of cancelled) expect(r.wallNode.invoices.get(inv.paymentHash!)?.state).toBe('cancelled');
    expect(r.wallStore!.settledMsat(sid)).toBe(r.wallNode.receivedMsat());
  }, 120_000);

  it('a plugged-in car whose module does not answer is greeted again until it does', async () => {
    rig = new InProcessRig();
    const r = rig;
    await r.startWall();
    r.world.plug();
    await r.runUntil('handshake timed out', () => r.wall!.state.phase === 'ended', 60_000);
    // greeted again on the machine's schedule (5 s, then doubling), each a fresh session
    await r.run(60_000);
    const greetings = kinds(r).filter((k) => k === 'machine.greetAgain').length;
    expect(greetings).toBeGreaterThanOrEqual(1);
    // the module comes up: the next greeting starts a session that charges, without an unplug
    await r.startVehicle();
    await r.runUntil('charging', () => r.wall!.state.phase === 'charging', 300_000);
  }, 120_000);
});
