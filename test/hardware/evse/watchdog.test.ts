// The EVSE watchdog (OpenEVSE heartbeat supervision, `$SY`/`$GY`) through the real RAPI driver's serial code
// against the RAPI emulator on a socat PTY pair. The world and the supervision interval run on one ManualClock.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../hardware/clock.js';
import { EvseWatchdogUnsupported } from '../../../hardware/evse/evse.js';
import { OpenEvse } from '../../../hardware/evse/openevse.js';
import { RapiNegativeAck } from '../../../hardware/evse/rapi-client.js';
import { EvseUnsupervised, EvseWatchdogKeeper } from '../../../hardware/evse/watchdog-keeper.js';
import { RapiEmulator, type RapiEmulatorOptions } from '../../../hardware/sim/rapi-emulator.js';
import type { SimChargerOptions } from '../../../hardware/sim/sim-charger.js';
import { createSimWorld, type SimWorld } from '../../../hardware/sim/sim-world.js';
import { createPtyPair, type PtyPair } from '../../../hardware/pty-pair.js';

let pair: PtyPair;
let clock: ManualClock;
let world: SimWorld | null;
let emulator: RapiEmulator | null;
let evse: OpenEvse | null;

async function start(
  charger: Partial<SimChargerOptions> = {},
  emu: Partial<RapiEmulatorOptions> = {},
): Promise<{ evse: OpenEvse; world: SimWorld; emulator: RapiEmulator }> {
  world = createSimWorld({ clock, cableResistanceOhm: 0, charger: { watchdogClock: clock, ...charger } });
  emulator = await RapiEmulator.open({
    path: pair.b,
    charger: world.evse,
    clock,
    bootNotification: false,
    ...emu,
  });
  evse = new OpenEvse({ path: pair.a, timeoutMs: 400, retries: 2, reconnectDelayMs: 100 });
  await evse.open();
  return { evse, world, emulator };
}

/** Plugs the car in and lets it ramp to full current. */
async function charging(w: SimWorld): Promise<void> {
  w.plug();
  await clock.advance(1500);
  await clock.advance(5000);
  expect(w.truth().currentA).toBeGreaterThan(10);
}

const quietLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

beforeEach(async () => {
  pair = await createPtyPair('rapi-wd');
  clock = new ManualClock();
  world = null;
  emulator = null;
  evse = null;
});

afterEach(async () => {
  await evse?.close();
  await emulator?.close();
  world?.stop();
  await pair.close();
});

describe('EVSE watchdog over RAPI ($SY heartbeat supervision)', () => {
  it('stops delivering when pets stop, keeps the missed flag until acknowledged, and pets keep it alive', async () => {
    const { evse, world: w, emulator: emu } = await start();
    expect(await evse.watchdogStatus()).toEqual({ intervalSec: 0, fallbackCurrentA: 0, missed: 'never' });
    await charging(w);
    expect(await evse.armWatchdog(3, 0)).toEqual({ intervalSec: 3, fallbackCurrentA: 0, missed: 'never' });
    expect(emu.received.at(-1)).toMatchObject({ code: 'SY', params: ['3', '0'] });

    // petted every 2 s for 20 s: no fallback
    for (let i = 0; i < 10; i++) {
      await clock.advance(2000);
      expect((await evse.petWatchdog()).missed).toBe('never');
    }
    expect(w.evse.watchdogFallbacks).toBe(0);
    expect(w.truth().currentA).toBeGreaterThan(10);

    // no pet for just over the interval: the EVSE itself stops (fallback 0 A)
    const energyBefore = w.truth().wallEnergyWh;
    await clock.advance(3001);
    expect(w.evse.watchdogFallbacks).toBe(1);
    await clock.advance(1000); // relay opens, current falls
    expect(w.truth().currentA).toBe(0);
    const energyStopped = w.truth().wallEnergyWh;
    await clock.advance(60_000);
    expect(w.truth().wallEnergyWh).toBe(energyStopped);
    expect(energyStopped).toBeGreaterThan(energyBefore);
    expect((await evse.status()).sleeping).toBe(true);

    // the flag stays, even across more missed intervals; a pet is answered $NK with the state
    expect((await evse.watchdogStatus())?.missed).toBe('unacknowledged');
    expect((await evse.petWatchdog()).missed).toBe('unacknowledged');
    await expect(evse.rapi.command('SY')).rejects.toMatchObject({ params: ['3', '0', '2'] });
    // a wrong cookie is refused; 0xA5 acknowledges and restores the current capacity (power stays off)
    await expect(evse.rapi.command('SY', [12])).rejects.toBeInstanceOf(RapiNegativeAck);
    expect(await evse.ackWatchdog()).toEqual({ intervalSec: 3, fallbackCurrentA: 0, missed: 'acknowledged' });
    expect(w.evse.currentLimitA).toBe(32);
    expect((await evse.status()).sleeping).toBe(true);
    expect((await evse.petWatchdog()).missed).toBe('acknowledged');
    // re-arming clears the record
    expect((await evse.armWatchdog(3, 0)).missed).toBe('never');
  });

  it('models OpenEVSE firmware 8.x exactly: a fallback below 6 A is clamped to 6 A and charging goes on', async () => {
    const { evse, world: w } = await start({ watchdogBelowMinimum: 'clamp' });
    await charging(w);
    await evse.armWatchdog(3, 0);
    await clock.advance(3001);
    await clock.advance(5000);
    expect(w.evse.watchdogFallbacks).toBe(1);
    expect(w.evse.currentLimitA).toBe(6);
    expect(w.truth().currentA).toBeCloseTo(6, 5);
    expect((await evse.watchdogStatus())?.missed).toBe('unacknowledged');
  });

  it('on firmware without HEARTBEAT_SUPERVISION: no watchdog, and the keeper refuses unless allowed', async () => {
    const { evse, emulator: emu } = await start({}, { heartbeatSupervision: false });
    expect(await evse.watchdogStatus()).toBeNull();
    await expect(evse.armWatchdog(3, 0)).rejects.toBeInstanceOf(EvseWatchdogUnsupported);
    const onMissed = (): void => undefined;
    await expect(
      EvseWatchdogKeeper.start(evse, {
        intervalSec: 3,
        fallbackCurrentA: 0,
        allowUnsupervised: false,
        log: quietLog,
        onMissed,
      }),
    ).rejects.toBeInstanceOf(EvseUnsupervised);
    const errors: string[] = [];
    const keeper = await EvseWatchdogKeeper.start(evse, {
      intervalSec: 3,
      fallbackCurrentA: 0,
      allowUnsupervised: true,
      log: { ...quietLog, error: (m: string) => errors.push(m) },
      onMissed,
    });
    expect(keeper.startup).toEqual({ supervised: false, missedBeforeStart: false });
    expect(errors.join()).toMatch(/WATCHDOG UNAVAILABLE/);
    const sent = emu.received.length;
    keeper.pet();
    expect(emu.received.length).toBe(sent);
  });

  it('keeper: a miss while away is reported and acknowledged before arming; pets are rate-limited', async () => {
    const { evse, world: w, emulator: emu } = await start();
    await charging(w);
    await evse.armWatchdog(3, 0);
    await clock.advance(3001); // the previous daemon died
    expect(w.evse.watchdogFallbacks).toBe(1);
    const missed: string[] = [];
    let realMs = 0;
    const keeper = await EvseWatchdogKeeper.start(evse, {
      intervalSec: 4,
      fallbackCurrentA: 0,
      allowUnsupervised: false,
      log: quietLog,
      onMissed: (when, s) => missed.push(`${when}:${s.missed}`),
      nowMs: () => realMs,
    });
    expect(keeper.startup).toEqual({ supervised: true, missedBeforeStart: true });
    expect(missed).toEqual(['startup:unacknowledged']);
    const codes = emu.received.slice(-3).map((l) => `${l.code} ${l.params.join(' ')}`.trim());
    expect(codes).toEqual(['GY', 'SY 165', 'SY 4 0']);
    expect(await evse.watchdogStatus()).toEqual({ intervalSec: 4, fallbackCurrentA: 0, missed: 'never' });
    // pets at most every interval/4 of real time
    const before = emu.received.length;
    keeper.pet();
    realMs += 999;
    keeper.pet();
    await new Promise((r) => setTimeout(r, 100));
    expect(emu.received.length).toBe(before);
    realMs += 1;
    keeper.pet();
    keeper.pet(); // in flight: skipped
    await new Promise((r) => setTimeout(r, 200));
    expect(emu.received.slice(before).map((l) => l.code)).toEqual(['SY']);
  });
});
