// The vehicle's clock rules as the buyer machine now owns them (protocol/buyer.ts), driven through the real
// daemons on a manual clock (test/wall-module/in-process-rig.ts): a payment retried after the car's node was
// unreachable, and the daily budget across midnight. The daemon makes one attempt per `pay` effect and reports
// its failure kind; it keeps no retry loop, no clock of its own and no rewritten configuration.
import { afterEach, describe, expect, it } from 'vitest';
import { NodeUnreachable } from '../../lightning/errors.js';
import { InProcessRig } from '../wall-module/in-process-rig.js';

let rig: InProcessRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

describe('vehicle clock rules (in process, manual clock)', () => {
  it('a payment that failed while the node was unreachable is paid again and the session goes on', async () => {
    rig = new InProcessRig({
      vehicleLimits: 'targetEnergyWh: 150',
      // the second and third payment attempts find the car's node away (it never received them)
      carPayGate: async (n) => {
        if (n === 2 || n === 3) throw new NodeUnreachable('pay: Lightning node did not answer (injected)');
      },
    });
    const r = rig;
    await r.startWall();
    await r.startVehicle();
    r.world.plug();
    await r.runUntil('session over', () => r.vehicle!.state.phase === 'ended', 400_000);
    const store = r.vehicleStore!;
    const sid = r.vehicle!.state.sessionId!;
    expect(store.getSession(sid).stopReason).toBe('TARGET_REACHED');
    const kinds = store.events({ limit: 100_000 }).map((e) => e.kind);
    expect(kinds.filter((k) => k === 'machine.paymentRetryScheduled').length).toBeGreaterThanOrEqual(1);
    expect(kinds).toContain('machine.paymentRetry');
    // every payment row succeeded: the retried hash was paid once, on a later attempt
    const rows = store.payments(sid);
    expect(rows.every((p) => p.state === 'succeeded')).toBe(true);
    expect(r.payRequests).toBe(rows.length + 2);
    let paid = 0n;
    for (const p of rows) paid += p.amountMsat;
    expect(paid).toBe(r.wallNode.receivedMsat());
  }, 120_000);

  it('the daily budget stops charging before midnight and allows it again after', async () => {
    // ten minutes before a UTC midnight that lies ahead of real time (the wall judges invoice expiry by it)
    const midnight = Math.ceil(Date.now() / 86_400_000) * 86_400_000 + 86_400_000;
    rig = new InProcessRig({
      startMs: midnight - 10 * 60_000,
      // 10 000 msat a day (and a session): 100 Wh at 100 msat/Wh; a second session the same day is refused
      vehicleLimits: 'sessionBudgetMsat: 10000, dailyBudgetMsat: 10000',
    });
    const r = rig;
    await r.startWall();
    await r.startVehicle();
    r.world.plug();
    await r.runUntil('first session ended by the budget', () => r.vehicle!.state.phase === 'ended', 400_000);
    expect(r.clock.now()).toBeLessThan(midnight);
    const store = r.vehicleStore!;
    const first = r.vehicle!.state.sessionId!;
    expect(store.getSession(first).paidMsat).toBeLessThanOrEqual(10_000n);
    // before midnight a new plug-in is refused by the budget
    r.world.unplug();
    await r.run(5_000);
    r.world.plug();
    await r.run(60_000);
    expect(r.vehicle!.state.phase === 'charging').toBe(false);
    const refusedBeforeMidnight = store.listSessions(10).map((x) => x.stopReason);
    expect(refusedBeforeMidnight).toContain('DAILY_BUDGET');
    // after midnight: a new budget day
    await r.run(Math.max(0, midnight - r.clock.now()) + 1_000);
    r.world.unplug();
    await r.run(5_000);
    r.world.plug();
    await r.runUntil('charging after midnight', () => r.vehicle!.state.phase === 'charging', 120_000);
    expect(r.clock.now()).toBeGreaterThanOrEqual(midnight);
  }, 120_000);
});
