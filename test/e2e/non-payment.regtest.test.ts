import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { networkDir } from '../../scripts/regtest/network.js';
import { runningPid } from '../../scripts/regtest/processes.js';
import { readBooks } from '../../scripts/demo/books.js';
import { ChargeRig } from '../../scripts/demo/rig.js';

const GRACE_WH = 30;
const SPEED = 10;

// The vehicle's lnd is frozen (SIGSTOP): every call to it hangs, exactly as a node that stopped answering.
// The car therefore stops paying; the wall must cut the power when paid energy plus grace runs out, and
// resume when the payments arrive again (SIGCONT).
describe('the car stops paying (its lnd stops answering), then pays again', () => {
  const connectionFile = inject('regtestConnectionPath');
  let rig: ChargeRig;
  let frozen: number | undefined;
  afterAll(async () => {
    if (frozen) process.kill(frozen, 'SIGCONT');
    await rig?.stop();
  });

  it('cuts power within the grace, resumes when paid, and the books still agree', async () => {
    rig = await ChargeRig.create({
      dir: mkdtempSync(join(tmpdir(), 'e2e-nonpay-')),
      connectionFile,
      link: 'can',
      speed: SPEED,
      wall: { tariff: { graceWh: GRACE_WH, depositBlocks: 2, resumeAfterPayment: true } },
      vehicle: { limits: { targetEnergyWh: 700 }, payment: { timeoutMs: 120_000 } },
    });
    await rig.startDaemons();
    rig.world.plug();
    await rig.until('charging past 150 Wh', async () => (await rig.wall.status()).energyWh > 150);

    const pid = runningPid(networkDir(), 'vehicle');
    expect(pid, 'vehicle lnd pid').toBeDefined();
    frozen = pid!;
    process.kill(frozen, 'SIGSTOP');
    await rig.until(
      'the wall cuts the power for non-payment',
      async () => (await rig.wall.status()).state === 'suspended',
      60_000,
    );
    await rig.until('no current flows', () => rig.world.truth().currentA < 0.5, 10_000);
    const cut = await rig.wall.status();
    // the cut came when delivered reached paid + grace; it is still cut a moment later
    await new Promise((r) => setTimeout(r, 1000));
    const later = await rig.wall.status();
    expect(later.state).toBe('suspended');
    expect(later.energyWh - cut.energyWh).toBeLessThanOrEqual(2);

    process.kill(frozen, 'SIGCONT');
    frozen = undefined;
    await rig.until(
      'power resumes after the late payment',
      async () => (await rig.wall.status()).state === 'charging',
      60_000,
    );
    await rig.until('both sides ended', async () => {
      const [w, v] = await Promise.all([rig.wall.status(), rig.vehicle.status()]);
      return w.state === 'ended' && v.state === 'ended';
    });
    expect((await rig.wall.status()).stopReason).toBe('TARGET_REACHED');
    await rig.stop();

    const books = await readBooks(rig.files, connectionFile);
    expect(books.problems).toEqual([]);
    const b = books.sessions[0]!;
    // unpaid energy never beyond the grace, plus at most one meter interval at 11 kW (the cut acts on readings)
    const oneIntervalWh = Math.ceil((11_000 * (SPEED * 100)) / 3_600_000);
    expect(b.maxUnpaidWh).toBeLessThanOrEqual(GRACE_WH + oneIntervalWh);
    expect(b.receiptValid).toBe(true);
    expect(b.paidBlocksWh).toBe(700);
  });
});
