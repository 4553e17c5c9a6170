/**
 * QR payment models on the station side, against the strict test CSMS. Model 2: the station asks for a payment
 * QR (DataTransfer StartQRPayment); the QR the CSMS sends back is checked before it is drawn — a BOLT11 on the
 * station's network or a JPQR payload of the host's store is shown, a tampered or foreign one is answered
 * Rejected, never shown, and reported (SecurityEventNotification InvalidMessages). Model 1 (2.1 C25):
 * NotifyWebPaymentStarted reserves the EVSE for its timeout; 0 revokes; the remote start ends it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { jpqrPayload } from '../../payments/emv/sticker.js';
import type { JsonObject } from '../../wall-module/ocpp/types.js';
import { makeInvoice, sha256hex, WALL_KEY } from '../protocol/harness.js';
import { startStationFixture, stopStationFixture, type StationFixture } from './fixtures.js';
import { untilDrained, untilOnline } from './harness.js';

const ID = 'wall-qr';
const STORE_ID = '12345678901230001000042000007';
let fx: StationFixture | undefined;
afterEach(async () => {
  if (fx) await stopStationFixture(fx);
  fx = undefined;
});

function sticker(storeId: string): string {
  const r = jpqrPayload({ storeId, name: 'BOLT CHARGE', city: 'SHIBUYA' });
  if (!r.ok) throw new Error('sticker not built');
  return r.value;
}

describe.each(['ocpp2.1', 'ocpp2.0.1'] as const)('%s QR payments', (protocol) => {
  async function online(): Promise<StationFixture> {
    fx = await startStationFixture(
      { protocols: [protocol] },
      {
        identity: ID,
        protocols: [protocol],
        qrPayment: {
          network: 'regtest',
          emvProfile: 'jpqr-static',
          storeId: STORE_ID,
          maxAmountMsat: 10_000_000n,
        },
      },
    );
    fx.station.start();
    await untilOnline(fx.station, fx.clock);
    return fx;
  }

  it('model 2: StartQRPayment, then only a valid payment QR is drawn; the others are refused and reported', async () => {
    const f = await online();
    expect(await f.station.startQrPayment(1)).toBe('Accepted');
    const asked = f.csms.calls('DataTransfer').at(-1)?.payload;
    expect(asked).toMatchObject({
      vendorId: 'org.openchargealliance.qrpayment',
      messageId: 'StartQRPayment',
    });
    expect(asked?.data).toEqual({ evseId: 1 }); // a JSON object on 2.x

    const nowSec = Math.floor(f.clock.now() / 1000);
    const invoiceOn = (network: 'regtest' | 'bitcoin') =>
      makeInvoice({
        key: WALL_KEY,
        network,
        amountMsat: 2_000_000n,
        paymentHash: sha256hex(network),
        timestampSec: nowSec,
        expirySec: 600,
      });
    let nextId = 1;
    const show = (content: string): Promise<JsonObject> =>
      f.csms.call(ID, 'SetDisplayMessage', {
        message: {
          id: nextId++,
          priority: 'InFront',
          message: protocol === 'ocpp2.1' ? { format: 'QRCODE', content } : { format: 'UTF8', content },
          ...(protocol === 'ocpp2.1' ? {} : { display: { name: 'QRCodeDisplay' } }),
        },
      });
    const good = [invoiceOn('regtest').toUpperCase(), sticker(STORE_ID)];
    const badCrc = sticker(STORE_ID).slice(0, -1) + (sticker(STORE_ID).endsWith('0') ? '1' : '0');
    const bad = [badCrc, sticker('9'.repeat(29)), invoiceOn('bitcoin'), 'https://evil.example/pay'];
    for (const g of good) expect(await show(g)).toEqual({ status: 'Accepted' });
    for (const b of bad) expect(await show(b)).toEqual({ status: 'Rejected' });
    expect(f.station.displayMessages().map((m) => m.content)).toEqual(good);
    await untilDrained(f.station);
    const events = f.csms.calls('SecurityEventNotification').map((c) => c.payload);
    expect(events.map((e) => e.type)).toEqual(bad.map(() => 'InvalidMessages'));
    expect(events.map((e) => String(e.techInfo).split(':')[1]?.trim())).toEqual([
      'EmvInvalid',
      'EmvStoreIdMismatch',
      'InvoiceNetworkMismatch',
      'UnknownPayload',
    ]);
    expect(f.csms.validationFailures).toEqual([]);
  });

  if (protocol === 'ocpp2.1')
    it('model 1: NotifyWebPaymentStarted reserves the EVSE for its timeout; 0 revokes; the remote start ends it', async () => {
      const f = await online();
      expect(await f.csms.call(ID, 'NotifyWebPaymentStarted', { evseId: 1, timeout: 120 })).toEqual({});
      expect(f.station.webPaymentLockMs(1)).toBe(120_000);
      await f.clock.advance(20_000);
      expect(f.station.webPaymentLockMs(1)).toBe(100_000);
      expect(await f.csms.call(ID, 'NotifyWebPaymentStarted', { evseId: 1, timeout: 0 })).toEqual({});
      expect(f.station.webPaymentLockMs(1)).toBe(0);
      await f.csms.call(ID, 'NotifyWebPaymentStarted', { evseId: 1, timeout: 60 });
      expect(
        await f.csms.call(ID, 'RequestStartTransaction', {
          evseId: 1,
          remoteStartId: 3,
          // a start that waits for the vehicle module; DirectPayment starts: test/ocpp/web-payment.test.ts
          idToken: { idToken: 'psp-ref-123', type: 'Central' },
        }),
      ).toEqual({ status: 'Accepted' });
      expect(f.station.webPaymentLockMs(1)).toBe(0);
      expect(f.csms.validationFailures).toEqual([]);
    });
});
