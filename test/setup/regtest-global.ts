// Vitest global setup of the `regtest` project. Regtest files run in parallel forks, each against its own real
// regtest Lightning network (btcd + lnd nodes; see test/setup/regtest-pool.ts): this setup brings network 1 up
// (the usual `.regtest/network`, or BOLTCHARGE_REGTEST_DIR) and tells the forks where the networks live; the
// first file a fork runs brings its own network up (test/setup/regtest-fork.ts), so a run of one file starts
// one network only. A file reads its network with `inject('regtestConnectionPath')` (its fork's connection file)
// or through BOLTCHARGE_REGTEST_DIR / BOLTCHARGE_REGTEST_CONNECTION, which the fork sets for child processes too.
//
// Lifetime: networks this run started are stopped at the end, so `npm test` leaves no process behind; a network
// that was already up (e.g. `npm run regtest -- up` beforehand) is left running. Set BOLTCHARGE_KEEP_REGTEST=1 to
// keep the networks this run started (network i > 1 lives in `.regtest/fork-<i>/network`).
//
// Without the toolchain this fails (never skips) with a message naming what is missing and how to build it.
import type { TestProject } from 'vitest/node';
import { checkTools, down, networkDir, up } from '../../scripts/regtest/network.js';
import { runningPid } from '../../scripts/regtest/processes.js';
import { inNetworkDir, poolNetworkDir, resolvedForkCount } from './regtest-pool.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** absolute path of the connection file of the network of the fork running the file (set per fork by
      test/setup/regtest-fork.ts; network 1's in the global setup) */
    regtestConnectionPath: string;
    /** the state folders of the networks, one per fork: fork with VITEST_POOL_ID i uses entry i - 1 */
    regtestNetworkDirs: string[];
  }
}

const log = (line: string): void => {
  process.stderr.write(`regtest: ${line}\n`);
};

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  checkTools();
  const forks = resolvedForkCount(project.vitest.config);
  const dirs = Array.from({ length: forks }, (_, i) => poolNetworkDir(i + 1, networkDir()));
  // networks of other forks already running now are someone else's: leave them running at the end
  const runningBefore = new Set(dirs.filter((dir) => runningPid(dir, 'btcd') !== undefined));
  const first = await up({ log });
  log(
    `network 1 of ${forks} ${first.alreadyUp ? 'already up' : 'started'} in ${(first.elapsedMs / 1000).toFixed(1)} s`,
  );
  if (first.alreadyUp) runningBefore.add(dirs[0]!);
  else runningBefore.delete(dirs[0]!);
  project.provide('regtestConnectionPath', first.connectionPath);
  project.provide('regtestNetworkDirs', dirs);
  process.env.BOLTCHARGE_REGTEST_CONNECTION = first.connectionPath;
  return async () => {
    if (process.env.BOLTCHARGE_KEEP_REGTEST === '1') return;
    for (const dir of dirs) {
      if (!runningBefore.has(dir)) await inNetworkDir(dir, () => down({ log }));
    }
  };
}
