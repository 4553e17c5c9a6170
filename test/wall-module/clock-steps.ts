// Driving a manual clock in steps for the in-process rigs (one connector, a site): real I/O callbacks (the
// in-memory cable's setImmediate) run between steps.
import type { ManualClock } from '../../hardware/clock.js';

/**
 * Advances the clock by `ms` in `stepMs` steps, letting I/O callbacks run between steps.
 *
 * @param clock the rig's clock
 * @param ms clock time to run
 * @param stepMs one step (default 100 ms)
 */
export async function runClock(clock: ManualClock, ms: number, stepMs = 100): Promise<void> {
  for (let t = 0; t < ms; t += stepMs) {
    await clock.advance(stepMs);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
  }
}

/**
 * Runs the clock in 100 ms steps until `cond` holds.
 *
 * @param clock the rig's clock
 * @param what what is awaited (for the timeout message)
 * @param cond the condition
 * @param maxMs most clock time to run
 * @throws Error when `cond` still fails after `maxMs`
 */
export async function runClockUntil(
  clock: ManualClock,
  what: string,
  cond: () => boolean,
  maxMs = 120_000,
): Promise<void> {
  for (let t = 0; t < maxMs && !cond(); t += 100) await runClock(clock, 100);
  if (!cond()) throw new Error(`timed out (${maxMs} ms of clock time) waiting: ${what}`);
}
