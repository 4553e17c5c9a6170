/**
 * Outbox delivery when the CSMS misbehaves (real ocpp-rpc peer): CALLERRORs are retried with backoff and then
 * given up on without blocking later messages; a reply lost in flight leads to a resend of the very same
 * message (same transactionId/seqNo or eventId), which the CSMS can deduplicate.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ManualClock } from '../../hardware/clock.js';
import type { OcppStation } from '../../wall-module/ocpp/station.js';
import { TestCsms, type TestCsmsOptions } from '../support/csms.js';
import {
  dataOf,
  manualStation,
  outboxReports,
  receivedReports,
  sessionSteps,
  tempDb,
  untilOnline,
  waitFor,
  type TempDb,
} from './harness.js';

const T0 = 1_700_000_600_000;

describe('OCPP outbox retries', () => {
  let csms: TestCsms;
  let tmp: TempDb;
  let station: OcppStation;
  let clock: ManualClock;

  async function setUp(options: Partial<TestCsmsOptions>, maxAttempts = 5): Promise<void> {
    csms = await TestCsms.start({ protocols: ['ocpp2.0.1'], ...options });
    tmp = tempDb();
    ({ station, clock } = manualStation(tmp.db, { url: csms.url, identity: 'wall-retry', maxAttempts }));
    station.start();
    await untilOnline(station, clock);
  }

  /** Advances the clock a second at a time until the outbox is drained. */
  async function drain(): Promise<void> {
    await waitFor(async () => {
      const s = station.status();
      if (s.connected && s.outboxPending === 0) return true;
      await clock.advance(1000);
      return false;
    }, 'outbox drained');
  }

  afterEach(async () => {
    await station.stop();
    await csms.close();
    tmp.cleanup();
  });

  it('retries a CALLERROR with backoff and delivers it before anything later', async () => {
    let failures = 0;
    await setUp({
      misbehave: (c) =>
        c.action === 'DataTransfer' && dataOf(c).messageId === 'InvoicePaid' && failures++ < 2
          ? 'error'
          : undefined,
    });
    station.plugged(1, T0);
    for (const step of sessionSteps(station, {
      sessionId: 's-retry',
      evseId: 1,
      startMs: T0,
      meterStartWh: 0,
      blocks: 1,
    }))
      step();
    await waitFor(() => csms.calls('DataTransfer').length === 2, 'first InvoicePaid attempt');
    expect(csms.calls('TransactionEvent')).toHaveLength(2); // the periodic meter report waits behind it
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
    await setUp(
      {
        misbehave: (c) =>
          c.action === 'DataTransfer' && dataOf(c).messageId === 'InvoiceIssued' ? 'error' : undefined,
      },
      3,
    );
    station.plugged(1, T0);
    for (const step of sessionSteps(station, {
      sessionId: 's-drop',
      evseId: 1,
      startMs: T0,
      meterStartWh: 0,
      blocks: 2,
    }))
      step();
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
    await setUp({
      misbehave: (c) => {
        if (!dropped && c.action === 'TransactionEvent' && c.payload.seqNo === 2) {
          dropped = true;
          return 'drop';
        }
        return undefined;
      },
    });
    station.plugged(1, T0);
    for (const step of sessionSteps(station, {
      sessionId: 's-lost',
      evseId: 1,
      startMs: T0,
      meterStartWh: 0,
      blocks: 2,
    }))
      step();
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
