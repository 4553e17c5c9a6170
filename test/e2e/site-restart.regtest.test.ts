// One wall daemon, two connectors, two cars paying through real regtest lnd: the wall daemon is killed
// (SIGKILL) while both charge and started again; both connectors resume their own sessions from their own
// machine state (no new session, the same session ids), keep charging and being paid, and end cleanly. The
// books per connector equal the node.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { SiteRig } from '../../scripts/bench/site/rig.js';

describe('a site restarts mid-session', () => {
  const connectionFile = inject('regtestConnectionPath');
  let rig: SiteRig | undefined;
  afterAll(async () => {
    await rig?.stop();
  });

  it('both connectors resume their sessions after a crash of the wall daemon', async () => {
    rig = await SiteRig.create({
      dir: mkdtempSync(join(tmpdir(), 'e2e-site-restart-')),
      connectionFile,
      speed: 5,
      heartbeatRealMs: 15_000,
    });
    const r = rig;
    await r.start();
    r.car(1).world.plug();
    r.car(2).world.plug();
    await r.until('both connectors charge past 50 Wh', async () => {
      const [a, b] = await Promise.all([r.connector(1), r.connector(2)]);
      return a.state === 'charging' && b.state === 'charging' && a.energyWh > 50 && b.energyWh > 50;
    });
    const before = await Promise.all([r.connector(1), r.connector(2)]);

    await r.wall.kill9();
    await r.wall.start();
    await r.until(
      'both connectors charge again, paid past their energy at the crash',
      async () => {
        const now = await Promise.all([r.connector(1), r.connector(2)]);
        return now.every(
          (c, i) =>
            c.state === 'charging' &&
            BigInt(c.paidMsat) > BigInt(before[i]!.paidMsat) &&
            c.energyWh > before[i]!.energyWh,
        );
      },
      60_000,
    );
    const after = await Promise.all([r.connector(1), r.connector(2)]);
    expect(after.map((c) => c.sessionId)).toEqual(before.map((c) => c.sessionId));

    r.car(1).world.unplug();
    r.car(2).world.unplug();
    await r.until('both sessions ended', async () => {
      const now = await Promise.all([r.connector(1), r.connector(2)]);
      return now.every((c) => c.state === 'ended');
    });
    await r.stop();
    const books = await r.books();
    for (const id of [1, 2]) {
      const b = books.get(id)!;
      expect(b.sessions).toBe(1);
      expect(b.storeMsat).toBe(b.nodeMsat);
      expect(b.settled).toBeGreaterThan(1);
    }
  }, 90_000);
});
