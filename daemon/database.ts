/**
 * Opening a daemon's SQLite database: WAL journal, synchronous FULL (a committed row survives a crash or power
 * loss), foreign keys on, and versioned migrations applied in order inside transactions. Both daemons open their
 * store through here; each passes its own migration list.
 */
import { mkdirSync } from 'node:fs';
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

/**
 * Opens (creating if needed) a SQLite database and brings its schema up to date.
 *
 * @param file database path (parent directories are created); ':memory:' for a throwaway database
 * @param migrations the schema steps, in version order
 * @returns the open connection
 * @throws StoreTooNew when the file's schema is newer than `migrations`
 */
export function openDatabase(file: string, migrations: readonly Migration[]): Db {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1)
      throw new MigrationListInvalid(`migration #${i} has version ${m.version}, want ${i + 1}`);
  });
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
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
