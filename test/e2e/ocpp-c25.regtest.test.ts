/**
 * QR payment model 1 (OCPP 2.1 use case C25) end to end, with the wall's lnd as the payment provider:
 *   the CSMS configures WebPaymentsCtrlr → the charger's kiosk page (walk-up display) shows the C25 URL with the
 *   TOTP of now (headless Chromium screenshot, QR decoded from the picture by zbarimg, TOTP checked as the CSMS
 *   does) → NotifyWebPaymentStarted reserves the EVSE → the payment site has the phone pay an invoice of the
 *   wall's node → RequestStartTransaction {idToken: payment hash, type DirectPayment} → the connector is
 *   energised with no vehicle module → the transactionLimit maxCost is reached (trigger CostLimitReached,
 *   stoppedReason LocalOutOfCredit) → NotifySettlement with the amount the books charged.
 * On 2.1 with the native messages; on 2.0.1 and 1.6 with the DataTransfer backports (limit in the start's data).
 *
 * Composition: the real OcppStation and `attachWalkup` with `directPayment` (the walk-up runtime, the kiosk page,
 * the DirectPayment runner on the same meter poller) on the real lnd, served over HTTP; the charger and meter
 * are the simulator on a scaled clock. (The wall daemon composes the same parts in `bin/cli/run-daemon.ts`.)
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import { createInvoice, getInvoice, payViaPaymentRequest } from 'lightning';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScaledClock } from '../../hardware/clock.js';
import { createSimWorld } from '../../hardware/sim/sim-world.js';
import { LndNode } from '../../lightning/lnd-node.js';
import { closeLnd } from '../../scripts/regtest/network.js';
import { lndFor } from '../../scripts/demo/walkup.js';
import { ConfigReader } from '../../daemon/config-reader.js';
import { ConnectorArbiter } from '../../wall-module/connector-arbiter.js';
import { OcppStation } from '../../wall-module/ocpp/station.js';
import type { JsonObject, OcppVersion } from '../../wall-module/ocpp/types.js';
import { WEB_PAYMENT_VENDOR_ID } from '../../wall-module/ocpp/web-payment.js';
import { attachWalkup, readWalkupSection } from '../../wall-module/walkup/index.js';
import { totpAccepted, verifyTotp } from '../../payments/totp.js';
import { TestCsms } from '../support/csms.js';
import { decodeQrImages, launchHeadlessChromium, type HeadlessBrowser } from '../support/qr-on-screen.js';
import { walkupNetwork, type WalkupNetwork } from '../support/walkup-network.js';
import { waitFor } from '../ocpp/harness.js';

const STATION = 'WALL-C25';
const SECRET = 'c25-shared-secret-for-tests';
const PRICE_MSAT_PER_WH = 1000n;
/** what the driver pays on the payment page (and the CSMS's maxCost), sat */
const MAX_COST_SAT = 60;
const SPEED = 20;
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

describe('QR payment model 1 (C25) with the wall node as PSP', () => {
  let net: WalkupNetwork;
  let browser: HeadlessBrowser;

  beforeAll(async () => {
    net = await walkupNetwork();
    browser = await launchHeadlessChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it.each<OcppVersion>(['ocpp2.1', 'ocpp2.0.1', 'ocpp1.6'])(
    '%s: kiosk QR → web payment → DirectPayment start → maxCost → NotifySettlement = books',
    async (version) => {
      const v21 = version === 'ocpp2.1';
      const csms = await TestCsms.start({
        protocols: [version],
        // 2.1: the limit comes in the TransactionEventResponse
        transactionEventReply: (): JsonObject => (v21 ? { transactionLimit: { maxCost: MAX_COST_SAT } } : {}),
      });
      const dir = mkdtempSync(join(tmpdir(), 'c25-'));
      const db = new Database(join(dir, 'wall.sqlite'));
      db.pragma('journal_mode = WAL');
      const clock = new ScaledClock(SPEED);
      const world = createSimWorld({ clock, plugged: true });
      const node = new LndNode({
        connection: { socket: net.wall.socket, cert: net.wall.cert, macaroon: net.wall.macaroon },
      });
      const wallLnd = lndFor(net.wall);
      const phone = lndFor(net.phone);
      const arbiter = new ConnectorArbiter();
      const station = new OcppStation({
        clock,
        db,
        config: {
          url: csms.url,
          identity: STATION,
          protocols: [version],
          backoff: { initialMs: 200, factor: 2, maxMs: 1000, jitter: 0 },
          pingIntervalSec: 0,
        },
      });
      const r = ConfigReader.fromYaml(
        JSON.stringify({
          walkup: {
            priceMsatPerWh: 1000,
            publicBaseUrl: 'http://127.0.0.1:1',
            allowHttp: true,
            totpSecret: 'walkup-lnurl-secret-0123456789',
          },
        }),
      );
      const walkup = await attachWalkup({
        config: readWalkupSection(r.section('walkup')),
        evse: world.evse,
        meter: world.wallMeter,
        node,
        db,
        clock,
        log: quiet,
        arbiter,
        maxCurrentA: 32,
        meterPollIntervalMs: 1000,
        directPayment: { station, evseId: 1 },
      });
      const runner = walkup.directPayment!;
      const server: Server = createServer((req, res) => {
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        const route = walkup.routes.find((x) => x.method === req.method && x.path === path);
        if (!route) return void res.writeHead(404).end();
        void route.handle(req, res);
      });
      await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
      const kiosk = `http://127.0.0.1:${(server.address() as AddressInfo).port}/walkup`;
      // the OCPP observer's part of the daemon's wiring: plug state to the station
      world.evse.on('status', (s) => {
        if (!s.plugged) station.unplugged(1);
      });
      try {
        station.attachControl({ arbiter: () => arbiter, requestStop: () => false, reset: () => {} });
        station.start();
        await walkup.start();
        await waitFor(
          () => csms.calls('BootNotification').length > 0 && station.status().boot === 'Accepted',
          'booted',
        );
        station.plugged(1, clock.now(), Math.floor((await world.wallMeter.read()).energyImportWh));

        // the CSMS turns web payments on (2.x device model; 1.6 has no WebPaymentsCtrlr: set on the station's
        // store through the 2.x names is not possible, so 1.6 runs the flow without the kiosk QR)
        let shownUrl: string | null = null;
        if (version !== 'ocpp1.6') {
          const set = (variable: string, attributeValue: string): JsonObject => ({
            attributeValue,
            component: { name: 'WebPaymentsCtrlr', evse: { id: 1 } },
            variable: { name: variable },
          });
          const reply = await csms.call(STATION, 'SetVariables', {
            setVariableData: [
              set('Enabled', 'true'),
              set('URLTemplate', 'https://pay.example/c/{chargingStationId}/{evse}?totp={totp}&v={version}'),
              set('SharedSecret', SECRET),
              set('ValidityTime', '30'),
              set('Length', '10'),
            ],
          });
          expect((reply.setVariableResult as JsonObject[]).map((x) => x.attributeStatus)).toEqual(
            Array(5).fill('Accepted'),
          );
          // the kiosk page shows the URL; the picture is decoded and its TOTP checked as the payment site does
          [shownUrl] = (await decodeQrImages(browser.context, kiosk, '#wu-web-qr')) as [string];
          expect(shownUrl).toMatch(
            new RegExp(`^https://pay\\.example/c/${STATION}/1\\?totp=[0-9a-zA-Z]{10}&v=1$`),
          );
          const code = new URL(shownUrl).searchParams.get('totp')!;
          const verdict = verifyTotp(
            { sharedSecret: SECRET, validityTimeSec: 30, length: 10 },
            code,
            Date.now() / 1000,
          );
          expect(totpAccepted(verdict)).toBe(true);
          expect(
            totpAccepted(
              verifyTotp(
                { sharedSecret: `${SECRET}x`, validityTimeSec: 30, length: 10 },
                code,
                Date.now() / 1000,
              ),
            ),
          ).toBe(false);
        }

        // the payment page started: the EVSE is reserved
        const notify = { evseId: 1, timeout: 120 };
        if (v21) expect(await csms.call(STATION, 'NotifyWebPaymentStarted', notify)).toEqual({});
        else
          expect(
            await csms.call(STATION, 'DataTransfer', {
              vendorId: WEB_PAYMENT_VENDOR_ID,
              messageId: 'NotifyWebPaymentStarted',
              data: version === 'ocpp1.6' ? JSON.stringify(notify) : notify,
            }),
          ).toMatchObject({ status: 'Accepted' });
        expect(station.webPaymentLockMs(1)).toBeGreaterThan(0);

        // the payment site delegates to the wall's node: an invoice of the wall, paid by the phone
        const invoice = await createInvoice({ lnd: wallLnd, tokens: MAX_COST_SAT, description: 'C25 test' });
        await payViaPaymentRequest({ lnd: phone, request: invoice.request, max_fee: 100 });
        const pspRef = invoice.id;

        const start = {
          evseId: 1,
          remoteStartId: 77,
          idToken: { idToken: pspRef, type: 'DirectPayment' },
        };
        const startReply = v21
          ? await csms.call(STATION, 'RequestStartTransaction', start)
          : await csms.call(STATION, 'DataTransfer', {
              vendorId: WEB_PAYMENT_VENDOR_ID,
              messageId: 'RequestStartTransaction',
              data: ((d: JsonObject) => (version === 'ocpp1.6' ? JSON.stringify(d) : d))({
                ...start,
                transactionLimit: { maxCost: MAX_COST_SAT },
              }),
            });
        expect(startReply.status).toBe('Accepted');
        expect(station.webPaymentLockMs(1)).toBe(0);

        const settlementCall = () =>
          v21
            ? csms.calls('NotifySettlement')[0]?.payload
            : csms
                .calls('DataTransfer')
                .filter((c) => c.payload.messageId === 'NotifySettlement')
                .map((c) =>
                  typeof c.payload.data === 'string' ? JSON.parse(c.payload.data) : c.payload.data,
                )[0];
        await waitFor(() => settlementCall() !== undefined, 'NotifySettlement', 60_000);
        const settled = settlementCall() as JsonObject;

        // the books: the runner's row
        const row = db
          .prepare('SELECT session_id FROM direct_payment_sessions WHERE psp_ref = ?')
          .get(pspRef) as { session_id: string };
        const books = runner.row(row.session_id)!;
        expect(books.creditMsat).toBe(BigInt(MAX_COST_SAT) * 1000n);
        expect(books.costMsat).toBe(BigInt(books.energyWh!) * PRICE_MSAT_PER_WH);
        expect(books.settledMsat).toBe(books.costMsat); // stopped before the credit ran out
        expect(books.settledMsat! <= books.creditMsat).toBe(true);
        expect(books.settledMsat! > books.creditMsat - 10_000n).toBe(true); // ... and not long before
        expect(settled).toMatchObject({ pspRef, status: 'Settled' });
        expect(BigInt(Math.round((settled.settlementAmount as number) * 1000))).toBe(books.settledMsat);
        // the node's truth: the payment behind the session was received in full
        const onNode = await getInvoice({ lnd: wallLnd, id: pspRef });
        expect(onNode.is_confirmed).toBe(true);
        expect(BigInt(onNode.received_mtokens)).toBe(books.creditMsat);

        // the trigger and reasons
        if (version !== 'ocpp1.6') {
          const tx = csms.calls('TransactionEvent').map((c) => c.payload);
          expect(settled.transactionId).toBe((tx[0]!.transactionInfo as JsonObject).transactionId);
          // 2.0.1 has no CostLimitReached trigger: the cost limit is a de-authorisation there
          const trigger = v21 ? 'CostLimitReached' : 'Deauthorized';
          expect(tx.some((p) => p.triggerReason === trigger)).toBe(true);
          if (v21)
            expect(
              tx.find((p) => (p.idToken as JsonObject | undefined)?.type === 'DirectPayment'),
            ).toBeDefined();
        }
        const receipt = csms.calls('DataTransfer').find((c) => c.payload.messageId === 'SessionReceipt');
        expect(JSON.parse(receipt!.payload.data as string)).toMatchObject({ stopReason: 'CostLimitReached' });

        // the same payment cannot start a second session
        await waitFor(() => arbiter.current().kind === 'idle', 'connector free');
        const again = v21
          ? await csms.call(STATION, 'RequestStartTransaction', { ...start, remoteStartId: 78 })
          : await csms.call(STATION, 'DataTransfer', {
              vendorId: WEB_PAYMENT_VENDOR_ID,
              messageId: 'RequestStartTransaction',
              data: version === 'ocpp1.6' ? JSON.stringify(start) : start,
            });
        expect(again.status).toBe('Rejected');

        // unplug: the transaction ends with the 2.x stop reason of a cost limit
        world.unplug();
        if (version !== 'ocpp1.6') {
          await waitFor(
            () => csms.calls('TransactionEvent').some((c) => c.payload.eventType === 'Ended'),
            'Ended',
          );
          const ended = csms.calls('TransactionEvent').find((c) => c.payload.eventType === 'Ended')!;
          expect((ended.payload.transactionInfo as JsonObject).stoppedReason).toBe('LocalOutOfCredit');
        } else {
          await waitFor(() => csms.calls('StopTransaction').length > 0, 'StopTransaction');
          expect(csms.calls('StopTransaction')[0]!.payload.reason).toBe('DeAuthorized');
        }
        expect(csms.validationFailures).toEqual([]);
        expect(station.status().validationFailures).toBe(0);
      } finally {
        walkup.stop();
        await station.stop();
        await csms.close();
        server.closeAllConnections(); // the browser keeps its connections alive
        await new Promise((ok) => server.close(ok));
        world.stop();
        node.close?.();
        closeLnd(wallLnd);
        closeLnd(phone);
        db.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
    120_000,
  );
});
