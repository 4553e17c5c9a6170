// The in-memory CAN network: bits per frame (worst-case stuffing), frame timing that follows the bitrate,
// arbitration by identifier, delivery to every other open node, and a vanished node.
import { describe, expect, it } from 'vitest';
import { classicFrameBits, frameDurationMs } from '../../hardware/can/bit-timing.js';
import { CanBusClosed } from '../../hardware/can/errors.js';
import { canFrame, type CanFrame } from '../../hardware/can/frame.js';
import { MemoryCanNetwork } from '../../hardware/can/memory-bus.js';
import { ManualClock } from '../../hardware/clock.js';

describe('bit timing', () => {
  it('classic frames: 47/67 fixed bits + 8 per byte + worst-case stuff bits', () => {
    expect(classicFrameBits(0)).toBe(47 + 8); // ⌊33/4⌋ = 8 stuff bits
    expect(classicFrameBits(8)).toBe(47 + 64 + 24);
    expect(classicFrameBits(8, true)).toBe(67 + 64 + Math.floor((54 + 64 - 1) / 4));
    expect(frameDurationMs(canFrame({ id: 1, data: new Uint8Array(8) }), { bitrate: 33_333 })).toBeCloseTo(
      (135 / 33_333) * 1000,
      9,
    );
  });
  it('CAN FD with BRS is faster than without, and both faster per byte than classic', () => {
    const data = new Uint8Array(64);
    const rates = { bitrate: 500_000, dataBitrate: 2_000_000 };
    const brs = frameDurationMs(canFrame({ id: 1, fd: true, brs: true, data }), rates);
    const noBrs = frameDurationMs(canFrame({ id: 1, fd: true, data }), rates);
    expect(brs).toBeLessThan(noBrs);
    expect(noBrs).toBeLessThan(8 * frameDurationMs(canFrame({ id: 1, data: new Uint8Array(8) }), rates));
  });
});

describe('MemoryCanNetwork', () => {
  it('times frames by bitrate, arbitrates by id, delivers to all other open nodes', async () => {
    const clock = new ManualClock(0);
    const net = new MemoryCanNetwork({ bitrate: 125_000, clock });
    const [a, b, c, closed] = [net.attach('a'), net.attach('b'), net.attach('c'), net.attach('closed')];
    for (const n of [a, b, c]) await n.open();
    const seen: [string, number, number][] = [];
    for (const [name, n] of [
      ['a', a],
      ['b', b],
      ['c', c],
      ['closed', closed],
    ] as const)
      n.on('frame', (f: CanFrame) => seen.push([name, f.id, clock.now()]));
    const frameMs = (135 / 125_000) * 1000; // 1.08 ms
    const p1 = a.send(canFrame({ id: 0x300, data: new Uint8Array(8) }));
    const p2 = a.send(canFrame({ id: 0x301, data: new Uint8Array(8) }));
    const p3 = b.send(canFrame({ id: 0x100, data: new Uint8Array(8) }));
    await clock.advance(10);
    await Promise.all([p1, p2, p3]);
    // a's 0x300 and b's 0x100 compete at t=0: 0x100 wins; then 0x300, then a's queued 0x301
    const atC = seen.filter(([n]) => n === 'c');
    expect(atC.map(([, id]) => id)).toEqual([0x100, 0x300, 0x301]);
    expect(atC[0]![2]).toBeCloseTo(frameMs, 6); // delivered when its transmission completes
    expect(atC[2]![2]).toBeCloseTo(3 * frameMs, 6);
    expect(seen.filter(([n]) => n === 'a').map(([, id]) => id)).toEqual([0x100]);
    expect(seen.filter(([n]) => n === 'b').map(([, id]) => id)).toEqual([0x300, 0x301]);
    expect(seen.some(([n]) => n === 'closed')).toBe(false);
    expect(net.framesTransmitted).toBe(3);
  });

  it('100 back-to-back frames take exactly 100 frame times of bus time', async () => {
    const clock = new ManualClock(0);
    const net = new MemoryCanNetwork({ bitrate: 500_000, clock });
    const a = net.attach();
    const b = net.attach();
    await a.open();
    await b.open();
    let last = 0;
    b.on('frame', () => (last = clock.now()));
    const sends = Array.from({ length: 100 }, () => a.send(canFrame({ id: 1, data: new Uint8Array(8) })));
    for (let t = 0; t < 40; t += 0.01) await clock.advance(0.01);
    await Promise.all(sends);
    expect(last).toBeCloseTo((100 * 135 * 1000) / 500_000, 1);
  });

  it('a failed node rejects its queued frames with the reason and emits close', async () => {
    const clock = new ManualClock(0);
    const net = new MemoryCanNetwork({ bitrate: 500_000, clock });
    const a = net.attach();
    await a.open();
    const reasons: (Error | undefined)[] = [];
    a.on('close', (r) => reasons.push(r));
    const pending = a.send(canFrame({ id: 1 }));
    const boom = new Error('unplugged');
    a.fail(boom);
    await expect(pending).rejects.toBe(boom);
    expect(reasons).toEqual([boom]);
    await expect(a.send(canFrame({ id: 1 }))).rejects.toBeInstanceOf(CanBusClosed);
  });
});
