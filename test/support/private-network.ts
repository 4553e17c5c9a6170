// For regtest tests of the network manager itself: a private state folder (BOLTCHARGE_REGTEST_DIR) for the file,
// so the shared network is never touched; everything it started is stopped and the folder removed afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { down } from '../../scripts/regtest/network.js';

/** Registers beforeAll/afterAll hooks that point the network manager at a fresh private folder and, at the end,
  stop its processes and delete it.

  {
    prefix: <Temporary Folder Name Prefix String>
  }

  @returns <() => Private State Folder Path String> (valid once beforeAll ran)
*/
export function usePrivateNetworkDir(prefix: string): () => string {
  const savedDir = process.env.BOLTCHARGE_REGTEST_DIR;
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
    process.env.BOLTCHARGE_REGTEST_DIR = dir;
  });
  afterAll(async () => {
    try {
      await down({ log: () => {} });
    } finally {
      if (savedDir === undefined) delete process.env.BOLTCHARGE_REGTEST_DIR;
      else process.env.BOLTCHARGE_REGTEST_DIR = savedDir;
      rmSync(dir, { recursive: true, force: true });
    }
  });
  return () => dir;
}
