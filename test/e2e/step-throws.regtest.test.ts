/**
 * A machine step that throws mid-session in the real wall process (injected through `runDaemon`'s fault hook,
 * everything else as `boltcharge wall` runs it, real regtest lnd, simulated hardware): the power is cut, the
 * session is ended with the reason FAIL_SAFE, the process exits 1 after one throw, and a restart does not
 * resume the failed session; the books equal the nodes.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { readBooks } from '../../scripts/demo/books.js';
import { ChargeRig } from '../../scripts/demo/rig.js';
import { SystemClock } from '../../hardware/clock.js';
import { WallStore } from '../../wall-module/store.js';

const faultyWall = fileURLToPath(new URL('./faulty-wall.ts', import.meta.url));
const FAULT_AT_WH = 120;

describe('a seller step throws mid-session', () => {
  const connectionFile = inject('regtestConnectionPath');
  let rig: ChargeRig | undefined;
  afterEach(async () => {
    await rig?.stop();
  });

  it('cuts power, ends the session with a reason, exits non-zero once, and is not resumed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'e2e-step-throws-'));
    rig = await ChargeRig.create({
      dir,
      connectionFile,
      link: 'can',
      speed: 10,
      vehicle: { limits: { targetEnergyWh: 600 } },
    });
    rig.wall.entry = ['--import', 'tsx', faultyWall, String(FAULT_AT_WH)];
    await rig.startDaemons();
    rig.world.plug();
    await rig.until('wall charging', async () => (await rig!.wall.status()).state === 'charging');
    const code = await rig.wall.exited(120_000);
    expect(code).toBe(1);
    const truth = rig.world.truth();
    expect(truth.relayClosed).toBe(false);
    expect(truth.currentA).toBeLessThan(0.5);
    const log = readFileSync(join(dir, 'wall.log'), 'utf8');
    // one throw: the runner stopped instead of throwing on every later event
    expect(log.match(/injected fault #/g)).toHaveLength(1);
    expect(log.match(/machine failed: failing safe and stopping/g)).toHaveLength(1);
    expect(log).toMatch(/fail-safe: power cut verified/);
    expect(log).toMatch(
      /failed safe \(power cut, daemon stopped\): machine step failed on meter: RangeError: injected/,
    );

    const store = WallStore.open(rig.files.wallDb, new SystemClock());
    const [session] = store.listSessions(1);
    expect(session).toMatchObject({ status: 'ended', stopReason: 'FAIL_SAFE' });
    expect(store.events().filter((e) => e.kind === 'machine.failed')).toHaveLength(1);
    store.close();

    // the normal daemon starts again; the session the fail-safe ended is not resumed (power stays off)
    rig.wall.entry = [fileURLToPath(new URL('../../bin/boltcharge.js', import.meta.url)), 'wall'];
    await rig.wall.start();
    await rig.until('vehicle ended', async () => (await rig!.vehicle.status()).state === 'ended', 120_000);
    const wall = await rig.wall.status();
    expect(wall.state).toBe('idle');
    expect(rig.world.truth().relayClosed).toBe(false);
    await rig.stop();
    const books = await readBooks(rig.files, connectionFile);
    expect(books.problems).toEqual([]);
    expect(books.sessions).toHaveLength(1);
    expect(books.sessions[0]!.vehiclePaidMsat).toBe(books.sessions[0]!.wallSettledMsat);
    expect(books.sessions[0]!.wallStopReason).toBe('FAIL_SAFE');
  }, 300_000);
});

describe('a configuration the loader accepts but the seller refuses', () => {
  const connectionFile = inject('regtestConnectionPath');

  it('exits non-zero with one clear line after closing what it opened (no hang)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'e2e-seller-refuses-'));
    const rig = await ChargeRig.create({
      dir,
      connectionFile,
      link: 'ip',
      wall: { tariff: { invoiceIntervalSec: 1.5 } },
    });
    try {
      await expect(rig.wall.start()).rejects.toThrow(/exited \(2\) before ready/);
      const log = readFileSync(join(dir, 'wall.log'), 'utf8');
      expect(log).toMatch(/invoiceIntervalSec/i);
      expect(log).not.toMatch(/\n\s+at /);
    } finally {
      await rig.stop();
    }
  }, 120_000);
});
