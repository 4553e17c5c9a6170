import { describe, expect, it } from 'vitest';
import { clockFromConfig } from '../../daemon/clock-from-config.js';
import { ScaledClock } from '../../hardware/clock.js';
import { ByteWriter } from '../../protocol/bytes.js';

/** The wire encoding the receipt uses for timestamps (throws on a fractional number). */
const encodeU64Field = (v: number): unknown => new ByteWriter().u64(v);

describe('clocks give whole milliseconds', () => {
  it('a fractional speed (3.3333) with an anchor never yields a fractional timestamp', async () => {
    const clock = clockFromConfig({ speed: 3.3333, anchorMs: Date.now() - 12_345.5 });
    const seen: number[] = [];
    for (let i = 0; i < 200; i++) {
      seen.push(clock.now());
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 3));
    }
    await new Promise<void>((r) => clock.setTimer(10, () => r()));
    seen.push(clock.now());
    for (const t of seen) {
      expect(Number.isInteger(t), String(t)).toBe(true);
      expect(() => encodeU64Field(t)).not.toThrow();
    }
    expect(seen[seen.length - 1]).toBeGreaterThanOrEqual(seen[0]!);
  });

  it('ScaledClock floors a fractional start', () => {
    const clock = new ScaledClock(3.3333, 1_700_000_000_000.7);
    expect(clock.now()).toBeGreaterThanOrEqual(1_700_000_000_000);
    expect(Number.isInteger(clock.now())).toBe(true);
  });
});
