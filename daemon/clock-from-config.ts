/**
 * The daemon's clock from its configuration: real time, or accelerated time shared by several processes.
 */
import { ScaledClock, SystemClock, type Clock } from '../hardware/clock.js';
import type { ClockConfig } from './config-sections.js';

/**
 * Builds the clock.
 *
 * @param c `speed` (1 = real time) and optional `anchorMs`: with an anchor, time = anchor + (real now − anchor)
 *   × speed, the same in every process that uses the same anchor and speed
 * @returns the clock; its `now()` is always a whole number of milliseconds, whatever the speed
 */
export function clockFromConfig(c: ClockConfig): Clock {
  if (c.speed === 1) return new SystemClock();
  const anchor = c.anchorMs ?? Date.now();
  // a fractional speed (e.g. 3.3333) must not make a fractional start: ScaledClock floors it, and so do we
  return new ScaledClock(c.speed, Math.floor(anchor + (Date.now() - anchor) * c.speed));
}
