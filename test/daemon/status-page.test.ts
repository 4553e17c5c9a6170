import { afterAll, describe, expect, it } from 'vitest';
import { StatusServer, type StatusSnapshot } from '../../daemon/status-server.js';
import { launchChromium } from './chromium.js';

describe('status page in a real browser', () => {
  const snap: StatusSnapshot = {
    role: 'wall',
    tMs: 1_700_000_000_000,
    state: 'charging',
    sessionId: 'abcd',
    peer: null,
    powerW: 11_000,
    energyWh: 1234,
    priceMsatPerWh: 100n,
    creditWh: 40,
    paidMsat: 127_400n,
    stopReason: null,
    alarms: [],
    ledger: [
      {
        seq: 0,
        state: 'settled',
        amountMsat: 4_900n,
        fromWh: 0,
        toWh: 49,
        paymentHash: 'ab'.repeat(32),
        latencyMs: 180,
      },
    ],
  };
  let server: StatusServer;
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('shows the snapshot, serves the JSON API and updates live over the WebSocket', async () => {
    server = await StatusServer.start(
      {
        role: 'wall',
        status: () => ({ ...snap, tMs: snap.tMs }),
        sessions: () => [{ id: 'abcd' }],
        session: (id) => (id === 'abcd' ? { id } : undefined),
        receipt: () => undefined,
        events: () => [],
        extraHtml: () => '<div id="ocpp-msg">Hello from the CSMS</div>',
      },
      '127.0.0.1',
      0,
    );
    cleanup.push(() => server.close());
    const api = (await (await fetch(server.url + 'api/status')).json()) as Record<string, unknown>;
    expect(api).toMatchObject({ state: 'charging', paidMsat: '127400', energyWh: 1234 });
    expect((await fetch(server.url + 'api/sessions/nope')).status).toBe(404);
    expect((await fetch(server.url + 'api/sessions/abcd/receipt')).status).toBe(404);

    const browser = await launchChromium();
    cleanup.push(() => browser.close());
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.waitForFunction("document.getElementById('conn').textContent === 'live'");
    expect(await page.textContent('#state')).toBe('charging');
    expect(await page.textContent('#energy')).toBe('1.234 kWh');
    expect(await page.textContent('#paid')).toContain('127.4');
    expect(await page.textContent('#ledger')).toContain('0–49');
    await page.waitForSelector('#ocpp-msg');

    // live update: power drops to zero, state changes, a chart is drawn from the pushed points
    snap.state = 'suspended';
    snap.powerW = 0;
    snap.energyWh = 1300;
    snap.tMs += 16_000;
    snap.alarms = ['power cut: non-payment'];
    server.publish();
    await page.waitForFunction("document.getElementById('state').textContent === 'suspended'");
    expect(await page.textContent('#alarms')).toContain('non-payment');
    // the chart (uPlot, served by the daemon) is drawn: a canvas with ink, and its instance holds series data
    const inked = await page.evaluate<number>(`(() => {
      const c = document.querySelector('#chart canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
      return n;
    })()`);
    expect(inked).toBeGreaterThan(100);
    expect(await page.evaluate<number>('window.boltchargeChart.data.length')).toBe(4);
  });
});
