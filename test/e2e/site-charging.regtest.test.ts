// One wall daemon, two connectors, two cars paying through real regtest lnd: both charge at once on one node
// connection; the car on connector 1 goes dead (its vehicle daemon is killed), the wall cuts connector 1 and ends
// its session, while connector 2 keeps charging and keeps being paid. The books per connector equal the node.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { SiteRig } from '../../scripts/bench/site/rig.js';

describe('a site: two connectors on one wall daemon', () => {
  const connectionFile = inject('regtestConnectionPath');
  let rig: SiteRig | undefined;
  afterAll(async () => {
    await rig?.stop();
  });

  it('a cut on one connector leaves the other charging and paid; books per connector equal the node', async () => {
    rig = await SiteRig.create({ dir: mkdtempSync(join(tmpdir(), 'e2e-site-')), connectionFile, speed: 10 });
    const r = rig;
    await r.start();
    r.car(1).world.plug();
    r.car(2).world.plug();
    await r.until('both connectors charge past 100 Wh', async () => {
      const [a, b] = await Promise.all([r.connector(1), r.connector(2)]);
      return a.state === 'charging' && b.state === 'charging' && a.energyWh > 100 && b.energyWh > 100;
    });
    expect(r.car(1).world.truth().currentA).toBeGreaterThan(10);
    expect(r.car(2).world.truth().currentA).toBeGreaterThan(10);

    // the car on connector 1 goes dead: the wall hears nothing more on that cable and cuts that connector
    await r.car(1).vehicle.kill9();
    const paidAtCut = BigInt((await r.connector(2)).paidMsat);
    await r.until('connector 1 is cut', () => r.car(1).world.truth().currentA < 0.5, 30_000);
    await r.until(
      'connector 1 ended its session',
      async () => (await r.connector(1)).state === 'ended',
      30_000,
    );
    // connector 2 never stopped: still charging, and paid for more since the cut
    await r.until(
      'connector 2 is paid again after the cut',
      async () => BigInt((await r.connector(2)).paidMsat) > paidAtCut,
      30_000,
    );
    expect((await r.connector(2)).state).toBe('charging');
    expect(r.car(2).world.truth().currentA).toBeGreaterThan(10);

    // the car on connector 2 leaves: its session ends cleanly (final settlement, receipt)
    r.car(2).world.unplug();
    await r.until(
      'connector 2 ended its session',
      async () => (await r.connector(2)).state === 'ended',
      30_000,
    );
    await r.stop();
    const books = await r.books();
    for (const id of [1, 2]) {
      const b = books.get(id)!;
      expect(b.sessions).toBe(1);
      expect(b.settled).toBeGreaterThan(0);
      expect(b.storeMsat).toBe(b.nodeMsat);
    }
  }, 90_000);
});
