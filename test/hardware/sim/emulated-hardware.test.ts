// The whole serial stack without hardware: a simulated world behind the RAPI and SDM emulators on socat PTYs,
// driven by the real OpenEvse and SdmMeter drivers, with power-cut verification through the real meter driver.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, SystemClock } from '../../../hardware/clock.js';
import type { EvseStatus } from '../../../hardware/evse/evse.js';
import { OpenEvse } from '../../../hardware/evse/openevse.js';
import { PowerCutVerifier } from '../../../hardware/evse/power-cut-verifier.js';
import { SdmMeter } from '../../../hardware/meter/sdm-meter.js';
import { startEmulatedHardware, type EmulatedHardware } from '../../../hardware/sim/emulated-hardware.js';
import { createSimWorld, type SimWorld } from '../../../hardware/sim/sim-world.js';

let clock: ManualClock;
let world: SimWorld;
let hw: EmulatedHardware;
let evse: OpenEvse;
let wallMeter: SdmMeter;
let vehicleMeter: SdmMeter;

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeEach(async () => {
  clock = new ManualClock();
  world = createSimWorld({
    clock,
    cableResistanceOhm: 0.05,
    wallMeter: { gainError: 0.004, noiseFraction: 0, initialEnergyWh: 1_000_000 },
    vehicleMeter: { gainError: -0.003, noiseFraction: 0, initialEnergyWh: 50_000 },
  });
  hw = await startEmulatedHardware({ world });
  evse = new OpenEvse({ path: hw.evsePath, timeoutMs: 500 });
  wallMeter = new SdmMeter({ path: hw.wallMeterPath, timeoutMs: 500 });
  vehicleMeter = new SdmMeter({ path: hw.vehicleMeterPath, timeoutMs: 500 });
});

afterEach(async () => {
  await evse.close();
  await wallMeter.close();
  await vehicleMeter.close();
  await hw.close();
  world.stop();
});

describe('emulated hardware: real drivers against the simulated world over PTYs', () => {
  it('charges, meters on both sides, pauses, and verifies the cut through the real SDM driver', async () => {
    const statuses: EvseStatus[] = [];
    evse.on('status', (s) => statuses.push(s));
    await evse.open();
    world.plug();
    await waitFor(() => statuses.some((s) => s.pilot === 'B'));
    await clock.advance(10_000);
    await waitFor(() => statuses.some((s) => s.charging));

    const w0 = await wallMeter.read();
    const v0 = await vehicleMeter.read();
    expect(w0.currentA).toBeCloseTo(32 * 1.004, 3);
    await clock.advance(3_600_000);
    const w1 = await wallMeter.read();
    const v1 = await vehicleMeter.read();
    const wallWh = w1.energyImportWh - w0.energyImportWh;
    const vehicleWh = v1.energyImportWh - v0.energyImportWh;
    // wall: 7360 W × 1.004; vehicle: (7360 − 32² × 0.05) W × 0.997; float32 kWh resolution ≤ 0.12 Wh here
    expect(wallWh).toBeCloseTo(7360 * 1.004, -1);
    expect(vehicleWh).toBeCloseTo((7360 - 51.2) * 0.997, -1);
    expect(wallWh / vehicleWh - 1).toBeGreaterThan(0.013);

    const verifier = new PowerCutVerifier(wallMeter, new SystemClock(), { withinMs: 3000, pollMs: 100 });
    await evse.pause();
    await clock.advance(200); // the relay opens 100 ms after the pause
    const ok = await verifier.verify();
    expect(ok.ok).toBe(true);
    expect((await evse.status()).sleeping).toBe(true);
  });

  it('raises the power-cut alarm through the real drivers when the relay is stuck', async () => {
    await evse.open();
    world.plug();
    await clock.advance(10_000);
    world.faults.stuckRelay(true);
    const verifier = new PowerCutVerifier(wallMeter, new SystemClock(), { withinMs: 1500, pollMs: 200 });
    const alarms: unknown[] = [];
    verifier.on('alarm', (a) => alarms.push(a));
    await evse.pause();
    await clock.advance(5000);
    const outcome = await verifier.verify();
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) {
      expect(outcome.reason).toBe('current-still-flowing');
      expect(outcome.lastCurrentA).toBeGreaterThan(30);
    }
    expect(alarms).toHaveLength(1);
  });
});
