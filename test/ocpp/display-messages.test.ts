/**
 * Display messages from a real CSMS (ocpp-rpc, strict schemas) on OCPP 2.0.1 and 2.1: SetDisplayMessage with
 * the spec's statuses, GetDisplayMessages answered by NotifyDisplayMessages, ClearDisplayMessage; and the
 * rendered fragment in headless Chromium, where the QR code's on-screen pixels are compared module by module
 * with an independent encoding of the expected content.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import QRCode from 'qrcode';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ManualClock } from '../../hardware/clock.js';
import { QR_ERROR_CORRECTION, QR_MARGIN_MODULES } from '../../wall-module/ocpp/display-render.js';
import type { OcppStation } from '../../wall-module/ocpp/station.js';
import type { OcppVersion } from '../../wall-module/ocpp/types.js';
import { TestCsms } from '../support/csms.js';
import { manualStation, tempDb, untilDrained, untilOnline, waitFor, type TempDb } from './harness.js';

const CHROMIUM = '/usr/bin/chromium';
const T0 = 1_700_000_500_000;
const PAY_URI = 'https://pay.example.com/charge?evse=1&session=7f3a9c';

function message(id: number, format: string, content: string, extra: Record<string, unknown> = {}) {
  return { message: { id, priority: 'InFront', message: { format, content }, ...extra } };
}

/** The browser APIs used to read a screenshot's pixels (the project compiles without DOM typings). */
interface BrowserCanvasApi {
  createImageBitmap(blob: Blob): Promise<{ width: number; height: number }>;
  OffscreenCanvas: new (
    w: number,
    h: number,
  ) => {
    getContext(kind: '2d'): {
      drawImage(image: unknown, x: number, y: number): void;
      getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
    };
  };
}

/** Sampled QR modules (true = dark) of every `img.ocpp-qr` on a page, from a screenshot of each image. */
async function qrModulesOnScreen(
  ctx: BrowserContext,
  url: string,
  moduleCounts: number[],
): Promise<boolean[][][]> {
  const page = await ctx.newPage();
  await page.setViewportSize({ width: 900, height: 1400 });
  await page.goto(url);
  const images = page.locator('img.ocpp-qr');
  await waitFor(async () => (await images.count()) === moduleCounts.length, 'QR images on the page');
  const result: boolean[][][] = [];
  for (let i = 0; i < moduleCounts.length; i++) {
    const img = images.nth(i);
    await img.evaluate((el) => (el as unknown as { decode(): Promise<void> }).decode());
    const png = await img.screenshot();
    writeFileSync(join(tmpdir(), `boltcharge-ocpp-qr-${i}.png`), png);
    const size = moduleCounts[i]!;
    // decode the screenshot's pixels in the browser (a canvas), then sample each module's centre
    const modules = await page.evaluate(
      async ({ b64, size, margin }) => {
        const web = globalThis as unknown as BrowserCanvasApi;
        const bitmap = await web.createImageBitmap(
          await (await fetch(`data:image/png;base64,${b64}`)).blob(),
        );
        const canvas = new web.OffscreenCanvas(bitmap.width, bitmap.height);
        const g = canvas.getContext('2d');
        g.drawImage(bitmap, 0, 0);
        const px = g.getImageData(0, 0, bitmap.width, bitmap.height);
        const total = size + 2 * margin;
        const rows: boolean[][] = [];
        for (let r = 0; r < size; r++) {
          const row: boolean[] = [];
          for (let c = 0; c < size; c++) {
            const x = Math.floor(((margin + c + 0.5) * bitmap.width) / total);
            const y = Math.floor(((margin + r + 0.5) * bitmap.height) / total);
            const o = (y * bitmap.width + x) * 4;
            const lum = 0.299 * px.data[o]! + 0.587 * px.data[o + 1]! + 0.114 * px.data[o + 2]!;
            row.push(lum < 128);
          }
          rows.push(row);
        }
        return rows;
      },
      { b64: png.toString('base64'), size, margin: QR_MARGIN_MODULES },
    );
    result.push(modules);
  }
  await page.screenshot({ path: join(tmpdir(), 'boltcharge-ocpp-display-page.png'), fullPage: true });
  await page.close();
  return result;
}

/** The expected module matrix of `content`, encoded independently of the renderer. */
function expectedModules(content: string): boolean[][] {
  const qr = QRCode.create(content, { errorCorrectionLevel: QR_ERROR_CORRECTION });
  const n = qr.modules.size;
  return Array.from({ length: n }, (_, r) => Array.from({ length: n }, (_, c) => qr.modules.get(r, c) === 1));
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
  let csms: TestCsms;
  let tmp: TempDb;
  let station: OcppStation;
  let clock: ManualClock;
  let browser: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium`);
    profile = mkdtempSync(join(tmpdir(), 'boltcharge-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      deviceScaleFactor: 1,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    rmSync(profile, { recursive: true, force: true });
  });

  async function online(protocols: OcppVersion[], stationProtocols?: OcppVersion[]): Promise<void> {
    csms = await TestCsms.start({ protocols });
    tmp = tempDb();
    ({ station, clock } = manualStation(tmp.db, {
      url: csms.url,
      identity: 'wall-display',
      ...(stationProtocols ? { protocols: stationProtocols } : {}),
    }));
    station.start();
    await untilOnline(station, clock);
  }

  afterEach(async () => {
    await station.stop();
    await csms.close();
    tmp.cleanup();
  });

  it('on 2.0.1: validates SetDisplayMessage, answers Get with NotifyDisplayMessages, clears, and draws the URI as a QR code', async () => {
    await online(['ocpp2.0.1']);
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
    await online(['ocpp2.1'], ['ocpp2.1', 'ocpp2.0.1', 'ocpp1.6']);
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
    await station.stop();
    await csms.close();
    tmp.cleanup();

    // OCA QR guidance for 2.0.1: text for the QRCodeDisplay component is drawn as a QR code
    await online(['ocpp2.0.1']);
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
