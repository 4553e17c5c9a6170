// The OpenEVSE RAPI driver's real serialport code against the RAPI emulator on the far end of a socat PTY
// pair. The emulator fronts a simulated charger on a ManualClock; the driver runs on real time (its timeouts
// are real serial timeouts), with generous margins.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../hardware/clock.js';
import { EvseUnreachable, type EvseFault, type EvseStatus } from '../../../hardware/evse/evse.js';
import { OpenEvse, type OpenEvseOptions } from '../../../hardware/evse/openevse.js';
import { RapiNegativeAck, RapiTimeout } from '../../../hardware/evse/rapi-client.js';
import { RapiEmulator, type RapiEmulatorOptions } from '../../../hardware/sim/rapi-emulator.js';
import { createSimWorld, type SimWorld } from '../../../hardware/sim/sim-world.js';
import { createPtyPair, type PtyPair } from '../../support/pty-pair.js';

let pair: PtyPair;
let clock: ManualClock;
let world: SimWorld;
let emulator: RapiEmulator | null;
let evse: OpenEvse | null;

async function start(
  driver: Partial<OpenEvseOptions> = {},
  emu: Partial<RapiEmulatorOptions> = {},
): Promise<{ evse: OpenEvse; emulator: RapiEmulator }> {
  emulator = await RapiEmulator.open({
    path: pair.b,
    charger: world.evse,
    clock,
    bootNotification: false,
    ...emu,
  });
  evse = new OpenEvse({ path: pair.a, timeoutMs: 400, retries: 2, reconnectDelayMs: 100, ...driver });
  await evse.open();
  return { evse, emulator };
}

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeEach(async () => {
  pair = await createPtyPair('rapi');
  clock = new ManualClock();
  world = createSimWorld({ clock, cableResistanceOhm: 0 });
  emulator = null;
  evse = null;
});

afterEach(async () => {
  await evse?.close();
  await emulator?.close();
  world.stop();
  await pair.dispose();
});

describe('OpenEVSE RAPI driver over a PTY', () => {
  it('runs every command with XOR checksums and sequence ids, and the charger obeys', async () => {
    const { evse, emulator } = await start();
    // open() read the current limit ($GE) and the state ($GS)
    expect(emulator.received.map((l) => l.code)).toEqual(['GE', 'GS']);
    expect(emulator.received.every((l) => l.checksum === 'xor' && l.seq !== null)).toBe(true);
    expect(new Set(emulator.received.map((l) => l.seq)).size).toBe(2);

    let s = await evse.status();
    expect(s).toMatchObject({
      pilot: 'A',
      plugged: false,
      charging: false,
      sleeping: false,
      currentLimitA: 32,
    });
    expect(await evse.connectState()).toBe('not-connected');

    world.plug();
    await clock.advance(1500); // car answers the PWM (1 s), relay closes (0.5 s)
    await clock.advance(5000); // current ramps to 32 A
    s = await evse.status();
    expect(s).toMatchObject({ pilot: 'C', plugged: true, charging: true });
    expect(await evse.connectState()).toBe('connected');
    const r = await evse.readings();
    expect(r.currentA).toBeCloseTo(32, 3);
    expect(r.voltageV).toBeCloseTo(230, 3);
    expect(r.sessionEnergyWh).toBeGreaterThan(0);

    expect(await evse.setCurrentLimitA(16)).toBe(16);
    expect(emulator.received.at(-1)?.params).toEqual(['16', 'V']);
    expect(world.evse.currentLimitA).toBe(16);

    await evse.pause();
    expect(emulator.received.at(-1)?.code).toBe('FS');
    expect(world.evse.sleeping).toBe(true);
    await clock.advance(2000);
    s = await evse.status();
    expect(s).toMatchObject({ sleeping: true, charging: false, plugged: true, pilot: 'B' });
    expect((await evse.readings()).currentA).toBe(0);

    await evse.enable();
    expect(emulator.received.at(-1)?.code).toBe('FE');
    expect(world.evse.sleeping).toBe(false);

    await evse.disable();
    expect(emulator.received.at(-1)?.code).toBe('FD');
    expect((await evse.status()).disabled).toBe(true);
    await evse.enable();
    expect((await evse.status()).disabled).toBe(false);

    const codes = new Set(emulator.received.map((l) => l.code));
    for (const c of ['FE', 'FS', 'FD', 'SC', 'GS', 'GG', 'GU', 'G0', 'GE']) expect(codes.has(c)).toBe(true);
  });

  it('speaks legacy firmware: sum checksums, no sequence ids, replies without checksum, $ST notifications', async () => {
    const { evse, emulator } = await start(
      { checksum: 'sum', sequenceIds: false, acceptUnchecksummed: true },
      { replyChecksum: 'none', asyncFormat: 'ST' },
    );
    expect(emulator.received.every((l) => l.checksum === 'sum' && l.seq === null)).toBe(true);
    const statuses: EvseStatus[] = [];
    evse.on('status', (s) => statuses.push(s));
    await evse.pause();
    await waitFor(() => statuses.some((s) => s.sleeping));
    expect((await evse.status()).sleeping).toBe(true);
  });

  it('polls $GS for firmware that sends no notifications (statusPollMs) and detects changes', async () => {
    const { evse } = await start({ statusPollMs: 100 }, { asyncFormat: 'none' });
    const statuses: EvseStatus[] = [];
    evse.on('status', (s) => statuses.push(s));
    world.plug();
    await waitFor(() => statuses.some((s) => s.plugged));
    await clock.advance(1500);
    await waitFor(() => statuses.some((s) => s.charging));
    expect(statuses.at(-1)).toMatchObject({ pilot: 'C', charging: true });
  });

  it('refuses replies without a checksum unless configured for firmware 1.x', async () => {
    const { evse } = await start({ timeoutMs: 200, retries: 1, acceptUnchecksummed: true });
    await evse.close();
    const strict = new OpenEvse({ path: pair.a, timeoutMs: 200, retries: 1 });
    await emulator?.close();
    emulator = await RapiEmulator.open({ path: pair.b, charger: world.evse, clock, replyChecksum: 'none' });
    const err = await strict.open().catch((e: unknown) => e);
    await strict.close();
    expect(err).toBeInstanceOf(RapiTimeout);
    expect((err as Error).message).toMatch(/without checksum/);
  });

  it('turns $NK into RapiNegativeAck, and returns the clamped limit on $NK ampsset', async () => {
    const { evse, emulator } = await start();
    emulator.faults.nakCommands = 1;
    await expect(evse.enable()).rejects.toBeInstanceOf(RapiNegativeAck);
    expect(await evse.setCurrentLimitA(40)).toBe(32);
    expect(await evse.setCurrentLimitA(3)).toBe(6);
    expect((await evse.status()).currentLimitA).toBe(6);
  });

  it('retries after a corrupted reply checksum and fails with RapiTimeout when every reply is corrupt', async () => {
    const { evse, emulator } = await start();
    const problems: Error[] = [];
    evse.rapi.on('protocolError', (e) => problems.push(e));
    emulator.faults.corruptReplies = 1;
    const before = emulator.received.length;
    expect((await evse.status()).pilot).toBe('A');
    const sent = emulator.received.slice(before);
    expect(sent.map((l) => l.code)).toEqual(['GS', 'GS']);
    expect(sent[0]?.seq).not.toBe(sent[1]?.seq);
    expect(problems[0]?.name).toBe('RapiChecksumMismatch');

    emulator.faults.corruptReplies = 3;
    const err = await evse.status().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RapiTimeout);
    expect((err as RapiTimeout).attempts).toBe(3);
    expect((err as RapiTimeout).message).toMatch(/checksum mismatch/);
  });

  it('retries a swallowed command after the timeout and ignores the late reply of an abandoned attempt', async () => {
    const { evse, emulator } = await start({ timeoutMs: 300 });
    emulator.faults.dropCommands = 1;
    const t0 = Date.now();
    await evse.pause();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(emulator.received.slice(-2).map((l) => l.code)).toEqual(['FS', 'FS']);

    // late replies carry old sequence ids and are not taken for the answer to a newer attempt
    const problems: Error[] = [];
    evse.rapi.on('protocolError', (e) => problems.push(e));
    emulator.faults.delayReplies = 2;
    emulator.faults.delayMs = 450;
    const before = emulator.received.length;
    expect((await evse.status()).sleeping).toBe(true);
    const seqs = emulator.received.slice(before).map((l) => l.seq);
    expect(seqs).toHaveLength(3); // attempts 1 and 2 answered too late, attempt 3 at once
    expect(problems.some((e) => /stale reply .*:[0-9A-F]{2}.* \(waiting for :/.test(e.message))).toBe(true);
  });

  it('separates async $AT notifications arriving between a command and its reply, even in split writes', async () => {
    const { evse, emulator } = await start();
    const statuses: EvseStatus[] = [];
    evse.on('status', (s) => statuses.push(s));
    world.plug(); // the emulator sends $AT 02 02 32 0000 at once
    await waitFor(() => statuses.some((s) => s.pilot === 'B'));

    emulator.faults.asyncBeforeReply = 3;
    emulator.faults.splitReplies = 3;
    const r = await evse.readings();
    expect(r.currentA).toBe(0);
    const st = await evse.status();
    expect(st).toMatchObject({ pilot: 'B', plugged: true });
    expect(await evse.connectState()).toBe('connected');

    const faults: EvseFault[] = [];
    evse.on('fault', (f) => faults.push(f));
    world.faults.evseFault('gfi-fault');
    await waitFor(() => faults.length > 0);
    expect(faults).toEqual(['gfi-fault']);
    expect((await evse.status()).fault).toBe('gfi-fault');
  });

  it('puts a rebooted controller back to sleep when it was paused ($AB)', async () => {
    const { evse, emulator } = await start();
    world.plug();
    await evse.pause();
    expect(world.evse.sleeping).toBe(true);
    const before = emulator.received.length;
    await emulator.reboot(); // comes back enabled at full current, sends $AB
    expect(world.evse.sleeping).toBe(false);
    await waitFor(() => world.evse.sleeping);
    expect(emulator.received.slice(before).map((l) => l.code)).toContain('FS');
  });

  it('reports the port vanishing and reconnects when it returns (socat killed and restarted)', async () => {
    const { evse, emulator } = await start();
    const links: boolean[] = [];
    evse.on('link', (up) => links.push(up));
    await evse.pause();
    await emulator.close();
    await pair.stop();
    // the next command finds the port gone
    const err = await evse.status().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EvseUnreachable);
    await waitFor(() => links.includes(false));
    await expect(evse.enable()).rejects.toBeInstanceOf(EvseUnreachable);

    // while the link was down the controller was power-cycled: it comes back enabled and no $AB reaches us
    await pair.start();
    await world.evse.enable();
    const emu2 = await RapiEmulator.open({
      path: pair.b,
      charger: world.evse,
      clock,
      bootNotification: false,
    });
    try {
      await waitFor(() => links.at(-1) === true);
      // the driver held it asleep before the loss (the failed enable changed nothing): back to sleep
      await waitFor(() => world.evse.sleeping);
      expect(emu2.received.map((l) => l.code)).toContain('FS');
      await evse.enable();
      expect(world.evse.sleeping).toBe(false);
    } finally {
      await evse.close();
      await emu2.close();
    }
  });

  it('fails to open with EvseUnreachable when the device does not exist', async () => {
    const bad = new OpenEvse({ path: pair.a + '-missing', timeoutMs: 200 });
    await expect(bad.open()).rejects.toBeInstanceOf(EvseUnreachable);
    await bad.close();
  });
});
