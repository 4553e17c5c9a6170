import { describe, expect, it } from 'vitest';
import { PreciseClock } from '../../hardware/can/precise-clock.js';

// Real time by design (the clock exists to follow it); the assertions hold however slow the machine is:
// a timer never fires before it is due, fires once, and a cancelled one never fires.
describe('PreciseClock', () => {
  it('reads fractional milliseconds of real time', () => {
    const clock = new PreciseClock();
    const a = clock.now();
    expect(Math.abs(a - Date.now())).toBeLessThan(50);
    expect(clock.now()).toBeGreaterThanOrEqual(a);
  });

  it('never fires a sub-millisecond or multi-millisecond timer early, and fires it once', async () => {
    const clock = new PreciseClock();
    for (const delayMs of [0, 0.27, 0.9, 2.3]) {
      const start = clock.now();
      let calls = 0;
      const firedAt = await new Promise<number>((resolve) =>
        clock.setTimer(delayMs, () => {
          calls++;
          resolve(clock.now());
        }),
      );
      expect(firedAt - start).toBeGreaterThanOrEqual(delayMs);
      await clock.sleep(3);
      expect(calls).toBe(1);
    }
  });

  it('a cancelled timer never fires', async () => {
    const clock = new PreciseClock();
    let fired = false;
    for (const delayMs of [0, 0.5, 2, 20]) clock.setTimer(delayMs, () => (fired = true)).cancel();
    await clock.sleep(3);
    expect(fired).toBe(false);
  });
});
