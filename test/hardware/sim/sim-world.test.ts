import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../hardware/clock.js';
import type { EvseStatus } from '../../../hardware/evse/evse.js';
import { PowerCutVerifier } from '../../../hardware/evse/power-cut-verifier.js';
import { MeterTimeout, type MeterReading } from '../../../hardware/meter/energy-meter.js';
import { MeterPoller } from '../../../hardware/meter/meter-poller.js';
import { createSimWorld, type SimWorldOptions } from '../../../hardware/sim/sim-world.js';

const HOUR_MS = 3_600_000;

function world(overrides: Partial<SimWorldOptions> = {}, clock = new ManualClock()) {
  return createSimWorld({
    clock,
    plugged: true,
    cableResistanceOhm: 0,
    car: { batteryCapacityWh: 80_000, initialSocPct: 10, maxAcPowerW: 7360 },
    ...overrides,
  });
}

/** Left-rectangle ∫P dt over consecutive readings, Wh. */
function integratePowerWh(readings: MeterReading[]): number {
  let wh = 0;
  for (let i = 1; i < readings.length; i++) {
    const a = readings[i - 1] as MeterReading;
    const b = readings[i] as MeterReading;
    wh += (a.powerW * (b.atMs - a.atMs)) / HOUR_MS;
  }
  return wh;
}

describe('simulated world: car + charger + two meters', () => {
  it('meter energy equals ∫P dt within 0.1 % over an hour of charging, with meter noise', async () => {
    const clock = new ManualClock();
    const w = world({ wallMeter: { noiseFraction: 0.005, initialEnergyWh: 1_234_567 } }, clock);
    const readings: MeterReading[] = [];
    const poller = new MeterPoller(w.wallMeter, clock, { intervalMs: 1000 });
    poller.on('reading', (r) => readings.push(r));
    poller.start();
    await clock.advance(HOUR_MS);
    poller.stop();
    w.stop();
    const first = readings[0] as MeterReading;
    const last = readings[readings.length - 1] as MeterReading;
    const meterWh = last.energyImportWh - first.energyImportWh;
    const integralWh = integratePowerWh(readings);
    expect(readings.length).toBeGreaterThan(3590);
    // 32 A × 230 V for an hour, minus the first seconds of plug-in delay and current ramp
    expect(meterWh).toBeGreaterThan(7300);
    expect(meterWh).toBeLessThanOrEqual(7360);
    expect(Math.abs(integralWh - meterWh) / meterWh).toBeLessThan(0.001);
    // and the register is the true energy (no gain error configured) to rounding
    expect(Math.abs(w.truth().wallEnergyWh - (last.energyImportWh - 1_234_567))).toBeLessThan(1e-6);
  });

  it('follows the pilot sequence with realistic delays: B, then C after the car reacts, relay, ramp', async () => {
    const clock = new ManualClock();
    const w = world({ plugged: false }, clock);
    const statuses: EvseStatus[] = [];
    w.evse.on('status', (s) => statuses.push(s));
    w.plug();
    expect((await w.evse.status()).pilot).toBe('B');
    await clock.advance(999);
    expect(w.truth().carPilot).toBe('B');
    await clock.advance(1); // car responseMs 1000
    expect(w.truth().carPilot).toBe('C');
    expect(w.truth().relayClosed).toBe(false);
    await clock.advance(500); // relayCloseDelayMs 500
    expect(w.truth().relayClosed).toBe(true);
    await clock.advance(5000); // ramp 10 A/s up to 32 A
    expect(w.truth().currentA).toBeCloseTo(32, 6);
    expect(statuses.map((s) => [s.pilot, s.charging])).toEqual([
      ['B', false],
      ['C', false],
      ['C', true],
    ]);

    expect(await w.evse.setCurrentLimitA(16.7)).toBe(16);
    await clock.advance(2000);
    expect(w.truth().currentA).toBeCloseTo(16, 6);
    expect(await w.evse.setCurrentLimitA(2)).toBe(6); // clamped to the J1772 minimum

    await w.evse.pause();
    expect((await w.evse.status()).sleeping).toBe(true);
    await clock.advance(100); // relayOpenDelayMs
    expect(w.truth().currentA).toBe(0);
    await clock.advance(1000);
    expect(w.truth().carPilot).toBe('B');
    const readings = await w.evse.readings();
    expect(readings.currentA).toBe(0);
    expect(readings.sessionEnergyWh).toBeGreaterThan(0);

    await w.evse.enable();
    await clock.advance(1500 + 1000);
    expect(w.truth().currentA).toBeGreaterThan(0);
    w.unplug();
    expect(w.truth().currentA).toBe(0);
    expect((await w.evse.status()).plugged).toBe(false);
    w.stop();
  });

  it('a car that needs ventilation asks with state D and charges like C', async () => {
    const clock = new ManualClock();
    const w = world({ car: { requiresVentilation: true, maxAcPowerW: 7360 } }, clock);
    await clock.advance(10_000);
    expect(w.truth().carPilot).toBe('D');
    expect(w.truth().currentA).toBeCloseTo(32, 6);
    expect(await w.evse.status()).toMatchObject({ pilot: 'D', charging: true, plugged: true });
    w.stop();
  });

  it('tapers above 80 % state of charge and stops at the target', async () => {
    const clock = new ManualClock();
    const w = world(
      { car: { batteryCapacityWh: 20_000, initialSocPct: 78, targetSocPct: 95, maxAcPowerW: 7360 } },
      clock,
    );
    const samples: { soc: number; powerW: number }[] = [];
    for (let i = 0; i < 3 * 60; i++) {
      await clock.advance(60_000);
      const t = w.truth();
      samples.push({ soc: t.socPct, powerW: t.wallPowerW });
    }
    const at = (soc: number) => samples.find((s) => s.soc >= soc) as { soc: number; powerW: number };
    expect(at(79).powerW).toBeCloseTo(7360, 0);
    // accepted power falls linearly to 10 % at 100 %: at 90 % it is 55 % of the maximum
    expect(at(90).powerW / 7360).toBeGreaterThan(0.53);
    expect(at(90).powerW / 7360).toBeLessThan(0.56);
    const tapering = samples.filter((s) => s.soc > 80.5 && s.powerW > 0);
    for (let i = 1; i < tapering.length; i++)
      expect((tapering[i] as { powerW: number }).powerW).toBeLessThanOrEqual(
        (tapering[i - 1] as { powerW: number }).powerW + 1e-9,
      );
    const end = w.truth();
    expect(end.socPct).toBeGreaterThanOrEqual(95);
    expect(end.socPct).toBeLessThan(95.1);
    expect(end.currentA).toBe(0);
    expect(end.carPilot).toBe('B');
    expect((await w.evse.status()).charging).toBe(false);
    w.stop();
  });

  it('gain errors show up as the configured disagreement between wall and vehicle meters', async () => {
    const clock = new ManualClock();
    const w = world({ wallMeter: { gainError: 0.01 }, vehicleMeter: { gainError: -0.005 } }, clock);
    const w0 = (await w.wallMeter.read()).energyImportWh;
    const v0 = (await w.vehicleMeter.read()).energyImportWh;
    await clock.advance(HOUR_MS);
    const dw = (await w.wallMeter.read()).energyImportWh - w0;
    const dv = (await w.vehicleMeter.read()).energyImportWh - v0;
    expect(dw / dv - 1).toBeCloseTo(1.01 / 0.995 - 1, 6);
    expect(dw / w.truth().wallEnergyWh).toBeCloseTo(1.01, 9);
    w.stop();
  });

  it('cable resistance makes the vehicle meter read I²R less than the wall meter', async () => {
    const clock = new ManualClock();
    const w = world(
      { cableResistanceOhm: 0.05, wallMeter: { noiseFraction: 0 }, vehicleMeter: { noiseFraction: 0 } },
      clock,
    );
    await clock.advance(60_000);
    const wall = await w.wallMeter.read();
    const car = await w.vehicleMeter.read();
    expect(wall.powerW - car.powerW).toBeCloseTo(32 * 32 * 0.05, 6);
    expect(car.voltageV).toBeCloseTo(230 - 32 * 0.05, 6);
    w.stop();
  });

  it('meter drift fault grows the disagreement with time', async () => {
    const clock = new ManualClock();
    const w = world({}, clock);
    await clock.advance(60_000);
    w.faults.meterDrift('wall', 10_000); // 1 % per hour
    const w0 = (await w.wallMeter.read()).energyImportWh;
    const v0 = (await w.vehicleMeter.read()).energyImportWh;
    await clock.advance(HOUR_MS);
    const dw = (await w.wallMeter.read()).energyImportWh - w0;
    const dv = (await w.vehicleMeter.read()).energyImportWh - v0;
    // the gain went linearly 0 → 1 % over the hour at constant power: on average 0.5 % high
    expect(dw / dv - 1).toBeCloseTo(0.005, 5);
    expect(w.wallMeter.gainAt(clock.now())).toBeCloseTo(0.01, 9);
    w.stop();
  });

  it('meter dropout fails reads with MeterTimeout, the poller reports down and up, energy is not lost', async () => {
    const clock = new ManualClock();
    const w = world({ wallMeter: { timeoutMs: 500 } }, clock);
    const poller = new MeterPoller(w.wallMeter, clock, { intervalMs: 1000, failuresBeforeDown: 2 });
    const events: string[] = [];
    const errors: Error[] = [];
    poller.on('down', () => events.push('down'));
    poller.on('up', () => events.push('up'));
    poller.on('error', (e) => errors.push(e));
    poller.start();
    await clock.advance(10_000);
    w.faults.meterDropout('wall', true);
    await clock.advance(10_000);
    expect(events).toEqual(['down']);
    expect(errors[0]).toBeInstanceOf(MeterTimeout);
    w.faults.meterDropout('wall', false);
    await clock.advance(2000);
    expect(events).toEqual(['down', 'up']);
    poller.stop();
    const r = await w.wallMeter.read();
    expect(r.energyImportWh).toBeCloseTo(w.truth().wallEnergyWh, 6);
    w.stop();
  });
});

describe('power-cut verification against the simulated world', () => {
  it('verifies a normal cut within the window', async () => {
    const clock = new ManualClock();
    const w = world({}, clock);
    await clock.advance(10_000);
    expect(w.truth().currentA).toBeGreaterThan(30);
    const verifier = new PowerCutVerifier(w.wallMeter, clock, {
      thresholdA: 0.5,
      withinMs: 5000,
      pollMs: 250,
    });
    const alarms: unknown[] = [];
    verifier.on('alarm', (a) => alarms.push(a));
    await w.evse.pause();
    const outcome = verifier.verify();
    await clock.advance(0); // let the first read's continuation run at the cut time
    await clock.advance(6000);
    const result = await outcome;
    expect(result.ok).toBe(true);
    expect(result.elapsedMs).toBeLessThanOrEqual(250); // relay opens after 100 ms; next poll at 250 ms
    expect(alarms).toEqual([]);
    w.stop();
  });

  it('raises the alarm when a stuck relay keeps current flowing after the cut', async () => {
    const clock = new ManualClock();
    const w = world({}, clock);
    await clock.advance(10_000);
    w.faults.stuckRelay(true);
    const verifier = new PowerCutVerifier(w.wallMeter, clock, {
      thresholdA: 0.5,
      withinMs: 5000,
      pollMs: 250,
    });
    const alarms: unknown[] = [];
    verifier.on('alarm', (a) => alarms.push(a));
    await w.evse.pause();
    expect((await w.evse.status()).sleeping).toBe(true); // the charger believes it stopped
    const outcome = verifier.verify();
    await clock.advance(0); // let the first read's continuation run at the cut time
    await clock.advance(6000);
    const result = await outcome;
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toBe('current-still-flowing');
    expect(result.elapsedMs).toBe(5000);
    expect(result.lastCurrentA).toBeGreaterThan(30);
    expect(alarms).toHaveLength(1);
    expect(w.truth().currentA).toBeGreaterThan(30);
    w.stop();
  });

  it('raises the alarm when the meter cannot be read during the window', async () => {
    const clock = new ManualClock();
    const w = world({ wallMeter: { timeoutMs: 1000 } }, clock);
    await clock.advance(10_000);
    w.faults.meterDropout('wall', true);
    const verifier = new PowerCutVerifier(w.wallMeter, clock, { withinMs: 3000 });
    await w.evse.pause();
    const outcome = verifier.verify();
    await clock.advance(0); // let the first read's continuation run at the cut time
    await clock.advance(5000);
    const result = await outcome;
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toBe('meter-unreadable');
      expect(result.lastError).toBeInstanceOf(MeterTimeout);
    }
    w.stop();
  });
});
