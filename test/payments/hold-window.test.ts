import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { holdWindow, longestHoldSessionMs } from '../../payments/hold-window.js';

const MIN = 60_000;
const margin = { blockIntervalMs: 5 * MIN, marginBlocks: 20, holdExpiryDeltaBlocks: 12 };

describe('holdWindow', () => {
  it('settle-by height is the expiry minus the margin; the instant assumes the pessimistic block interval', () => {
    const r = holdWindow({
      ...margin,
      htlcExpiryHeight: 1_144,
      currentHeight: 1_000,
      nowMs: 1_700_000_000_000,
    });
    expect(r).toEqual({
      ok: true,
      value: { settleByHeight: 1_124, blocksLeft: 124, settleByMs: 1_700_000_000_000 + 124 * 5 * MIN },
    });
  });

  it('at or past the settle-by height there is no time left: act now', () => {
    for (const currentHeight of [1_124, 1_130, 1_200]) {
      const r = holdWindow({ ...margin, htlcExpiryHeight: 1_144, currentHeight, nowMs: 42 });
      expect(r.ok && r.value).toEqual({ settleByHeight: 1_124, blocksLeft: 0, settleByMs: 42 });
    }
  });

  it('one block before the settle-by height leaves one block interval', () => {
    const r = holdWindow({ ...margin, htlcExpiryHeight: 1_144, currentHeight: 1_123, nowMs: 0 });
    expect(r.ok && r.value.settleByMs).toBe(5 * MIN);
  });

  it('a margin not larger than lnd holdexpirydelta is refused: lnd would cancel before the wall acts', () => {
    for (const marginBlocks of [12, 5, 0]) {
      const r = holdWindow({
        ...margin,
        marginBlocks,
        htlcExpiryHeight: 1_144,
        currentHeight: 1_000,
        nowMs: 0,
      });
      expect(r).toEqual({
        ok: false,
        error: { name: 'HoldWindowMarginTooSmall', marginBlocks, holdExpiryDeltaBlocks: 12 },
      });
    }
  });

  it('refuses nonsense heights, intervals and times by name', () => {
    const base = { ...margin, htlcExpiryHeight: 1_144, currentHeight: 1_000, nowMs: 0 };
    const name = (r: ReturnType<typeof holdWindow>) => (r.ok ? 'ok' : r.error.name);
    expect(name(holdWindow({ ...base, currentHeight: -1 }))).toBe('HoldWindowHeightInvalid');
    expect(name(holdWindow({ ...base, htlcExpiryHeight: 1.5 }))).toBe('HoldWindowHeightInvalid');
    expect(name(holdWindow({ ...base, blockIntervalMs: 0 }))).toBe('HoldWindowIntervalInvalid');
    expect(name(holdWindow({ ...base, blockIntervalMs: Number.NaN }))).toBe('HoldWindowIntervalInvalid');
    expect(name(holdWindow({ ...base, nowMs: -5 }))).toBe('HoldWindowTimeInvalid');
  });
});

describe('longestHoldSessionMs', () => {
  it('an 80-block final CLTV delta with a 20-block margin allows 60 pessimistic blocks (5 h at 5 min)', () => {
    expect(longestHoldSessionMs({ ...margin, cltvDeltaBlocks: 80 })).toEqual({ ok: true, value: 300 * MIN });
  });

  it('is 0 when the margin eats the whole delta', () => {
    expect(longestHoldSessionMs({ ...margin, cltvDeltaBlocks: 18 })).toEqual({ ok: true, value: 0 });
  });

  it('never exceeds what holdWindow gives for an HTLC that arrived with exactly the delta', () => {
    for (const cltvDeltaBlocks of [18, 40, 80, 144, 2016]) {
      const longest = longestHoldSessionMs({ ...margin, cltvDeltaBlocks });
      const w = holdWindow({
        ...margin,
        htlcExpiryHeight: 500 + cltvDeltaBlocks,
        currentHeight: 500,
        nowMs: 0,
      });
      expect(longest.ok && w.ok && longest.value === w.value.settleByMs).toBe(true);
    }
  });
});

describe('hold window properties', () => {
  const args = fc.record({
    holdExpiryDeltaBlocks: fc.integer({ min: 0, max: 200 }),
    extraMarginBlocks: fc.integer({ min: 1, max: 200 }),
    blockIntervalMs: fc.integer({ min: 1, max: 3_600_000 }),
    currentHeight: fc.integer({ min: 0, max: 2_000_000 }),
    blocksToExpiry: fc.integer({ min: -500, max: 5_000 }),
    nowMs: fc.integer({ min: 0, max: 4_000_000_000_000 }),
  });

  it('the wall always acts before lnd cancels, never before now, and later blocks never extend the window', () => {
    fc.assert(
      fc.property(args, (a) => {
        const margin = {
          blockIntervalMs: a.blockIntervalMs,
          marginBlocks: a.holdExpiryDeltaBlocks + a.extraMarginBlocks,
          holdExpiryDeltaBlocks: a.holdExpiryDeltaBlocks,
        };
        const htlcExpiryHeight = Math.max(0, a.currentHeight + a.blocksToExpiry);
        const w = holdWindow({ ...margin, htlcExpiryHeight, currentHeight: a.currentHeight, nowMs: a.nowMs });
        const later = holdWindow({
          ...margin,
          htlcExpiryHeight,
          currentHeight: a.currentHeight + 1,
          nowMs: a.nowMs,
        });
        if (!w.ok || !later.ok) return false;
        return (
          w.value.settleByHeight < htlcExpiryHeight - a.holdExpiryDeltaBlocks &&
          w.value.settleByMs >= a.nowMs &&
          a.currentHeight + w.value.blocksLeft <= Math.max(a.currentHeight, w.value.settleByHeight) &&
          later.value.blocksLeft <= w.value.blocksLeft
        );
      }),
    );
  });
});
