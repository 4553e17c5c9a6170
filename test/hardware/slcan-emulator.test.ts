// Real serial code over real PTYs: SlcanBus (serialport) ↔ socat ↔ the SLCAN adapter emulator, for each ack
// style, with timestamps, BEL refusals and an adapter that vanishes.
import { afterEach, describe, expect, it } from 'vitest';
import { CanBusClosed, SlcanCommandRejected } from '../../hardware/can/errors.js';
import { canFrame, type CanFrame } from '../../hardware/can/frame.js';
import { SlcanBus } from '../../hardware/can/slcan-bus.js';
import { SlcanEmulator } from '../../hardware/can/slcan-emulator.js';

let emulator: SlcanEmulator | undefined;
const buses: SlcanBus[] = [];
afterEach(async () => {
  for (const b of buses.splice(0)) await b.close();
  await emulator?.stop();
  emulator = undefined;
});

/** Resolves with the first frame equal to `want` (other adapters' traffic reaches every node). */
function nextFrame(bus: SlcanBus, want: CanFrame): Promise<[CanFrame, number | undefined]> {
  return new Promise((resolve) => {
    const on = (f: CanFrame, ts: number | undefined): void => {
      if (f.id !== want.id || Buffer.compare(f.data, want.data) !== 0) return;
      bus.off('frame', on);
      resolve([f, ts]);
    };
    bus.on('frame', on);
  });
}

describe('SLCAN emulator over PTYs', () => {
  it('each ack style (cr, z, none) carries 11/29-bit, RTR and FD frames both ways; timestamps with Z1', async () => {
    emulator = new SlcanEmulator({
      bitrate: 500_000,
      adapters: [
        { name: 'a', ackStyle: 'cr' },
        { name: 'b', ackStyle: 'z' },
        { name: 'c', ackStyle: 'none' },
      ],
    });
    const paths = await emulator.start();
    const a = new SlcanBus({ path: paths.a!, bitrate: 500_000, ackStyle: 'cr' });
    const b = new SlcanBus({ path: paths.b!, bitrate: 500_000, ackStyle: 'z', timestamps: true });
    const c = new SlcanBus({ path: paths.c!, bitrate: 500_000, ackStyle: 'none' });
    buses.push(a, b, c);
    await Promise.all([a.open(), b.open(), c.open()]);
    const frames = [
      canFrame({ id: 0x7cd, data: [1, 2, 3] }),
      canFrame({ id: 0x1abcdef, data: [9, 8, 7, 6, 5, 4, 3, 2] }),
      canFrame({ id: 0x123, rtr: true, rtrLength: 3 }),
      canFrame({ id: 0x7cc, fd: true, brs: true, data: new Uint8Array(64).fill(0x5a) }),
    ];
    for (const [from, to] of [
      [a, b],
      [b, c],
      [c, a],
    ] as const) {
      for (const f of frames) {
        const got = nextFrame(to, f);
        await from.send(f);
        const [frame, ts] = await got;
        expect(frame).toEqual(f);
        if (to === b) expect(ts).toSatisfy((t: number) => Number.isInteger(t) && t >= 0 && t < 60_000);
        else expect(ts).toBeUndefined();
      }
    }
    expect(emulator.adapters.b!.commandLog.slice(0, 4)).toEqual(['C', 'S6', 'Z1', 'O']);
  });

  it('33.3 kbit/s via raw timing; an adapter at the wrong bitrate is refused with BEL', async () => {
    emulator = new SlcanEmulator({ bitrate: 33_333, adapters: [{ name: 'wall' }, { name: 'vehicle' }] });
    const paths = await emulator.start();
    const wrong = new SlcanBus({ path: paths.wall!, bitrate: 500_000 });
    await expect(wrong.open()).rejects.toBeInstanceOf(SlcanCommandRejected);
    const wall = new SlcanBus({ path: paths.wall!, bitrate: 33_333 });
    const vehicle = new SlcanBus({ path: paths.vehicle!, bitrate: 33_333 });
    buses.push(wall, vehicle);
    await wall.open();
    await vehicle.open();
    const f = canFrame({ id: 0x7cd, data: [0x42] });
    const got = nextFrame(vehicle, f);
    await wall.send(f);
    expect((await got)[0].data).toEqual(Uint8Array.of(0x42));
  });

  it('an unplugged adapter closes the bus with CanBusClosed', async () => {
    emulator = new SlcanEmulator({ bitrate: 500_000, adapters: [{ name: 'wall' }] });
    const paths = await emulator.start();
    const wall = new SlcanBus({ path: paths.wall!, bitrate: 500_000 });
    await wall.open();
    const closed = new Promise<Error | undefined>((r) => wall.once('close', r));
    await emulator.unplug('wall');
    expect(await closed).toBeInstanceOf(CanBusClosed);
    expect(wall.isOpen).toBe(false);
    await expect(wall.send(canFrame({ id: 1 }))).rejects.toBeInstanceOf(CanBusClosed);
  });
});

describe('SlcanBus paces frames to the bus', () => {
  it('600 frames sent at once through an adapter that buffers 256 are all accepted and arrive in order', async () => {
    // An adapter acks a frame when it is queued, not when it is on the wire: without pacing, a burst (ISO-TP
    // consecutive frames with STmin 0 and block size 0) overflows its buffer and it answers BEL.
    emulator = new SlcanEmulator({
      bitrate: 500_000,
      adapters: [
        { name: 'tx', txQueueFrames: 256 },
        { name: 'rx', txQueueFrames: 256 },
      ],
    });
    const paths = await emulator.start();
    const tx = new SlcanBus({ path: paths.tx!, bitrate: 500_000 });
    const rx = new SlcanBus({ path: paths.rx!, bitrate: 500_000 });
    buses.push(tx, rx);
    await Promise.all([tx.open(), rx.open()]);
    const received: number[] = [];
    const all = new Promise<void>((resolve) =>
      rx.on('frame', (f: CanFrame) => {
        received.push((f.data[0]! << 8) | f.data[1]!);
        if (received.length === 600) resolve();
      }),
    );
    const sends = Array.from({ length: 600 }, (_, i) =>
      tx.send(canFrame({ id: 0x7cd, data: [i >> 8, i & 0xff, 0, 0, 0, 0, 0, 0] })),
    );
    const results = await Promise.allSettled(sends);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    await all;
    expect(received).toEqual(Array.from({ length: 600 }, (_, i) => i));
  });
});
