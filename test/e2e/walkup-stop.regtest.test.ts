/**
 * The two other ways a walk-up charge stops, on real peers (issue 12): the driver presses the page's stop button
 * in headless Chromium (DRIVER_STOPPED), and the credit runs out (CREDIT_EXHAUSTED: the same cut as the
 * non-payment cut, verified on the simulated charger: relay open, no current). Both end with the final invoice
 * for exactly the metered energy paid by the phone and the deposit cancelled.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchHeadlessChromium, type HeadlessBrowser } from '../support/qr-on-screen.js';
import {
  channelMsat,
  phonePays,
  walkupFixture,
  walkupStatus,
  type WalkupFixture,
  startCharging,
} from './walkup-e2e.js';

/** 400 sat per Wh: a 20 000 sat deposit buys 50 Wh, used up in seconds at 11 kW. */
const PRICE = 400_000n;

describe('walk-up: stop button and credit exhausted', () => {
  const connectionFile = inject('regtestConnectionPath');
  let f: WalkupFixture;
  let browser: HeadlessBrowser;

  beforeAll(async () => {
    f = await walkupFixture(connectionFile, { priceMsatPerWh: Number(PRICE) });
    browser = await launchHeadlessChromium();
    await f.rig.wall.start();
  });
  afterAll(async () => {
    await f?.close();
    await browser?.close();
  });

  /** Pays the final invoice and checks the figures from the phone's and the wall's side. */
  async function payFinalAndCheck(before: bigint, deposit: ReturnType<typeof phonePays>, stopReason: string) {
    await f.rig.until(
      'final invoice',
      async () => (await walkupStatus(f.baseUrl)).session?.finalBolt11 != null,
      60_000,
    );
    const s = (await walkupStatus(f.baseUrl)).session!;
    expect(s.stopReason).toBe(stopReason);
    const final = await phonePays(f.phone, s.finalBolt11!).result;
    expect(final.ok).toBe(true);
    expect((await deposit.result).ok).toBe(false);
    await f.rig.until(
      'ended',
      async () => (await walkupStatus(f.baseUrl)).session?.receiptSigned === true,
      60_000,
    );
    const done = (await walkupStatus(f.baseUrl)).session!;
    expect(done.endReason).toBe('FINAL_PAID');
    const cost = BigInt(done.costMsat!);
    expect(cost).toBe(BigInt(done.deliveredWh) * PRICE);
    if (final.ok) expect(before - (await channelMsat(f.phone))).toBe(cost + final.feeMsat);
    f.rig.world.unplug();
    await f.rig.until('connector free', async () => (await walkupStatus(f.baseUrl)).available, 30_000);
    return done;
  }

  it('the driver presses stop on the page', async () => {
    const { before, deposit } = await startCharging(f, 40_000_000n);
    const page = await browser.context.newPage();
    await page.goto(`${f.baseUrl}/walkup`);
    await page.waitForSelector('#wu-stop:not(.hidden)');
    await f.rig.until('5 Wh', async () => (await walkupStatus(f.baseUrl)).session!.deliveredWh >= 5, 60_000);
    await page.click('#wu-stop');
    await page.waitForSelector('#wu-final:not(.hidden)', { timeout: 60_000 });
    await page.close();
    expect(f.rig.world.truth().relayClosed).toBe(false);
    await payFinalAndCheck(before, deposit, 'DRIVER_STOPPED');
  });

  it('the credit runs out: power cut before the deposit is used up, the driver pays the energy', async () => {
    const depositMsat = 20_000_000n; // 50 Wh at 400 sat/Wh
    const { before, deposit } = await startCharging(f, depositMsat);
    await f.rig.until(
      'the cut',
      async () => (await walkupStatus(f.baseUrl)).session?.stopReason === 'CREDIT_EXHAUSTED',
      120_000,
    );
    await f.rig.until(
      'no current',
      () => f.rig.world.truth().currentA === 0 && !f.rig.world.truth().relayClosed,
      10_000,
    );
    // the final reading may already show the whole deposit used (energy flows until the contactor opens):
    // then the deposit itself is settled for exactly the cost, and no final invoice is needed
    await f.rig.until('metered', async () => {
      const s = (await walkupStatus(f.baseUrl)).session;
      return s?.finalBolt11 != null || s?.phase === 'ended';
    });
    if ((await walkupStatus(f.baseUrl)).session!.finalBolt11 != null) {
      // cut at deposit − graceWh × price: the cost never exceeds the deposit
      const done = await payFinalAndCheck(before, deposit, 'CREDIT_EXHAUSTED');
      expect(BigInt(done.costMsat!)).toBeLessThan(depositMsat);
      expect(done.deliveredWh).toBeGreaterThanOrEqual(48);
      return;
    }
    const paid = await deposit.result;
    expect(paid.ok).toBe(true);
    await f.rig.until('signed', async () => (await walkupStatus(f.baseUrl)).session?.receiptSigned === true);
    const done = (await walkupStatus(f.baseUrl)).session!;
    expect(done.endReason).toBe('FINAL_PAID');
    expect(BigInt(done.costMsat!)).toBe(depositMsat); // capped at the deposit: the overshoot is the host's
    if (paid.ok) expect(before - (await channelMsat(f.phone))).toBe(depositMsat + paid.feeMsat);
    f.rig.world.unplug();
  });
});
