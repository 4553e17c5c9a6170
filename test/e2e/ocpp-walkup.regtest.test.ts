/**
 * Walk-up sessions as OCPP transactions, on real peers: the wall daemon (child process through the CLI,
 * simulated charger and meter, no vehicle module) with `walkup:` and `ocpp:` on, reporting to the strict test
 * CSMS (official schemas, both directions validated); the phone lnd pays over LNURL-pay like a wallet.
 *
 *   remote start (2.1 RequestStartTransaction / 1.6 RemoteStartTransaction, `remoteStart: walkup`) → Accepted,
 *   the charger's page offers the session's QR → plug-in → the phone pays the deposit → energy flows → remote
 *   stop → the final invoice is paid by the phone → signed receipt. The CSMS saw the transaction start (2.1:
 *   Started with the remoteStartId; 1.6 StartTransaction), Charging only after the deposit was held, the end
 *   with stoppedReason Remote (1.6 StopTransaction Remote), and amounts equal to the walk-up's books.
 *
 *   a display-started walk-up (2.0.1, no CSMS involvement in the start) is reported the same way: Charging with
 *   idToken NoAuthorization after the held deposit, SuspendedEVSE at the driver's stop, Ended at unplug with
 *   stoppedReason Local, and the receipt's figures.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { JsonObject, OcppVersion } from '../../wall-module/ocpp/types.js';
import { TestCsms } from '../support/csms.js';
import { dataOf } from '../ocpp/harness.js';
import {
  phonePays,
  requestDeposit,
  walkupFixture,
  walkupStatus,
  PRICE_MSAT_PER_WH,
  type WalkupFixture,
} from './walkup-e2e.js';

const STATION = 'WALL-WALKUP';
const DEPOSIT_MSAT = 50_000_000n;

let f: WalkupFixture | undefined;
let csms: TestCsms | undefined;
afterEach(async () => {
  await f?.close();
  await csms?.close();
  f = undefined;
  csms = undefined;
});

/** A wall daemon with walk-up and OCPP (`remoteStart: walkup`) on `version`, booted at a fresh strict CSMS. */
async function wallWithCsms(
  connectionFile: string,
  version: OcppVersion,
): Promise<{ f: WalkupFixture; csms: TestCsms }> {
  csms = await TestCsms.start({ protocols: [version] });
  f = await walkupFixture(
    connectionFile,
    {},
    {
      wall: {
        ocpp: {
          url: csms.url,
          stationId: STATION,
          protocols: version,
          meterSampleIntervalSec: 5,
          remoteStart: 'walkup',
        },
      },
    },
  );
  await f.rig.wall.start();
  const c = csms;
  await f.rig.until('booted', () => Promise.resolve(c.calls('BootNotification').length > 0), 60_000);
  return { f, csms: c };
}

/** The walk-up's receipt as the wall serves it. */
async function receiptOf(baseUrl: string, sessionId: string): Promise<Record<string, string | number>> {
  const r = (await (await fetch(`${baseUrl}/walkup/receipt?session=${sessionId}`)).json()) as {
    receipt: Record<string, string | number>;
  };
  return r.receipt;
}

/** Plugs in, the phone pays a deposit from the QR the page offers, until `wh` Wh were delivered. */
async function payAndCharge(fx: WalkupFixture, wh: number): Promise<{ sessionId: string }> {
  const qr = (await walkupStatus(fx.baseUrl)).qr;
  if (!qr) throw new Error('the charger offers no QR code');
  fx.rig.world.plug();
  const offer = await requestDeposit(qr.content, DEPOSIT_MSAT);
  void phonePays(fx.phone, offer.bolt11).result;
  await fx.rig.until(
    'charging',
    async () => (await walkupStatus(fx.baseUrl)).session?.phase === 'charging',
    60_000,
  );
  await fx.rig.until(
    `${wh} Wh delivered`,
    async () => ((await walkupStatus(fx.baseUrl)).session?.deliveredWh ?? 0) >= wh,
    90_000,
  );
  return { sessionId: (await walkupStatus(fx.baseUrl)).session!.sessionId };
}

/** The phone pays the final invoice the page shows; waits for the signed receipt. */
async function payFinal(fx: WalkupFixture): Promise<void> {
  await fx.rig.until(
    'the final invoice on the page',
    async () => (await walkupStatus(fx.baseUrl)).session?.finalBolt11 != null,
    60_000,
  );
  const bolt11 = (await walkupStatus(fx.baseUrl)).session!.finalBolt11!;
  const paid = await phonePays(fx.phone, bolt11).result;
  expect(paid.ok).toBe(true);
  await fx.rig.until(
    'receipt signed',
    async () => (await walkupStatus(fx.baseUrl)).session?.receiptSigned === true,
    60_000,
  );
}

/** The order of the CSMS's transaction reports: TransactionEvent `eventType/chargingState`, DataTransfer id. */
function reportOrder(c: TestCsms): string[] {
  return c.received
    .filter((r) => r.action === 'TransactionEvent' || r.action === 'DataTransfer')
    .map((r) =>
      r.action === 'DataTransfer'
        ? String(r.payload.messageId)
        : `${String(r.payload.eventType)}/${String((r.payload.transactionInfo as JsonObject).chargingState)}`,
    );
}

/** The CSMS starts a session on EVSE 1 (2.x RequestStartTransaction; 1.6 RemoteStartTransaction, id 0). */
function remoteStart(c: TestCsms, version: OcppVersion, remoteStartId: number): Promise<JsonObject> {
  return version === 'ocpp1.6'
    ? c.call(STATION, 'RemoteStartTransaction', { idTag: 'csms-user', connectorId: 1 })
    : c.call(STATION, 'RequestStartTransaction', {
        idToken: { idToken: 'csms-user', type: 'Central' },
        remoteStartId,
        evseId: 1,
      });
}

function sessionReceipt(c: TestCsms): JsonObject {
  const call = c.calls('DataTransfer').find((x) => x.payload.messageId === 'SessionReceipt');
  if (!call) throw new Error('no SessionReceipt');
  return dataOf(call);
}

describe('walk-up sessions as OCPP transactions (wall daemon, phone lnd, strict CSMS)', () => {
  const connectionFile = inject('regtestConnectionPath');

  it.each<OcppVersion>(['ocpp2.1', 'ocpp1.6'])(
    '%s: remote start → QR → phone pays → energy → remote stop → receipt; the CSMS saw it with the books',
    async (version) => {
      const v21 = version === 'ocpp2.1';
      const { f: fx, csms: c } = await wallWithCsms(connectionFile, version);
      expect((await remoteStart(c, version, 31)).status).toBe('Accepted');
      // the page offers the started session's QR; the connector is held for it
      const offered = await walkupStatus(fx.baseUrl);
      expect(offered.qr).not.toBeNull();
      expect(offered.remoteStart).toMatchObject({
        remoteStartId: v21 ? 31 : 0,
      });
      expect(offered.connector).toBe('walkup');
      expect((await remoteStart(c, version, 32)).status).toBe('Rejected');

      const { sessionId } = await payAndCharge(fx, 20);
      expect(sessionId).toBe(offered.remoteStart?.sessionId);

      // the CSMS stops it
      if (v21) {
        await fx.rig.until(
          'Charging reported',
          () =>
            Promise.resolve(
              c
                .calls('TransactionEvent')
                .some((x) => (x.payload.transactionInfo as JsonObject).chargingState === 'Charging'),
            ),
          60_000,
        );
        const txId = (c.calls('TransactionEvent')[0]!.payload.transactionInfo as JsonObject).transactionId;
        expect(await c.call(STATION, 'RequestStopTransaction', { transactionId: txId! })).toEqual({
          status: 'Accepted',
        });
      } else {
        await fx.rig.until(
          'StartTransaction',
          () => Promise.resolve(c.calls('StartTransaction').length > 0),
          60_000,
        );
        // the test CSMS numbers 1.6 transactions from 1000
        expect(await c.call(STATION, 'RemoteStopTransaction', { transactionId: 1000 })).toEqual({
          status: 'Accepted',
        });
      }
      await payFinal(fx);
      const s = (await walkupStatus(fx.baseUrl)).session!;
      expect(s.stopReason).toBe('REMOTE_STOP');
      expect(s.endReason).toBe('FINAL_PAID');
      const books = await receiptOf(fx.baseUrl, sessionId);
      const costMsat = BigInt(books.costMsat!);
      expect(costMsat).toBe(BigInt(books.energyWh!) * PRICE_MSAT_PER_WH);
      expect(BigInt(books.settledMsat!)).toBe(costMsat);

      if (v21) {
        await fx.rig.until(
          'Ended',
          () => Promise.resolve(c.calls('TransactionEvent').some((x) => x.payload.eventType === 'Ended')),
          60_000,
        );
        const events = c.calls('TransactionEvent').map((x) => x.payload);
        expect(events[0]).toMatchObject({ eventType: 'Started', transactionInfo: { remoteStartId: 31 } });
        const charging = events.find((p) => (p.transactionInfo as JsonObject).chargingState === 'Charging');
        expect(charging?.idToken).toEqual({ idToken: books.depositPaymentHash, type: 'DirectPayment' });
        const ended = events.find((p) => p.eventType === 'Ended')!;
        expect(ended).toMatchObject({
          triggerReason: 'RemoteStop',
          transactionInfo: { stoppedReason: 'Remote' },
        });
        // Charging never before the held deposit was reported
        const order = reportOrder(c);
        expect(order.indexOf('InvoicePaid')).toBeGreaterThanOrEqual(0);
        expect(order.indexOf('InvoicePaid')).toBeLessThan(order.indexOf('Updated/Charging'));
      } else {
        await fx.rig.until(
          'StopTransaction',
          () => Promise.resolve(c.calls('StopTransaction').length > 0),
          60_000,
        );
        const started = c.calls('StartTransaction')[0]!.payload;
        const stopped = c.calls('StopTransaction')[0]!.payload;
        expect(stopped).toMatchObject({ transactionId: 1000, reason: 'Remote' });
        expect((stopped.meterStop as number) - (started.meterStart as number)).toBe(Number(books.energyWh));
        // Charging status only after the StartTransaction (sent once energy flowed on the held deposit)
        const statuses = c.calls('StatusNotification').map((x) => x.payload.status);
        expect(statuses).toContain('Charging');
      }
      const receipt = sessionReceipt(c);
      expect(receipt).toMatchObject({ stopReason: 'Remote', energyWh: Number(books.energyWh) });
      expect(BigInt(receipt.amountMsat as string)).toBe(costMsat);
      fx.rig.world.unplug();
      expect(c.validationFailures).toEqual([]);
      expect(c.badMessages).toEqual([]);
    },
    300_000,
  );

  it('ocpp2.0.1: a walk-up started on the display is reported as a transaction', async () => {
    const { f: fx, csms: c } = await wallWithCsms(connectionFile, 'ocpp2.0.1');
    const { sessionId } = await payAndCharge(fx, 20);
    // the driver presses stop on the charger's display (loopback: the kiosk)
    const stop = await fetch(`${fx.baseUrl}/walkup/stop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sessionId }),
    });
    expect(stop.status).toBe(200);
    await payFinal(fx);
    const books = await receiptOf(fx.baseUrl, sessionId);
    expect(books.stopReason).toBe('DRIVER_STOPPED');
    fx.rig.world.unplug();
    await fx.rig.until(
      'Ended',
      () => Promise.resolve(c.calls('TransactionEvent').some((x) => x.payload.eventType === 'Ended')),
      60_000,
    );
    const events = c.calls('TransactionEvent').map((x) => x.payload);
    const txIds = new Set(events.map((p) => (p.transactionInfo as JsonObject).transactionId));
    expect(txIds.size).toBe(1);
    expect(events[0]).toMatchObject({ eventType: 'Started' });
    const charging = events.find((p) => (p.transactionInfo as JsonObject).chargingState === 'Charging');
    expect(charging?.idToken).toEqual({ idToken: '', type: 'NoAuthorization' });
    expect(events.some((p) => (p.transactionInfo as JsonObject).chargingState === 'SuspendedEVSE')).toBe(
      true,
    );
    expect(events.find((p) => p.eventType === 'Ended')).toMatchObject({
      transactionInfo: { stoppedReason: 'Local' },
    });
    const order = reportOrder(c);
    expect(order.indexOf('InvoicePaid')).toBeLessThan(order.indexOf('Updated/Charging'));
    const receipt = sessionReceipt(c);
    expect(receipt).toMatchObject({ stopReason: 'Local', energyWh: Number(books.energyWh) });
    expect(BigInt(receipt.amountMsat as string)).toBe(BigInt(books.costMsat!));
    expect(BigInt(books.costMsat!)).toBe(BigInt(books.energyWh!) * PRICE_MSAT_PER_WH);
    expect(c.validationFailures).toEqual([]);
    expect(c.badMessages).toEqual([]);
  }, 300_000);
});
