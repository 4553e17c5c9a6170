/**
 * Opening a daemon's SQLite database: WAL journal, synchronous FULL (a committed row survives a crash or power
 * loss), foreign keys on, and versioned migrations applied in order inside transactions. Both daemons open their
 * store through here; each passes its own migration list.
 *
 * Integrity at open: an existing file is checked (`PRAGMA quick_check`) and must be a boltcharge store of the
 * same role (its applied migrations carry the names of this role's list; its SQLite `application_id` is ours or
 * unset). An empty (0-byte), damaged or foreign file is refused with `StoreUnusable` and left as it is: a store is
 * never recreated over its history. A new file whose creation fails is removed again (it holds nothing).
 */
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/** A SQLite connection (better-sqlite3). */
export type Db = Database.Database;

/** One schema step. Versions start at 1 and increase by one; a migration never changes once released. */
export interface Migration {
  version: number;
  name: string;
  /** Applies the step; runs inside a transaction together with its bookkeeping row. */
  up(db: Db): void;
}

/** The database was written by a newer boltcharge (its schema version is above what this build knows). */
export class StoreTooNew extends Error {
  override readonly name = 'StoreTooNew';
  constructor(
    readonly file: string,
    readonly found: number,
    readonly known: number,
  ) {
    super(`${file} has schema version ${found}, this boltcharge knows up to ${known}: upgrade boltcharge`);
  }
}

/** A migration list is malformed (versions not 1, 2, 3, …). */
export class MigrationListInvalid extends Error {
  override readonly name = 'MigrationListInvalid';
}

/** SQLite `application_id` of boltcharge stores ("bolt" in ASCII). */
export const BOLTCHARGE_APPLICATION_ID = 0x626f6c74;

/** Why a store cannot be used. */
export type StoreProblem = 'empty' | 'damaged' | 'foreign' | 'unwritable' | 'full' | 'busy';

const advice: Record<StoreProblem, string> = {
  empty:
    'the file is empty (0 bytes; truncated?); its history is gone from it. Restore a backup with `boltcharge store restore`, or move the file away to start a new store',
  damaged:
    'the file is damaged. Keep it for recovery; restore a backup with `boltcharge store restore`, or move the file away to start a new store',
  foreign:
    "the file is not a boltcharge store of this daemon (another program, or the other daemon's store). Check store.path",
  unwritable:
    'the store cannot be written (permissions, a read-only file system). Fix access to the file and its directory',
  full: 'the disk holding the store is full. Free space; the daemon starts again once it can write',
  busy: 'another process holds the store locked',
};

/** A store file or directory that cannot be used; the file, if any, is left untouched. */
export class StoreUnusable extends Error {
  override readonly name = 'StoreUnusable';
  /**
   * @param file the store path
   * @param problem what is wrong
   * @param detail what SQLite or the check said
   */
  constructor(
    readonly file: string,
    readonly problem: StoreProblem,
    readonly detail: string,
  ) {
    super(`store ${file}: ${advice[problem]} (${detail})`);
  }
}

/**
 * Maps an error from SQLite or the file system to `StoreUnusable` when it says the store cannot be used.
 *
 * @param err any thrown value
 * @param file the store path (for the message)
 * @returns a `StoreUnusable`, or undefined when the error is of another kind
 */
export function storeUnusableFrom(err: unknown, file: string): StoreUnusable | undefined {
  if (err instanceof StoreUnusable) return err;
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return undefined;
  const detail = `${code}: ${err.message}`;
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT')
    return new StoreUnusable(file, 'full', detail);
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB')
    return new StoreUnusable(file, 'damaged', detail);
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
    return new StoreUnusable(file, 'busy', detail);
  if (
    code.startsWith('SQLITE_READONLY') ||
    code.startsWith('SQLITE_CANTOPEN') ||
    code.startsWith('SQLITE_IOERR') ||
    code === 'SQLITE_PERM' ||
    code === 'EACCES' ||
    code === 'EPERM' ||
    code === 'EROFS'
  )
    return new StoreUnusable(file, 'unwritable', detail);
  return undefined;
}

/**
 * Runs SQLite's `quick_check` on an open database.
 *
 * @param db open connection
 * @returns the problems found; empty when the database is sound
 * @throws SqliteError (e.g. SQLITE_NOTADB) when the file is not a readable database at all
 */
export function quickCheck(db: Db): string[] {
  const rows = db.pragma('quick_check') as { quick_check: string }[];
  return rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
}

/**
 * Checks that an existing database belongs to the role whose migrations are given.
 *
 * @param db open connection
 * @param file path (for errors)
 * @param migrations the role's schema steps
 * @throws StoreUnusable (`foreign`) when it does not
 */
function checkOwnership(db: Db, file: string, migrations: readonly Migration[]): void {
  const appId = db.pragma('application_id', { simple: true }) as number;
  if (appId !== 0 && appId !== BOLTCHARGE_APPLICATION_ID)
    throw new StoreUnusable(file, 'foreign', `application_id 0x${appId.toString(16)}`);
  const tables = (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as {
      name: string;
    }[]
  ).map((t) => t.name);
  if (tables.length === 0) return; // a database with nothing in it yet (created, never migrated)
  if (!tables.includes('schema_migrations'))
    throw new StoreUnusable(
      file,
      'foreign',
      `tables ${tables.slice(0, 5).join(', ')} and no schema_migrations`,
    );
  const applied = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all() as {
    version: number;
    name: string;
  }[];
  for (const a of applied) {
    const m = migrations[a.version - 1];
    if (m && m.name !== a.name)
      throw new StoreUnusable(
        file,
        'foreign',
        `schema step ${a.version} is '${a.name}', expected '${m.name}'`,
      );
  }
}

/**
 * Opens (creating if needed) a SQLite database, checks it and brings its schema up to date.
 *
 * @param file database path (parent directories are created); ':memory:' for a throwaway database
 * @param migrations the schema steps, in version order
 * @returns the open connection (WAL, synchronous FULL, foreign keys on)
 * @throws StoreTooNew when the file's schema is newer than `migrations`
 * @throws StoreUnusable when the file is empty, damaged, foreign, or cannot be written (full disk, permissions)
 */
export function openDatabase(file: string, migrations: readonly Migration[]): Db {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1)
      throw new MigrationListInvalid(`migration #${i} has version ${m.version}, want ${i + 1}`);
  });
  if (file === ':memory:') return prepare(new Database(file), file, migrations);
  const existed = existsSync(file);
  // a WAL store's file holds at least its header page once created: 0 bytes means it was truncated (a
  // write-ahead log beside it would replay onto nothing)
  if (existed && statSync(file).size === 0) throw new StoreUnusable(file, 'empty', 'size 0 bytes');
  let db: Db | undefined;
  try {
    if (!existed) mkdirSync(dirname(file), { recursive: true });
    db = new Database(file);
    if (existed) {
      const problems = quickCheck(db);
      if (problems.length > 0) throw new StoreUnusable(file, 'damaged', problems.slice(0, 3).join('; '));
      checkOwnership(db, file, migrations);
    }
    return prepare(db, file, migrations);
  } catch (err) {
    db?.close();
    // a file this call created holds no history: remove it so the next start does not find an empty store
    if (!existed) for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    throw storeUnusableFrom(err, file) ?? err;
  }
}

function prepare(db: Db, file: string, migrations: readonly Migration[]): Db {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ms INTEGER NOT NULL)`);
  const current =
    (db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
  if (current > migrations.length) {
    db.close();
    throw new StoreTooNew(file, current, migrations.length);
  }
  for (const m of migrations.slice(current)) {
    db.transaction(() => {
      m.up(db);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        Date.now(),
      );
    })();
  }
  if ((db.pragma('application_id', { simple: true }) as number) !== BOLTCHARGE_APPLICATION_ID)
    db.pragma(`application_id = ${BOLTCHARGE_APPLICATION_ID}`);
  return db;
}

/**
 * Schema version of an open database (highest applied migration).
 *
 * @param db open connection
 * @returns version number, 0 for an empty database
 */
export function schemaVersion(db: Db): number {
  return (db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
}
