// Setup file of the `regtest` project, run in the fork before each test file: points the file at the regtest
// network of its fork (see test/setup/regtest-pool.ts) and brings that network up when it is not (the first
// file of a fork > 1 starts it; later files only confirm it is healthy, rebuilding it when a file left it
// drained or broken).
//
// Afterwards, in this fork:
// - `inject('regtestConnectionPath')` is this network's connection file;
// - BOLTCHARGE_REGTEST_DIR names its state folder, so the network manager's calls (`readConnection()`,
//   `up({walkup: true})`, `startExtraNode`, `mine`, `networkDir()`) act on it;
// - BOLTCHARGE_REGTEST_CONNECTION is its connection file, for child processes.
import { inject } from 'vitest';
import { up } from '../../scripts/regtest/network.js';

/** vitest's per-worker state, which holds what `inject()` returns (vitest 3 keeps it on this global). */
interface WorkerState {
  providedContext?: Record<string, unknown>;
}

const dirs = inject('regtestNetworkDirs');
const poolId = Number(process.env.VITEST_POOL_ID);
if (!Array.isArray(dirs) || dirs.length === 0) {
  throw new Error('regtest: no network folders provided; is test/setup/regtest-global.ts the global setup?');
}
if (!Number.isInteger(poolId) || poolId < 1 || poolId > dirs.length) {
  throw new Error(
    `regtest: fork VITEST_POOL_ID=${process.env.VITEST_POOL_ID} has no network (${dirs.length} networks ` +
      `for ${dirs.length} forks); the forks pool size and the global setup disagree`,
  );
}
process.env.BOLTCHARGE_REGTEST_DIR = dirs[poolId - 1];
const result = await up({
  log: (line) => process.stderr.write(`regtest[fork ${poolId}]: ${line}\n`),
});
if (!result.alreadyUp) {
  process.stderr.write(
    `regtest[fork ${poolId}]: network started in ${(result.elapsedMs / 1000).toFixed(1)} s\n`,
  );
}
process.env.BOLTCHARGE_REGTEST_CONNECTION = result.connectionPath;
const state = (globalThis as { __vitest_worker__?: WorkerState }).__vitest_worker__;
if (!state?.providedContext) {
  throw new Error(
    'regtest: cannot set this fork’s connection file for inject(): vitest’s worker state is not where ' +
      'vitest 3 keeps it (globalThis.__vitest_worker__.providedContext); update test/setup/regtest-fork.ts',
  );
}
state.providedContext.regtestConnectionPath = result.connectionPath;
