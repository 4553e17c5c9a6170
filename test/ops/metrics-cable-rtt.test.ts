// The cable round-trip histogram is a projection of the wall's store: every `machine.cableRoundTrip` record the
// seller machine wrote (ping sent → pong received) is observed once, across scrapes, and nothing else is.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheus from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { DaemonMetrics } from '../../daemon/metrics.js';
import { ManualClock } from '../../hardware/clock.js';
import { WallStore } from '../../wall-module/store.js';

/** Cumulative bucket counts of the cable round-trip histogram in one scrape (`+Inf` = all observations). */
async function scrape(metrics: DaemonMetrics): Promise<{ le50ms: number; le250ms: number; all: number }> {
  const fam = parsePrometheus((await metrics.render()).body).find(
    (f) => f.name === 'boltcharge_cable_round_trip_seconds',
  );
  const b = (fam?.metrics[0] as { buckets?: Record<string, string> } | undefined)?.buckets ?? {};
  return { le50ms: Number(b['0.05']), le250ms: Number(b['0.25']), all: Number(b['+Inf']) };
}

describe('metrics: cable round trip', () => {
  it('observes each recorded round trip once, in seconds, across scrapes', async () => {
    const store = WallStore.open(
      join(mkdtempSync(join(tmpdir(), 'rtt-')), 'wall.sqlite'),
      new ManualClock(0),
    );
    const metrics = new DaemonMetrics({ role: 'wall', db: store.db, snapshot: () => null });
    store.appendEvent('s1', 'machine.cableRoundTrip', { rttMs: 40 });
    store.appendEvent('s1', 'machine.cableRoundTrip', { rttMs: 160 });
    store.appendEvent('s1', 'machine.powerCut', { reason: 'UNPAID' });
    expect(await scrape(metrics)).toEqual({ le50ms: 1, le250ms: 2, all: 2 });
    expect(await scrape(metrics)).toEqual({ le50ms: 1, le250ms: 2, all: 2 });
    store.appendEvent('s1', 'machine.cableRoundTrip', { rttMs: 800 });
    expect(await scrape(metrics)).toEqual({ le50ms: 1, le250ms: 2, all: 3 });
    store.close();
  });
});
