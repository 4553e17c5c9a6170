import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../hardware/clock.js';
import { IllegalStateTransition } from '../../daemon/row-state.js';
import { VehicleStore } from '../../vehicle-module/store.js';

const tmp = (): string => join(mkdtempSync(join(tmpdir(), 'vehstore-')), 'vehicle.sqlite');
const H1 = '11'.repeat(32);
const H2 = '22'.repeat(32);

function pay(s: VehicleStore, seq: number, hash: string, amountMsat = 5_000n): void {
  s.recordPayment({
    sessionId: 's1',
    seq,
    paymentHash: hash,
    bolt11: 'lnbcrt1',
    amountMsat,
    fromWh: 0,
    toWh: 50,
    payee: '02ab',
  });
}

describe('vehicle store', () => {
  it('commits a payment before it is sent and survives a crash in between', () => {
    const file = tmp();
    const clock = new ManualClock();
    const s = VehicleStore.open(file, clock);
    s.createSession('s1', '02ab');
    pay(s, 0, H1);
    s.close(); // "crash" before pay(): the row is there, in flight
    const r = VehicleStore.open(file, clock);
    expect(r.inFlight().map((p) => [p.paymentHash, p.state])).toEqual([[H1, 'recorded']]);
    r.markSent(H1);
    r.markSucceeded(H1, { preimage: 'ab'.repeat(32), feeMsat: 3n });
    r.markSucceeded(H1, { preimage: 'ab'.repeat(32), feeMsat: 3n }); // idempotent
    expect(r.getSession('s1').paidMsat).toBe(5_000n);
    expect(r.paidMsat('s1')).toBe(5_000n);
    expect(r.inFlight()).toEqual([]);
    expect(() => r.markFailed(H1, 'late failure')).toThrow(IllegalStateTransition);
    r.close();
  });

  it('never lets the same hash be live twice, but allows a retry after a failure', () => {
    const s = VehicleStore.open(tmp(), new ManualClock());
    s.createSession('s1', '02ab');
    pay(s, 0, H1);
    expect(() => pay(s, 1, H1)).toThrow(/UNIQUE/);
    s.markSent(H1);
    s.markFailed(H1, 'no route');
    pay(s, 1, H1); // a new attempt after a definite failure
    expect(s.livePayment(H1)).toMatchObject({ seq: 1, state: 'recorded' });
    expect(s.payments('s1').map((p) => p.state)).toEqual(['failed', 'recorded']);
    s.close();
  });

  it('counts the daily budget per UTC day, including in-flight payments and fees', () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 23, 59, 0));
    const s = VehicleStore.open(tmp(), clock);
    s.createSession('s1', '02ab');
    pay(s, 0, H1, 7_000n);
    s.markSucceeded(H1, { preimage: '00', feeMsat: 10n });
    pay(s, 1, H2, 3_000n); // in flight
    expect(s.spentTodayMsat()).toBe(10_010n);
    void clock.advance(120_000); // next UTC day
    expect(s.spentTodayMsat()).toBe(0n);
    s.close();
  });

  it('queues notifications durably with attempt counts', () => {
    const s = VehicleStore.open(tmp(), new ManualClock());
    const id = s.enqueueNotification({ type: 'payment', amountMsat: 5n });
    expect(s.pendingNotifications()[0]).toMatchObject({ id, attempts: 0, body: { amountMsat: '5' } });
    s.noteDelivery(id, { ok: false, error: 'HTTP 500', final: false });
    s.noteDelivery(id, { ok: true });
    expect(s.pendingNotifications()).toEqual([]);
    expect(s.notifications()[0]).toMatchObject({ state: 'delivered', attempts: 2, lastError: null });
    s.close();
  });
});
