/**
 * The durable outbox against a real OCPP 2.0.1 peer that goes down: events produced while the CSMS is
 * unreachable are delivered once, in order, flagged offline; daemon calls never wait for the CSMS.
 */
import { describe, expect, it } from 'vitest';
import { useStationFixture } from './fixtures.js';
import {
  BLOCK_WH,
  PRICE_MSAT_PER_WH,
  outboxReports,
  receivedReports,
  sessionSteps,
  untilDrained,
  untilOnline,
  waitFor,
} from './harness.js';

const T0 = 1_700_000_200_000;

describe('OCPP outbox across CSMS outages', () => {
  const fx = useStationFixture({ protocols: ['ocpp2.0.1'] }, { identity: 'wall-outage' });

  it('delivers every event once and in order after the CSMS comes back, flagging those produced offline', async () => {
    const { csms, station, clock, tmp } = fx;
    station.start();
    await untilOnline(station, clock);
    station.plugged(1, T0);
    const steps = sessionSteps(station, { sessionId: 's-out', startMs: T0, blocks: 4 });
    const online = steps.slice(0, 7); // start + first block
    const offline = steps.slice(7);
    for (const step of online) step();
    await untilDrained(station);
    const deliveredBefore = csms.received.length;

    await csms.down();
    await waitFor(() => !station.status().connected, 'station sees the link drop');
    for (const step of offline) step();
    station.powerCut({ sessionId: 's-out', reason: 'non-payment', atMs: T0 + 250_000, energyWh: 400 });
    station.resumed({ sessionId: 's-out', atMs: T0 + 260_000, energyWh: 400 });
    // while down, nothing reaches the CSMS and everything waits in SQLite
    expect(station.status().outboxPending).toBeGreaterThan(10);
    await clock.advance(5_000); // reconnect attempts fail meanwhile
    expect(csms.received.length).toBe(deliveredBefore);

    await csms.up();
    await untilOnline(station, clock);
    await untilDrained(station);
    station.sessionEnded({
      sessionId: 's-out',
      reason: 'EVDisconnected',
      meterStopWh: 400,
      atMs: T0 + 270_000,
      receipt: {
        energyWh: 400,
        paidMsat: BigInt(4 * BLOCK_WH) * PRICE_MSAT_PER_WH,
        invoicesIssued: 4,
        invoicesPaid: 4,
        lastSeq: 3,
        priceMsatPerWh: PRICE_MSAT_PER_WH,
      },
    });
    await untilDrained(station);

    const expected = outboxReports(tmp.db);
    const got = receivedReports(csms.received);
    expect(got).toEqual(expected); // same messages, same order, each once, same offline flags
    expect(new Set(got.map((r) => r.key)).size).toBe(got.length);
    const flags = got.map((r) => (r.offline ? 1 : 0)).join('');
    expect(flags).toMatch(/^0+1+0+$/); // exactly the outage block is offline
    // offline: 3 blocks x (InvoiceIssued + InvoicePaid + one periodic meter report of four samples),
    // plus the cut (TransactionEvent + PowerCutNonPayment) and the resume
    expect(got.filter((r) => r.offline).length).toBe(3 * 3 + 3);
    const seqNos = csms.calls('TransactionEvent').map((c) => c.payload.seqNo);
    expect(seqNos).toEqual(seqNos.map((_, i) => i));
    expect(csms.validationFailures).toEqual([]);
    expect(station.status().validationFailures).toBe(0);
  });

  it('never blocks a daemon call while the CSMS is unreachable for a whole session', async () => {
    const { csms, station, clock, tmp } = fx;
    await csms.down();
    station.start();
    await clock.advance(3_000);
    await waitFor(() => station.status().lastError !== null, 'a failed connect attempt');
    expect(station.status().connected).toBe(false);

    // every call completes synchronously: no I/O turn happens in between
    let ioTurn = false;
    setImmediate(() => (ioTurn = true));
    const results: unknown[] = [];
    results.push(station.plugged(1, T0));
    for (const step of sessionSteps(station, { sessionId: 's-dark', startMs: T0, blocks: 3 }))
      results.push(step());
    results.push(station.powerCut({ sessionId: 's-dark', reason: 'non-payment', atMs: T0 + 200_000 }));
    results.push(
      station.sessionEnded({
        sessionId: 's-dark',
        reason: 'LocalOutOfCredit',
        meterStopWh: 300,
        atMs: T0 + 230_000,
        receipt: {
          energyWh: 300,
          paidMsat: 75_000n,
          invoicesIssued: 3,
          invoicesPaid: 3,
          lastSeq: 2,
          priceMsatPerWh: PRICE_MSAT_PER_WH,
        },
      }),
    );
    results.push(station.unplugged(1, T0 + 240_000));
    expect(ioTurn).toBe(false);
    expect(results.every((r) => r === undefined)).toBe(true);
    const queued = station.status().outboxPending;
    expect(queued).toBe(outboxReports(tmp.db).length);

    await csms.up();
    await untilOnline(station, clock);
    await untilDrained(station);
    const got = receivedReports(csms.received);
    expect(got).toEqual(outboxReports(tmp.db));
    expect(got.length).toBe(queued);
    expect(got.every((r) => r.offline)).toBe(true);
    expect(csms.validationFailures).toEqual([]);
  });
});
