import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { negotiateVersion, openFrame, sealMessage, type ChannelState } from '../../protocol/index.js';
import { buildHandshake } from '../vectors/build.js';

function channels(): { wall: ChannelState; vehicle: ChannelState } {
  const hs = buildHandshake();
  return { wall: hs.wall, vehicle: { ...hs.vehicle, recvNext: 1 } };
}

function seal(ch: ChannelState, atMs: number): { ch: ChannelState; frame: Uint8Array } {
  const r = sealMessage(ch, { type: 'ping', atMs });
  if (!r.ok) throw new Error(r.error.message);
  return { ch: r.value.channel, frame: r.value.frame };
}

describe('secure channel', () => {
  it('opens what the peer sealed, in order', () => {
    let { wall, vehicle } = channels();
    for (let i = 0; i < 5; i++) {
      const s = seal(wall, i);
      wall = s.ch;
      const o = openFrame(vehicle, s.frame);
      if (!o.ok) throw new Error(o.error.message);
      expect(o.value.message).toEqual({ type: 'ping', atMs: i });
      expect(o.value.gap).toBe(0);
      vehicle = o.value.channel;
    }
  });

  it('rejects a replayed frame', () => {
    const { wall, vehicle } = channels();
    const s = seal(wall, 1);
    const first = openFrame(vehicle, s.frame);
    if (!first.ok) throw new Error('open');
    expect(openFrame(first.value.channel, s.frame)).toMatchObject({
      ok: false,
      error: { name: 'ReplayedFrame' },
    });
  });

  it('rejects a reordered (older) frame but accepts a gap', () => {
    const { wall, vehicle } = channels();
    const a = seal(wall, 1);
    const b = seal(a.ch, 2);
    const gotB = openFrame(vehicle, b.frame);
    if (!gotB.ok) throw new Error('open');
    expect(gotB.value.gap).toBe(1);
    expect(openFrame(gotB.value.channel, a.frame)).toMatchObject({
      ok: false,
      error: { name: 'ReplayedFrame' },
    });
  });

  it('rejects a frame from another session and one sealed in the wrong direction', () => {
    const { wall, vehicle } = channels();
    const foreign = { ...wall, sessionId: 'ff'.repeat(16) };
    expect(openFrame(vehicle, seal(foreign, 1).frame)).toMatchObject({
      ok: false,
      error: { name: 'ForeignSession' },
    });
    const backwards = seal({ ...vehicle, sendCounter: 5 }, 1);
    expect(openFrame(vehicle, backwards.frame)).toMatchObject({
      ok: false,
      error: { name: 'DecryptionFailed' },
    });
  });

  it('detects tampering with any single byte (property)', () => {
    const { wall, vehicle } = channels();
    const { frame } = seal(wall, 123456);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: frame.length - 1 }), fc.integer({ min: 1, max: 255 }), (i, x) => {
        const t = Uint8Array.from(frame);
        t[i] = (t[i] as number) ^ x;
        expect(openFrame(vehicle, t).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('negotiates the highest common version, or none', () => {
    expect(negotiateVersion([1, 2, 3], [2, 3, 4])).toBe(3);
    expect(negotiateVersion([1], [1, 2])).toBe(1);
    expect(negotiateVersion([2], [1])).toBeUndefined();
  });
});
