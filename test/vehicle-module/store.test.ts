import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../hardware/clock.js';
import { IllegalStateTransition } from '../../daemon/row-state.js';
import { openDatabase, schemaVersion } from '../../daemon/database.js';
import { VEHICLE_MIGRATIONS, VehicleStore } from '../../vehicle-module/store.js';
import { testDelegation } from '../protocol/harness.js';

const tmp = (): string => join(mkdtempSync(join(tmpdir(), 'vehstore-')), 'vehicle.sqlite');
const H1 = '11'.repeat(32);
const H2 = '22'.repeat(32);

function pay(
  s: VehicleStore,
  seq: number,
  hash: string,
  amountMsat = 5_000n,
  o: { sessionId?: string; fromWh?: number; toWh?: number } = {},
) {
  return s.recordPayment({
    sessionId: o.sessionId ?? 's1',
    seq,
    paymentHash: hash,
    bolt11: 'lnbcrt1',
    amountMsat,
    fromWh: o.fromWh ?? 0,
    toWh: o.toWh ?? 50,
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

  it('never records a hash or a sequence twice: a wall reusing one gets a conflict, not a crash', () => {
    const s = VehicleStore.open(tmp(), new ManualClock());
    s.createSession('s1', '02ab');
    s.createSession('s2', '02ab');
    expect(pay(s, 0, H1)).toBeNull();
    expect(pay(s, 1, H1)).toBe('hash-in-ledger');
    expect(pay(s, 0, H2)).toBe('sequence-in-ledger');
    s.markSent(H1);
    s.markFailed(H1, 'no route');
    expect(pay(s, 0, H1, 5_000n, { sessionId: 's2' })).toBe('hash-in-ledger'); // even after a failure
    expect(s.payments('s1').map((p) => [p.seq, p.state])).toEqual([[0, 'failed']]);
    expect(s.payments('s2')).toEqual([]);
    expect(s.paymentAt('s1', 0)?.paymentHash).toBe(H1);
    s.close();
  });

  it('keeps receipts append-only: a second receipt for a session never replaces the first', () => {
    const s = VehicleStore.open(tmp(), new ManualClock());
    s.createSession('s1', '02ab');
    s.saveReceipt({ sessionId: 's1', bodyJson: '{"totalPaidMsat":"10000"}', signature: 'sig1', valid: true });
    s.saveReceipt({ sessionId: 's1', bodyJson: '{"totalPaidMsat":"0"}', signature: 'sig2', valid: true });
    expect(s.receipt('s1')).toMatchObject({ bodyJson: '{"totalPaidMsat":"10000"}', signature: 'sig1' });
    expect(s.events({ sessionId: 's1' }).map((e) => e.kind)).toContain('receipt.kept');
    s.close();
  });

  it('keeps a delegation once, beside the receipt it came with only (never onto a kept earlier receipt)', () => {
    const s = VehicleStore.open(tmp(), new ManualClock());
    s.createSession('s1', '02ab');
    s.saveReceipt({ sessionId: 's1', bodyJson: '{"totalPaidMsat":"10000"}', signature: 'sig1', valid: true });
    const d = testDelegation({ untilMs: 2_000_000_000_000 });
    // a second receipt (dropped) and its delegation: the kept receipt gets none
    expect(s.saveReceiptDelegation('s1', 'sig2', d)).toBe(false);
    expect(s.receipt('s1')?.delegation).toBeNull();
    expect(s.saveReceiptDelegation('s1', 'sig1', d)).toBe(true);
    expect(s.saveReceiptDelegation('s1', 'sig1', testDelegation({ untilMs: 1 }))).toBe(false);
    expect(s.receipt('s1')?.delegation).toEqual(d);
    s.close();
  });

  it('migrates a schema-5 store: its receipts stay readable, with no delegation', () => {
    const file = tmp();
    const old = openDatabase(file, VEHICLE_MIGRATIONS.slice(0, 5));
    old
      .prepare("INSERT INTO sessions (id, peer, started_at_ms, status) VALUES ('s1', '02ab', 1, 'ended')")
      .run();
    old
      .prepare(
        "INSERT INTO receipts (session_id, t_ms, body_json, signature, valid) VALUES ('s1', 2, ?, 'sig1', 1)",
      )
      .run('{"totalPaidMsat":"10000"}');
    old.close();
    const s = VehicleStore.open(file, new ManualClock());
    expect(schemaVersion(s.db)).toBe(VEHICLE_MIGRATIONS.length);
    expect(VEHICLE_MIGRATIONS.length).toBe(6);
    expect(s.receipt('s1')).toEqual({
      sessionId: 's1',
      tMs: 2,
      bodyJson: '{"totalPaidMsat":"10000"}',
      signature: 'sig1',
      valid: true,
      delegation: null,
    });
    s.close();
  });

  it('sums undelivered energy per wall and overall in the window, and backs off a wall after strikes', () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const s = VehicleStore.open(tmp(), clock);
    const A = '02' + 'aa'.repeat(32);
    const B = '03' + 'bb'.repeat(32);
    // wall A: paid 300 Wh (one payment still in doubt), delivered 40 → 260 undelivered; a failed payment counts 0
    s.createSession('a1', A);
    pay(s, 0, H1, 5_000n, { sessionId: 'a1', fromWh: 0, toWh: 200 });
    s.markSucceeded(H1, { preimage: '00', feeMsat: 0n });
    pay(s, 1, H2, 5_000n, { sessionId: 'a1', fromWh: 200, toWh: 300 });
    pay(s, 2, '33'.repeat(32), 5_000n, { sessionId: 'a1', fromWh: 300, toWh: 400 });
    s.markFailed('33'.repeat(32), 'no route');
    s.updateSession('a1', { energyWh: 40 });
    s.endSession('a1', 'USER_STOP');
    s.recordOutcome({
      sessionId: 'a1',
      wallPub: A,
      paidWh: 300,
      deliveredWh: 40,
      undeliveredWh: 260,
      strike: true,
    });
    // wall B: delivered more than paid → 0
    s.createSession('b1', B);
    pay(s, 0, '44'.repeat(32), 5_000n, { sessionId: 'b1', fromWh: 0, toWh: 100 });
    s.updateSession('b1', { energyWh: 120 });
    const h = s.history(A, 'a1', { windowMs: 86_400_000, backoffMs: 60_000 });
    expect(h).toEqual({
      undeliveredWallWh: 260,
      undeliveredTotalWh: 260,
      backoffUntilMs: Date.UTC(2026, 0, 1) + 60_000,
      sessionIdKnown: true,
    });
    // the dashboard's figures are the buyer's: history without the session-id check
    const { sessionIdKnown: _known, ...exposure } = h;
    expect(s.wallExposure(A, { windowMs: 86_400_000, backoffMs: 60_000 })).toEqual(exposure);
    expect(s.history(B, 'new', { windowMs: 86_400_000, backoffMs: 60_000 })).toMatchObject({
      undeliveredWallWh: 0,
      backoffUntilMs: null,
      sessionIdKnown: false,
    });
    // a second strike doubles the back-off; a clean session ends it
    void clock.advance(1000);
    s.createSession('a2', A);
    s.endSession('a2', 'UNPAID');
    s.recordOutcome({
      sessionId: 'a2',
      wallPub: A,
      paidWh: 0,
      deliveredWh: 0,
      undeliveredWh: 50,
      strike: true,
    });
    expect(s.backoffUntilMs(A, 0, 60_000, 86_400_000)).toBe(clock.now() + 120_000);
    void clock.advance(1000);
    s.createSession('a3', A);
    s.recordOutcome({
      sessionId: 'a3',
      wallPub: A,
      paidWh: 0,
      deliveredWh: 0,
      undeliveredWh: 0,
      strike: false,
    });
    expect(s.backoffUntilMs(A, 0, 60_000, 86_400_000)).toBeNull();
    // the window rolls: a day later wall A's sessions no longer count
    void clock.advance(86_400_000 + 5_000);
    expect(s.history(A, 'x', { windowMs: 86_400_000, backoffMs: 60_000 }).undeliveredWallWh).toBe(0);
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
