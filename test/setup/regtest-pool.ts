// One regtest network per vitest fork: how many forks the pool runs, and where each fork's network lives.
//
// Regtest files run in parallel forks. Files must never share a network at the same time (one file stops a node,
// drains a channel, mines blocks another waits for), so the global setup brings up one independent network per
// fork (own state folder, own free ports) and each file uses the network of the fork it runs in:
// VITEST_POOL_ID is unique among forks running at the same moment (tinypool hands out ids 1..maxForks and frees
// one only when its fork has finished its file).
// Light on imports: vitest.config.ts reads the fork count from here.
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';

/** Forks (test files running at once) on every machine, and so regtest networks. Chosen by measurement on
  2 cores: regtest files mostly wait (block intervals, timeouts, daemons starting), so 3 forks keep the CPU
  busy without starving the timing of a file (see .ci/README.md). Override with BOLTCHARGE_TEST_FORKS. */
export const DEFAULT_TEST_FORKS = 3;

/** The fork count from BOLTCHARGE_TEST_FORKS (an integer 1..8), else DEFAULT_TEST_FORKS.

  @returns <Fork Count Number>
  @throws RangeError when BOLTCHARGE_TEST_FORKS is set but not an integer 1..8
*/
export function testForks(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.BOLTCHARGE_TEST_FORKS;
  if (raw === undefined || raw === '') return DEFAULT_TEST_FORKS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 8) {
    throw new RangeError(`BOLTCHARGE_TEST_FORKS must be an integer 1..8, got '${raw}'`);
  }
  return n;
}

/** The state folder of network `index` (1-based): network 1 is the usual folder (`networkDir()`, so
  `npm run regtest -- status` and a network brought up beforehand still serve); network i > 1 is
  `<parent>/fork-<i>/<name>` — never a path containing another network's folder, because the daemon manager
  recognises its processes by their command line naming the folder.

  {
    index: <Network Number, 1-based>
    base: <Folder Of Network 1 String> (`networkDir()`: BOLTCHARGE_REGTEST_DIR or .regtest/network)
  }

  @returns <Absolute Folder Path String>
*/
export function poolNetworkDir(index: number, base: string): string {
  if (!Number.isInteger(index) || index < 1) throw new RangeError(`network index must be >= 1, got ${index}`);
  return index === 1 ? base : join(dirname(base), `fork-${index}`, basename(base));
}

/** The number of forks vitest's `forks` pool runs at once for `config`, resolved as the pool resolves it
  (poolOptions.forks.maxForks, else maxWorkers, else cores - 1; 1 with singleFork or without file parallelism).

  @returns <Fork Count Number>
*/
export function resolvedForkCount(config: {
  fileParallelism?: boolean;
  maxWorkers?: number | string;
  poolOptions?: { forks?: { maxForks?: number | string; singleFork?: boolean } };
}): number {
  const forks = config.poolOptions?.forks ?? {};
  if (forks.singleFork || config.fileParallelism === false) return 1;
  const n = Number(forks.maxForks ?? config.maxWorkers ?? Math.max(availableParallelism() - 1, 1));
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`regtest: the forks pool size must be a whole number of forks, got ${n}`);
  }
  return n;
}

/** Runs `fn` with BOLTCHARGE_REGTEST_DIR set to `dir` (the network manager reads it on every call), then restores
  it. Calls must not overlap: run them one after another.

  @returns <What fn Returns>
*/
export async function inNetworkDir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.BOLTCHARGE_REGTEST_DIR;
  process.env.BOLTCHARGE_REGTEST_DIR = dir;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.BOLTCHARGE_REGTEST_DIR;
    else process.env.BOLTCHARGE_REGTEST_DIR = saved;
  }
}
