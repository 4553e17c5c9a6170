import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { readBooks } from '../../scripts/demo/books.js';
import { ChargeRig } from '../../scripts/demo/rig.js';

const SPEED = 10;
const HEARTBEAT_MS = 30_000; // daemon-clock ms = 3 s of real time at 10×

describe('the cable link is cut mid-session', () => {
  const connectionFile = inject('regtestConnectionPath');
  let rig: ChargeRig;
  afterAll(async () => {
    await rig?.stop();
  });

  it('cuts the power within the heartbeat timeout and closes the session cleanly', async () => {
    rig = await ChargeRig.create({
      dir: mkdtempSync(join(tmpdir(), 'e2e-linkcut-')),
      connectionFile,
      link: 'can',
      speed: SPEED,
      wall: { session: { heartbeatTimeoutMs: HEARTBEAT_MS } },
      vehicle: { session: { heartbeatTimeoutMs: HEARTBEAT_MS } },
    });
    await rig.startDaemons();
    rig.world.plug();
    await rig.until('charging past 100 Wh', async () => (await rig.wall.status()).energyWh > 100);
    expect(rig.world.truth().currentA).toBeGreaterThan(10);

    // the vehicle's CAN adapter disappears (its PTY closes): the wall hears nothing more
    const cutAt = rig.clock.now();
    await rig.emulator!.unplug('vehicle');
    await rig.until('current stops', () => rig.world.truth().currentA < 0.5, 30_000);
    const elapsedMs = rig.clock.now() - cutAt;
    // within the heartbeat timeout plus the charger's relay delay and one tick (daemon-clock ms)
    expect(elapsedMs).toBeLessThanOrEqual(HEARTBEAT_MS + 3000);
    await rig.until(
      'the wall ended the session',
      async () => (await rig.wall.status()).state === 'ended',
      30_000,
    );
    const wall = await rig.wall.status();
    expect(['HEARTBEAT_LOST', 'LINK_LOST']).toContain(wall.stopReason);
    await rig.until(
      'the vehicle ended its session',
      async () => (await rig.vehicle.status()).state === 'ended',
      30_000,
    );
    await rig.stop();

    const books = await readBooks(rig.files, connectionFile);
    expect(books.problems).toEqual([]);
    // the seller still signed and stored its receipt even though the car could not receive it
    expect(['HEARTBEAT_LOST', 'LINK_LOST']).toContain(books.sessions[0]!.wallStopReason);
  });
});
