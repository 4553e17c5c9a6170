import { describe, expect, it } from 'vitest';
import { connectorAvailable, statusActions } from '../../daemon/status-actions.js';
import { hostNameOf } from '../../daemon/status-guard.js';
import { StatusHistory } from '../../daemon/status-history.js';
import { WallBooksFixture } from './status-fixture.js';

describe('status history', () => {
  it('groups sessions by the viewer’s local day and Monday-based week', async () => {
    const fx = new WallBooksFixture();
    // Tue 1 Dec 2026 09:00 UTC, Sun 6 Dec 23:30 UTC, Mon 7 Dec 00:30 UTC
    for (const gapMs of [0, 5 * 86_400_000 + 14.5 * 3_600_000, 3_600_000]) {
      await fx.clock.advance(gapMs);
      await fx.start();
      await fx.charge(10);
      fx.end();
    }
    const h = new StatusHistory(fx.store, 'wall', 60);
    expect(h.buckets('day', 0).map((b) => b.sessions)).toEqual([1, 1, 1]);
    const utcWeeks = h.buckets('week', 0);
    expect(utcWeeks.map((b) => [b.startMs, b.sessions])).toEqual([
      [Date.UTC(2026, 11, 7), 1],
      [Date.UTC(2026, 10, 30), 2],
    ]);
    // in CET (UTC+1) Sunday 23:30 UTC is already Monday: two sessions in the week of 7 Dec
    const cetWeeks = h.buckets('week', 60);
    expect(cetWeeks.map((b) => [b.startMs, b.sessions])).toEqual([
      [Date.UTC(2026, 11, 7) - 3_600_000, 2],
      [Date.UTC(2026, 10, 30) - 3_600_000, 1],
    ]);
    // the totals equal the books
    const all = h.sessions({ limit: 10 }).items;
    expect(utcWeeks.reduce((a, b) => a + b.paidMsat, 0n)).toBe(all.reduce((a, s) => a + s.paidMsat, 0n));
    // latency in real ms
    const lines = h.ledger(all[0]!.id, -1, 100).items.filter((l) => l.outcome === 'paid');
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l.latencyRealMs).toBe(130); // 7,800 daemon ms on the ×60 clock
    fx.store.close();
  });

  it('records operator availability in the event log; the last record wins and unknown connectors are refused', () => {
    const fx = new WallBooksFixture();
    const actions = statusActions(fx.store, {
      connectors: [1],
      sessionId: () => null,
      stopSession: () => {},
      clearAlarms: () => 0,
      availability: true,
    });
    expect(connectorAvailable(fx.store, 1)).toBe(true);
    expect(actions.setAvailability(1, false, 'test')).toMatchObject({ ok: true });
    expect(connectorAvailable(fx.store, 1)).toBe(false);
    expect(actions.setAvailability(1, true, 'test')).toMatchObject({ ok: true });
    expect(connectorAvailable(fx.store, 1)).toBe(true);
    expect(actions.setAvailability(2, false, 'test')).toMatchObject({
      ok: false,
      reason: 'UnknownConnector',
    });
    expect(actions.stopSession(1, 'test')).toMatchObject({ ok: false, reason: 'NoSession' });
    fx.store.close();
  });

  it('reads host names from Host headers and listen addresses', () => {
    expect(hostNameOf('127.0.0.1:8410')).toBe('127.0.0.1');
    expect(hostNameOf('[::1]:8410')).toBe('::1');
    expect(hostNameOf('::1')).toBe('::1');
    expect(hostNameOf('::')).toBe('::');
    expect(hostNameOf('Charger.Local')).toBe('charger.local');
  });
});
