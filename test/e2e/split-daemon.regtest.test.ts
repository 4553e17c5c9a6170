// Split remittance in the real wall daemon (issue 14): a wall started through the CLI with a `split:` section
// (90/10 host/operator, the operator paid by keysend) charges a car over the cable; when the session ends the
// daemon pays the operator's share, and the books match both nodes (the demo's own check).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChargeRig } from '../../scripts/demo/rig.js';
import { settleSplitDemo, splitDemoSection } from '../../scripts/demo/split.js';
import { splitNetwork } from '../support/split-harness.js';
import { verifyStatement } from '../../payments/payout-statement.js';
import type { PayoutView } from '../../wall-module/payouts/status-route.js';

const PRICE = 100n;
const TARGET_WH = 600;

describe('split payouts in the wall daemon', () => {
  let rig: ChargeRig | undefined;
  afterAll(async () => {
    await rig?.stop();
  });

  it('pays the operator its 10 % when the session ends; books = nodes', { timeout: 300_000 }, async () => {
    const { connection } = await splitNetwork();
    rig = await ChargeRig.create({
      dir: mkdtempSync(join(tmpdir(), 'e2e-split-')),
      connectionFile: process.env.BOLTCHARGE_REGTEST_CONNECTION!,
      link: 'ip',
      speed: 20,
      wall: {
        tariff: { priceMsatPerWh: Number(PRICE), depositBlocks: 2 },
        split: splitDemoSection(connection),
      },
      vehicle: { limits: { targetEnergyWh: TARGET_WH } },
    });
    await rig.startDaemons();
    rig.world.plug();
    await rig.until('both sides ended', async () => {
      const [w, v] = await Promise.all([rig!.wall.status(), rig!.vehicle.status()]);
      return w.state === 'ended' && v.state === 'ended';
    });
    expect((await rig.wall.status()).stopReason).toBe('TARGET_REACHED');
    const split = await settleSplitDemo(rig.files.wallDb, connection);
    // the status page lists the payout and serves its signed statement, which the verifier accepts
    const page = (path: string) => fetch(new URL(path, rig!.wall.statusUrl));
    const { payouts } = (await (await page('api/payouts')).json()) as { payouts: PayoutView[] };
    expect(payouts.filter((p) => p.status === 'settled').map((p) => p.recipient)).toEqual(['operator']);
    expect(payouts[0]?.amountMsat).toBe(split.result.operatorPaidMsat);
    const statements = (await (await page('api/payouts/statements.json')).json()) as unknown[];
    expect(statements).toHaveLength(1);
    expect(verifyStatement(statements[0])).toEqual([]);
    await rig.stop();
    expect(split.problems).toEqual([]);
    const paid = BigInt(split.result.operatorPaidMsat);
    const kept = BigInt(split.result.hostKeptMsat);
    const fees = BigInt(split.result.payoutFeesMsat);
    // 10 % of what the wall received, in whole sats, the rest (and any fee) on the host's side
    const received = PRICE * BigInt(TARGET_WH);
    expect(paid).toBe((received / 10n / 1000n) * 1000n);
    expect(kept + fees).toBe(received - received / 10n);
  });
});
