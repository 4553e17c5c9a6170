/**
 * Opening a daemon's store from the CLI: by `--config` (the daemon's YAML; its `store.path`) or `--db` (the
 * SQLite file). The role (wall or vehicle) is taken from the configuration or the database's tables.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StoreUnusable, storeUnusableFrom } from '../../daemon/database.js';
import type { SessionStore } from '../../daemon/session-store.js';
import { lockStore } from '../../daemon/store-lock.js';
import { parse } from 'yaml';
import { SystemClock } from '../../hardware/clock.js';
import { loadVehicleConfig } from '../../vehicle-module/config.js';
import { VehicleStore } from '../../vehicle-module/store.js';
import { loadWallConfig } from '../../wall-module/config.js';
import { WallStore } from '../../wall-module/store.js';

/** A store opened for the CLI. */
export type OpenedStore = { role: 'wall'; store: WallStore } | { role: 'vehicle'; store: VehicleStore };

/** The CLI was given neither `--config` nor `--db`, or the database is not a boltcharge store. */
export class StoreNotFound extends Error {
  override readonly name = 'StoreNotFound';
}

/**
 * Opens a daemon's store for running: creates its directory, takes the store lock (one daemon per store), then
 * opens the database (integrity and ownership checked by `openDatabase`).
 *
 * @param file the store path
 * @param onClose registers how to close what was opened (the store, then the lock), for the caller's cleanup
 * @param open opens the store itself
 * @returns the open store
 * @throws StoreUnusable (directory or lock file not writable, disk full, empty/damaged/foreign file),
 *   StoreLocked (another daemon runs on it), StoreTooNew
 */
export function openDaemonStore<T extends SessionStore>(
  file: string,
  onClose: (close: () => void) => void,
  open: () => T,
): T {
  try {
    mkdirSync(dirname(file), { recursive: true });
  } catch (err) {
    // a recursive mkdir on a read-only file system may report ENOENT: any failure means it cannot be written
    throw new StoreUnusable(file, 'unwritable', `creating ${dirname(file)}: ${(err as Error).message}`);
  }
  let lock;
  try {
    lock = lockStore(file);
  } catch (err) {
    throw storeUnusableFrom(err, file) ?? err;
  }
  onClose(() => lock.release());
  const store = open();
  onClose(() => store.close());
  return store;
}

/**
 * Which daemon a config file belongs to: wall configs have `tariff`, vehicle configs `limits`.
 *
 * @param file YAML path
 */
export function roleOfConfig(file: string): 'wall' | 'vehicle' {
  const doc = parse(readFileSync(file, 'utf8')) as Record<string, unknown> | null;
  if (doc && 'tariff' in doc) return 'wall';
  if (doc && 'limits' in doc) return 'vehicle';
  throw new StoreNotFound(`${file}: neither a wall config (tariff:) nor a vehicle config (limits:)`);
}

/**
 * Opens the store named by the options.
 *
 * @param opts `config` (YAML path) or `db` (SQLite path)
 */
export function openStoreFor(opts: { config?: string; db?: string }): OpenedStore {
  const clock = new SystemClock();
  if (opts.config) {
    if (roleOfConfig(opts.config) === 'wall') {
      return { role: 'wall', store: WallStore.open(loadWallConfig(opts.config).store.path, clock) };
    }
    return { role: 'vehicle', store: VehicleStore.open(loadVehicleConfig(opts.config).store.path, clock) };
  }
  if (!opts.db) throw new StoreNotFound('give --config <daemon.yaml> or --db <store.sqlite>');
  if (!existsSync(opts.db)) throw new StoreNotFound(`${opts.db}: no such database`);
  const probe = new Database(opts.db, { readonly: true });
  const tables = (
    probe.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
  ).map((t) => t.name);
  probe.close();
  if (tables.includes('invoices')) return { role: 'wall', store: WallStore.open(opts.db, clock) };
  if (tables.includes('payments')) return { role: 'vehicle', store: VehicleStore.open(opts.db, clock) };
  throw new StoreNotFound(`${opts.db}: not a boltcharge wall or vehicle database`);
}
