import { defineConfig } from 'vitest/config';

// Two projects:
// - `unit`: logic tests and integration tests over local real peers (PTYs, sockets, Python ISO-TP, OCPP CSMS,
//   Chromium). They need no Lightning network.
// - `regtest`: files named `*.regtest.test.ts` run against the real regtest Lightning network (btcd + two lnd
//   nodes), brought up once by the global setup and shared by every file; they run one file at a time.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.regtest.test.ts', 'node_modules/**'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'regtest',
          include: ['test/**/*.regtest.test.ts'],
          globalSetup: ['test/setup/regtest-global.ts'],
          // one file at a time: the files share one regtest network
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
