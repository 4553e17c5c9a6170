/** Configuration validation, backoff arithmetic and daemon-call argument checks (logic only, no peer). */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../hardware/clock.js';
import { backoffDelayMs } from '../../wall-module/ocpp/connection.js';
import { OcppArgumentInvalid, OcppConfigInvalid } from '../../wall-module/ocpp/errors.js';
import { resolveStationConfig } from '../../wall-module/ocpp/station-config.js';
import { OcppStation } from '../../wall-module/ocpp/station.js';
import { tempDb } from './harness.js';

const base = { url: 'ws://127.0.0.1:9/ocpp', identity: 'wall-1' };

describe('OCPP station configuration', () => {
  it('applies defaults', () => {
    const c = resolveStationConfig(base);
    expect(c.protocols).toEqual(['ocpp2.1', 'ocpp2.0.1', 'ocpp1.6']);
    expect(c.vendorId).toBe('org.boltcharge');
    expect(c.evses).toEqual([{ evseId: 1, connectorId: 1 }]);
    expect(c.meterIntervalSec).toBe(60);
  });

  it.each([
    [{ url: 'http://x/ocpp' }, /ws:\/\/ or wss:\/\//],
    [{ url: 'ws://user:pw@x/ocpp' }, /credentials/],
    [{ identity: 'a:b' }, /identity/],
    [{ vendorId: 'boltcharge' }, /reverse-DNS/],
    [{ protocols: [] }, /at least one/],
    [{ caPem: 'x' }, /wss/],
    [{ evses: [{ evseId: 1 }, { evseId: 1 }] }, /unique/],
    [{ chargePointModel: 'x'.repeat(21) }, /chargePointModel/],
    [{ meterIntervalSec: 0 }, /meterIntervalSec/],
    [{ backoff: { jitter: 1 } }, /jitter/],
  ])('rejects %j with OcppConfigInvalid', (patch, message) => {
    expect(() => resolveStationConfig({ ...base, ...patch })).toThrow(OcppConfigInvalid);
    expect(() => resolveStationConfig({ ...base, ...patch })).toThrow(message);
  });

  it('backs off exponentially up to the cap, with bounded jitter', () => {
    const policy = { initialMs: 1000, factor: 2, maxMs: 8000, jitter: 0 };
    expect([0, 1, 2, 3, 4, 5].map((a) => backoffDelayMs(policy, a))).toEqual([
      1000, 2000, 4000, 8000, 8000, 8000,
    ]);
    const jittered = { ...policy, jitter: 0.2 };
    expect(backoffDelayMs(jittered, 1, () => 0)).toBe(1600);
    expect(backoffDelayMs(jittered, 1, () => 0.999999)).toBe(2400);
  });
});

describe('OCPP station daemon calls', () => {
  it('rejects invalid arguments with OcppArgumentInvalid and records repeated calls once', () => {
    const tmp = tempDb();
    try {
      const station = new OcppStation({ clock: new ManualClock(), db: tmp.db, config: base });
      expect(() => station.plugged(2)).toThrow(OcppArgumentInvalid);
      station.plugged(1, 1000);
      station.plugged(1, 1001); // still plugged: same transaction
      station.sessionStarted({ evseId: 1, sessionId: 's', atMs: 2000, meterStartWh: 10 });
      station.sessionStarted({ evseId: 1, sessionId: 's', atMs: 2000, meterStartWh: 10 });
      expect(() => station.meterSample({ sessionId: 's', energyWh: -1, powerW: 0, atMs: 3000 })).toThrow(
        OcppArgumentInvalid,
      );
      const inv = {
        sessionId: 's',
        seq: 0,
        paymentHash: 'ab'.repeat(32),
        amountMsat: 2500n,
        priceMsatPerWh: 25n,
        energyFromWh: 10,
        energyToWh: 110,
        atMs: 4000,
      };
      station.invoiceIssued(inv);
      station.invoiceIssued(inv); // a daemon replaying after a restart
      expect(() => station.invoicePaid({ ...inv, paymentHash: 'xyz' })).toThrow(OcppArgumentInvalid);
      const rows = tmp.db.prepare('SELECT message_key, offline FROM ocpp_outbox ORDER BY id').all();
      expect(rows).toEqual([
        { message_key: expect.stringMatching(/^tx:.*:plugged$/) as unknown, offline: 1 },
        // no Charging before a paid block and flowing energy
        { message_key: 'session:s:InvoiceIssued:0', offline: 1 },
      ]);
    } finally {
      tmp.cleanup();
    }
  });
});

describe('migrateOcppTables', () => {
  it('is idempotent and keeps queued messages', async () => {
    const { migrateOcppTables } = await import('../../wall-module/ocpp/schema.js');
    const tmp = tempDb();
    try {
      migrateOcppTables(tmp.db);
      const station = new OcppStation({ clock: new ManualClock(), db: tmp.db, config: base });
      station.plugged(1, 1000);
      migrateOcppTables(tmp.db);
      expect(station.status().outboxPending).toBe(1);
    } finally {
      tmp.cleanup();
    }
  });
});

describe('Outbox pruning', () => {
  it('forgets only messages finished before the cut-off, never pending ones', async () => {
    const { Outbox } = await import('../../wall-module/ocpp/outbox.js');
    const { migrateOcppTables } = await import('../../wall-module/ocpp/schema.js');
    const tmp = tempDb();
    try {
      migrateOcppTables(tmp.db);
      const outbox = new Outbox(tmp.db);
      const ev = (txKey: string) => ({
        kind: 'EvPlugged' as const,
        txKey,
        evseId: 1,
        connectorId: 1,
        atMs: 0,
      });
      outbox.append('a', ev('a'), 0, false, 0);
      outbox.append('b', ev('b'), 0, false, 0);
      outbox.append('c', ev('c'), 0, false, 0);
      outbox.finish(1, 'delivered', 1000);
      outbox.finish(2, 'delivered', 5000);
      expect(outbox.prune(2000)).toBe(1);
      expect(outbox.has('a')).toBe(false);
      expect(outbox.has('b')).toBe(true);
      expect(outbox.pendingCount()).toBe(1);
      expect(outbox.head()?.messageKey).toBe('c');
    } finally {
      tmp.cleanup();
    }
  });
});
