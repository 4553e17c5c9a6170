// kill -9 while offline: the vehicle daemon, in the car's namespace, its node reaching the network only through the wall's relay (case 2), is killed halfway through the session and restarted 1 s later. The session
// resumes (or closes with a reason on both sides); nothing is paid twice; after the node's route back, both
// ledgers equal what each node reports. Real lnd, real daemons (CLI processes), network namespaces.
// Fails (never skips) when namespaces cannot be made.
import { describe, it } from 'vitest';
import { expectCrashRun, runShortOffline } from './offline-demo-checks.js';

describe('kill -9 of the vehicle daemon while offline', () => {
  it('restarts, and the books match both nodes with no invoice paid twice', async () => {
    const targetWh = 300;
    const run = await runShortOffline('car', {
      targetWh,
      speed: 5,
      crash: { victim: 'vehicle', atWh: 150, downMs: 1000 },
    });
    expectCrashRun(run, 'vehicle');
  }, 240_000);
});
