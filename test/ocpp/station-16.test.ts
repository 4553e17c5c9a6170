/**
 * OcppStation falling back to OCPP 1.6J against a real 1.6 peer (ocpp-rpc RPCServer, strict schemas): boot
 * Pending then Accepted, a paid session produced entirely while the CSMS is down, delivered afterwards with
 * the transactionId from StartTransaction's reply filled into every queued message.
 */
import { describe, expect, it } from 'vitest';
import { useStationFixture } from './fixtures.js';
import {
  BLOCK_WH,
  blockInvoice,
  PRICE_MSAT_PER_WH,
  dataOf,
  paymentHash,
  runSession,
  untilDrained,
  untilOnline,
  waitFor,
} from './harness.js';

const T0 = 1_700_000_300_000;

describe('OcppStation on OCPP 1.6J', () => {
  const fx = useStationFixture(
    { protocols: ['ocpp1.6'], bootReplies: ['Pending'], bootIntervalSec: 20 },
    { identity: 'wall-16' },
  );

  it('falls back to 1.6, boots Pending then Accepted, and rewrites queued messages with the transactionId', async () => {
    const { csms, station, clock } = fx;
    station.start();
    await waitFor(() => station.status().boot === 'Pending', 'Pending');
    expect(station.status().protocol).toBe('ocpp1.6');
    await clock.advance(20_000);
    await waitFor(() => station.status().boot === 'Accepted', 'Accepted');
    expect(csms.calls('BootNotification').map((c) => c.payload)).toEqual([
      { chargePointVendor: 'boltcharge', chargePointModel: 'boltcharge-wall' },
      { chargePointVendor: 'boltcharge', chargePointModel: 'boltcharge-wall' },
    ]);
    station.plugged(1, T0);
    await waitFor(() => csms.calls('StatusNotification').at(-1)?.payload.status === 'Preparing', 'Preparing');

    await csms.down();
    await waitFor(() => !station.status().connected, 'link down');
    runSession(station, { sessionId: 's-16', startMs: T0 + 1000, meterStartWh: 7000, blocks: 2 });
    station.powerCut({ sessionId: 's-16', reason: 'non-payment', atMs: T0 + 130_000, energyWh: 7210 });
    station.sessionEnded({
      sessionId: 's-16',
      reason: 'LocalOutOfCredit',
      meterStopWh: 7210,
      atMs: T0 + 190_000,
      receipt: {
        energyWh: 210,
        paidMsat: BigInt(2 * BLOCK_WH) * PRICE_MSAT_PER_WH,
        invoicesIssued: 2,
        invoicesPaid: 2,
        lastSeq: 1,
        priceMsatPerWh: PRICE_MSAT_PER_WH,
      },
    });
    expect(csms.calls('StartTransaction')).toHaveLength(0);

    await csms.up();
    await untilOnline(station, clock);
    await untilDrained(station);

    const [start] = csms.calls('StartTransaction');
    expect(start?.payload).toEqual({
      connectorId: 1,
      idTag: 'LIGHTNING',
      meterStart: 7000,
      // the 1.6 transaction starts when energy flows after the first paid block (first meter sample)
      timestamp: new Date(T0 + 1000 + 15_000).toISOString(),
    });
    const txId = 1000; // the test CSMS numbers 1.6 transactions from 1000
    const meterValues = csms.calls('MeterValues');
    expect(meterValues).toHaveLength(2);
    for (const m of meterValues) expect(m.payload.transactionId).toBe(txId);
    expect(meterValues[0]?.payload.meterValue).toEqual([
      {
        timestamp: new Date(T0 + 1000 + 60_000).toISOString(),
        sampledValue: [
          {
            value: '7100',
            context: 'Sample.Periodic',
            measurand: 'Energy.Active.Import.Register',
            unit: 'Wh',
          },
          { value: '6000', context: 'Sample.Periodic', measurand: 'Power.Active.Import', unit: 'W' },
        ],
      },
    ]);
    const transfers = csms.calls('DataTransfer');
    expect(transfers.map((c) => c.payload.messageId)).toEqual([
      'InvoiceIssued',
      'InvoicePaid',
      'InvoiceIssued',
      'InvoicePaid',
      'PowerCutNonPayment',
      'SessionReceipt',
    ]);
    for (const [i, t] of transfers.entries()) {
      expect(typeof t.payload.data).toBe('string'); // 1.6 requires a string
      expect(dataOf(t)).toMatchObject({
        schemaVersion: 2,
        // the first block is bought before the 1.6 transaction starts (it starts when energy flows)
        transactionId: i < 2 ? null : txId,
        evseId: 1,
        sessionId: 's-16',
        offline: true,
      });
    }
    expect(dataOf(transfers[3]!)).toMatchObject({
      seq: 1,
      paymentHash: paymentHash('s-16', 1),
      amountMsat: '25000',
    });
    expect(csms.calls('StopTransaction').map((c) => c.payload)).toEqual([
      {
        transactionId: txId,
        meterStop: 7210,
        timestamp: new Date(T0 + 190_000).toISOString(),
        reason: 'Other',
      },
    ]);
    // order: the first paid block, then Start, Stop last
    const txCalls = csms.received.filter((c) =>
      ['StartTransaction', 'MeterValues', 'StopTransaction', 'DataTransfer'].includes(c.action),
    );
    expect(txCalls.map((c) => c.action).slice(0, 3)).toEqual([
      'DataTransfer',
      'DataTransfer',
      'StartTransaction',
    ]);
    expect(txCalls.at(-1)?.action).toBe('StopTransaction');
    // after reconnect the connector reports the session finished while the cable is still in
    await waitFor(() => csms.calls('StatusNotification').at(-1)?.payload.status === 'Finishing', 'Finishing');
    station.unplugged(1, T0 + 200_000);
    await waitFor(() => csms.calls('StatusNotification').at(-1)?.payload.status === 'Available', 'Available');
    expect(csms.calls('StopTransaction')).toHaveLength(1);
    expect(csms.validationFailures).toEqual([]);
    expect(station.status().validationFailures).toBe(0);
  });

  it('reports Charging and SuspendedEVSE by StatusNotification during an online session', async () => {
    const { csms, station, clock } = fx;
    station.start();
    await untilOnline(station, clock); // Pending, then Accepted after 20 s of clock
    station.plugged(1, T0);
    station.sessionStarted({ evseId: 1, sessionId: 's-16b', atMs: T0 + 1000, meterStartWh: 0 });
    // a session with nothing paid yet is Preparing, not Charging
    await waitFor(() => csms.calls('StatusNotification').at(-1)?.payload.status === 'Preparing', 'Preparing');
    const block = blockInvoice('s-16b', 0, 0);
    station.invoiceIssued({ ...block, atMs: T0 + 2000 });
    station.invoicePaid({ ...block, atMs: T0 + 3000 });
    station.meterSample({ sessionId: 's-16b', energyWh: 0, powerW: 0, atMs: T0 + 4000 });
    await untilDrained(station);
    expect(csms.calls('StartTransaction')).toHaveLength(0); // paid, but no energy flows yet
    station.meterSample({ sessionId: 's-16b', energyWh: 2, powerW: 7000, atMs: T0 + 5000 });
    await waitFor(() => csms.calls('StatusNotification').at(-1)?.payload.status === 'Charging', 'Charging');
    station.powerCut({ sessionId: 's-16b', reason: 'non-payment', atMs: T0 + 30_000 });
    await waitFor(
      () => csms.calls('StatusNotification').at(-1)?.payload.status === 'SuspendedEVSE',
      'SuspendedEVSE',
    );
    station.resumed({ sessionId: 's-16b', atMs: T0 + 40_000 });
    await waitFor(
      () => csms.calls('StatusNotification').at(-1)?.payload.status === 'Charging',
      'Charging again',
    );
    station.sessionEnded({
      sessionId: 's-16b',
      reason: 'EVDisconnected',
      meterStopWh: 50,
      atMs: T0 + 50_000,
      receipt: {
        energyWh: 50,
        paidMsat: 12_500n,
        invoicesIssued: 1,
        invoicesPaid: 1,
        lastSeq: 0,
        priceMsatPerWh: PRICE_MSAT_PER_WH,
      },
    });
    station.unplugged(1, T0 + 50_000);
    await untilDrained(station);
    await waitFor(() => csms.calls('StatusNotification').at(-1)?.payload.status === 'Available', 'Available');
    expect(csms.calls('StopTransaction')[0]?.payload).toMatchObject({
      transactionId: 1000,
      meterStop: 50,
      reason: 'EVDisconnected',
    });
    expect(csms.validationFailures).toEqual([]);
  });
});
