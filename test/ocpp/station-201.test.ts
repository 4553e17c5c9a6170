/**
 * OcppStation against a real OCPP 2.0.1 peer (ocpp-rpc RPCServer, strict schema validation): boot Pending then
 * Accepted, a full paid session with every TransactionEvent and Lightning DataTransfer, a non-payment cut.
 */
import { describe, expect, it } from 'vitest';
import { TestCsms } from '../support/csms.js';
import { startStationFixture, stopStationFixture, useStationFixture } from './fixtures.js';
import {
  BLOCK_WH,
  PRICE_MSAT_PER_WH,
  dataOf,
  manualStation,
  paymentHash,
  runSession,
  untilDrained,
  untilOnline,
  waitFor,
} from './harness.js';

const T0 = 1_700_000_100_000;

describe('OcppStation on OCPP 2.0.1', () => {
  const fx = useStationFixture(
    {
      protocols: ['ocpp2.0.1', 'ocpp1.6'],
      bootReplies: ['Pending'],
      bootIntervalSec: 10,
      password: 'correct-horse-battery-staple',
    },
    { identity: 'wall-201', password: 'correct-horse-battery-staple' },
  );

  it('boots Pending then Accepted after the interval, holding transaction events until Accepted', async () => {
    const { csms, station, clock } = fx;
    station.start();
    await waitFor(() => csms.calls('BootNotification').length === 1, 'first BootNotification');
    await waitFor(() => station.status().boot === 'Pending', 'Pending recorded');
    expect(csms.protocolOf('wall-201')).toBe('ocpp2.0.1');
    station.plugged(1, T0);
    await clock.advance(9_000);
    expect(csms.calls('BootNotification')).toHaveLength(1);
    expect(csms.calls('TransactionEvent')).toHaveLength(0);
    expect(csms.calls('StatusNotification')).toHaveLength(0);
    await clock.advance(1_000);
    await waitFor(() => station.status().boot === 'Accepted', 'Accepted');
    await untilDrained(station);
    expect(csms.calls('BootNotification')).toHaveLength(2);
    expect(csms.calls('BootNotification')[0]?.payload).toMatchObject({
      reason: 'PowerUp',
      chargingStation: { model: 'boltcharge-wall', vendorName: 'boltcharge' },
    });
    const [started] = csms.calls('TransactionEvent');
    expect(started?.payload).toMatchObject({
      eventType: 'Started',
      triggerReason: 'CablePluggedIn',
      seqNo: 0,
    });
    expect(started?.payload.offline).toBeUndefined();
    await waitFor(() => csms.calls('StatusNotification').length >= 1, 'StatusNotification');
    expect(csms.calls('StatusNotification')[0]?.payload).toMatchObject({
      evseId: 1,
      connectorId: 1,
      connectorStatus: 'Occupied',
    });
    // heartbeat at the interval the CSMS named in the Accepted reply (10 s)
    await clock.advance(9_000);
    expect(csms.calls('Heartbeat')).toHaveLength(0);
    await clock.advance(1_000);
    await waitFor(() => csms.calls('Heartbeat').length === 1, 'Heartbeat');
    await clock.advance(10_000);
    await waitFor(() => csms.calls('Heartbeat').length === 2, 'second Heartbeat');
    expect(csms.validationFailures).toEqual([]);
    expect(station.status().validationFailures).toBe(0);
  });

  it('reports a full paid session: every TransactionEvent in order and every Lightning DataTransfer', async () => {
    const { csms, station, clock } = fx;
    station.start();
    await untilOnline(station, clock);
    station.plugged(1, T0);
    runSession(station, { sessionId: 's-full', startMs: T0 + 5000, meterStartWh: 12_000, blocks: 3 });
    station.sessionEnded({
      sessionId: 's-full',
      reason: 'EVDisconnected',
      meterStopWh: 12_300,
      atMs: T0 + 5000 + 185_000,
      receipt: {
        energyWh: 300,
        paidMsat: BigInt(3 * BLOCK_WH) * PRICE_MSAT_PER_WH,
        invoicesIssued: 3,
        invoicesPaid: 3,
        lastSeq: 2,
        priceMsatPerWh: PRICE_MSAT_PER_WH,
      },
    });
    station.unplugged(1, T0 + 5000 + 185_000);
    await untilDrained(station);

    const events = csms.calls('TransactionEvent').map((c) => c.payload);
    const txId = (events[0]?.transactionInfo as { transactionId: string }).transactionId;
    expect(txId).toMatch(/^[0-9a-f-]{36}$/);
    expect(events.map((e) => [e.eventType, e.triggerReason, e.seqNo])).toEqual([
      ['Started', 'CablePluggedIn', 0],
      ['Updated', 'ChargingStateChanged', 1],
      ['Updated', 'MeterValuePeriodic', 2],
      ['Updated', 'MeterValuePeriodic', 3],
      ['Updated', 'MeterValuePeriodic', 4],
      ['Ended', 'EVCommunicationLost', 5],
    ]);
    for (const e of events) expect((e.transactionInfo as { transactionId: string }).transactionId).toBe(txId);
    // Charging is reported when energy flows after the first paid block (the first meter sample, 15 s in)
    expect(events[1]?.meterValue).toEqual([
      {
        timestamp: new Date(T0 + 5000 + 15_000).toISOString(),
        sampledValue: [
          {
            value: 12_000,
            measurand: 'Energy.Active.Import.Register',
            context: 'Transaction.Begin',
            unitOfMeasure: { unit: 'Wh' },
          },
        ],
      },
    ]);
    expect(events[2]?.meterValue).toEqual([
      {
        timestamp: new Date(T0 + 5000 + 60_000).toISOString(),
        sampledValue: [
          {
            value: 12_100,
            measurand: 'Energy.Active.Import.Register',
            context: 'Sample.Periodic',
            unitOfMeasure: { unit: 'Wh' },
          },
          {
            value: 6000,
            measurand: 'Power.Active.Import',
            context: 'Sample.Periodic',
            unitOfMeasure: { unit: 'W' },
          },
        ],
      },
    ]);
    expect(events[5]).toMatchObject({
      transactionInfo: { stoppedReason: 'EVDisconnected', chargingState: 'Idle' },
      meterValue: [{ sampledValue: [{ value: 12_300, context: 'Transaction.End' }] }],
    });

    const transfers = csms.calls('DataTransfer');
    expect(transfers.map((c) => c.payload.messageId)).toEqual([
      'InvoiceIssued',
      'InvoicePaid',
      'InvoiceIssued',
      'InvoicePaid',
      'InvoiceIssued',
      'InvoicePaid',
      'SessionReceipt',
    ]);
    for (const c of transfers) expect(c.payload.vendorId).toBe('org.boltcharge');
    const paid1 = dataOf(transfers[3]!);
    expect(paid1).toMatchObject({
      schemaVersion: 2,
      messageId: 'InvoicePaid',
      transactionId: txId,
      evseId: 1,
      sessionId: 's-full',
      seq: 1,
      paymentHash: paymentHash('s-full', 1),
      amountMsat: String(BigInt(BLOCK_WH) * PRICE_MSAT_PER_WH),
      priceMsatPerWh: String(PRICE_MSAT_PER_WH),
      energyFromWh: 12_100,
      energyToWh: 12_200,
      timestamp: new Date(T0 + 5000 + 60_000 + 3000).toISOString(),
      issuedAt: new Date(T0 + 5000 + 60_000 + 1000).toISOString(),
      offline: false,
      eventId: 'session:s-full:InvoicePaid:1',
    });
    expect(dataOf(transfers[6]!)).toMatchObject({
      messageId: 'SessionReceipt',
      transactionId: txId,
      amountMsat: String(BigInt(3 * BLOCK_WH) * PRICE_MSAT_PER_WH),
      energyFromWh: 12_000,
      energyToWh: 12_300,
      energyWh: 300,
      invoicesPaid: 3,
      stopReason: 'EVDisconnected',
    });
    // the receipt precedes Ended, so every report arrives while the transaction is open
    const order = csms.received.filter((c) => c.action === 'TransactionEvent' || c.action === 'DataTransfer');
    expect(order.at(-1)?.action).toBe('TransactionEvent');
    await waitFor(
      () => csms.calls('StatusNotification').at(-1)?.payload.connectorStatus === 'Available',
      'Available after unplug',
    );
    expect(csms.validationFailures).toEqual([]);
    expect(csms.badMessages).toEqual([]);
    expect(station.status().validationFailures).toBe(0);
  });

  it('reports a non-payment cut as SuspendedEVSE plus PowerCutNonPayment, then ends LocalOutOfCredit at unplug', async () => {
    const { csms, station, clock } = fx;
    station.start();
    await untilOnline(station, clock);
    station.plugged(1, T0);
    runSession(station, { sessionId: 's-cut', startMs: T0 + 1000, meterStartWh: 500, blocks: 1 });
    const unpaid = {
      seq: 1,
      paymentHash: paymentHash('s-cut', 1),
      amountMsat: BigInt(BLOCK_WH) * PRICE_MSAT_PER_WH,
      priceMsatPerWh: PRICE_MSAT_PER_WH,
      energyFromWh: 600,
      energyToWh: 700,
    };
    station.invoiceIssued({ sessionId: 's-cut', ...unpaid, atMs: T0 + 62_000 });
    station.powerCut({
      sessionId: 's-cut',
      reason: 'non-payment',
      atMs: T0 + 80_000,
      energyWh: 612,
      unpaidInvoice: { ...unpaid, issuedAtMs: T0 + 62_000 },
    });
    // the car does not pay: the wall ends the session, cable still plugged
    station.sessionEnded({
      sessionId: 's-cut',
      reason: 'LocalOutOfCredit',
      meterStopWh: 612,
      atMs: T0 + 140_000,
      receipt: {
        energyWh: 112,
        paidMsat: BigInt(BLOCK_WH) * PRICE_MSAT_PER_WH,
        invoicesIssued: 2,
        invoicesPaid: 1,
        lastSeq: 1,
        priceMsatPerWh: PRICE_MSAT_PER_WH,
      },
    });
    await untilDrained(station);
    await waitFor(() => csms.calls('StatusNotification').length >= 1, 'status');
    const events = csms.calls('TransactionEvent').map((c) => c.payload);
    const suspended = events.find(
      (e) => (e.transactionInfo as { chargingState?: string }).chargingState === 'SuspendedEVSE',
    );
    expect(suspended).toMatchObject({
      eventType: 'Updated',
      triggerReason: 'ChargingStateChanged',
      meterValue: [{ sampledValue: [{ value: 612, context: 'Interruption.Begin' }] }],
    });
    // the session is over but the cable is still in: the transaction goes on (EVConnected) until the unplug
    expect(events.at(-1)).toMatchObject({
      eventType: 'Updated',
      triggerReason: 'ChargingStateChanged',
      transactionInfo: { chargingState: 'EVConnected' },
      meterValue: [{ sampledValue: [{ value: 612 }] }],
    });
    // cable still plugged after the session: connector stays Occupied
    expect(csms.calls('StatusNotification').at(-1)?.payload.connectorStatus).toBe('Occupied');
    station.unplugged(1, T0 + 150_000);
    await untilDrained(station);
    const all = csms.calls('TransactionEvent').map((c) => c.payload);
    expect(all.at(-1)).toMatchObject({
      eventType: 'Ended',
      triggerReason: 'EVCommunicationLost',
      transactionInfo: { stoppedReason: 'LocalOutOfCredit', chargingState: 'Idle' },
      meterValue: [{ sampledValue: [{ value: 612, context: 'Transaction.End' }] }],
    });
    expect(all.map((e) => e.seqNo)).toEqual(all.map((_, i) => i));
    const cut = csms.calls('DataTransfer').find((c) => c.payload.messageId === 'PowerCutNonPayment');
    expect(dataOf(cut!)).toMatchObject({
      seq: 1,
      paymentHash: paymentHash('s-cut', 1),
      amountMsat: '25000',
      energyFromWh: 600,
      energyToWh: 700,
      reason: 'non-payment',
      meterWh: 612,
      timestamp: new Date(T0 + 80_000).toISOString(),
    });
    await waitFor(
      () => csms.calls('StatusNotification').at(-1)?.payload.connectorStatus === 'Available',
      'Available after the unplug',
    );
    expect(csms.validationFailures).toEqual([]);
  });

  it('logs a Rejected or UnknownVendorId DataTransfer reply and moves on without retrying', async () => {
    await fx.csms.close();
    fx.csms = await TestCsms.start({
      protocols: ['ocpp2.0.1'],
      dataTransferStatus: (id) => (id === 'InvoiceIssued' ? 'UnknownVendorId' : 'Rejected'),
    });
    await fx.station.stop();
    Object.assign(fx, manualStation(fx.tmp.db, { url: fx.csms.url, identity: 'wall-201' }));
    const { csms, station, clock, tmp } = fx;
    station.start();
    await untilOnline(station, clock);
    station.plugged(1, T0);
    runSession(station, { sessionId: 's-rej', startMs: T0, blocks: 2 });
    await untilDrained(station);
    expect(csms.calls('DataTransfer')).toHaveLength(4);
    const outcomes = tmp.db
      .prepare(`SELECT outcome FROM ocpp_outbox WHERE event LIKE '%"kind":"Lightning"%' ORDER BY id`)
      .all() as { outcome: string }[];
    expect(outcomes.map((o) => o.outcome)).toEqual([
      'rejected:UnknownVendorId',
      'rejected:Rejected',
      'rejected:UnknownVendorId',
      'rejected:Rejected',
    ]);
  });
});

describe('OcppStation on OCPP 2.1 (optional)', () => {
  it('runs a paid session whose every message validates against the 2.1 schemas', async () => {
    const fx = await startStationFixture(
      { protocols: ['ocpp2.1'] },
      { identity: 'wall-21', protocols: ['ocpp2.1', 'ocpp2.0.1', 'ocpp1.6'] },
    );
    const { csms, station, clock } = fx;
    try {
      station.start();
      await untilOnline(station, clock);
      expect(station.status().protocol).toBe('ocpp2.1');
      station.plugged(1, T0);
      runSession(station, { sessionId: 's-21', startMs: T0, blocks: 2 });
      station.powerCut({ sessionId: 's-21', reason: 'non-payment', atMs: T0 + 130_000, energyWh: 200 });
      station.sessionEnded({
        sessionId: 's-21',
        reason: 'LocalOutOfCredit',
        meterStopWh: 200,
        atMs: T0 + 190_000,
        receipt: {
          energyWh: 200,
          paidMsat: 50_000n,
          invoicesIssued: 2,
          invoicesPaid: 2,
          lastSeq: 1,
          priceMsatPerWh: PRICE_MSAT_PER_WH,
        },
      });
      station.unplugged(1, T0 + 200_000);
      await untilDrained(station);
      // Started, Charging, 2 periodic samples, SuspendedEVSE, session over (EVConnected), Ended at unplug
      expect(csms.calls('TransactionEvent').map((c) => c.payload.eventType)).toEqual([
        'Started',
        'Updated',
        'Updated',
        'Updated',
        'Updated',
        'Updated',
        'Ended',
      ]);
      expect(csms.calls('DataTransfer')).toHaveLength(6);
      expect(csms.validationFailures).toEqual([]);
      expect(station.status().validationFailures).toBe(0);
    } finally {
      await stopStationFixture(fx);
    }
  });
});

describe('OcppStation boot Rejected', () => {
  it('sends nothing else until the interval passed, then boots again and delivers what waited', async () => {
    const fx = await startStationFixture(
      { protocols: ['ocpp2.0.1'], bootReplies: ['Rejected', 'Rejected'], bootIntervalSec: 30 },
      { identity: 'wall-rej' },
    );
    const { csms, station, clock } = fx;
    try {
      station.start();
      await waitFor(() => station.status().boot === 'Rejected', 'Rejected');
      station.plugged(1, T0);
      await clock.advance(30_000);
      await waitFor(() => csms.calls('BootNotification').length === 2, 'second boot');
      await waitFor(() => clock.pendingTimers === 1, 'second Rejected handled: next boot scheduled');
      await clock.advance(29_000);
      expect(csms.received.map((c) => c.action)).toEqual(['BootNotification', 'BootNotification']);
      await clock.advance(1_000);
      await waitFor(() => station.status().boot === 'Accepted', 'Accepted at last');
      await untilDrained(station);
      expect(csms.calls('TransactionEvent')).toHaveLength(1);
      expect(csms.validationFailures).toEqual([]);
    } finally {
      await stopStationFixture(fx);
    }
  });
});

describe('OcppStation TriggerMessage', () => {
  it.each(['ocpp2.0.1', 'ocpp1.6'] as const)(
    '%s: sends Heartbeat, StatusNotification and MeterValues on request',
    async (protocol) => {
      const fx = await startStationFixture({ protocols: [protocol] }, { identity: 'wall-trig' });
      const { csms, station, clock } = fx;
      try {
        station.start();
        await untilOnline(station, clock);
        await waitFor(() => csms.calls('StatusNotification').length === 1, 'boot-time status');
        const evse = protocol === 'ocpp1.6' ? { connectorId: 1 } : { evse: { id: 1 } };
        const trigger = (requestedMessage: string, extra: object = {}) =>
          csms.call('wall-trig', 'TriggerMessage', { requestedMessage, ...extra } as never);
        expect(await trigger('Heartbeat')).toEqual({ status: 'Accepted' });
        await waitFor(() => csms.calls('Heartbeat').length === 1, 'triggered Heartbeat');
        expect(await trigger('StatusNotification', evse)).toEqual({ status: 'Accepted' });
        await waitFor(() => csms.calls('StatusNotification').length === 2, 'triggered StatusNotification');
        expect(await trigger('BootNotification')).toEqual({ status: 'Rejected' }); // already accepted
        station.meterReading(1, 1234, 0, T0);
        expect(await trigger('MeterValues', evse)).toEqual({ status: 'Accepted' });
        await waitFor(() => csms.calls('MeterValues').length === 1, 'triggered MeterValues');
        expect(csms.validationFailures).toEqual([]);
      } finally {
        await stopStationFixture(fx);
      }
    },
  );
});
