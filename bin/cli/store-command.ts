/**
 * `boltcharge store check|backup|restore` for operators:
 *   store check   (--config F | --db F) [--json]          quick_check, schema version, row counts; exit 3 if unsound
 *   store backup  (--config F | --db F) --to FILE [--force]   SQLite online backup (safe while the daemon runs)
 *   store restore (--config F | --db F) --from FILE [--force] refused while a daemon runs on the store; a
 *                                                          non-empty store is replaced only with --force and is
 *                                                          kept beside it as `<store>.before-restore-<time>`
 */
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { BOLTCHARGE_APPLICATION_ID, quickCheck, StoreUnusable } from '../../daemon/database.js';
import { toJson } from '../../daemon/session-store.js';
import { lockHolder, StoreLocked } from '../../daemon/store-lock.js';
import { loadVehicleConfig } from '../../vehicle-module/config.js';
import { loadWallConfig } from '../../wall-module/config.js';
import { ExitCode } from './exit-codes.js';
import { roleOfConfig, StoreNotFound } from './open-store.js';

/** Options of the store commands. */
export interface StoreCommandOptions {
  config?: string;
  db?: string;
  to?: string;
  from?: string;
  force?: boolean;
  json?: boolean;
}

/** What `store check` reports. */
export interface StoreReport {
  file: string;
  sizeBytes: number;
  role: 'wall' | 'vehicle' | 'unknown';
  ok: boolean;
  /** `quick_check` problems, or why the file could not be read */
  problems: string[];
  schemaVersion: number | null;
  counts: Record<string, number>;
}

/** A usage error of the store commands (exit 2). */
export class StoreCommandUsage extends Error {
  override readonly name = 'StoreCommandUsage';
}

/**
 * Runs one store subcommand.
 *
 * @param sub `check`, `backup` or `restore`
 * @param opts parsed options
 * @param out where results go
 * @returns the exit code
 * @throws StoreCommandUsage, StoreNotFound, StoreLocked, StoreUnusable, ConfigInvalid (mapped by `main`)
 */
export async function storeCommand(
  sub: string | undefined,
  opts: StoreCommandOptions,
  out: (text: string) => void,
): Promise<number> {
  const target = storePath(opts);
  switch (sub) {
    case 'check': {
      if (!existsSync(target.file)) throw new StoreNotFound(`${target.file}: no such store`);
      const report = inspectStore(target.file);
      out(opts.json ? toJson(report) + '\n' : reportText(report));
      return report.ok ? ExitCode.OK : ExitCode.STORE;
    }
    case 'backup': {
      if (!opts.to) throw new StoreCommandUsage('store backup: give --to <file>');
      if (!existsSync(target.file)) throw new StoreNotFound(`${target.file}: no such store`);
      if (existsSync(opts.to) && statSync(opts.to).size > 0 && !opts.force)
        throw new StoreCommandUsage(`store backup: ${opts.to} exists; give --force to overwrite it`);
      const before = inspectStore(target.file);
      if (!before.ok) throw new StoreUnusable(target.file, 'damaged', before.problems.join('; '));
      const src = new Database(target.file, { readonly: true, fileMustExist: true });
      try {
        await src.backup(opts.to);
      } finally {
        src.close();
      }
      const copy = inspectStore(opts.to);
      out(opts.json ? toJson({ backup: copy }) + '\n' : `backup written to ${opts.to}\n${reportText(copy)}`);
      return copy.ok ? ExitCode.OK : ExitCode.STORE;
    }
    case 'restore': {
      if (!opts.from) throw new StoreCommandUsage('store restore: give --from <backup file>');
      const pid = lockHolder(target.file);
      if (pid !== undefined) throw new StoreLocked(target.file, pid);
      if (!existsSync(opts.from)) throw new StoreNotFound(`${opts.from}: no such backup`);
      const source = inspectStore(opts.from);
      if (!source.ok) throw new StoreUnusable(opts.from, 'damaged', source.problems.join('; '));
      if (target.role !== 'unknown' && source.role !== target.role)
        throw new StoreUnusable(
          opts.from,
          'foreign',
          `a ${source.role} store, the config is a ${target.role}'s`,
        );
      let keptAs: string | null = null;
      if (existsSync(target.file)) {
        if (statSync(target.file).size > 0 && !opts.force)
          throw new StoreCommandUsage(
            `store restore: ${target.file} is not empty; give --force to replace it (it is kept beside it)`,
          );
        // never deleted: the replaced file moves aside with its write-ahead log and index
        keptAs = `${target.file}.before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`;
        for (const suffix of ['', '-wal', '-shm'])
          if (existsSync(target.file + suffix)) renameSync(target.file + suffix, keptAs + suffix);
      }
      mkdirSync(dirname(target.file), { recursive: true });
      const src = new Database(opts.from, { readonly: true, fileMustExist: true });
      try {
        await src.backup(target.file);
      } finally {
        src.close();
      }
      const restored = inspectStore(target.file);
      out(
        opts.json
          ? toJson({ restored, keptAs }) + '\n'
          : `restored ${opts.from} into ${target.file}${keptAs ? ` (previous store kept as ${keptAs})` : ''}\n${reportText(restored)}`,
      );
      return restored.ok ? ExitCode.OK : ExitCode.STORE;
    }
    default:
      throw new StoreCommandUsage(`store: give check, backup or restore (got ${sub ?? 'nothing'})`);
  }
}

/** The store file and role named by the options. */
function storePath(opts: StoreCommandOptions): { file: string; role: 'wall' | 'vehicle' | 'unknown' } {
  if (opts.config) {
    const role = roleOfConfig(opts.config);
    const file =
      role === 'wall' ? loadWallConfig(opts.config).store.path : loadVehicleConfig(opts.config).store.path;
    return { file, role };
  }
  if (opts.db) return { file: opts.db, role: 'unknown' };
  throw new StoreNotFound('give --config <daemon.yaml> or --db <store.sqlite>');
}

/**
 * Reads a store without changing it: integrity (`quick_check`), role, schema version and row counts.
 *
 * @param file the SQLite file
 * @returns the report (`ok` false for an empty, damaged or foreign file)
 */
export function inspectStore(file: string): StoreReport {
  const sizeBytes = statSync(file).size;
  const report: StoreReport = {
    file,
    sizeBytes,
    role: 'unknown',
    ok: false,
    problems: [],
    schemaVersion: null,
    counts: {},
  };
  if (sizeBytes === 0) {
    report.problems.push('the file is empty (0 bytes)');
    return report;
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    report.problems.push(...quickCheck(db));
    const appId = db.pragma('application_id', { simple: true }) as number;
    if (appId !== 0 && appId !== BOLTCHARGE_APPLICATION_ID)
      report.problems.push(`not a boltcharge store (application_id 0x${appId.toString(16)})`);
    const tables = new Set(
      (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map(
        (t) => t.name,
      ),
    );
    report.role = tables.has('invoices') ? 'wall' : tables.has('payments') ? 'vehicle' : 'unknown';
    if (!tables.has('schema_migrations') || report.role === 'unknown')
      report.problems.push('not a boltcharge wall or vehicle store');
    else
      report.schemaVersion =
        (db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
    for (const t of ['sessions', 'invoices', 'payments', 'receipts', 'events'])
      if (tables.has(t))
        report.counts[t] = (db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n;
  } catch (err) {
    report.problems.push(
      `${(err as { code?: string }).code ?? (err as Error).name}: ${(err as Error).message}`,
    );
  } finally {
    db?.close();
  }
  report.ok = report.problems.length === 0;
  return report;
}

function reportText(r: StoreReport): string {
  const counts = Object.entries(r.counts)
    .map(([t, n]) => `${t} ${n}`)
    .join(', ');
  return (
    `store ${r.file} (${r.role}, ${r.sizeBytes} bytes, schema ${r.schemaVersion ?? '?'})\n` +
    `quick_check: ${r.ok ? 'ok' : r.problems.join('; ')}\n` +
    (counts ? `rows: ${counts}\n` : '')
  );
}
