import { afterEach, describe, expect, it } from 'vitest';
import { SystemClock } from '../../hardware/clock.js';
import { createSimWorld } from '../../hardware/sim/sim-world.js';
import { RemoteEvse, RemoteMeter } from '../../daemon/sim-remote.js';
import { startSimBridge } from '../../scripts/demo/sim-bridge.js';
import type { EvseStatus } from '../../hardware/evse/evse.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe('simulated world over the bridge (what daemons in other processes see)', () => {
  it('drives the charger and reads both meters through real WebSockets', async () => {
    const clock = new SystemClock();
    const world = createSimWorld({
      clock,
      stepMs: 50,
      car: { responseMs: 20, rampAps: 10_000 },
      charger: {
        relayCloseDelayMs: 10,
        relayOpenDelayMs: 10,
        phases: 3,
        maxCurrentA: 16,
        startEnabled: false,
      },
    });
    cleanup.push(() => world.stop());
    const bridge = await startSimBridge(world);
    cleanup.push(() => bridge.close());
    const evse = await RemoteEvse.connect(bridge.url);
    cleanup.push(() => evse.close());
    const wall = new RemoteMeter(bridge.url, 'wall');
    const car = new RemoteMeter(bridge.url, 'vehicle');
    cleanup.push(
      () => wall.close(),
      () => car.close(),
    );

    const seen: EvseStatus[] = [];
    evse.on('status', (s) => seen.push(s));
    world.plug();
    await clock.sleep(100);
    expect(seen.some((s) => s.plugged)).toBe(true);
    expect((await evse.status()).charging).toBe(false);
    const before = await wall.read();
    await evse.enable();
    await clock.sleep(500);
    expect((await evse.status()).charging).toBe(true);
    const on = await wall.read();
    expect(on.powerW).toBeGreaterThan(10_000);
    expect(on.energyImportWh).toBeGreaterThan(before.energyImportWh);
    expect((await car.read()).powerW).toBeGreaterThan(10_000);
    await evse.pause();
    await clock.sleep(200);
    expect((await wall.read()).currentA).toBeLessThan(0.5);
    world.faults.meterDropout('vehicle', true);
    await expect(car.read()).rejects.toThrow();
  });
});
