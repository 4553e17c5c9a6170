/**
 * Outbox delivery when the CSMS misbehaves (real ocpp-rpc peer): CALLERRORs are retried with backoff and then
 * given up on without blocking later messages; a reply lost in flight leads to a resend of the very same
 * message (same transactionId/seqNo or eventId), which the CSMS can deduplicate.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TestCsmsOptions } from '../support/csms.js';
import { type StationFixture, startStationFixture, stopStationFixture } from './fixtures.js';
import {
  advanceUntil,
  dataOf,
  outboxReports,
  receivedReports,
  runSession,
  untilOnline,
  waitFor,
} from './harness.js';

const T0 = 1_700_000_600_000;

describe('OCPP outbox retries', () => {
  let fx: StationFixture;

  /** Starts the fixture with these CSMS options and brings the station online. */
  async function setUp(options: Partial<TestCsmsOptions>, maxAttempts = 5): Promise<StationFixture> {
    fx = await startStationFixture(
      { protocols: ['ocpp2.0.1'], ...options },
      { identity: 'wall-retry', maxAttempts },
    );
    fx.station.start();
    await untilOnline(fx.station, fx.clock);
    return fx;
  }

  /** Advances the clock a second at a time until the outbox is drained. */
  async function drain(): Promise<void> {
    await advanceUntil(
      fx.clock,
      () => {
        const s = fx.station.status();
        return s.connected && s.outboxPending === 0;
      },
      'outbox drained',
    );
  }

  afterEach(() => stopStationFixture(fx));

  it('retries a CALLERROR with backoff and delivers it before anything later', async () => {
    let failures = 0;
    const { csms, station, tmp } = await setUp({
      misbehave: (c) =>
        c.action === 'DataTransfer' && dataOf(c).messageId === 'InvoicePaid' && failures++ < 2
          ? 'error'
          : undefined,
    });
    station.plugged(1, T0);
    runSession(station, { sessionId: 's-retry', startMs: T0, blocks: 1 });
    await waitFor(() => csms.calls('DataTransfer').length === 2, 'first InvoicePaid attempt');
    expect(csms.calls('TransactionEvent')).toHaveLength(1); // Charging and the periodic report wait behind it
    await drain();
    const paid = csms.calls('DataTransfer').filter((c) => dataOf(c).messageId === 'InvoicePaid');
    expect(paid).toHaveLength(3);
    expect(new Set(paid.map((c) => c.payload.data)).size).toBe(1); // the same message each time
    const reports = receivedReports(csms.received);
    const unique = reports.filter((r, i) => reports.findIndex((x) => x.key === r.key) === i);
    expect(unique).toEqual(outboxReports(tmp.db));
    const row = tmp.db
      .prepare(
        `SELECT attempts, outcome FROM ocpp_outbox WHERE message_key = 'session:s-retry:InvoicePaid:0'`,
      )
      .get();
    expect(row).toEqual({ attempts: 2, outcome: 'delivered' });
  });

  it('gives up on a message after maxAttempts CALLERRORs and delivers the rest', async () => {
    const { csms, station, tmp } = await setUp(
      {
        misbehave: (c) =>
          c.action === 'DataTransfer' && dataOf(c).messageId === 'InvoiceIssued' ? 'error' : undefined,
      },
      3,
    );
    station.plugged(1, T0);
    runSession(station, { sessionId: 's-drop', startMs: T0, blocks: 2 });
    await drain();
    const issued = csms.calls('DataTransfer').filter((c) => dataOf(c).messageId === 'InvoiceIssued');
    expect(issued).toHaveLength(6); // 2 invoices x 3 attempts
    expect(csms.calls('DataTransfer').filter((c) => dataOf(c).messageId === 'InvoicePaid')).toHaveLength(2);
    const outcomes = tmp.db
      .prepare(`SELECT outcome FROM ocpp_outbox WHERE message_key LIKE '%InvoiceIssued%' ORDER BY id`)
      .all() as { outcome: string }[];
    expect(outcomes.map((o) => o.outcome)).toEqual(['dropped:3 attempts', 'dropped:3 attempts']);
    expect(csms.calls('TransactionEvent').map((c) => c.payload.seqNo)).toEqual([0, 1, 2, 3]);
  });

  it('resends the same message when its reply is lost in flight; deduplicated by key nothing is missing or extra', async () => {
    let dropped = false;
    const { csms, station, clock, tmp } = await setUp({
      misbehave: (c) => {
        if (!dropped && c.action === 'TransactionEvent' && c.payload.seqNo === 2) {
          dropped = true;
          return 'drop';
        }
        return undefined;
      },
    });
    station.plugged(1, T0);
    runSession(station, { sessionId: 's-lost', startMs: T0, blocks: 2 });
    await waitFor(() => !station.status().connected, 'connection cut in flight');
    await untilOnline(station, clock);
    await drain();
    const reports = receivedReports(csms.received);
    const keys = reports.map((r) => r.key);
    const twice = keys.filter((k, i) => keys.indexOf(k) !== i);
    expect(twice).toHaveLength(1); // exactly the in-flight message, sent again with the same id
    expect(twice[0]).toMatch(/^te:.*:2$/);
    const unique = reports.filter((r, i) => keys.indexOf(r.key) === i);
    expect(unique.map((r) => r.key)).toEqual(outboxReports(tmp.db).map((r) => r.key));
    expect(csms.validationFailures).toEqual([]);
  });
});
