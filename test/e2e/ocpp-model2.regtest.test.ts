/**
 * QR payment model 2 ("PSP QR from the CSMS") on real peers: the station asks for a payment QR with DataTransfer
 * StartQRPayment; the strict test CSMS answers with SetDisplayMessage carrying
 *   (a) a BOLT11 invoice of a third node (the regtest router, standing for the PSP): drawn on the charger's
 *       display, decoded from a headless-Chromium screenshot by zbarimg, paid by the phone node; the CSMS then
 *       sends RequestStartTransaction, which the station accepts;
 *   (b) the host's JPQR sticker payload: drawn;
 *   (c) tampered payloads (a CRC changed, another store's id, a mainnet invoice on this regtest station, a real
 *       invoice over the size limit): answered Rejected, reported with SecurityEventNotification, never drawn.
 * 2.1 sends QRCODE messages; 2.0.1 names the `QRCodeDisplay` component.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createInvoice, getInvoice, payViaPaymentRequest } from 'lightning';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SystemClock } from '../../hardware/clock.js';
import { jpqrPayload } from '../../payments/emv/sticker.js';
import { closeLnd } from '../../scripts/regtest/network.js';
import { lndFor } from '../../scripts/demo/walkup.js';
import { OcppStation } from '../../wall-module/ocpp/station.js';
import type { JsonObject, OcppVersion } from '../../wall-module/ocpp/types.js';
import { makeInvoice, sha256hex, WALL_KEY } from '../protocol/harness.js';
import { TestCsms } from '../support/csms.js';
import { decodeQrImages, launchHeadlessChromium, type HeadlessBrowser } from '../support/qr-on-screen.js';
import { walkupNetwork, type WalkupNetwork } from '../support/walkup-network.js';
import { waitFor } from '../ocpp/harness.js';

const ID = 'WALL-MODEL2';
const STORE_ID = '12345678901230001000042000007';
/** the station's size limit for a payment QR, characters (below 2.0.1's 512-character message limit, so an
 * oversized payload still reaches the station on both versions) */
const MAX_CHARS = 420;

function sticker(storeId: string): string {
  const r = jpqrPayload({ storeId, name: 'BOLT CHARGE', city: 'SHIBUYA' });
  if (!r.ok) throw new Error('sticker not built');
  return r.value;
}

/** Every QR code on the display, decoded from a screenshot of each picture. */
function qrsOnDisplay(browser: HeadlessBrowser, url: string): Promise<string[]> {
  return decodeQrImages(browser.context, url, 'img.ocpp-qr', 0);
}

describe('QR payment model 2 on real peers', () => {
  let net: WalkupNetwork;
  let browser: HeadlessBrowser;
  beforeAll(async () => {
    net = await walkupNetwork();
    browser = await launchHeadlessChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it.each<OcppVersion>(['ocpp2.1', 'ocpp2.0.1'])(
    '%s: a PSP invoice is drawn and paid, a JPQR drawn, tampered codes refused and reported',
    async (version) => {
      const csms = await TestCsms.start({ protocols: [version] });
      const dir = mkdtempSync(join(tmpdir(), 'model2-'));
      const db = new Database(join(dir, 'wall.sqlite'));
      const clock = new SystemClock();
      const station = new OcppStation({
        clock,
        db,
        config: {
          url: csms.url,
          identity: ID,
          protocols: [version],
          pingIntervalSec: 0,
          qrPayment: {
            network: 'regtest',
            emvProfile: 'jpqr-static',
            storeId: STORE_ID,
            maxAmountMsat: 10_000_000n,
            maxChars: MAX_CHARS,
          },
        },
      });
      // the charger's display: the station's display messages as a page
      const server: Server = createServer((_req, res) => {
        void station.renderDisplayMessagesHtml().then((html) => {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
          res.end(`<!doctype html><html><body>${html}</body></html>`);
        });
      });
      await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
      const display = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const router = lndFor(net.router);
      const phone = lndFor(net.phone);
      try {
        station.start();
        await waitFor(() => station.status().boot === 'Accepted', 'booted');
        station.plugged(1, clock.now(), 1000);

        // the "pay by phone" start
        expect(await station.startQrPayment(1)).toBe('Accepted');
        expect(csms.calls('DataTransfer').at(-1)?.payload).toMatchObject({
          vendorId: 'org.openchargealliance.qrpayment',
          messageId: 'StartQRPayment',
        });
        let nextId = 1;
        const show = (content: string): Promise<JsonObject> =>
          csms.call(ID, 'SetDisplayMessage', {
            message: {
              id: nextId++,
              priority: 'InFront',
              message: version === 'ocpp2.1' ? { format: 'QRCODE', content } : { format: 'UTF8', content },
              ...(version === 'ocpp2.1' ? {} : { display: { name: 'QRCodeDisplay' } }),
            },
          });

        // (c) tampered payloads first: refused, reported, nothing drawn
        const good = sticker(STORE_ID);
        const badCrc = good.slice(0, -1) + (good.endsWith('0') ? '1' : '0');
        const mainnet = makeInvoice({
          key: WALL_KEY,
          network: 'bitcoin',
          amountMsat: 2_000_000n,
          paymentHash: sha256hex('mainnet'),
          timestampSec: Math.floor(Date.now() / 1000),
          expirySec: 600,
        });
        const oversized = (await createInvoice({ lnd: router, tokens: 2000, description: 'x'.repeat(130) }))
          .request;
        expect(oversized.length).toBeGreaterThan(MAX_CHARS);
        expect(oversized.length).toBeLessThanOrEqual(512);
        const tampered = [badCrc, sticker('9'.repeat(29)), mainnet, oversized];
        for (const t of tampered) expect(await show(t)).toEqual({ status: 'Rejected' });
        expect(station.displayMessages()).toEqual([]);
        expect(await qrsOnDisplay(browser, display)).toEqual([]);
        await waitFor(() => csms.calls('SecurityEventNotification').length >= 4, 'security events');
        expect(
          csms
            .calls('SecurityEventNotification')
            .map((c) => String(c.payload.techInfo).split(':')[1]?.trim()),
        ).toEqual(['EmvInvalid', 'EmvStoreIdMismatch', 'InvoiceNetworkMismatch', 'PayloadTooLong']);

        // (a) the PSP's invoice (a third node) is drawn, scanned from the screen and paid by the phone
        const psp = await createInvoice({ lnd: router, tokens: 1500, description: 'charge at WALL-MODEL2' });
        expect(await show(psp.request.toUpperCase())).toEqual({ status: 'Accepted' });
        const [scanned] = await qrsOnDisplay(browser, display);
        expect(scanned).toBe(psp.request.toUpperCase());
        await payViaPaymentRequest({ lnd: phone, request: scanned!.toLowerCase(), max_fee: 100 });
        expect((await getInvoice({ lnd: router, id: psp.id })).is_confirmed).toBe(true);
        // ... the CSMS saw the payment and starts the transaction
        const start = await csms.call(ID, 'RequestStartTransaction', {
          evseId: 1,
          remoteStartId: 42,
          idToken: { idToken: psp.id.slice(0, 36), type: 'Central' },
        });
        expect(start.status).toBe('Accepted');
        await waitFor(
          () =>
            csms
              .calls('TransactionEvent')
              .some((c) => (c.payload.transactionInfo as JsonObject).remoteStartId === 42),
          'the remote start reported',
        );

        // (b) the host's JPQR sticker payload is drawn beside it
        expect(await show(good)).toEqual({ status: 'Accepted' });
        expect((await qrsOnDisplay(browser, display)).sort()).toEqual(
          [psp.request.toUpperCase(), good].sort(),
        );
        expect(csms.validationFailures).toEqual([]);
        expect(station.status().validationFailures).toBe(0);
      } finally {
        await station.stop();
        await csms.close();
        server.closeAllConnections(); // the browser keeps its connections alive
        await new Promise((ok) => server.close(ok));
        closeLnd(router);
        closeLnd(phone);
        db.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
    90_000,
  );
});
