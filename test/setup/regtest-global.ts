// Vitest global setup of the `regtest` project: brings the real regtest Lightning network up once for every
// `*.regtest.test.ts` file and hands them the connection file path (`inject('regtestConnectionPath')`, and the
// env var BOLTCHARGE_REGTEST_CONNECTION for child processes).
//
// Lifetime: a network this setup started is stopped at the end, so `npm test` leaves no process behind; a
// network that was already up (e.g. `npm run regtest -- up` beforehand) is left running. Set
// BOLTCHARGE_KEEP_REGTEST=1 to keep a network this setup started.
//
// Without the toolchain this fails (never skips) with a message naming what is missing and how to build it.
import type { TestProject } from 'vitest/node';
import { checkTools, down, up } from '../../scripts/regtest/network.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** absolute path of `.regtest/network/connection.json` */
    regtestConnectionPath: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  checkTools();
  const result = await up({ log: (line) => process.stderr.write(`regtest: ${line}\n`) });
  process.stderr.write(
    `regtest: network ${result.alreadyUp ? 'already up' : 'started'} in ${(result.elapsedMs / 1000).toFixed(1)} s\n`,
  );
  project.provide('regtestConnectionPath', result.connectionPath);
  process.env.BOLTCHARGE_REGTEST_CONNECTION = result.connectionPath;
  return async () => {
    if (result.alreadyUp || process.env.BOLTCHARGE_KEEP_REGTEST === '1') return;
    await down({ log: (line) => process.stderr.write(`regtest: ${line}\n`) });
  };
}
