/**
 * QR payment model 1 on the station (against the strict test CSMS, manual clock): a DirectPayment start goes to
 * the runner (2.1 natively, 2.0.1/1.6 through the DataTransfer backport), a cost limit ends the session with
 * trigger CostLimitReached and stoppedReason LocalOutOfCredit, settlements are reported as NotifySettlement
 * (2.1) or its backport, a split payout gets a NotifySettlement on 2.1 only; plus the pure pieces (sat ↔ msat,
 * the C25 URL).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DirectPaymentRunner } from '../../wall-module/ocpp/station.js';
import type { JsonObject, OcppVersion } from '../../wall-module/ocpp/types.js';
import {
  WEB_PAYMENT_VENDOR_ID,
  limitReached,
  msatToSat,
  readTransactionLimit,
  satToMsat,
  webPaymentQrAt,
} from '../../wall-module/ocpp/web-payment.js';
import { totpAt } from '../../payments/totp.js';
import { DaemonDouble } from './control-double.js';
import { startStationFixture, stopStationFixture, type StationFixture } from './fixtures.js';
import { untilDrained, untilOnline, waitFor } from './harness.js';

const T0 = 1_700_000_500_000;
const HASH = 'ab'.repeat(32);
let fx: StationFixture | undefined;
afterEach(async () => {
  if (fx) await stopStationFixture(fx);
  fx = undefined;
});

/** A runner that accepts one payment reference and reports a session like the real one. */
class RunnerDouble implements DirectPaymentRunner {
  readonly stops: string[] = [];
  session: string | null = null;
  constructor(private readonly f: StationFixture) {}
  start(req: { evseId: number; remoteStartId: number; pspRef: string }) {
    if (req.pspRef !== HASH) return Promise.resolve({ ok: false as const, reason: 'PaymentUnknown' });
    this.session = 'dp-1';
    this.f.station.sessionStarted({ evseId: 1, sessionId: 'dp-1', atMs: T0 + 1000, meterStartWh: 1000 });
    this.f.station.invoicePaid({
      sessionId: 'dp-1',
      seq: 0,
      paymentHash: HASH,
      amountMsat: 50_000n,
      priceMsatPerWh: 1000n,
      energyFromWh: 1000,
      energyToWh: 1050,
      atMs: T0 + 1000,
    });
    return Promise.resolve({ ok: true as const, sessionId: 'dp-1' });
  }
  owns(id: string): boolean {
    return id === this.session;
  }
  requestStop(id: string): boolean {
    this.stops.push(id);
    return true;
  }
}

async function online(version: OcppVersion, reply: (p: JsonObject) => JsonObject = () => ({})) {
  fx = await startStationFixture(
    { protocols: [version], transactionEventReply: reply },
    { identity: 'wall-c25', protocols: [version] },
  );
  const f = fx;
  f.station.attachControl(new DaemonDouble(f.station));
  f.station.start();
  await untilOnline(f.station, f.clock);
  return f;
}

describe('NotifyWebPaymentStarted holds the EVSE', () => {
  it('2.1: a car or a walk-up is refused CONNECTOR_BUSY and the connector reports Reserved until the time is up', async () => {
    const f = await online('ocpp2.1');
    const control = new DaemonDouble(f.station);
    f.station.attachControl(control);
    const arbiter = control.arbiter(1)!;
    await f.csms.call('wall-c25', 'NotifyWebPaymentStarted', { evseId: 1, timeout: 60 });
    expect(arbiter.claim('cable', 'car-1')).toEqual({
      ok: false,
      refusal: 'CONNECTOR_BUSY',
      detail: 'a web payment is in progress',
    });
    await waitFor(
      () => f.csms.calls('StatusNotification').at(-1)?.payload.connectorStatus === 'Reserved',
      'StatusNotification Reserved',
    );
    await f.clock.advance(60_000);
    expect(arbiter.current()).toEqual({ kind: 'idle' });
    await waitFor(
      () => f.csms.calls('StatusNotification').at(-1)?.payload.connectorStatus === 'Available',
      'StatusNotification Available',
    );
    expect(arbiter.claim('cable', 'car-1')).toEqual({ ok: true });
    expect(f.csms.validationFailures).toEqual([]);
  });

  it('2.1: the announced DirectPayment start takes the held EVSE', async () => {
    const f = await online('ocpp2.1');
    const runner = new RunnerDouble(f);
    f.station.attachDirectPayment(runner);
    await f.csms.call('wall-c25', 'NotifyWebPaymentStarted', { evseId: 1, timeout: 60 });
    const reply = await f.csms.call('wall-c25', 'RequestStartTransaction', {
      evseId: 1,
      remoteStartId: 7,
      idToken: { idToken: HASH, type: 'DirectPayment' },
    });
    expect(reply.status).toBe('Accepted');
    expect(f.station.webPaymentLockMs(1)).toBe(0);
  });
});

describe('DirectPayment sessions on the station', () => {
  it('2.1: maxCost from the TransactionEventResponse stops the runner; CostLimitReached / LocalOutOfCredit; NotifySettlement', async () => {
    const f = await online('ocpp2.1', () => ({ transactionLimit: { maxCost: 40.5 } }));
    const runner = new RunnerDouble(f);
    expect(
      await f.csms.call('wall-c25', 'RequestStartTransaction', {
        evseId: 1,
        remoteStartId: 5,
        idToken: { idToken: HASH, type: 'DirectPayment' },
      }),
    ).toMatchObject({ status: 'Rejected' }); // no runner attached
    f.station.attachDirectPayment(runner);
    expect(
      await f.csms.call('wall-c25', 'RequestStartTransaction', {
        evseId: 1,
        remoteStartId: 5,
        idToken: { idToken: 'cd'.repeat(32), type: 'DirectPayment' },
      }),
    ).toMatchObject({ status: 'Rejected', statusInfo: { additionalInfo: 'PaymentUnknown' } });
    const accepted = await f.csms.call('wall-c25', 'RequestStartTransaction', {
      evseId: 1,
      remoteStartId: 6,
      idToken: { idToken: HASH, type: 'DirectPayment' },
    });
    expect(accepted.status).toBe('Accepted');
    await untilDrained(f.station); // the Started reply carries the limit
    const sample = (energyWh: number, costMsat: bigint, lead = 0n) =>
      f.station.meterSample({
        sessionId: 'dp-1',
        energyWh,
        powerW: 7000,
        atMs: T0 + 20_000,
        costMsat,
        costLeadMsat: lead,
      });
    sample(1030, 30_000n);
    expect(runner.stops).toEqual([]);
    sample(1038, 38_000n, 2_000n); // 38 000 + 2 000 lead < 40 500
    expect(runner.stops).toEqual([]);
    sample(1039, 39_000n, 2_000n); // 41 000 ≥ 40 500
    expect(runner.stops).toEqual(['dp-1']);
    f.station.sessionEnded({
      sessionId: 'dp-1',
      reason: 'Local',
      meterStopWh: 1040,
      atMs: T0 + 30_000,
      receipt: {
        energyWh: 40,
        paidMsat: 40_000n,
        invoicesIssued: 1,
        invoicesPaid: 1,
        lastSeq: 0,
        priceMsatPerWh: 1000n,
      },
    });
    f.station.settlement({
      pspRef: HASH,
      status: 'Settled',
      amountMsat: 40_000n,
      atMs: T0 + 30_000,
      sessionId: 'dp-1',
    });
    f.station.unplugged(1, T0 + 40_000);
    await untilDrained(f.station);
    const tx = f.csms.calls('TransactionEvent').map((c) => c.payload);
    expect(tx.find((p) => p.triggerReason === 'CostLimitReached')).toMatchObject({
      transactionInfo: { chargingState: 'EVConnected' },
    });
    expect(tx.at(-1)).toMatchObject({
      eventType: 'Ended',
      transactionInfo: { stoppedReason: 'LocalOutOfCredit' },
    });
    expect(tx.find((p) => p.idToken !== undefined)?.idToken).toEqual({
      idToken: HASH,
      type: 'DirectPayment',
    });
    expect(f.csms.calls('NotifySettlement').map((c) => c.payload)).toEqual([
      {
        pspRef: HASH,
        status: 'Settled',
        settlementAmount: 40,
        settlementTime: new Date(T0 + 30_000).toISOString(),
        transactionId: accepted.transactionId ?? (tx[0]!.transactionInfo as JsonObject).transactionId,
      },
    ]);
    expect(f.csms.validationFailures).toEqual([]);
  });

  it.each<OcppVersion>(['ocpp2.0.1', 'ocpp1.6'])(
    '%s: the DataTransfer backport starts the session with its limit; NotifySettlement comes back as DataTransfer',
    async (version) => {
      const f = await online(version);
      const runner = new RunnerDouble(f);
      f.station.attachDirectPayment(runner);
      const wrap = (d: JsonObject) => (version === 'ocpp1.6' ? JSON.stringify(d) : d);
      const lock = await f.csms.call('wall-c25', 'DataTransfer', {
        vendorId: WEB_PAYMENT_VENDOR_ID,
        messageId: 'NotifyWebPaymentStarted',
        data: wrap({ evseId: 1, timeout: 60 }),
      });
      expect(lock.status).toBe('Accepted');
      expect(f.station.webPaymentLockMs(1)).toBe(60_000);
      const reply = await f.csms.call('wall-c25', 'DataTransfer', {
        vendorId: WEB_PAYMENT_VENDOR_ID,
        messageId: 'RequestStartTransaction',
        data: wrap({
          evseId: 1,
          remoteStartId: 9,
          idToken: { idToken: HASH, type: 'DirectPayment' },
          transactionLimit: { maxEnergy: 20 },
        }),
      });
      expect(reply.status).toBe('Accepted');
      expect(f.station.webPaymentLockMs(1)).toBe(0);
      f.station.meterSample({
        sessionId: 'dp-1',
        energyWh: 1020,
        powerW: 7000,
        atMs: T0 + 20_000,
        costMsat: 20_000n,
      });
      expect(runner.stops).toEqual(['dp-1']);
      f.station.settlement({
        pspRef: HASH,
        status: 'Settled',
        amountMsat: 20_001n,
        atMs: T0 + 30_000,
        sessionId: 'dp-1',
      });
      await untilDrained(f.station);
      const sent = f.csms.calls('DataTransfer').find((c) => c.payload.messageId === 'NotifySettlement')!;
      expect(sent.payload.vendorId).toBe(WEB_PAYMENT_VENDOR_ID);
      const data = (
        typeof sent.payload.data === 'string' ? JSON.parse(sent.payload.data) : sent.payload.data
      ) as JsonObject;
      expect(data).toMatchObject({ pspRef: HASH, status: 'Settled', settlementAmount: 20.001 });
      expect(f.csms.validationFailures).toEqual([]);
    },
  );

  it.each<{ version: OcppVersion; notify: number }>([
    { version: 'ocpp2.1', notify: 1 },
    { version: 'ocpp2.0.1', notify: 0 },
  ])(
    '$version: a split payout gets NotifySettlement $notify time(s) beside SplitSettled',
    async ({ version, notify }) => {
      const f = await online(version);
      const d = new DaemonDouble(f.station);
      f.station.attachControl(d);
      d.startPaidSession('s-split', T0);
      f.station.splitSettled({
        payoutId: 'p-1',
        sessionId: 's-split',
        amountMsat: 12_345n,
        statement: '{}',
        atMs: T0 + 5000,
      });
      await untilDrained(f.station);
      expect(f.csms.calls('DataTransfer').filter((c) => c.payload.messageId === 'SplitSettled')).toHaveLength(
        1,
      );
      const n = f.csms.calls('NotifySettlement');
      expect(n).toHaveLength(notify);
      if (notify)
        expect(n[0]!.payload).toMatchObject({
          pspRef: 'split:p-1',
          settlementAmount: 12.345,
          status: 'Settled',
        });
      await waitFor(() => f.csms.validationFailures.length === 0, 'no schema failure');
    },
  );
});

describe('web payment pieces', () => {
  it('sat ↔ msat is exact to the msat and rounds a finer maxCost down', () => {
    expect(satToMsat(0.1)).toBe(100n);
    expect(satToMsat(40.5)).toBe(40_500n);
    expect(satToMsat(1.0009)).toBe(1000n);
    expect(satToMsat(-1)).toBeUndefined();
    expect(msatToSat(12_345n)).toBe(12.345);
    expect(msatToSat(7n)).toBe(0.007);
    expect(readTransactionLimit({ maxCost: 2, maxEnergy: 5, maxSoC: 80 })).toEqual({
      maxCostMsat: 2000n,
      maxEnergyWh: 5,
    });
    expect(
      limitReached({ maxCostMsat: 10n, maxTimeSec: 1 }, { costMsat: 10n, energyWh: 0, elapsedMs: 5000 }),
    ).toBe('CostLimitReached');
    expect(limitReached({ maxCostMsat: 10n }, { energyWh: 0, elapsedMs: 0 })).toBeUndefined();
  });

  it('the C25 URL carries the TOTP of now, and nothing when disabled or without {totp}', () => {
    const vars = {
      enabled: 'true',
      urlTemplate: 'https://p.example/{chargingStationId}/{evse}?t={totp}&v={version}',
      sharedSecret: 'secure!Charging!',
      validityTimeSec: '30',
      length: '10',
    };
    const at = Date.UTC(2024, 4, 23, 0, 23, 5) / 1000;
    const code = totpAt({ sharedSecret: 'secure!Charging!', validityTimeSec: 30, length: 10 }, at);
    expect(code).toBe('CN63y502ma'); // the published vector's first 10 characters
    expect(webPaymentQrAt(vars, 'CS/1', 2, at)).toEqual({
      url: `https://p.example/CS%2F1/2?t=${code}&v=1`,
      validityTimeSec: 30,
      secondsLeft: 25,
    });
    expect(webPaymentQrAt({ ...vars, enabled: 'false' }, 'CS', 1, at)).toBeUndefined();
    expect(webPaymentQrAt({ ...vars, urlTemplate: 'https://p.example/' }, 'CS', 1, at)).toBeUndefined();
  });
});
