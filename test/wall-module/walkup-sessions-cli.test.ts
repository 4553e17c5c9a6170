// The host sees a walk-up (phone) session like any other: `boltcharge sessions` lists it beside the cable
// sessions (marked walk-up, with its energy, what the driver paid and the end reason) and `boltcharge receipt`
// prints its stored receipt — from the wall's store alone, with the daemon stopped.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../hardware/clock.js';
import { WallStore } from '../../wall-module/store.js';
import { WalkupStore } from '../../wall-module/walkup/store.js';
import { Run } from '../payments/walkup-harness.js';

const bin = fileURLToPath(new URL('../../bin/boltcharge.js', import.meta.url));
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000 });

describe('walk-up sessions in the host CLI', () => {
  it('lists the walk-up session with the cable sessions and prints its receipt', () => {
    const dir = mkdtempSync(join(tmpdir(), 'walkup-cli-'));
    const wallDb = join(dir, 'wall.sqlite');
    const clock = new ManualClock(Date.UTC(2026, 11, 2, 9, 0, 0));
    const w = WallStore.open(wallDb, clock);
    w.createSession('cab1e5e551', 'car');
    w.endSession('cab1e5e551', 'unplugged');
    w.close();

    // a walk-up session run to its end by the machine (deposit held, 1234 Wh, final paid)
    const run = new Run();
    run.requestDeposit(300_000n);
    run.drive(0);
    run.deliver();
    run.payDeposit();
    run.advance(60_000);
    run.drive(1234);
    run.step({ type: 'unplug', atMs: run.now });
    run.drive(0);
    run.deliver();
    run.payFinal();
    run.deliver();
    expect(run.phase()).toBe('ended');
    const sessionId = run.state.phase === 'ended' ? run.state.session!.sessionId : '';
    const db = new Database(wallDb);
    new WalkupStore(db).commitStep(sessionId, 1, run.state, run.records, run.now, '{"energyWh":1234}');
    db.close();

    const text = cli('sessions', '--db', wallDb);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(
      new RegExp(`${sessionId}\\s+ended .* 1234\\s+123400\\s+FINAL_PAID\\s+\\(walk-up\\)`),
    );
    expect(text.stdout).toContain('cab1e5e551');
    const json = JSON.parse(cli('sessions', '--db', wallDb, '--json').stdout) as Record<string, unknown>[];
    expect(json).toContainEqual(
      expect.objectContaining({ id: sessionId, kind: 'walkup', energyWh: 1234, paidMsat: '123400' }),
    );
    expect(json).toContainEqual(expect.objectContaining({ id: 'cab1e5e551', kind: 'cable' }));

    const receipt = cli('receipt', sessionId, '--db', wallDb, '--json');
    expect(receipt.status).toBe(0);
    expect(JSON.parse(receipt.stdout)).toMatchObject({
      kind: 'walkup',
      sessionId,
      receipt: { energyWh: 1234 },
    });
  });
});
