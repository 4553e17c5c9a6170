import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { readBooks } from '../../scripts/demo/books.js';
import { ChargeRig } from '../../scripts/demo/rig.js';

const SPEED = 10;
const TARGET_WH = 500;
const KILLS = Number(process.env.BOLTCHARGE_CRASH_RUNS ?? 6);

/** A small deterministic PRNG so a failing kill point can be replayed (seed printed on failure). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('kill -9 of either daemon at random points, then restart', () => {
  const connectionFile = inject('regtestConnectionPath');
  let rig: ChargeRig | undefined;
  afterEach(async () => {
    await rig?.stop();
    rig = undefined;
  });

  const seed = Number(process.env.BOLTCHARGE_CRASH_SEED ?? Date.now() % 100_000);
  const random = rng(seed);
  const plan = [
    // fixed: the car module dies mid-handshake and is back after the wall's handshake timed out; the wall
    // greets the still-plugged car again and the session runs to its end
    { victim: 'vehicle' as const, atWh: 0, downMs: 1600 },
    ...Array.from({ length: KILLS }, (_, i) => ({
      victim: (i % 2 === 0 ? 'vehicle' : 'wall') as 'wall' | 'vehicle',
      // kill when the wall has metered this much (from before the deposit to late in the session)
      atWh: Math.floor(random() * TARGET_WH * 0.8),
      downMs: 200 + Math.floor(random() * 1500),
    })),
  ];

  for (const [i, k] of plan.entries()) {
    it(`run ${i + 1}: kill -9 the ${k.victim} at ~${k.atWh} Wh, down ${k.downMs} ms (seed ${seed})`, async () => {
      rig = await ChargeRig.create({
        dir: mkdtempSync(join(tmpdir(), `e2e-crash-${k.victim}-`)),
        connectionFile,
        link: 'can',
        speed: SPEED,
        // a heartbeat long enough for a restart (a few real seconds), so a session can resume
        wall: { session: { heartbeatTimeoutMs: 150_000 } },
        vehicle: {
          session: { heartbeatTimeoutMs: 150_000, receiptTimeoutMs: 100_000 },
          limits: { targetEnergyWh: TARGET_WH },
        },
      });
      await rig.startDaemons();
      rig.world.plug();
      const victim = k.victim === 'wall' ? rig.wall : rig.vehicle;
      await rig.until(`wall metered ${k.atWh} Wh`, async () => (await rig!.wall.status()).energyWh >= k.atWh);
      await victim.kill9();
      await new Promise((r) => setTimeout(r, k.downMs));
      await victim.start();
      // the session either resumes to the target or is closed; either way both sides end it
      await rig.until(
        'both sides ended',
        async () => {
          const [w, v] = await Promise.all([rig!.wall.status(), rig!.vehicle.status()]);
          return w.state === 'ended' && v.state === 'ended';
        },
        180_000,
      );
      await rig.stop();
      const books = await readBooks(rig.files, connectionFile);
      // nothing paid twice, both ledgers equal what each node reports, and equal to each other
      expect(books.problems).toEqual([]);
      for (const b of books.sessions) {
        expect(b.vehiclePaidMsat).toBe(b.wallSettledMsat);
        expect(b.wallStopReason).not.toBeNull();
      }
      const last = books.sessions[books.sessions.length - 1]!;
      // the session resumed to the target with a verified receipt, or closed with a reason on both sides
      if (last.wallStopReason === 'TARGET_REACHED') expect(last.receiptValid).toBe(true);
      expect(last.vehicleStopReason).not.toBeNull();
    }, 300_000);
  }
});

describe('restart after the session ended, car still plugged in', () => {
  const connectionFile = inject('regtestConnectionPath');
  let rig: ChargeRig | undefined;
  afterEach(async () => {
    await rig?.stop();
  });

  it('kill -9 of the wall does not start a second session for the same car', async () => {
    rig = await ChargeRig.create({
      dir: mkdtempSync(join(tmpdir(), 'e2e-crash-ended-')),
      connectionFile,
      link: 'can',
      speed: SPEED,
      vehicle: { limits: { targetEnergyWh: 200 } },
    });
    await rig.startDaemons();
    rig.world.plug();
    await rig.until('both sides ended', async () => {
      const [w, v] = await Promise.all([rig!.wall.status(), rig!.vehicle.status()]);
      return w.state === 'ended' && v.state === 'ended';
    });
    await rig.wall.kill9();
    await rig.wall.start();
    await new Promise((r) => setTimeout(r, 3000));
    expect((await rig.wall.status()).state).toBe('ended');
    expect((await rig.vehicle.status()).state).toBe('ended');
    await rig.stop();
    const books = await readBooks(rig.files, connectionFile);
    expect(books.problems).toEqual([]);
    expect(books.sessions).toHaveLength(1);
    expect(books.sessions[0]!.receiptValid).toBe(true);
  }, 180_000);
});
