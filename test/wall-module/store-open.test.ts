/**
 * `boltcharge wall --config F` as a child process against stores that cannot be used and credentials that are
 * missing: each ends with one clear line (no stack trace) and a non-zero exit code, keeps the file as it was,
 * and creates no store before the Lightning credentials were checked.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync,
  openSync,
  writeSync,
  closeSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../hardware/clock.js';
import { createSimWorld } from '../../hardware/sim/sim-world.js';
import { openDatabase, StoreUnusable } from '../../daemon/database.js';
import { startSimBridge, type SimBridge } from '../../scripts/demo/sim-bridge.js';
import { VehicleStore } from '../../vehicle-module/store.js';
import { WallStore } from '../../wall-module/store.js';
import { mount, unmount } from '../support/mount.js';
import { selfSigned } from '../support/tls-cert.js';

const bin = fileURLToPath(new URL('../../bin/boltcharge.js', import.meta.url));

/** Runs the CLI without blocking this process (the simulated charger is served from here). */
function runCli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/** A wall store with some history: a few sessions, invoices and many events (several pages). */
function realWallStore(file: string): void {
  const store = WallStore.open(file, new ManualClock());
  for (let s = 0; s < 20; s++) {
    const sid = `5e55${s.toString(16).padStart(4, '0')}`;
    store.createSession(sid, 'car');
    for (let seq = 0; seq < 5; seq++) {
      store.requestInvoice({
        sessionId: sid,
        seq,
        amountMsat: 1000n,
        fromWh: seq * 10,
        toWh: seq * 10 + 10,
        priceMsatPerWh: 100n,
      });
      for (let e = 0; e < 5; e++) store.appendEvent(sid, 'filler', { text: 'x'.repeat(200) });
    }
    store.endSession(sid, 'TARGET_REACHED');
  }
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  store.close();
}

describe('store open: refusals with a clear message, file kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'store-open-'));
  const roDir = join(dir, 'ro');
  let bridge: SimBridge;
  let creds: { macaroon: string; cert: string };

  beforeAll(async () => {
    const world = createSimWorld({ clock: new ManualClock(), stepMs: 1000 });
    bridge = await startSimBridge(world);
    creds = { macaroon: join(dir, 'admin.macaroon'), cert: selfSigned(dir, 'tls').certFile };
    writeFileSync(creds.macaroon, Buffer.from('0201036c6e6402', 'hex'));
    mkdirSync(roDir);
  });
  afterAll(async () => {
    await bridge.close();
    unmount(roDir);
  });

  /** A wall config whose store is `storePath` and whose node is `lightning`. */
  function config(name: string, storePath: string, lightning?: Record<string, unknown>): string {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(
      file,
      stringify({
        tariff: { priceMsatPerWh: 100 },
        // a dead socket: the refusals below all happen before the node is called
        lightning: lightning ?? { socket: '127.0.0.1:9', macaroon: creds.macaroon, cert: creds.cert },
        link: { kind: 'ip', port: 49_999, listenAddress: '::1' },
        evse: { kind: 'sim', url: bridge.url },
        meter: { kind: 'sim', url: bridge.url, name: 'wall' },
        store: { path: storePath },
        status: { enabled: false },
      }),
    );
    return file;
  }

  /** Expects a refusal: exit code, one clear line naming the problem, no stack trace. */
  function expectRefusal(r: { status: number | null; stderr: string }, code: number, pattern: RegExp): void {
    expect(r.status, r.stderr).toBe(code);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }

  it('a 0-byte store is refused (never recreated: history would be lost) and left as it is', async () => {
    const db = join(dir, 'empty.sqlite');
    writeFileSync(db, '');
    const r = await runCli(['wall', '--config', config('empty', db)]);
    expectRefusal(r, 3, /store .*empty\.sqlite: the file is empty \(0 bytes/);
    expect(statSync(db).size).toBe(0);
    expect(existsSync(`${db}-wal`)).toBe(false);
  }, 90_000);

  it('a store with damaged pages is refused at open (quick_check) and left as it is', async () => {
    const db = join(dir, 'damaged.sqlite');
    realWallStore(db);
    const size = statSync(db).size;
    expect(size).toBeGreaterThan(16 * 4096);
    // overwrite bytes in the middle of the file (inside b-tree pages, not the header)
    const fd = openSync(db, 'r+');
    writeSync(fd, Buffer.alloc(3000, 0xa5), 0, 3000, Math.floor(size / 2 / 4096) * 4096 + 100);
    closeSync(fd);
    const before = sha(db);
    const r = await runCli(['wall', '--config', config('damaged', db)]);
    expectRefusal(r, 3, /damaged\.sqlite: the file is damaged/);
    expect(sha(db)).toBe(before);
  }, 90_000);

  it('a foreign SQLite file, and a vehicle store given to the wall, are refused and left as they are', async () => {
    const foreign = join(dir, 'foreign.sqlite');
    const f = new Database(foreign);
    f.exec(
      "CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO photos (name) VALUES ('cat')",
    );
    f.close();
    const before = sha(foreign);
    const r = await runCli(['wall', '--config', config('foreign', foreign)]);
    expectRefusal(r, 3, /foreign\.sqlite: the file is not a boltcharge store of this daemon/);
    expect(sha(foreign)).toBe(before);

    const vehicle = join(dir, 'vehicle.sqlite');
    VehicleStore.open(vehicle, new ManualClock()).close();
    const r2 = await runCli(['wall', '--config', config('vehicle-as-wall', vehicle)]);
    expectRefusal(r2, 3, /not a boltcharge store of this daemon .*schema step 2/);
  }, 90_000);

  it('an unwritable directory (read-only file system) is refused, for a new and for an existing store', async () => {
    mount(['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', roDir]);
    const existing = join(roDir, 'wall.sqlite');
    realWallStore(existing);
    const before = sha(existing);
    mount(['-o', 'remount,ro', roDir]);
    const r = await runCli(['wall', '--config', config('ro-new', join(roDir, 'new', 'wall.sqlite'))]);
    expectRefusal(r, 3, /the store cannot be written/);
    const r2 = await runCli(['wall', '--config', config('ro-existing', existing)]);
    expectRefusal(r2, 3, /ro\/wall\.sqlite: the store cannot be written/);
    expect(sha(existing)).toBe(before);
  }, 90_000);

  it('missing macaroon, certificate or connection file: exit 2 naming the file, and no store is created', async () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      [
        'no-macaroon',
        { socket: '127.0.0.1:9', macaroon: join(dir, 'missing.macaroon') },
        /macaroonPath .*missing\.macaroon: no such file/,
      ],
      [
        'no-cert',
        { socket: '127.0.0.1:9', macaroon: creds.macaroon, cert: join(dir, 'missing.cert') },
        /certPath .*missing\.cert: no such file/,
      ],
      [
        'bad-cert',
        { socket: '127.0.0.1:9', macaroon: creds.macaroon, cert: creds.macaroon },
        /certPath .*admin\.macaroon: not a PEM certificate/,
      ],
      [
        'no-connection-file',
        { connectionFile: join(dir, 'missing.json'), node: 'wall' },
        /connectionFile .*missing\.json/,
      ],
    ];
    for (const [name, lightning, pattern] of cases) {
      const storeDir = join(dir, `store-${name}`);
      const r = await runCli(['wall', '--config', config(name, join(storeDir, 'wall.sqlite'), lightning)]);
      expectRefusal(r, 2, pattern);
      expect(existsSync(storeDir), name).toBe(false);
    }
  }, 120_000);
});

describe('openDatabase', () => {
  it('opens in WAL mode with synchronous=FULL and marks the file as a boltcharge store', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'db-')), 'w.sqlite');
    const store = WallStore.open(file, new ManualClock());
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(store.db.pragma('application_id', { simple: true })).toBe(0x626f6c74);
    store.close();
  });

  it('throws StoreUnusable (empty) for a 0-byte file and does not touch it', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'db-')), 'w.sqlite');
    writeFileSync(file, '');
    expect(() => openDatabase(file, [])).toThrow(StoreUnusable);
    expect(statSync(file).size).toBe(0);
  });
});
