// A connector started again on fresh devices: the services attached at the start (walk-up, DirectPayment) hold
// CurrentEvse / CurrentMeter, which the site's composition swaps to the new devices. They must then command the
// new charger, read the new meter, hear the new charger's events and no longer the closed one's.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../hardware/clock.js';
import type { EvseStatus } from '../../hardware/evse/evse.js';
import { createSimWorld } from '../../hardware/sim/sim-world.js';
import { CurrentEvse, CurrentMeter } from '../../wall-module/site/current-devices.js';

describe('CurrentEvse / CurrentMeter', () => {
  it('after a swap: commands reach the new EVSE, its events are heard, the old one is silent', async () => {
    const clock = new ManualClock(1_000_000);
    const before = createSimWorld({ clock, stepMs: 1000, seed: 1 });
    const after = createSimWorld({ clock, stepMs: 1000, seed: 2 });
    const evse = new CurrentEvse(before.evse);
    const meter = new CurrentMeter(before.wallMeter);
    const heard: EvseStatus[] = [];
    evse.on('status', (s) => heard.push(s));

    before.plug();
    await clock.advance(1000);
    expect(heard.some((s) => s.plugged)).toBe(true);

    evse.swap(after.evse);
    meter.swap(after.wallMeter);
    heard.length = 0;
    before.unplug(); // the closed device's events no longer reach the services
    await clock.advance(1000);
    expect(heard).toEqual([]);

    after.plug();
    await clock.advance(1000);
    expect(heard.some((s) => s.plugged)).toBe(true);
    expect((await evse.status()).plugged).toBe(true);
    await evse.enable();
    await clock.advance(5000);
    expect((await after.evse.status()).charging).toBe(true);
    expect((await before.evse.status()).charging).toBe(false);
    // the meter reads the new connector's energy
    expect((await meter.read()).energyImportWh).toBe((await after.wallMeter.read()).energyImportWh);
    expect((await after.wallMeter.read()).energyImportWh).toBeGreaterThan(0);
    expect((await before.wallMeter.read()).energyImportWh).not.toBe((await meter.read()).energyImportWh);
  });
});
