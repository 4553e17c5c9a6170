/** `boltcharge store check|backup|restore` run as child processes on real store files. */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../hardware/clock.js';
import { lockPath } from '../../daemon/store-lock.js';
import { WALL_MIGRATIONS, WallStore } from '../../wall-module/store.js';

const bin = fileURLToPath(new URL('../../bin/boltcharge.js', import.meta.url));
const run = (...args: string[]) =>
  spawnSync(process.execPath, [bin, 'store', ...args], { encoding: 'utf8', timeout: 60_000 });

/** A wall store with `sessions` ended sessions of two settled invoices each; left open when `keepOpen`. */
function wallStore(file: string, sessions: number): WallStore {
  const store = WallStore.open(file, new ManualClock());
  for (let s = 0; s < sessions; s++) {
    const sid = `5e55${String(s).padStart(4, '0')}`;
    store.createSession(sid, 'car');
    for (let seq = 0; seq < 2; seq++) {
      const hash = `${String(s).padStart(4, '0')}${seq}`.padEnd(64, 'a');
      store.requestInvoice({
        sessionId: sid,
        seq,
        amountMsat: 5000n,
        fromWh: seq * 50,
        toWh: seq * 50 + 50,
        priceMsatPerWh: 100n,
      });
      store.markIssued(sid, seq, hash, 'lnbcrt1', 0);
      store.markSettled(hash, 5000n);
    }
    store.endSession(sid, 'TARGET_REACHED');
  }
  return store;
}

function wallConfig(dir: string, storePath: string): string {
  const file = join(dir, 'wall.yaml');
  writeFileSync(
    file,
    stringify({
      tariff: { priceMsatPerWh: 100 },
      lightning: { connectionFile: join(dir, 'connection.json'), node: 'wall' },
      link: { kind: 'ip', port: 49_999, listenAddress: '::1' },
      evse: { kind: 'sim', url: 'ws://127.0.0.1:1' },
      meter: { kind: 'sim', url: 'ws://127.0.0.1:1', name: 'wall' },
      store: { path: storePath },
    }),
  );
  return file;
}

describe('boltcharge store', () => {
  it('check prints quick_check and row counts; a damaged store exits 3', () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-cmd-'));
    const db = join(dir, 'wall.sqlite');
    wallStore(db, 3).close();
    const r = run('check', '--config', wallConfig(dir, db));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`bytes, schema ${WALL_MIGRATIONS.length})`);
    expect(r.stdout).toMatch(/quick_check: ok/);
    expect(r.stdout).toMatch(/sessions 3, invoices 6, receipts 0, events \d+/);
    const json = JSON.parse(run('check', '--db', db, '--json').stdout) as {
      ok: boolean;
      counts: Record<string, number>;
    };
    expect(json).toMatchObject({ ok: true, counts: { sessions: 3, invoices: 6 } });

    const big = join(dir, 'big.sqlite');
    const s = wallStore(big, 60);
    s.db.pragma('wal_checkpoint(TRUNCATE)');
    s.close();
    const size = statSync(big).size;
    const fd = openSync(big, 'r+');
    // garbage in every page but the header page: whichever tables the schema has, their pages are damaged
    for (let page = 4096; page + 4096 <= size; page += 4096)
      writeSync(fd, Buffer.alloc(2000, 0x5a), 0, 2000, page + 64);
    closeSync(fd);
    const bad = run('check', '--db', big);
    expect(bad.status).toBe(3);
    expect(bad.stdout).toMatch(/quick_check: (?!ok)/);
    writeFileSync(join(dir, 'empty.sqlite'), '');
    const empty = run('check', '--db', join(dir, 'empty.sqlite'));
    expect(empty.status).toBe(3);
    expect(empty.stdout).toMatch(/empty \(0 bytes\)/);
  }, 120_000);

  it('backup copies a store that is open for writing (online backup API); it refuses to overwrite without --force', () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-cmd-'));
    const db = join(dir, 'wall.sqlite');
    const live = wallStore(db, 4); // still open, with rows in its write-ahead log
    const to = join(dir, 'backup.sqlite');
    const r = run('backup', '--db', db, '--to', to);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/backup written to .*backup\.sqlite/);
    expect(r.stdout).toMatch(/sessions 4, invoices 8/);
    const again = run('backup', '--db', db, '--to', to);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/exists; give --force/);
    live.close();
    const copy = WallStore.open(to, new ManualClock());
    expect(copy.listSessions()).toHaveLength(4);
    expect(copy.settledMsat('5e550003')).toBe(10_000n);
    copy.close();
  }, 120_000);

  it('restore refuses over a running daemon and over a non-empty store without --force; with --force it keeps the old file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-cmd-'));
    const db = join(dir, 'wall.sqlite');
    const backup = join(dir, 'backup.sqlite');
    wallStore(backup, 2).close();
    wallStore(db, 5).close();
    const config = wallConfig(dir, db);

    // a running daemon holds the store's lock (this test process stands in for it)
    writeFileSync(lockPath(db), `${process.pid}\n`);
    const locked = run('restore', '--config', config, '--from', backup, '--force');
    expect(locked.status).toBe(3);
    expect(locked.stderr).toMatch(/in use by a running boltcharge daemon \(pid \d+\); stop it first/);
    // a stale lock (no such process) does not block
    writeFileSync(lockPath(db), '999999999\n');

    const refused = run('restore', '--config', config, '--from', backup);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/is not empty; give --force/);

    const forced = run('restore', '--config', config, '--from', backup, '--force');
    expect(forced.status, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/previous store kept as .*before-restore/);
    const restored = WallStore.open(db, new ManualClock());
    expect(restored.listSessions()).toHaveLength(2);
    restored.close();
    const kept = readdirSync(dir).find(
      (f) => f.startsWith('wall.sqlite.before-restore-') && !f.endsWith('-wal') && !f.endsWith('-shm'),
    );
    expect(kept).toBeDefined();
    const old = WallStore.open(join(dir, kept!), new ManualClock());
    expect(old.listSessions()).toHaveLength(5);
    old.close();

    // into an empty place
    const fresh = join(dir, 'fresh', 'wall.sqlite');
    const r = run('restore', '--db', fresh, '--from', backup);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(fresh)).toBe(true);
  }, 120_000);
});
