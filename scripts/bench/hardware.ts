/**
 * Hardware-layer figures: how fast the simulator runs a charging session on a ManualClock, and round-trip
 * times of the real OpenEVSE RAPI and SDM drivers against their emulators over socat PTYs.
 */
import { performance } from 'node:perf_hooks';
import { ManualClock } from '../../hardware/clock.js';
import { OpenEvse } from '../../hardware/evse/openevse.js';
import { MeterPoller } from '../../hardware/meter/meter-poller.js';
import { SdmMeter } from '../../hardware/meter/sdm-meter.js';
import { startEmulatedHardware } from '../../hardware/sim/emulated-hardware.js';
import { createSimWorld } from '../../hardware/sim/sim-world.js';

export const description =
  'simulator speed (simulated charging hours per real second) and RAPI / SDM round trips over PTYs';

function stats(samplesMs: number[]): { meanMs: number; p95Ms: number; maxMs: number } {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  const p95 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))] ?? NaN;
  const round = (x: number): number => Math.round(x * 1000) / 1000;
  return { meanMs: round(mean), p95Ms: round(p95), maxMs: round(sorted[sorted.length - 1] ?? NaN) };
}

/** @returns the figures */
export async function run(): Promise<Record<string, unknown>> {
  // 1. simulator: 4 h of charging, 1 s physics step, both meters polled every second
  const clock = new ManualClock();
  const world = createSimWorld({ clock, plugged: true });
  const pollers = [world.wallMeter, world.vehicleMeter].map(
    (m) => new MeterPoller(m, clock, { intervalMs: 1000 }),
  );
  for (const p of pollers) p.start();
  const simHours = 4;
  const t0 = performance.now();
  await clock.advance(simHours * 3_600_000);
  const simRealMs = performance.now() - t0;
  for (const p of pollers) p.stop();
  world.stop();

  // 2. real drivers against the emulators over PTYs
  const world2 = createSimWorld({ clock: new ManualClock(), plugged: true });
  const hw = await startEmulatedHardware({ world: world2 });
  const evse = new OpenEvse({ path: hw.evsePath });
  const meter = new SdmMeter({ path: hw.wallMeterPath });
  const rapiMs: number[] = [];
  const sdmMs: number[] = [];
  try {
    await evse.open();
    for (let i = 0; i < 200; i++) {
      const t = performance.now();
      await evse.status();
      rapiMs.push(performance.now() - t);
    }
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      await meter.read();
      sdmMs.push(performance.now() - t);
    }
  } finally {
    await evse.close();
    await meter.close();
    await hw.close();
    world2.stop();
  }
  return {
    simulatedHours: simHours,
    simulatorRealMs: Math.round(simRealMs),
    simulatedHoursPerRealSecond: Math.round((simHours / (simRealMs / 1000)) * 10) / 10,
    rapiStatusRoundTrip: { commands: rapiMs.length, ...stats(rapiMs) },
    sdm120FullRead: { reads: sdmMs.length, requestsPerRead: 4, ...stats(sdmMs) },
  };
}
