// Observability end to end: a full charging session between the two daemons (real child processes, real
// regtest lnd, emulated SLCAN cable). The wall runs under a stand-in for systemd's notification socket; its
// `/metrics` is scraped during the session and parsed with a Prometheus text-format parser, and at the end
// its counters must equal the books (msat received = wall ledger = wall node; vehicle paid = vehicle ledger).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheus, { type PrometheusFamily } from 'parse-prometheus-text-format';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { readBooks } from '../../scripts/demo/books.js';
import { ChargeRig } from '../../scripts/demo/rig.js';
import { NotifyListener } from './notify-listener.js';

const WATCHDOG_USEC = 4_000_000;

async function scrape(statusUrl: string): Promise<PrometheusFamily[]> {
  const r = await fetch(new URL('metrics', statusUrl));
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await r.text());
}

function value(families: PrometheusFamily[], name: string, labels: Record<string, string> = {}): number {
  const f = families.find((x) => x.name === name);
  if (!f) throw new Error(`metric ${name} missing`);
  const m = f.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  if (!m) throw new Error(`metric ${name}${JSON.stringify(labels)} missing`);
  return Number(m.value);
}

describe('metrics and sd_notify during a real session', () => {
  let rig: ChargeRig | undefined;
  let listener: NotifyListener | undefined;
  afterEach(async () => {
    await rig?.stop();
    listener?.close();
  });

  it('/metrics parses mid-session and agrees with the books at the end; READY, WATCHDOG cadence, STOPPING', async () => {
    const connectionFile = inject('regtestConnectionPath');
    const dir = mkdtempSync(join(tmpdir(), 'ops-metrics-'));
    rig = await ChargeRig.create({
      dir,
      connectionFile,
      link: 'can',
      speed: 10,
      vehicle: { limits: { targetEnergyWh: 400 } },
    });
    listener = await NotifyListener.listen(join(dir, 'notify.sock'));
    // only the wall runs "under systemd"
    process.env.NOTIFY_SOCKET = listener.socket;
    process.env.WATCHDOG_USEC = String(WATCHDOG_USEC);
    try {
      await rig.wall.start();
    } finally {
      delete process.env.NOTIFY_SOCKET;
      delete process.env.WATCHDOG_USEC;
    }
    await rig.vehicle.start();
    const ready = await listener.waitFor('READY=1');
    expect(ready.text).toContain(`MAINPID=${rig.wall.pid}`);

    rig.world.plug();
    const seenPhases = new Set<string>();
    let midSessionScrapes = 0;
    await rig.until(
      'both sides ended',
      async () => {
        const families = await scrape(rig!.wall.statusUrl);
        const phase = families.find((f) => f.name === 'boltcharge_session_phase')?.metrics[0]?.labels?.phase;
        if (phase) seenPhases.add(phase);
        if (phase === 'charging') {
          midSessionScrapes++;
          expect(value(families, 'boltcharge_node_reachable')).toBe(1);
          expect(value(families, 'boltcharge_sessions', { status: 'active' })).toBe(1);
          expect(value(families, 'boltcharge_unpaid_exposure_wh')).toBeGreaterThanOrEqual(0);
        }
        const [w, v] = await Promise.all([rig!.wall.status(), rig!.vehicle.status()]);
        return w.state === 'ended' && v.state === 'ended';
      },
      180_000,
    );
    expect(seenPhases.has('charging')).toBe(true);
    expect(midSessionScrapes).toBeGreaterThan(0);

    const wall = await scrape(rig.wall.statusUrl);
    const vehicle = await scrape(rig.vehicle.statusUrl);
    const wallPid = rig.wall.pid;
    await rig.stop();
    await listener.waitFor('STOPPING=1');

    const books = await readBooks(rig.files, connectionFile);
    expect(books.problems).toEqual([]); // ledgers = nodes (every settled invoice / payment checked at its node)
    expect(books.sessions).toHaveLength(1);
    const b = books.sessions[0]!;
    expect(b.wallSettledMsat).toBeGreaterThan(0n);
    expect(value(wall, 'boltcharge_received_msat_total')).toBe(Number(b.wallSettledMsat));
    expect(value(vehicle, 'boltcharge_paid_msat_total')).toBe(Number(b.vehiclePaidMsat));
    expect(value(wall, 'boltcharge_invoices_total', { state: 'settled' })).toBe(b.invoicesSettled);
    expect(value(wall, 'boltcharge_invoices_total', { state: 'issued' })).toBe(b.invoicesIssued);
    expect(value(vehicle, 'boltcharge_payments_total', { state: 'succeeded' })).toBe(b.paymentsSucceeded);
    expect(value(wall, 'boltcharge_sessions_ended_total', { reason: b.wallStopReason! })).toBe(1);
    const settle = wall.find((f) => f.name === 'boltcharge_settlement_seconds');
    expect(settle?.type).toBe('HISTOGRAM');
    // (this parser drops _count/_sum of labelled histograms; the +Inf bucket is the count)
    expect(Number(settle?.metrics[0]?.buckets?.['+Inf'])).toBe(b.invoicesSettled);
    expect(value(wall, 'boltcharge_meter_energy_wh', { meter: 'own' })).toBeGreaterThanOrEqual(
      b.wallEnergyWh - 1,
    );
    expect(value(wall, 'boltcharge_events_total', { kind: 'powerCut.verified' })).toBeGreaterThanOrEqual(0);

    // WATCHDOG=1 from the session loop at half of WATCHDOG_USEC, between READY and STOPPING
    const pings = listener.with('WATCHDOG=1').map((n) => n.atMs);
    const stopping = listener.with('STOPPING=1')[0]!.atMs;
    expect(pings.length).toBeGreaterThan(3);
    const gaps = pings.slice(1).map((t, i) => t - pings[i]!);
    const halfMs = WATCHDOG_USEC / 2000;
    console.log(
      `wall pid ${wallPid}: ${pings.length} WATCHDOG=1, gaps ${Math.min(...gaps)}–${Math.max(...gaps)} ms`,
    );
    // paced at half the interval, not on every loop tick (100 real ms here, clock at 10×). Arrival times carry
    // this test's own event-loop delay: one late arrival shortens the next gap (CI once saw 1,948.5 ms against a
    // 50 ms margin), so the lower bound allows a quarter of the pacing
    for (const g of gaps) {
      expect(g).toBeGreaterThanOrEqual(halfMs * 0.75);
      expect(g).toBeLessThan(WATCHDOG_USEC / 1000); // systemd would have restarted it
    }
    expect(pings[0]!).toBeGreaterThanOrEqual(ready.atMs - 50);
    expect(pings.at(-1)!).toBeLessThanOrEqual(stopping);
  }, 300_000);
});
