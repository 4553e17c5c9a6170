/**
 * The dashboards against the real daemons (child processes through the CLI) paying each other on real regtest
 * lnd, on a 20× clock: the wall page opened in the middle of a session charts the whole session so far (uPlot's
 * energy series from the session start, non-decreasing, as many points as the store holds), shows the clock as
 * simulated and latencies in real milliseconds, and refuses actions without a token; the operator's stop with the
 * token ends the session with USER_STOP and is in the event log.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { SystemClock } from '../../hardware/clock.js';
import { ChargeRig } from '../../scripts/demo/rig.js';
import { WallStore } from '../../wall-module/store.js';
import { launchChromium } from './chromium.js';

const TOKEN = 'regtest-operator-token-0123456789';

describe('dashboards on real daemons and regtest lnd', () => {
  const connectionFile = inject('regtestConnectionPath');
  let rig: ChargeRig | undefined;
  afterAll(async () => {
    await rig?.stop();
  });

  it('a page opened mid-session shows the whole session; the operator stop works only with the token', async () => {
    rig = await ChargeRig.create({
      dir: mkdtempSync(join(tmpdir(), 'dash-live-')),
      connectionFile,
      link: 'ip',
      speed: 20,
      wall: { status: { operatorToken: TOKEN } },
      vehicle: { limits: { targetEnergyWh: 20_000 } },
    });
    await rig.startDaemons();
    rig.world.plug();
    const r = rig;
    await r.until('six invoices settled', async () => {
      const s = await r.wall.status();
      return s.state === 'charging' && s.ledger.filter((l) => l.state === 'settled').length >= 6;
    });
    const status = await r.wall.status();
    const sessionId = status.sessionId!;
    expect(status.clockSpeed).toBe(20);

    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.goto(r.wall.statusUrl);
      await page.waitForFunction(
        'window.boltchargeChart && window.boltchargeChart.data[0].length > 20',
        undefined,
        {
          timeout: 30_000,
        },
      );
      const [xs, , kwh] = await page.evaluate<number[][]>(
        'window.boltchargeChart.data.map((s) => Array.from(s))',
      );
      const lastMs = xs![xs!.length - 1]! * 1000;
      const store = WallStore.open(r.files.wallDb, new SystemClock());
      const stored = store.meterSamples(sessionId).filter((s) => s.source === 'own' && s.tMs <= lastMs);
      const session = store.getSession(sessionId);
      store.close();
      // from the session start: the first point is the session's start at 0 kWh
      expect(xs![0]).toBe(session.startedAtMs / 1000);
      expect(kwh![0]).toBe(0);
      for (let i = 1; i < kwh!.length; i++) expect(kwh![i]).toBeGreaterThanOrEqual(kwh![i - 1]!);
      // every sample the store holds up to the chart's last point is in the chart, at its time
      expect(xs!.slice(1)).toEqual(stored.map((s) => s.tMs / 1000));
      expect(kwh![kwh!.length - 1]).toBeGreaterThan(0.05);
      expect(await page.textContent('#clock')).toContain('×20');
      // settlement latency in real ms: a regtest settlement takes well under 5 s of real time
      const latencies = await page.$$eval('#ledger tr td:nth-child(6)', (tds) =>
        tds.map((td) => Number((td.textContent ?? '').replace(/[^\d]/g, ''))).filter((n) => n > 0),
      );
      expect(latencies.length).toBeGreaterThan(3);
      for (const ms of latencies) expect(ms).toBeLessThan(5_000);

      // the chart keeps following the session live
      const before = xs!.length;
      await page.waitForFunction(`window.boltchargeChart.data[0].length > ${before + 5}`, undefined, {
        timeout: 30_000,
      });

      // actions: refused without the token, done with it
      await page.click('#act-stop');
      await page.waitForFunction(
        "document.getElementById('action-result').textContent.startsWith('Refused')",
      );
      expect((await r.wall.status()).state).toBe('charging');
      await page.fill('#token', TOKEN);
      await page.click('#act-stop');
      await page.waitForFunction("document.getElementById('action-result').textContent.startsWith('Done')");
      await r.until('the wall ended the session', async () => (await r.wall.status()).state === 'ended');
      expect((await r.wall.status()).stopReason).toBe('USER_STOP');
      const after = WallStore.open(r.files.wallDb, new SystemClock());
      expect(after.events({ sessionId }).filter((e) => e.kind === 'operator.stop')).toHaveLength(1);
      after.close();
    } finally {
      await browser.close();
    }
  });
});
