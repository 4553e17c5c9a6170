import { defineConfig } from 'vitest/config';
import { testForks } from './test/setup/regtest-pool.js';
import { UnitThenRegtestSequencer } from './test/setup/sequencer.js';

// Two projects, run by one pool of `testForks()` forks (3; BOLTCHARGE_TEST_FORKS overrides):
// - `unit`: logic tests and integration tests over local real peers (PTYs, sockets, Python ISO-TP, OCPP CSMS,
//   Chromium). They need no Lightning network.
// - `regtest`: files named `*.regtest.test.ts` run against a real regtest Lightning network (btcd + lnd nodes).
//   Each fork has its own network (test/setup/regtest-pool.ts), so regtest files run in parallel but never two
//   on one network. Unit files start first, then regtest files, longest first (test/setup/sequencer.ts).
export default defineConfig({
  test: {
    pool: 'forks',
    poolOptions: { forks: { maxForks: testForks(), minForks: 1 } },
    sequence: { sequencer: UnitThenRegtestSequencer },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.regtest.test.ts', 'node_modules/**'],
          // a guard against hangs, not a speed limit: CPU-bound files (property tests, fuzzing) share 2 cores
          // with two other forks
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'regtest',
          include: ['test/**/*.regtest.test.ts'],
          globalSetup: ['test/setup/regtest-global.ts'],
          // points each file at its fork's network (and brings that network up on a fork's first file)
          setupFiles: ['test/setup/regtest-fork.ts'],
          pool: 'forks',
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
