import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../hardware/clock.js';
import { openDatabase, schemaVersion, StoreTooNew } from '../../daemon/database.js';
import { IllegalStateTransition } from '../../daemon/row-state.js';
import { WALL_MIGRATIONS, WallStore } from '../../wall-module/store.js';

const tmp = (): string => join(mkdtempSync(join(tmpdir(), 'wallstore-')), 'wall.sqlite');

describe('wall store', () => {
  it('creates the schema once, in WAL mode, and reopens without re-running migrations', () => {
    const file = tmp();
    const clock = new ManualClock();
    const s = WallStore.open(file, clock);
    expect(s.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(schemaVersion(s.db)).toBe(WALL_MIGRATIONS.length);
    s.createSession('s1', null);
    s.close();
    const again = WallStore.open(file, clock);
    expect(schemaVersion(again.db)).toBe(WALL_MIGRATIONS.length);
    expect(again.getSession('s1').status).toBe('active');
    again.db.prepare('INSERT INTO schema_migrations VALUES (99, ?, 0)').run('future');
    again.close();
    expect(() => WallStore.open(file, clock)).toThrow(StoreTooNew);
  });

  it("migrates a schema-3 ledger to the seller machine's words: issued → open, abandoned → failed", () => {
    const file = tmp();
    const old = openDatabase(file, WALL_MIGRATIONS.slice(0, 3));
    old.prepare("INSERT INTO sessions (id, started_at_ms, status) VALUES ('s1', 1, 'active')").run();
    const insert = old.prepare(
      `INSERT INTO invoices (session_id, seq, state, payment_hash, amount_msat, from_wh, to_wh,
         price_msat_per_wh, requested_at_ms) VALUES ('s1', ?, ?, ?, 1000, ?, ?, 100, 1)`,
    );
    ['requested', 'issued', 'settled', 'abandoned'].forEach((state, seq) =>
      insert.run(
        seq,
        state,
        state === 'requested' || state === 'abandoned' ? null : `h${seq}`,
        seq * 10,
        seq * 10 + 10,
      ),
    );
    old.close();
    const s = WallStore.open(file, new ManualClock());
    expect(schemaVersion(s.db)).toBe(WALL_MIGRATIONS.length);
    expect(s.invoices('s1').map((i) => i.state)).toEqual(['requested', 'open', 'settled', 'failed']);
    expect(s.invoices('s1')[1]).toMatchObject({ paymentHash: 'h1', amountMsat: 1000n, fromWh: 10, toWh: 20 });
    s.close();
  });

  it('runs an extra migration hook (OCPP tables) after its own schema', () => {
    const s = WallStore.open(tmp(), new ManualClock(), (db) =>
      db.exec('CREATE TABLE IF NOT EXISTS ocpp_x (a)'),
    );
    expect(s.db.prepare("SELECT name FROM sqlite_master WHERE name = 'ocpp_x'").get()).toBeTruthy();
    s.close();
  });

  it('moves invoices only along requested → open → settled and sums settlements', () => {
    const clock = new ManualClock();
    const s = WallStore.open(tmp(), clock);
    s.createSession('s1', 'car');
    s.requestInvoice({
      sessionId: 's1',
      seq: 0,
      amountMsat: 4_900n,
      fromWh: 0,
      toWh: 49,
      priceMsatPerWh: 100n,
    });
    expect(s.invoice('s1', 0)?.state).toBe('requested');
    expect(() => s.markClosed('s1', 0, 'cancelled')).toThrow(IllegalStateTransition);
    s.markIssued('s1', 0, 'aa'.repeat(32), 'lnbcrt49n1...', 0);
    clock.advance(1500);
    const settled = s.markSettled('aa'.repeat(32), 4_900n);
    expect(settled).toMatchObject({ state: 'settled', receivedMsat: 4_900n });
    expect(s.markSettled('aa'.repeat(32), 4_900n)?.state).toBe('settled'); // a repeat is harmless
    expect(s.getSession('s1').paidMsat).toBe(4_900n); // counted once
    expect(() => s.markClosed('s1', 0, 'expired')).toThrow(/cannot go from settled to expired/);
    expect(s.markSettled('bb'.repeat(32), 1n)).toBeUndefined(); // not ours

    s.requestInvoice({
      sessionId: 's1',
      seq: 1,
      amountMsat: 4_900n,
      fromWh: 49,
      toWh: 98,
      priceMsatPerWh: 100n,
    });
    expect(s.invoicesInState('requested').map((i) => i.seq)).toEqual([1]);
    s.markAbandoned('s1', 1, 'crashed before the node answered');
    expect(s.settledMsat('s1')).toBe(4_900n);
    // duplicate sequence numbers are refused by the schema
    expect(() =>
      s.requestInvoice({ sessionId: 's1', seq: 1, amountMsat: 1n, fromWh: 0, toWh: 1, priceMsatPerWh: 1n }),
    ).toThrow(/UNIQUE/);
    expect(s.events({ sessionId: 's1' }).map((e) => e.kind)).toEqual([
      'session.created',
      'invoice.requested',
      'invoice.open',
      'invoice.settled',
      'invoice.requested',
      'invoice.failed',
    ]);
    s.close();
  });

  it('keeps the event log append-only', () => {
    const s = WallStore.open(tmp(), new ManualClock());
    s.appendEvent(null, 'daemon.started', { pid: 1 });
    expect(() => s.db.prepare('UPDATE events SET kind = ?').run('x')).toThrow(/append-only/);
    expect(() => s.db.prepare('DELETE FROM events').run()).toThrow(/append-only/);
    expect(s.events()).toHaveLength(1);
    s.close();
  });

  it('stores sessions, offers, samples, receipts and machine state across a reopen', () => {
    const file = tmp();
    const clock = new ManualClock();
    const s = WallStore.open(file, clock);
    s.createSession('s1', null);
    s.recordOffer({
      sessionId: 's1',
      priceMsatPerWh: 100n,
      blockWh: 49,
      depositBlocks: 1,
      graceWh: 30,
      decision: 'accepted',
      reason: null,
    });
    s.addMeterSample({
      sessionId: 's1',
      tMs: clock.now(),
      source: 'own',
      energyWh: 12,
      powerW: 11000,
      voltageV: 230,
      currentA: 16,
    });
    s.saveMachineState('main', '{"phase":"charging"}');
    s.saveReceipt({ sessionId: 's1', bodyJson: '{"energyWh":12}', signature: 'sig', valid: null });
    s.updateSession('s1', { energyWh: 12, priceMsatPerWh: 100n });
    s.endSession('s1', 'unplugged');
    s.endSession('s1', 'other'); // idempotent: keeps the first reason
    s.close();
    const r = WallStore.open(file, clock);
    expect(r.getSession('s1')).toMatchObject({
      status: 'ended',
      stopReason: 'unplugged',
      energyWh: 12,
      priceMsatPerWh: 100n,
    });
    expect(r.offers('s1')[0]).toMatchObject({ decision: 'accepted', blockWh: 49 });
    expect(r.meterSamples('s1')[0]).toMatchObject({ energyWh: 12, powerW: 11000 });
    expect(r.loadMachineState('main')).toBe('{"phase":"charging"}');
    expect(r.receipt('s1')).toMatchObject({ signature: 'sig', valid: null });
    expect(r.activeSessions()).toEqual([]);
    r.close();
  });
});
