import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { SystemClock } from '../../hardware/clock.js';
import { WallStore } from '../../wall-module/store.js';
import { ChargeRig } from '../../scripts/demo/rig.js';
import { readBooks } from '../../scripts/demo/books.js';
import { launchChromium } from '../daemon/chromium.js';

const PRICE = 100n;
const TARGET_WH = 600;
const GRACE_WH = 30;

describe.each(['can', 'ip'] as const)(
  'full charging session over the %s link, paid on real regtest LND',
  (link) => {
    const connectionFile = inject('regtestConnectionPath');
    let rig: ChargeRig;
    afterAll(async () => {
      await rig?.stop();
    });

    it('charges to the target, accounts agree with both nodes, no energy before the deposit, receipt verifies', async () => {
      rig = await ChargeRig.create({
        dir: mkdtempSync(join(tmpdir(), 'e2e-full-')),
        connectionFile,
        link,
        bitrate: 500_000,
        speed: 20,
        wall: { tariff: { priceMsatPerWh: Number(PRICE), graceWh: GRACE_WH, depositBlocks: 2 } },
        vehicle: { limits: { targetEnergyWh: TARGET_WH } },
      });
      await rig.startDaemons();
      rig.world.plug();
      if (link === 'can') {
        // the wall's dashboard in a real browser follows the live session over its WebSocket
        const browser = await launchChromium();
        try {
          const page = await browser.newPage();
          await page.goto(rig.wall.statusUrl);
          await page.waitForFunction(
            "document.getElementById('state').textContent === 'charging'",
            undefined,
            {
              timeout: 60_000,
            },
          );
          await page.waitForFunction("document.querySelectorAll('#ledger tr').length >= 3", undefined, {
            timeout: 60_000,
          });
          expect(await page.textContent('#power')).toMatch(/^1[01]\.\d\d kW$/);
          expect(await page.textContent('#ledger')).toContain('settled');
        } finally {
          await browser.close();
        }
      }
      await rig.until('both sides ended', async () => {
        const [w, v] = await Promise.all([rig.wall.status(), rig.vehicle.status()]);
        return w.state === 'ended' && v.state === 'ended';
      });
      const wall = await rig.wall.status();
      const vehicle = await rig.vehicle.status();
      expect(wall.stopReason).toBe('TARGET_REACHED');
      expect(vehicle.stopReason).toBe('TARGET_REACHED');
      // the relay is open again and no current flows
      await rig.until('current stops', () => rig.world.truth().currentA < 0.5, 10_000);
      await rig.stop();

      const books = await readBooks(rig.files, connectionFile);
      // every invoice/payment agrees with the node that holds it; both ledgers agree with each other
      expect(books.problems).toEqual([]);
      expect(books.sessions).toHaveLength(1);
      const b = books.sessions[0]!;
      // paid msat = sum of settled invoices = price × paid Wh
      expect(b.vehiclePaidMsat).toBe(b.wallSettledMsat);
      expect(b.wallSettledMsat).toBe(PRICE * BigInt(b.paidBlocksWh));
      expect(b.paidBlocksWh).toBe(TARGET_WH);
      // metered energy vs paid energy: within the grace (documented rounding: whole Wh blocks, never over-billed)
      expect(Math.abs(b.wallEnergyWh - b.paidBlocksWh)).toBeLessThanOrEqual(GRACE_WH);
      expect(b.receiptValid).toBe(true);

      // no energy before the deposit: the machine energized only after depositBlocks settlements, and the wall
      // meter shows no energy before that moment
      const store = WallStore.open(rig.files.wallDb, new SystemClock());
      try {
        const events = store.events({ sessionId: b.sessionId, limit: 100_000 });
        const energized = events.find((e) => e.kind === 'machine.energized');
        expect(energized).toBeDefined();
        const settledBefore = events.filter(
          (e) => e.kind === 'invoice.settled' && e.id < energized!.id,
        ).length;
        expect(settledBefore).toBeGreaterThanOrEqual(2);
        const samples = store.meterSamples(b.sessionId);
        const first = samples[0]!;
        const beforeEnergize = samples.filter((s) => s.tMs < energized!.tMs);
        for (const s of beforeEnergize) expect(s.energyWh - first.energyWh).toBe(0);
      } finally {
        store.close();
      }
    });
  },
);
