// kill -9 while offline: the vehicle daemon, in the car's namespace, its node reaching the network only through the wall's relay (case 2), is killed halfway through the session and restarted 1 s later. The session
// resumes (or closes with a reason on both sides); nothing is paid twice; after the node's route back, both
// ledgers equal what each node reports. Real lnd, real daemons (CLI processes), network namespaces.
// Fails (never skips) when namespaces cannot be made.
import { describe, expect, it } from 'vitest';

import { runOfflineDemo } from '../../scripts/demo/offline.js';

describe('kill -9 of the vehicle daemon while offline', () => {
  it('restarts, and the books match both nodes with no invoice paid twice', async () => {
    const log = (line: string): void => void process.stderr.write(`${line}\n`);
    const targetWh = 300;
    const { code, result } = await runOfflineDemo({
      mode: 'car',
      targetWh,
      speed: 5,
      invoiceIntervalSec: 16,
      priceMsatPerWh: 100,
      keepNetwork: true,
      say: log,
      show: log,
      crash: { victim: 'vehicle', atWh: 150, downMs: 1000 },
    });
    // code 0: the daemon was killed while offline, every session closed with a reason on both sides, the two
    // ledgers agree with each other and with both nodes (readBooks: no hash paid twice)
    expect(code).toBe(0);
    const r = result!;
    expect(r.crash?.victim).toBe('vehicle');
    expect(r.offline.namespaceInterfaces).toHaveLength(2);
    expect(BigInt(r.offline.paidOfflineMsat)).toBeGreaterThan(0n);
    log(`crash run: ${JSON.stringify(r.crash)}, stop ${r.stopReason}, paid ${r.paidMsat} msat`);
  }, 240_000);
});
