// CanIsoTpLink: liveness logic on the in-memory bus (ManualClock), then the real stack over PTYs —
// SlcanBus (serialport) + SLCAN emulator + ISO-TP — carrying 400-byte messages both ways at 33.3 and
// 500 kbit/s, and detecting a dropped adapter.
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryCanNetwork } from '../../hardware/can/memory-bus.js';
import { SlcanBus } from '../../hardware/can/slcan-bus.js';
import { SlcanEmulator } from '../../hardware/can/slcan-emulator.js';
import { ManualClock } from '../../hardware/clock.js';
import { CanIsoTpLink } from '../../hardware/link/can-isotp-link.js';
import { LinkDown } from '../../hardware/link/errors.js';

function payload(n: number, salt: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + salt) & 0xff);
}
/** Advances a ManualClock in 1 ms steps until `promise` settles. */
async function runUntil<T>(clock: ManualClock, promise: Promise<T>): Promise<T> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 10_000 && !done; i++) await clock.advance(1);
  return promise;
}
function nextMessage(link: CanIsoTpLink): Promise<Uint8Array> {
  return new Promise((resolve) => link.once('message', resolve));
}

describe('CanIsoTpLink liveness (in-memory bus, ManualClock)', () => {
  it('comes up on evidence of the peer, goes down on silence, on a vanished adapter, and reopens', async () => {
    const clock = new ManualClock(0);
    const net = new MemoryCanNetwork({ bitrate: 500_000, clock });
    const wallBus = net.attach('wall');
    const wall = new CanIsoTpLink({ bus: wallBus, role: 'wall', clock, silenceTimeoutMs: 5000 });
    const vehicle = new CanIsoTpLink({ bus: net.attach('vehicle'), role: 'vehicle', clock });
    const events: string[] = [];
    wall.on('up', () => events.push('up'));
    wall.on('down', (r) => events.push(`down:${r}`));
    await wall.open();
    await vehicle.open();
    expect(wall.isUp).toBe(false);
    await runUntil(clock, vehicle.send(payload(3, 1)));
    expect(events).toEqual(['up']);
    await clock.advance(5001);
    expect(events).toEqual(['up', 'down:silence']);
    await runUntil(clock, vehicle.send(payload(3, 2)));
    expect(wall.isUp).toBe(true);
    wallBus.fail(new Error('USB adapter unplugged'));
    expect(events.at(-1)).toBe('down:bus closed: USB adapter unplugged');
    await expect(wall.send(payload(3, 3))).rejects.toBeInstanceOf(LinkDown);
    await clock.advance(1000); // reopen attempt
    expect(wallBus.isOpen).toBe(true);
    await wall.close();
    await vehicle.close();
  });

  it('a multi-frame send to an absent peer fails with LinkDown after N_Bs', async () => {
    const clock = new ManualClock(0);
    const net = new MemoryCanNetwork({ bitrate: 500_000, clock });
    const wall = new CanIsoTpLink({ bus: net.attach('wall'), role: 'wall', clock });
    await wall.open();
    let result: unknown = 'pending';
    void wall.send(payload(100, 0)).catch((e: unknown) => (result = e));
    for (let i = 0; i < 1100 && result === 'pending'; i++) await clock.advance(1);
    expect(result).toBeInstanceOf(LinkDown);
    await wall.close();
  });
});

let emulator: SlcanEmulator | undefined;
const links: CanIsoTpLink[] = [];
afterEach(async () => {
  for (const l of links.splice(0)) await l.close();
  await emulator?.stop();
  emulator = undefined;
});

describe('CanIsoTpLink over SlcanBus + SLCAN emulator on real PTYs', () => {
  for (const bitrate of [33_333, 500_000])
    it(`400-byte messages each way at ${bitrate} bit/s; an unplugged adapter is detected on both sides`, async () => {
      emulator = new SlcanEmulator({
        bitrate,
        adapters: [{ name: 'wall' }, { name: 'vehicle', ackStyle: 'z' }],
      });
      const paths = await emulator.start();
      const wall = new CanIsoTpLink({ bus: new SlcanBus({ path: paths.wall!, bitrate }), role: 'wall' });
      const vehicle = new CanIsoTpLink({
        bus: new SlcanBus({ path: paths.vehicle!, bitrate, ackStyle: 'z' }),
        role: 'vehicle',
        reopenIntervalMs: 60_000,
      });
      links.push(wall, vehicle);
      await wall.open();
      await vehicle.open();
      const toVehicle = payload(400, 1);
      const toWall = payload(400, 2);
      const atVehicle = nextMessage(vehicle);
      const atWall = nextMessage(wall);
      await Promise.all([wall.send(toVehicle), vehicle.send(toWall)]);
      expect(await atVehicle).toEqual(toVehicle);
      expect(await atWall).toEqual(toWall);
      expect(wall.isUp && vehicle.isUp).toBe(true);
      // The vehicle's adapter vanishes: the vehicle sees its bus close; the wall sees its peer stop answering.
      const vehicleDown = new Promise<string>((r) => vehicle.once('down', r));
      const wallDown = new Promise<string>((r) => wall.once('down', r));
      await emulator.unplug('vehicle');
      expect(await vehicleDown).toMatch(/^bus closed/);
      await expect(wall.send(payload(100, 3))).rejects.toBeInstanceOf(LinkDown);
      expect(await wallDown).toMatch(/peer not answering/);
    });
});

describe('createCableLink from configuration', () => {
  it('builds a working SLCAN link pair from plain config; an IP vehicle without interface or address is refused', async () => {
    const { createCableLink } = await import('../../hardware/link/create-cable-link.js');
    emulator = new SlcanEmulator({ bitrate: 33_333, adapters: [{ name: 'wall' }, { name: 'vehicle' }] });
    const paths = await emulator.start();
    const wall = createCableLink('wall', { medium: 'slcan', path: paths.wall!, bitrate: 33_333 });
    const vehicle = createCableLink('vehicle', { medium: 'slcan', path: paths.vehicle!, bitrate: 33_333 });
    links.push(wall as CanIsoTpLink, vehicle as CanIsoTpLink);
    await wall.open();
    await vehicle.open();
    const got = new Promise<Uint8Array>((r) => vehicle.once('message', r));
    await wall.send(payload(20, 5));
    expect(await got).toEqual(payload(20, 5));
    expect(() => createCableLink('vehicle', { medium: 'ip' })).toThrow(/interface/);
  });
});
