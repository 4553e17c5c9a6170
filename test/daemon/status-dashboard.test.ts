/**
 * The wall dashboard in headless Chromium at desktop (1280 px) and phone (390 px) widths, over a real wall store
 * filled as the daemon fills it: (a) a page opened mid-session charts the whole session so far (read from the
 * uPlot instance's data); (b) the history after three sessions has three rows equal to the books; (c) an action
 * without the token is refused, with it succeeds and is logged; (d) no request leaves the machine; axe-core finds
 * no serious or critical accessibility violation. Screenshots go to docs/img/ with BOLTCHARGE_SCREENSHOTS=1.
 */
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatusServer } from '../../daemon/status-server.js';
import { launchChromium } from './chromium.js';
import { WallBooksFixture } from './status-fixture.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shotDir =
  process.env.BOLTCHARGE_SCREENSHOTS === '1'
    ? join(repoRoot, 'docs', 'img')
    : mkdtempSync(join(tmpdir(), 'dashboard-shots-'));
const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const TOKEN = 'operator-token-for-the-test';

const WIDTHS = [
  { name: 'desktop', width: 1280, height: 900 },
  { name: 'phone', width: 390, height: 844 },
] as const;

/** Runs axe-core in the page; returns the serious and critical violations. */
async function axeViolations(page: Page): Promise<{ id: string; impact: string; nodes: string[] }[]> {
  // evaluated, not injected as a <script>: the page's CSP allows no inline scripts
  await page.evaluate(readFileSync(axePath, 'utf8'));
  return page.evaluate(`(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
  })()`);
}

/** The chart's series as the page's uPlot instance holds them. */
function chartData(page: Page): Promise<number[][]> {
  return page.evaluate('window.boltchargeChart ? window.boltchargeChart.data.map((s) => Array.from(s)) : []');
}

describe('wall dashboard in a real browser', () => {
  const fx = new WallBooksFixture(100n, 50, 60);
  let server: StatusServer;
  let browser: BrowserContext;
  const requests: string[] = [];
  const sockets: string[] = [];

  beforeAll(async () => {
    mkdirSync(shotDir, { recursive: true });
    server = await StatusServer.start(fx.source, '127.0.0.1', 0, { operatorToken: TOKEN });
    browser = await launchChromium();
    // (d) every request the pages make passes here
    await browser.route('**/*', (route) => {
      requests.push(route.request().url());
      return route.continue();
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    fx.store.close();
  });

  const open = async (width: number, height: number): Promise<Page> => {
    const page = await browser.newPage();
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await page.setViewportSize({ width, height });
    await page.goto(server.url);
    await page.waitForFunction("document.getElementById('conn').textContent === 'live'");
    return page;
  };

  it('(a) opened mid-session, the chart holds the whole session so far and follows it live', async () => {
    const id = await fx.start();
    await fx.charge(240);
    await fx.cutAndResume(30);
    await fx.charge(120);
    const samples = fx.store.meterSamples(id);
    const base = samples[0]!.energyWh;
    const lastWh = samples[samples.length - 1]!.energyWh - base;
    for (const w of WIDTHS) {
      const page = await open(w.width, w.height);
      await page.waitForFunction(
        `window.boltchargeChart && window.boltchargeChart.data[0].length >= ${samples.length}`,
      );
      const [xs, kw, kwh] = await chartData(page);
      // the session start, then every stored sample
      expect(xs!.length).toBe(samples.length + 1);
      expect(kwh![0]).toBe(0);
      for (let i = 1; i < kwh!.length; i++) expect(kwh![i]).toBeGreaterThanOrEqual(kwh![i - 1]!);
      expect(kwh![kwh!.length - 1]).toBeCloseTo(lastWh / 1000, 6);
      expect(Math.max(...kw!)).toBeCloseTo(11, 6);
      // time axis in seconds from the store's sample times
      expect(xs![1]).toBe(samples[0]!.tMs / 1000);
      // the demo's clock is shown as simulated, latency in real ms (7.8 s of ×60 clock = 130 ms)
      expect(await page.textContent('#clock')).toContain('×60');
      expect(await page.textContent('#ledger')).toContain('130');
      expect(await page.textContent('#energy')).toBe(`${(fx.snapshot().energyWh / 1000).toFixed(3)} kWh`);
      await page.screenshot({ path: join(shotDir, `wall-live-${w.name}.png`), fullPage: false });
      expect(await axeViolations(page)).toEqual([]);
      await page.close();
    }

    // live: more charging, pushed over the WebSocket; the chart grows and stays monotonic
    const page = await open(1280, 900);
    await page.waitForFunction(`window.boltchargeChart && window.boltchargeChart.data[0].length > 300`);
    const before = (await chartData(page))[0]!.length;
    await fx.charge(20);
    server.publish();
    await page.waitForFunction(`window.boltchargeChart.data[0].length >= ${before + 20}`);
    const [, , kwh] = await chartData(page);
    for (let i = 1; i < kwh!.length; i++) expect(kwh![i]).toBeGreaterThanOrEqual(kwh![i - 1]!);
    // dark mode renders and stays accessible
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: join(shotDir, 'wall-live-dark.png') });
    expect(await axeViolations(page)).toEqual([]);
    await page.close();
    fx.end();
  });

  it('(b) after three sessions the history shows three rows equal to the books, with receipts to download', async () => {
    for (let n = 0; n < 2; n++) {
      await fx.start();
      await fx.charge(90 + n * 30);
      fx.end();
    }
    const books = fx.store.listSessions(10);
    expect(books).toHaveLength(3);
    for (const w of WIDTHS) {
      const page = await open(w.width, w.height);
      await page.waitForFunction("document.querySelectorAll('#session-rows tr').length === 3");
      const rows = await page.$$eval('#session-rows tr', (trs) =>
        trs.map((tr) => ({
          id: tr.getAttribute('data-session'),
          kwh: tr.querySelector('.kwh')?.textContent,
          sat: tr.querySelector('.sat')?.textContent,
        })),
      );
      for (const s of books) {
        const row = rows.find((r) => r.id === s.id);
        expect(row).toBeDefined();
        const settled = fx.store.settledMsat(s.id);
        expect(settled).toBe(s.paidMsat);
        expect(row!.kwh).toBe((s.energyWh / 1000).toFixed(3));
        expect(row!.sat).toBe((Number(settled) / 1000).toLocaleString('en-US', { maximumFractionDigits: 3 }));
      }
      await page.locator('#history').scrollIntoViewIfNeeded();
      await page.locator('#history').screenshot({ path: join(shotDir, `wall-history-${w.name}.png`) });
      expect(await axeViolations(page)).toEqual([]);
      await page.close();
    }
    // the receipt downloads are the CLI's formats
    const csv = await (await fetch(`${server.url}api/sessions/${books[0]!.id}/statement.csv`)).text();
    expect(csv.split('\n')[0]).toBe('session_id,seq,payment_hash,amount_msat,from_wh,to_wh,paid_at');
    const json = (await (await fetch(`${server.url}api/sessions/${books[0]!.id}/statement.json`)).json()) as {
      totalMsat: string;
    };
    expect(BigInt(json.totalMsat)).toBe(books[0]!.paidMsat);
  });

  it('(c) an action without the token is refused; with it, it is carried out and logged', async () => {
    const id = await fx.start();
    await fx.charge(30);
    const page = await open(1280, 900);
    await page.fill('#token', '');
    await page.click('#act-stop');
    await page.waitForFunction("document.getElementById('action-result').textContent.startsWith('Refused')");
    expect(await page.textContent('#action-result')).toContain('401');
    expect(fx.stopRequests).toBe(0);
    expect(fx.store.events({ sessionId: id }).some((e) => e.kind === 'operator.stop')).toBe(false);

    // keyboard only: focus the token field, type, tab to the stop button, press Enter
    await page.focus('#token');
    await page.keyboard.type(TOKEN);
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.waitForFunction("document.getElementById('action-result').textContent.startsWith('Done')");
    expect(fx.stopRequests).toBe(1);
    const logged = fx.store.events({ sessionId: id }).filter((e) => e.kind === 'operator.stop');
    expect(logged).toHaveLength(1);
    expect(logged[0]!.data).toMatchObject({ connectorId: 1, from: '127.0.0.1' });
    await page.waitForFunction("document.getElementById('alarm-list').textContent.includes('operator.stop')");

    // availability is recorded and shown on the site overview
    await page.click('#act-availability');
    await page
      .waitForFunction(
        "document.getElementById('connectors').textContent.includes('out of service')",
        undefined,
        {
          timeout: 10_000,
        },
      )
      .catch(async () => {
        server.publish();
        await page.waitForFunction(
          "document.getElementById('connectors').textContent.includes('out of service')",
        );
      });
    await page.screenshot({ path: join(shotDir, 'wall-actions-desktop.png') });
    await page.close();
    fx.end('USER_STOP');
  });

  it('(d) no request leaves the machine', () => {
    expect(requests.length).toBeGreaterThan(20);
    expect(sockets.length).toBeGreaterThan(0);
    for (const u of [...requests, ...sockets]) expect(new URL(u).hostname).toBe('127.0.0.1');
    // uPlot came from the daemon, not a CDN
    expect(requests.some((u) => u.endsWith('/assets/uplot.js'))).toBe(true);
  });
});
