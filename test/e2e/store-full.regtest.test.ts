/**
 * The wall's store on a tiny tmpfs that fills up mid-session, with the real wall daemon process, real regtest
 * lnd and simulated hardware: the wall cuts the power (within the heartbeat timeout), exits non-zero, refuses
 * to restart with a clear message while the disk is full, and once space returns it resumes; the books on both
 * sides equal what the nodes report.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { mount, unmount } from '../support/mount.js';
import { readBooks } from '../../scripts/demo/books.js';
import { ChargeRig } from '../../scripts/demo/rig.js';

const SPEED = 10;
const TARGET_WH = 400;
/** the wall's heartbeat timeout, clock ms (long enough for a refused start and a restart) */
const HEARTBEAT_MS = 400_000;

/** Fills the file system holding `dir` with one file until it is full (ENOSPC); returns the file. */
function fill(dir: string): string {
  const file = join(dir, 'filler');
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0x42);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  // the last partial pages too
  const small = openSync(file, 'a');
  try {
    for (;;) writeSync(small, Buffer.alloc(512, 0x42));
  } catch {
    // full
  } finally {
    closeSync(small);
  }
  return file;
}

/**
 * A 6 MiB tmpfs for one describe block's store, mounted now and unmounted (after the rig stops) in afterAll.
 *
 * @param prefix temp folder prefix
 * @returns the rig's folder, the mount point, and where the test puts its rig so afterAll stops it
 */
function tmpfsStore(prefix: string): { dir: string; mountDir: string; holder: { rig?: ChargeRig } } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const mountDir = join(dir, 'tmpfs');
  const holder: { rig?: ChargeRig } = {};
  mkdirSync(mountDir);
  mount(['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mountDir]);
  afterAll(async () => {
    await holder.rig?.stop();
    unmount(mountDir);
  });
  return { dir, mountDir, holder };
}

describe('the wall store fills up mid-session', () => {
  const connectionFile = inject('regtestConnectionPath');
  const { dir, mountDir, holder } = tmpfsStore('e2e-store-full-');

  it('cuts power, exits non-zero, refuses to start until space returns, then resumes with books equal to the node', async () => {
    const wallDb = join(mountDir, 'wall.sqlite');
    const rig = await ChargeRig.create({
      dir,
      connectionFile,
      link: 'can',
      speed: SPEED,
      wall: { store: { path: wallDb }, session: { heartbeatTimeoutMs: HEARTBEAT_MS } },
      vehicle: {
        session: { heartbeatTimeoutMs: HEARTBEAT_MS, receiptTimeoutMs: 100_000 },
        limits: { targetEnergyWh: TARGET_WH },
      },
    });
    holder.rig = rig;
    await rig.startDaemons();
    rig.world.plug();
    await rig.until('wall metered 100 Wh', async () => (await rig.wall.status()).energyWh >= 100);
    expect(rig.world.truth().relayClosed).toBe(true);

    const filledAt = Date.now();
    const filler = fill(mountDir);
    const code = await rig.wall.exited(HEARTBEAT_MS / SPEED);
    const exitedAfterMs = Date.now() - filledAt;
    expect(code).toBe(1);
    // the power was cut before the car's heartbeat would have noticed anything
    expect(rig.world.truth().relayClosed).toBe(false);
    expect(rig.world.truth().currentA).toBeLessThan(0.5);
    expect(exitedAfterMs).toBeLessThan(HEARTBEAT_MS / SPEED);
    const log = (): string => readFileSync(join(dir, 'wall.log'), 'utf8');
    expect(log()).toMatch(/failed safe \(power cut, daemon stopped\): .*(SQLITE_FULL|disk is full|ENOSPC)/);

    // a charger left energised (as after a crash of an older build) and a restart while the disk is still
    // full: the start pauses the charger before its first write, refuses with one clear line and exit code 3
    await rig.world.evse.enable();
    await rig.until('relay closed again', () => rig.world.truth().relayClosed, 10_000);
    await expect(rig.wall.start()).rejects.toThrow(/exited \(3\) before ready/);
    expect(log()).toMatch(/wall\.sqlite: the disk holding the store is full/);
    expect(rig.world.truth().relayClosed).toBe(false);
    await expect(rig.wall.start()).rejects.toThrow(/exited \(3\) before ready/);

    rmSync(filler);
    await rig.wall.start();
    await rig.until(
      'both sides ended',
      async () => {
        const [w, v] = await Promise.all([rig.wall.status(), rig.vehicle.status()]);
        return w.state === 'ended' && v.state === 'ended';
      },
      240_000,
    );
    await rig.stop();
    const books = await readBooks({ ...rig.files, wallDb }, connectionFile);
    expect(books.problems).toEqual([]);
    expect(books.sessions.length).toBeGreaterThanOrEqual(1);
    for (const b of books.sessions) {
      expect(b.vehiclePaidMsat).toBe(b.wallSettledMsat);
      expect(b.wallStopReason).not.toBeNull();
      expect(b.vehicleStopReason).not.toBeNull();
    }
    // the resumed session was charged past the point where the disk filled
    expect(books.sessions[0]!.wallEnergyWh).toBeGreaterThan(100);
  }, 420_000);
});

describe('the vehicle store fills up mid-session', () => {
  const connectionFile = inject('regtestConnectionPath');
  const { dir, mountDir, holder } = tmpfsStore('e2e-vehicle-store-full-');

  it('the car module stops paying and exits non-zero; once space returns the books equal the nodes', async () => {
    const vehicleDb = join(mountDir, 'vehicle.sqlite');
    const rig = await ChargeRig.create({
      dir,
      connectionFile,
      link: 'can',
      speed: SPEED,
      vehicle: { store: { path: vehicleDb }, limits: { targetEnergyWh: TARGET_WH } },
    });
    holder.rig = rig;
    await rig.startDaemons();
    rig.world.plug();
    await rig.until('wall metered 100 Wh', async () => (await rig.wall.status()).energyWh >= 100);
    const filler = fill(mountDir);
    expect(await rig.vehicle.exited(60_000)).toBe(1);
    const log = readFileSync(join(dir, 'vehicle.log'), 'utf8');
    expect(log).toMatch(/boltcharge vehicle: failed safe .*(SQLITE_FULL|disk is full|ENOSPC)/);
    // the wall sees no more payments nor messages: it cuts the power and ends the session
    await rig.until(
      'wall ended the session',
      async () => (await rig.wall.status()).state === 'ended',
      120_000,
    );
    expect(rig.world.truth().relayClosed).toBe(false);
    await expect(rig.vehicle.start()).rejects.toThrow(/exited \(3\) before ready/);
    rmSync(filler);
    await rig.vehicle.start();
    await rig.until('vehicle ended', async () => (await rig.vehicle.status()).state === 'ended', 120_000);
    await rig.stop();
    const books = await readBooks({ ...rig.files, vehicleDb }, connectionFile);
    expect(books.problems).toEqual([]);
    for (const b of books.sessions) expect(b.vehiclePaidMsat).toBe(b.wallSettledMsat);
  }, 420_000);
});
