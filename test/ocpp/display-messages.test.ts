/**
 * Display messages from a real CSMS (ocpp-rpc, strict schemas) on OCPP 2.0.1 and 2.1: SetDisplayMessage with
 * the spec's statuses, GetDisplayMessages answered by NotifyDisplayMessages, ClearDisplayMessage; and the
 * rendered fragment in headless Chromium, where the QR code's on-screen pixels are compared module by module
 * with an independent encoding of the expected content.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { OcppVersion } from '../../wall-module/ocpp/types.js';
import {
  expectedModules,
  launchHeadlessChromium,
  qrModulesOnScreen,
  type HeadlessBrowser,
} from '../support/qr-on-screen.js';
import { type StationFixture, startStationFixture, stopStationFixture } from './fixtures.js';
import { untilDrained, untilOnline, waitFor } from './harness.js';

const T0 = 1_700_000_500_000;
const PAY_URI = 'https://pay.example.com/charge?evse=1&session=7f3a9c';

function message(id: number, format: string, content: string, extra: Record<string, unknown> = {}) {
  return { message: { id, priority: 'InFront', message: { format, content }, ...extra } };
}

async function serve(html: string): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(
      `<!doctype html><html><head><meta charset="utf-8"><title>wall</title></head><body>${html}</body></html>`,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

describe('OCPP display messages', () => {
  let fx: StationFixture;
  let chromium: HeadlessBrowser;
  let browser: BrowserContext;

  beforeAll(async () => {
    chromium = await launchHeadlessChromium();
    browser = chromium.context;
  });

  afterAll(async () => {
    await chromium?.close();
  });

  /** Starts the fixture (a CSMS speaking `protocols`) and brings the station online. */
  async function online(protocols: OcppVersion[], stationProtocols?: OcppVersion[]): Promise<StationFixture> {
    fx = await startStationFixture(
      { protocols },
      { identity: 'wall-display', ...(stationProtocols ? { protocols: stationProtocols } : {}) },
    );
    fx.station.start();
    await untilOnline(fx.station, fx.clock);
    return fx;
  }

  afterEach(() => stopStationFixture(fx));

  it('on 2.0.1: validates SetDisplayMessage, answers Get with NotifyDisplayMessages, clears, and draws the URI as a QR code', async () => {
    const { csms, station } = await online(['ocpp2.0.1']);
    const set = (payload: object) => csms.call('wall-display', 'SetDisplayMessage', payload as never);
    expect(await set(message(1, 'URI', PAY_URI))).toEqual({ status: 'Accepted' });
    expect(
      await set(message(2, 'UTF8', 'Zahlen Sie über Lightning ⚡', { priority: 'NormalCycle' })),
    ).toEqual({
      status: 'Accepted',
    });
    expect(await set(message(3, 'HTML', '<b>pay</b>'))).toEqual({ status: 'NotSupportedMessageFormat' });
    expect(await set(message(4, 'ASCII', 'caf\u00e9'))).toEqual({ status: 'Rejected' });
    expect(await set(message(5, 'URI', 'not a uri'))).toEqual({ status: 'Rejected' });
    expect(await set(message(6, 'UTF8', 'during tx', { transactionId: 'no-such-tx' }))).toEqual({
      status: 'UnknownTransaction',
    });
    // QRCODE is not an OCPP 2.0.1 format: the CSMS's own strict validation refuses to send it
    await expect(set(message(7, 'QRCODE', PAY_URI))).rejects.toThrow();
    // 513 characters exceed the 2.0.1 limit: refused by schema before it leaves the CSMS
    await expect(set(message(8, 'UTF8', 'x'.repeat(513)))).rejects.toThrow();
    // a message bound to the open transaction is accepted and removed when the transaction ends
    station.plugged(1, T0);
    await untilDrained(station);
    const txId = (csms.calls('TransactionEvent')[0]?.payload.transactionInfo as { transactionId: string })
      .transactionId;
    expect(
      await set(
        message(9, 'UTF8', 'Plugged in: scan to pay', { transactionId: txId, priority: 'AlwaysFront' }),
      ),
    ).toEqual({
      status: 'Accepted',
    });
    expect(station.displayMessages().map((m) => m.id)).toEqual([9, 1, 2]);

    expect(await csms.call('wall-display', 'GetDisplayMessages', { requestId: 7 })).toEqual({
      status: 'Accepted',
    });
    await waitFor(() => csms.calls('NotifyDisplayMessages').length === 1, 'NotifyDisplayMessages');
    const notify = csms.calls('NotifyDisplayMessages')[0]!.payload;
    expect(notify.requestId).toBe(7);
    expect(notify.messageInfo).toEqual([
      {
        id: 9,
        priority: 'AlwaysFront',
        transactionId: txId,
        message: { format: 'UTF8', content: 'Plugged in: scan to pay' },
      },
      { id: 1, priority: 'InFront', message: { format: 'URI', content: PAY_URI } },
      {
        id: 2,
        priority: 'NormalCycle',
        message: { format: 'UTF8', content: 'Zahlen Sie über Lightning ⚡' },
      },
    ]);
    expect(await csms.call('wall-display', 'GetDisplayMessages', { requestId: 8, id: [42] })).toEqual({
      status: 'Unknown',
    });
    expect(await csms.call('wall-display', 'ClearDisplayMessage', { id: 2 })).toEqual({ status: 'Accepted' });
    expect(await csms.call('wall-display', 'ClearDisplayMessage', { id: 2 })).toEqual({ status: 'Unknown' });
    station.unplugged(1, T0 + 10_000);
    expect(station.displayMessages().map((m) => m.id)).toEqual([1]);

    const html = await station.renderDisplayMessagesHtml();
    expect(html).toContain(`href="${PAY_URI.replace(/&/g, '&amp;')}"`);
    const { server, url } = await serve(html);
    try {
      const [onScreen] = await qrModulesOnScreen(browser, url, [expectedModules(PAY_URI).length]);
      expect(onScreen).toEqual(expectedModules(PAY_URI));
      // the comparison discriminates: a one-character change gives a different matrix
      expect(onScreen).not.toEqual(expectedModules(`${PAY_URI}0`));
    } finally {
      server.close();
    }
    expect(csms.calls('NotifyDisplayMessages')).toHaveLength(1);
    expect(station.status().validationFailures).toBe(0);
    expect(csms.validationFailures.filter((f) => !f.outbound)).toEqual([]); // only the two refused sends
  });

  it('on 2.1: accepts QRCODE up to 1024 characters and draws it; a QRCodeDisplay component on 2.0.1 is drawn too', async () => {
    let { csms, station } = await online(['ocpp2.1'], ['ocpp2.1', 'ocpp2.0.1', 'ocpp1.6']);
    expect(station.status().protocol).toBe('ocpp2.1');
    const invoice = `lightning:lnbcrt${'q'.repeat(600)}`;
    expect(await csms.call('wall-display', 'SetDisplayMessage', message(1, 'QRCODE', invoice))).toEqual({
      status: 'Accepted',
    });
    expect(await csms.call('wall-display', 'SetDisplayMessage', message(2, 'HTML', '<i>x</i>'))).toEqual({
      status: 'NotSupportedMessageFormat',
    });
    const [shown] = station.displayMessages();
    expect(shown).toMatchObject({ id: 1, format: 'QRCODE', asQr: true, content: invoice });
    const html21 = await station.renderDisplayMessagesHtml();
    expect(csms.validationFailures).toEqual([]);
    expect(station.status().validationFailures).toBe(0);
    await stopStationFixture(fx);

    // OCA QR guidance for 2.0.1: text for the QRCodeDisplay component is drawn as a QR code
    ({ csms, station } = await online(['ocpp2.0.1']));
    const psp = 'https://psp.example.jp/qr/8d2e41';
    expect(
      await csms.call(
        'wall-display',
        'SetDisplayMessage',
        message(3, 'UTF8', psp, { display: { name: 'QRCodeDisplay' } }),
      ),
    ).toEqual({ status: 'Accepted' });
    const html201 = await station.renderDisplayMessagesHtml();

    const { server, url } = await serve(html21 + html201);
    try {
      const screens = await qrModulesOnScreen(browser, url, [
        expectedModules(invoice).length,
        expectedModules(psp).length,
      ]);
      expect(screens[0]).toEqual(expectedModules(invoice));
      expect(screens[1]).toEqual(expectedModules(psp));
    } finally {
      server.close();
    }
  });
});
