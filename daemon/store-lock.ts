/**
 * One daemon per store: a lock file `<store>.lock` holding the owner's pid, taken before the daemon opens its
 * store and removed when it closes. A lock whose pid is no longer running (a killed daemon) is taken over.
 * `boltcharge store restore` refuses to replace a store whose lock is held by a running process.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';

/** Another running process holds the store. */
export class StoreLocked extends Error {
  override readonly name = 'StoreLocked';
  constructor(
    readonly file: string,
    readonly pid: number,
  ) {
    super(`store ${file} is in use by a running boltcharge daemon (pid ${pid}); stop it first`);
  }
}

/** A held store lock. */
export interface StoreLock {
  /** Removes the lock file (idempotent). */
  release(): void;
}

/** Path of the lock file of a store. */
export function lockPath(storeFile: string): string {
  return `${storeFile}.lock`;
}

/**
 * The pid holding a store's lock, when that process is still running.
 *
 * @param storeFile the store path
 * @returns the pid, or undefined when the store is free (no lock file, or a stale one)
 */
export function lockHolder(storeFile: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(lockPath(storeFile), 'utf8').trim(), 10);
  } catch {
    return undefined;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

/**
 * Takes a store's lock for this process.
 *
 * @param storeFile the store path (its directory must exist)
 * @returns the lock
 * @throws StoreLocked when another running process holds it
 * @throws the file system's error (ENOSPC, EACCES, EROFS, ENOENT) when the lock file cannot be written
 */
export function lockStore(storeFile: string): StoreLock {
  const holder = lockHolder(storeFile);
  if (holder !== undefined && holder !== process.pid) throw new StoreLocked(storeFile, holder);
  const file = lockPath(storeFile);
  writeFileSync(file, `${process.pid}\n`);
  let held = true;
  return {
    release: () => {
      if (!held) return;
      held = false;
      if (lockHolder(storeFile) === process.pid) rmSync(file, { force: true });
    },
  };
}
