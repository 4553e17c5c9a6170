// kill -9 while both sides are offline (case 3): the vehicle daemon, in the car's namespace with no route (no relay
// at the wall), promising to pay each block within the wall's cap, is killed halfway to the cap and restarted 1 s
// later. The session resumes or closes with a reason on both sides; no promise is made or paid twice; once the
// namespace gets its route back the restarted daemon pays every promise, and both ledgers equal what each node
// reports. Real lnd, real daemons (CLI processes), network namespaces. Fails (never skips) when namespaces cannot
// be made.
import { describe, expect, it } from 'vitest';
import { expectCrashRun, runShortOffline } from './offline-demo-checks.js';

describe('kill -9 of the vehicle daemon while it holds promises', () => {
  it('restarts; every promise is paid once after reconnection, books = both nodes', async () => {
    const targetWh = 400;
    const run = await runShortOffline('both', {
      targetWh,
      speed: 4,
      crash: { victim: 'vehicle', atWh: 100, downMs: 1000 },
    });
    expectCrashRun(run, 'vehicle');
    const p = run.result!.offline.promises!;
    expect(p.made).toBeGreaterThan(0);
    expect(p.paid).toBe(p.made);
    expect(p.outstanding).toBe(0);
    expect(p.promisedWh).toBeLessThanOrEqual(p.capWh);
  }, 240_000);
});
