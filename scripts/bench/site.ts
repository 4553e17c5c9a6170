/**
 * A site on one wall daemon: N connectors (`--connectors N`, default 100) driven by ONE wall daemon process (the
 * CLI, a `connectors:` config) on ONE regtest wall lnd, at the promised 16 s invoice cadence, for
 * `--minutes M` (default 5) of simulated charging on a clock running `--speed S` times real time (default 1:
 * real time; the figure at speed S loads lnd S times harder than a real site).
 *
 * Each connector has its own simulated charger, meters and car (a sim world served to the wall over its own sim
 * bridge) and its own IP cable on loopback; the cars are real vehicle daemons (buyer machines, stores, link
 * code) running in this process, paying through the real regtest vehicle lnd (one connection shared by the cars).
 *
 * Prints: connectors, invoiceCyclesPerSec (settled invoices per real second while charging), lateInvoices
 * (settled more than one cadence after issue: after the next one was due), unpaidCuts (non-payment cuts),
 * settleMsP50/P99 (issued→settled, real ms), wallRssMb (the wall process's largest VmRSS), wallCpuPctIdle (all
 * connectors idle, % of one core, over 30 s once 15 s have passed since the wall was ready), wallCpuPctLoaded (all charging), maxPrepaidUndeliveredWh (car side) and
 * maxUnpaidWh (wall side) over every session, plus the machine's load average before and after (the machine is
 * shared: read the CPU figures against it).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { linkFromConfig } from '../../daemon/link-from-config.js';
import type { Logger } from '../../daemon/logger.js';
import { SystemClock } from '../../hardware/clock.js';
import { loadVehicleConfig } from '../../vehicle-module/config.js';
import { VehicleStore } from '../../vehicle-module/store.js';
import { VehicleDaemon } from '../../vehicle-module/vehicle-daemon.js';
import { WallStore } from '../../wall-module/store.js';
import { percentile, regtestNodes } from '../demo/books.js';
import { up } from '../regtest/network.js';
import { SiteRig, siteWallNodeFlags } from './site/rig.js';

export const description =
  'N connectors on one wall daemon and one wall lnd at the 16 s cadence: cycles/s, late invoices, settle latency, wall RSS and CPU, exposure';

const INVOICE_INTERVAL_SEC = 16;
const IDLE_SAMPLE_MS = 30_000;
/**
 * Real ms after the wall is ready before its idle CPU is sampled: the start's tail (lookups, compilation,
 * collection of the start's garbage) is not what an idle site costs.
 */
const IDLE_SETTLE_MS = 15_000;

/** A numeric `--name value` option. */
function option(name: string, def: number): number {
  const args = process.argv;
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(args[i + 1]) : def;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`bench site: --${name} must be a positive number`);
  return v;
}

/** CPU seconds (user + system) a process used so far. */
function cpuSec(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
  return ticks / 100; // USER_HZ
}

/** Resident memory of a process, MB. */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** % of one core a process used over `ms` real ms (sampling its RSS meanwhile). */
async function cpuOver(pid: number, ms: number, rss: { maxMb: number }): Promise<number> {
  const c0 = cpuSec(pid);
  const t0 = performance.now();
  const until = t0 + ms;
  while (performance.now() < until) {
    rss.maxMb = Math.max(rss.maxMb, rssMb(pid));
    await new Promise((r) => setTimeout(r, Math.min(1000, until - performance.now())));
  }
  return ((cpuSec(pid) - c0) / ((performance.now() - t0) / 1000)) * 100;
}

const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const r1 = (x: number): number => Math.round(x * 10) / 10;

export async function run(): Promise<Record<string, unknown>> {
  const connectors = Math.floor(option('connectors', 100));
  const speed = option('speed', 1);
  const minutes = option('minutes', 5);
  const loadBefore = loadavg();
  const net = await up({ log: () => undefined });
  const rig = await SiteRig.create({
    dir: mkdtempSync(join(tmpdir(), 'bench-site-')),
    connectionFile: net.connectionPath,
    connectors,
    speed,
    heartbeatRealMs: 10_000 / speed,
    logLevel: 'warn',
    car: { batteryCapacityWh: 75_000, initialSocPct: 15 },
  });
  const carNode = regtestNodes(net.connectionPath).vehicle;
  const vehicles: VehicleDaemon[] = [];
  const rss = { maxMb: 0 };
  let figures: Record<string, number>;
  try {
    const startedAt = performance.now();
    await rig.wall.start(300_000);
    const startSec = (performance.now() - startedAt) / 1000;
    const pid = rig.wall.pid!;
    await cpuOver(pid, IDLE_SETTLE_MS, rss);
    const idleCpu = await cpuOver(pid, IDLE_SAMPLE_MS, rss);
    const idleRssMb = rssMb(pid);
    // the cars: real vehicle daemons in this process (the wall's figures are its own process's)
    for (const car of rig.cars) {
      const config = loadVehicleConfig(car.vehicleConfig);
      vehicles.push(
        await VehicleDaemon.start({
          config,
          clock: rig.clock,
          log: quiet,
          store: VehicleStore.open(car.vehicleDb, rig.clock),
          node: carNode,
          link: linkFromConfig(config.link, 'vehicle'),
          meter: car.world.vehicleMeter,
        }),
      );
    }
    for (const car of rig.cars) car.world.plug();
    const t0 = performance.now();
    const loadedCpu = await cpuOver(pid, (minutes * 60_000) / speed, rss);
    const chargingSec = (performance.now() - t0) / 1000;
    for (const car of rig.cars) car.world.unplug();
    await new Promise((r) => setTimeout(r, 5000));
    figures = { startSec, idleCpu, loadedCpu, idleRssMb, chargingSec };
  } finally {
    await Promise.all(vehicles.map((v) => v.stop().catch(() => {})));
    await rig.stop();
    await carNode.close();
  }
  return { ...summarize(rig, speed), ...rest(figures, connectors, speed, minutes, rss, loadBefore) };
}

/** The process figures and the run's parameters. */
function rest(
  f: Record<string, number>,
  connectors: number,
  speed: number,
  minutes: number,
  rss: { maxMb: number },
  loadBefore: number[],
): Record<string, unknown> {
  return {
    connectors,
    // the wall process runs the TypeScript sources through tsx, or the compiled build with BOLTCHARGE_USE_DIST=1
    wallBuild: process.env['BOLTCHARGE_USE_DIST'] === '1' ? 'dist' : 'tsx',
    // Node/V8 flags of the wall process (the CLI's shebang, or BOLTCHARGE_BENCH_WALL_NODE_FLAGS)
    wallNodeFlags: siteWallNodeFlags().join(' '),
    clockSpeed: speed,
    simulatedMinutes: minutes,
    chargingRealSec: r1(f['chargingSec']!),
    wallStartSec: r1(f['startSec']!),
    wallRssMb: r1(rss.maxMb),
    wallRssIdleMb: r1(f['idleRssMb']!),
    wallCpuPctIdle: r1(f['idleCpu']!),
    wallCpuPctLoaded: r1(f['loadedCpu']!),
    cores: cpus().length,
    loadAvgBefore: loadBefore.map(r1),
    loadAvgAfter: loadavg().map(r1),
  };
}

/**
 * The ledger figures from the stores: settled invoices per real second of charging, lateness, settle latency,
 * non-payment cuts, and each session's largest exposure on either side.
 */
function summarize(rig: SiteRig, speed: number): Record<string, number> {
  const clock = new SystemClock();
  const w = WallStore.open(rig.wallDb, clock);
  const latenciesMs: number[] = [];
  let late = 0;
  let settled = 0;
  let maxUnpaidWh = 0;
  let maxPrepaidUndeliveredWh = 0;
  let firstIssue = Infinity;
  let lastSettle = 0;
  try {
    const unpaidCuts = (
      w.db
        .prepare(
          `SELECT COUNT(*) AS n FROM events WHERE kind = 'machine.powerCut' AND json_extract(data_json, '$.reason') = 'UNPAID'`,
        )
        .get() as { n: number }
    ).n;
    for (const s of rig.cars) {
      const v = VehicleStore.open(s.vehicleDb, clock);
      try {
        for (const sid of w.connectorSessionIds(s.id)) {
          const paid = w.invoices(sid).filter((i) => i.state === 'settled');
          for (const i of paid) {
            const ms = (i.settledAtMs! - i.issuedAtMs!) / speed;
            latenciesMs.push(ms);
            if (ms * speed > INVOICE_INTERVAL_SEC * 1000) late++;
            firstIssue = Math.min(firstIssue, i.issuedAtMs!);
            lastSettle = Math.max(lastSettle, i.settledAtMs!);
          }
          settled += paid.length;
          maxUnpaidWh = Math.max(
            maxUnpaidWh,
            largestGap(
              w.meterSamples(sid).map((m) => ({ tMs: m.tMs, wh: m.energyWh })),
              paid.map((i) => ({ tMs: i.settledAtMs!, wh: i.toWh - i.fromWh })),
              'delivered-paid',
            ),
          );
          const payments = v.payments(sid).filter((x) => x.state === 'succeeded');
          maxPrepaidUndeliveredWh = Math.max(
            maxPrepaidUndeliveredWh,
            largestGap(
              v.meterSamples(sid).map((m) => ({ tMs: m.tMs, wh: m.energyWh })),
              payments.map((x) => ({ tMs: x.finishedAtMs ?? Infinity, wh: x.toWh - x.fromWh })),
              'paid-delivered',
            ),
          );
        }
      } finally {
        v.close();
      }
    }
    const spanSec = lastSettle > firstIssue ? (lastSettle - firstIssue) / 1000 / speed : Number.NaN;
    return {
      invoicesSettled: settled,
      invoiceCyclesPerSec: Math.round((settled / spanSec) * 100) / 100,
      lateInvoices: late,
      unpaidCuts,
      settleMsP50: r1(percentile(latenciesMs, 50)),
      settleMsP99: r1(percentile(latenciesMs, 99)),
      maxPrepaidUndeliveredWh,
      maxUnpaidWh,
    };
  } finally {
    w.close();
  }
}

/**
 * The largest gap between a meter's energy (from its first sample) and paid blocks over time, Wh: sweeps the
 * samples and the payments in time order with a running paid total.
 *
 * @param samples meter readings (time, register Wh)
 * @param paid payments (time they completed, Wh they bought)
 * @param sense 'delivered-paid' (wall: delivered beyond paid) or 'paid-delivered' (car: paid beyond delivered)
 */
function largestGap(
  samples: { tMs: number; wh: number }[],
  paid: { tMs: number; wh: number }[],
  sense: 'delivered-paid' | 'paid-delivered',
): number {
  if (samples.length === 0) return 0;
  const order = [...paid].sort((a, b) => a.tMs - b.tMs);
  const base = samples[0]!.wh;
  let k = 0;
  let paidWh = 0;
  let max = 0;
  for (const s of samples) {
    while (k < order.length && order[k]!.tMs <= s.tMs) paidWh += order[k++]!.wh;
    const delivered = s.wh - base;
    max = Math.max(max, sense === 'delivered-paid' ? delivered - paidWh : paidWh - delivered);
  }
  return max;
}
