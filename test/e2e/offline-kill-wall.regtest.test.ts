// kill -9 while offline: the wall daemon, in the isolated namespace with its node (case 1a), is killed halfway through the session and restarted 1 s later. The session
// resumes (or closes with a reason on both sides); nothing is paid twice; after the node's route back, both
// ledgers equal what each node reports. Real lnd, real daemons (CLI processes), network namespaces.
// Fails (never skips) when namespaces cannot be made.
import { describe, it } from 'vitest';
import { expectCrashRun, runShortOffline } from './offline-demo-checks.js';
import { DEMO_MAX_POWER_W, speedForDuration } from '../../scripts/demo/cadence.js';

describe('kill -9 of the wall daemon while offline', () => {
  it('restarts, and the books match both nodes with no invoice paid twice', async () => {
    const targetWh = 400;
    const run = await runShortOffline('charger', {
      targetWh,
      speed: speedForDuration(targetWh, DEMO_MAX_POWER_W, 25),
      crash: { victim: 'wall', atWh: 200, downMs: 1000 },
    });
    expectCrashRun(run, 'wall');
  }, 240_000);
});
