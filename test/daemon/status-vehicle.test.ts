/**
 * The vehicle dashboard in headless Chromium at 1280 px and 390 px over a real vehicle store filled as the
 * vehicle daemon fills it: spending today / this month against the budgets (equal to the store's own daily
 * spend), sessions per charger with energy, price, fees and refusals with their reasons, history rows equal to
 * the books; per charger its alias and its use of the loss caps in the window (equal to the store's
 * `wallExposure`, the figures the daemon feeds the buyer) with its back-off; no request leaves the machine;
 * axe-core finds nothing serious.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../hardware/clock.js';
import { StatusServer, type StatusSnapshot } from '../../daemon/status-server.js';
import { storeStatusSource } from '../../daemon/status-source.js';
import { VehicleStore } from '../../vehicle-module/store.js';
import { WallAliases } from '../../vehicle-module/wall-aliases.js';
import { launchChromium } from './chromium.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shotDir =
  process.env.BOLTCHARGE_SCREENSHOTS === '1'
    ? join(repoRoot, 'docs', 'img')
    : mkdtempSync(join(tmpdir(), 'dashboard-shots-'));
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const WALL_A = '02'.padEnd(66, 'a');
const WALL_B = '03'.padEnd(66, 'b');

describe('vehicle dashboard in a real browser', () => {
  const clock = new ManualClock(Date.UTC(2026, 11, 1, 8, 0, 0));
  const store = VehicleStore.open(
    join(mkdtempSync(join(tmpdir(), 'status-vehicle-')), 'vehicle.sqlite'),
    clock,
  );
  let server: StatusServer | undefined;
  afterAll(async () => {
    await server?.close();
    store.close();
  });

  /** One session at a charger: `blocks` paid blocks of 50 Wh at `price`, then optional refusals. */
  const session = async (
    id: string,
    wall: string,
    blocks: number,
    price: bigint,
    refusals: { kind: string; reason: string }[] = [],
    deliveredPerBlockWh = 50,
  ): Promise<void> => {
    store.createSession(id, wall);
    let meterWh = 5_000;
    for (let seq = 0; seq < blocks; seq++) {
      const hash = `${id}${seq}`.padEnd(64, '0');
      store.recordPayment({
        sessionId: id,
        seq,
        paymentHash: hash,
        bolt11: `lnbcrt${seq}`,
        amountMsat: price * 50n,
        fromWh: seq * 50,
        toWh: seq * 50 + 50,
        payee: wall,
      });
      store.markSent(hash);
      await clock.advance(9_000);
      store.markSucceeded(hash, { preimage: '00'.repeat(32), feeMsat: 3n });
      for (let t = 0; t < 16; t++) {
        await clock.advance(1000);
        meterWh += deliveredPerBlockWh / 16;
        store.addMeterSample({
          sessionId: id,
          tMs: clock.now(),
          source: 'own',
          energyWh: Math.floor(meterWh),
          powerW: 11_000,
          voltageV: 230,
          currentA: 47.8,
        });
      }
      store.updateSession(id, { energyWh: Math.floor(meterWh - 5_000), priceMsatPerWh: price });
    }
    for (const r of refusals) store.appendEvent(id, `machine.${r.kind}`, { reason: r.reason, text: 'test' });
    store.endSession(id, refusals.length ? 'OVER_BILLED' : 'TARGET_REACHED');
    await clock.advance(3_600_000);
  };

  it('shows the spend against the budgets, the chargers with refusals and the history', async () => {
    await session('v1'.padEnd(32, '0'), WALL_A, 4, 100n);
    // wall B over-bills: 2 blocks paid, 2 × 40 Wh delivered
    await session(
      'v2'.padEnd(32, '0'),
      WALL_B,
      2,
      150n,
      [
        { kind: 'invoiceRefused', reason: 'OVER_BILLED' },
        { kind: 'invoiceRefused', reason: 'OVER_BILLED' },
      ],
      40,
    );
    // wall B ended its session with prepaid energy undelivered: a strike, so it is in back-off
    store.recordOutcome({
      sessionId: 'v2'.padEnd(32, '0'),
      wallPub: WALL_B,
      paidWh: 100,
      deliveredWh: 80,
      undeliveredWh: 20,
      strike: true,
    });
    await session('v3'.padEnd(32, '0'), WALL_A, 3, 100n, [
      { kind: 'offerDeclined', reason: 'PRICE_TOO_HIGH' },
    ]);
    // aliases as the daemon looks them up at a wall's hello: A announced one, B is not in the graph
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    const aliases = new WallAliases(
      store,
      { getNodeAlias: async (pub) => (pub === WALL_A ? 'Corner <Café> ⚡' : null) },
      quiet,
    );
    expect(await aliases.lookup(WALL_A)).toBe('Corner <Café> ⚡');
    expect(await aliases.lookup(WALL_B)).toBeNull();
    const window = { windowMs: 86_400_000, backoffMs: 6 * 3_600_000 };
    const caps = { windowSec: 86_400, perWallWh: 500, totalWh: 2_000 };
    const snapshot = (): StatusSnapshot => ({
      role: 'vehicle',
      tMs: clock.now(),
      state: 'idle',
      sessionId: null,
      peer: null,
      powerW: 0,
      energyWh: 0,
      priceMsatPerWh: null,
      creditWh: 0,
      paidMsat: 0n,
      stopReason: null,
      alarms: [],
      ledger: [],
    });
    const source = storeStatusSource(store, {
      role: 'vehicle',
      status: snapshot,
      ledger: (id) => ({ payments: store.payments(id) }),
      budgets: { dailyMsat: 200_000n, sessionMsat: 100_000n },
      clockSpeed: 1,
      lossBound: {
        caps,
        exposure: (pub) => store.wallExposure(pub, window),
        alias: (pub) => store.wallAlias(pub) ?? null,
      },
    });
    const exposureA = store.wallExposure(WALL_A, window);
    const exposureB = store.wallExposure(WALL_B, window);
    // the store's figures: wall B kept 20 Wh paid for, wall A none; B is in back-off, A is not
    expect(exposureB.undeliveredWallWh).toBe(20);
    expect(exposureA.undeliveredWallWh).toBe(0);
    expect(exposureB.undeliveredTotalWh).toBe(20);
    expect(exposureB.backoffUntilMs).toBeGreaterThan(clock.now());
    expect(exposureA.backoffUntilMs).toBeNull();
    server = await StatusServer.start(source, '127.0.0.1', 0);
    const spentToday = store.spentTodayMsat();
    // 4 + 3 blocks at 5,000 msat, 2 at 7,500 msat, 9 routing fees of 3 msat: all on the same UTC day
    expect(spentToday).toBe(50_027n);
    const browser = await launchChromium();
    const requests: string[] = [];
    await browser.route('**/*', (route) => {
      requests.push(route.request().url());
      return route.continue();
    });
    try {
      for (const w of [
        { name: 'desktop', width: 1280, height: 900 },
        { name: 'phone', width: 390, height: 844 },
      ]) {
        const page = await browser.newPage();
        await page.setViewportSize({ width: w.width, height: w.height });
        await page.goto(server.url);
        await page.waitForFunction("document.querySelectorAll('#charger-rows tr').length === 2");
        await page.waitForFunction("document.querySelectorAll('#session-rows tr').length === 3");
        const budgets = await page.textContent('#budgets');
        const sat = (msat: bigint): string =>
          (Number(msat) / 1000).toLocaleString('en-US', { maximumFractionDigits: 3 });
        expect(budgets).toContain(`${sat(spentToday)} sat of ${sat(200_000n)}`);
        const chargers = await page.$$eval('#charger-rows tr', (trs) =>
          trs.map((tr) => tr.textContent ?? ''),
        );
        const b = chargers.find((c) => c.startsWith(WALL_B.slice(0, 20)))!;
        expect(b).toContain('OVER_BILLED × 2');
        // paid 100 Wh, delivered 80 Wh: 20 Wh paid for and not delivered by wall B
        const bRow = page.locator('#charger-rows tr', { hasText: WALL_B.slice(0, 20) });
        expect(await bRow.locator('td').nth(6).textContent()).toBe('20');
        const a = chargers.find((c) => c.startsWith(WALL_A.slice(0, 20)))!;
        expect(a).toContain('PRICE_TOO_HIGH × 1');
        expect(a).toContain('0.35'); // 7 blocks × 50 Wh = 0.350 kWh delivered at charger A
        // alias next to the node key (escaped, not markup); none for B
        const aRow = page.locator('#charger-rows tr', { hasText: WALL_A.slice(0, 20) });
        expect(await aRow.locator('td.hash .alias').textContent()).toBe('Corner <Café> ⚡');
        expect(await bRow.locator('td.hash .alias').count()).toBe(0);
        // use of the per-wall cap and the total cap: the store's own figures
        const whOf = (wh: number): string => wh.toLocaleString('en-US');
        expect(await bRow.locator('td.cap .cap-use').textContent()).toBe(
          `${whOf(exposureB.undeliveredWallWh)} of ${whOf(caps.perWallWh)}`,
        );
        expect(await aRow.locator('td.cap .cap-use').textContent()).toBe(
          `${whOf(exposureA.undeliveredWallWh)} of ${whOf(caps.perWallWh)}`,
        );
        expect(await page.locator('#charger-total td.cap .cap-use').textContent()).toBe(
          `${whOf(exposureB.undeliveredTotalWh)} of ${whOf(caps.totalWh)}`,
        );
        // back-off: B until the store's time (shown in the browser's zone), A none
        expect(await bRow.locator('td time').getAttribute('datetime')).toBe(
          new Date(exposureB.backoffUntilMs!).toISOString(),
        );
        expect(await aRow.locator('td').nth(8).textContent()).toBe('no');
        await page.screenshot({ path: join(shotDir, `vehicle-${w.name}.png`), fullPage: true });
        await page.evaluate(axeSource);
        const violations = await page.evaluate(`(async () => (await window.axe.run()).violations
          .filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id))()`);
        expect(violations).toEqual([]);
        await page.close();
      }
    } finally {
      await browser.close();
    }
    for (const u of requests) expect(new URL(u).hostname).toBe('127.0.0.1');
  });
});
