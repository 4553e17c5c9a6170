/**
 * `npm run bench -- settle [--json]`: in one run, between the same two regtest lnd nodes (`wall`, `vehicle`),
 * - raw: the wall node creates an invoice and the vehicle node pays it, through `lightning` (the library
 *   ln-service re-exports) directly, in two ways: **paced** (one create+pay started every 16 s ÷ speed real ms,
 *   the rate at which the daemons pay: the like-for-like baseline) and **back to back** (the next create the
 *   moment the last pay returned). lnd pays faster back to back than at a steady cadence (its links and the
 *   machine stay warm: on the development machine 70–90 ms against 120–130 ms p50 at a 291 ms cadence), so the
 *   headline ratios are against the paced payments and the back-to-back ones are printed beside them. Each kind
 *   runs half before the daemons and half after, so a machine that gets busier or quieter during the run weighs
 *   on both sides alike;
 * - daemons: the real wall and vehicle daemons (CLI child processes, demo rig: SLCAN emulator on PTYs at
 *   500 kbit/s, simulated charger, car and meters) charge at the promised 16 s cadence on the demo's clock
 *   (55×: 20 kWh would take about two minutes), and each settled invoice's issued → settled latency is read
 *   from the wall's ledger (daemon-clock ms ÷ speed = real ms). The same session runs again over an IP link
 *   (TCP on loopback, as over PLC), reported as `ipLink`: the invoice's cable transfer is then negligible, so its
 *   ratio shows what the daemons add beyond the payment and the wire.
 *
 * Prints p50/p99 of raw create+pay (from the create call to the payer's success), of raw pay alone (from the
 * invoice in hand to success: the span the daemons' issued → settled covers), of the daemons' issued → settled,
 * and the ratios daemons ÷ raw (paced; `rawBackToBack` and `ratioVsBackToBack*` for the back-to-back payments). Late invoices are those settled more than one cadence after they were issued.
 * `stages` splits the daemons' latency by the two ledgers' timestamps (p50/p99, real ms): `cableAndCheck` (wall
 * issued → vehicle recorded the payment: the invoice's cable transfer and the buyer's checks), `recordToSend`
 * (vehicle write-ahead → pay started), `sendToWallSettled` (node cross-check, status lookup and the payment, to
 * the wall's subscription seeing it settled), `sendToPayerDone` (the same to the payer's success).
 * `hotPathCosts` prices what the daemons add per invoice beyond the payment itself, measured raw in the same run:
 * the vehicle's extra lnd round trips before each pay (`decodePaymentRequest` cross-check, `getPayment` status
 * lookup of a hash never paid) and one committed write to a daemon store (SQLite WAL, synchronous FULL: an fsync,
 * done synchronously on the event loop; the hot path makes several per invoice).
 * Needs the regtest toolchain; brings the network up when it is down (and down again afterwards).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  authenticatedLndGrpc,
  createInvoice,
  decodePaymentRequest,
  getPayment,
  payViaPaymentRequest,
} from 'lightning';
import { openDatabase } from '../../daemon/database.js';
import { SystemClock } from '../../hardware/clock.js';
import { VehicleStore } from '../../vehicle-module/store.js';
import { WallStore } from '../../wall-module/store.js';
import { percentile, readBooks } from '../demo/books.js';
import {
  cadenceOverlays,
  DEMO_MAX_POWER_W,
  PROMISED_INVOICE_INTERVAL_SEC,
  speedForDuration,
} from '../demo/cadence.js';
import { ChargeRig } from '../demo/rig.js';
import { down, up, type NetworkConnection } from '../regtest/network.js';

export const description =
  'raw lnd create+pay vs the daemons’ issued→settled at the 16 s cadence, same two regtest nodes, p50/p99 and ratio';

/** Raw payments in all: a quarter each back to back and paced, before the daemons and again after them. */
const RAW_PAYMENTS = 160;
/** Energy the daemons charge, Wh (about 125 invoices of 48 Wh). */
const DAEMON_ENERGY_WH = 6_000;
const PRICE_MSAT_PER_WH = 100;
/** The demo's clock: 20 kWh at 11 kW in about two minutes. */
const SPEED = speedForDuration(20_000, DEMO_MAX_POWER_W, 120);

interface RawSample {
  createPayMs: number;
  payMs: number;
  decodeMs: number;
  statusMs: number;
}

/**
 * Raw invoices of a demo block's amount, each created by `wall` and paid by `vehicle`.
 *
 * @param conn the regtest network
 * @param count how many
 * @param amountMsat each invoice's amount
 * @param paceMs null: back to back; else each create+pay starts on a grid of this many real ms
 * @returns one sample per payment
 */
async function rawPayments(
  conn: NetworkConnection,
  count: number,
  amountMsat: number,
  paceMs: number | null,
): Promise<RawSample[]> {
  const client = (n: 'wall' | 'vehicle'): ReturnType<typeof authenticatedLndGrpc>['lnd'] =>
    authenticatedLndGrpc({
      socket: conn.nodes[n].socket,
      cert: conn.nodes[n].cert,
      macaroon: conn.nodes[n].macaroon,
    }).lnd;
  const wall = client('wall');
  const vehicle = client('vehicle');
  const out: RawSample[] = [];
  const gridStart = performance.now();
  for (let i = 0; i < count; i++) {
    if (paceMs !== null) {
      const waitMs = gridStart + i * paceMs - performance.now();
      if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
    }
    const t0 = performance.now();
    const inv = await createInvoice({ lnd: wall, mtokens: String(amountMsat), description: 'bench settle' });
    const t1 = performance.now();
    await payViaPaymentRequest({ lnd: vehicle, request: inv.request, max_fee_mtokens: '10000' });
    const t2 = performance.now();
    // the two lookups the vehicle daemon makes before each pay, timed apart from the payment above (a second
    // invoice, never paid: getPayment answers "not found", as it does for a fresh invoice)
    const other = await createInvoice({
      lnd: wall,
      mtokens: String(amountMsat),
      description: 'bench lookup',
    });
    const t3 = performance.now();
    await decodePaymentRequest({ lnd: vehicle, request: other.request });
    const t4 = performance.now();
    await getPayment({ lnd: vehicle, id: other.id }).catch(() => undefined);
    const t5 = performance.now();
    out.push({ createPayMs: t2 - t0, payMs: t2 - t1, decodeMs: t4 - t3, statusMs: t5 - t4 });
  }
  return out;
}

/**
 * The daemons charge `DAEMON_ENERGY_WH` at the promised cadence over one kind of cable link.
 *
 * @param connectionFile the regtest network's connection file
 * @param link `can`: ISO-TP over the SLCAN emulator on PTYs at 500 kbit/s (the retrofit's CAN link); `ip`: TCP over
 *   loopback (a PLC/IP link, where the invoice's transfer takes well under a millisecond)
 * @returns real issued→settled ms per invoice, late invoices, stages (real ms)
 */
async function daemonLatencies(
  connectionFile: string,
  link: 'can' | 'ip',
): Promise<{ latenciesMs: number[]; late: number; stages: Record<string, number[]> }> {
  const overlays = cadenceOverlays({
    targetWh: DAEMON_ENERGY_WH,
    priceMsatPerWh: PRICE_MSAT_PER_WH,
    invoiceIntervalSec: PROMISED_INVOICE_INTERVAL_SEC,
    speed: SPEED,
  });
  const rig = await ChargeRig.create({
    dir: mkdtempSync(join(tmpdir(), 'bench-settle-')),
    connectionFile,
    ...(link === 'can' ? { link: 'can' as const, bitrate: 500_000 } : { link: 'ip' as const }),
    speed: SPEED,
    wall: overlays.wall,
    vehicle: overlays.vehicle,
    world: { car: { batteryCapacityWh: 75_000, initialSocPct: 15 } },
  });
  try {
    await rig.startDaemons();
    rig.world.plug();
    await rig.until(
      'the session to end on both sides',
      async () => {
        const [w, v] = await Promise.all([rig.wall.status(), rig.vehicle.status()]);
        return w.state === 'ended' && v.state === 'ended';
      },
      Math.max(120_000, ((DAEMON_ENERGY_WH / DEMO_MAX_POWER_W) * 3_600_000 * 3) / SPEED),
      500,
    );
    rig.world.unplug();
  } finally {
    await rig.stop();
  }
  const books = await readBooks(rig.files, connectionFile);
  const s = books.sessions[books.sessions.length - 1];
  if (!s) throw new Error('bench settle: the daemons recorded no session');
  if (books.problems.length > 0)
    throw new Error(`bench settle: accounts disagree: ${books.problems.join('; ')}`);
  return {
    latenciesMs: s.settleLatenciesMs.map((ms) => ms / SPEED),
    stages: stageLatencies(rig.files, s.sessionId),
    late: s.settleLatenciesMs.filter((ms) => ms > PROMISED_INVOICE_INTERVAL_SEC * 1000).length,
  };
}

/**
 * Per settled invoice, the stages between the two ledgers' timestamps (daemon clocks share one anchor and speed).
 *
 * @returns real ms per stage name
 */
function stageLatencies(
  files: { wallDb: string; vehicleDb: string },
  sessionId: string,
): Record<string, number[]> {
  const clock = new SystemClock();
  const w = WallStore.open(files.wallDb, clock);
  const v = VehicleStore.open(files.vehicleDb, clock);
  const stages: Record<string, number[]> = {
    cableAndCheck: [],
    recordToSend: [],
    sendToWallSettled: [],
    sendToPayerDone: [],
  };
  try {
    const paid = new Map(v.payments(sessionId).map((p) => [p.paymentHash, p]));
    for (const inv of w.invoices(sessionId)) {
      const p = inv.paymentHash ? paid.get(inv.paymentHash) : undefined;
      if (
        !p ||
        inv.issuedAtMs === null ||
        inv.settledAtMs === null ||
        p.sentAtMs === null ||
        p.finishedAtMs === null
      )
        continue;
      stages.cableAndCheck!.push((p.recordedAtMs - inv.issuedAtMs) / SPEED);
      stages.recordToSend!.push((p.sentAtMs - p.recordedAtMs) / SPEED);
      stages.sendToWallSettled!.push((inv.settledAtMs - p.sentAtMs) / SPEED);
      stages.sendToPayerDone!.push((p.finishedAtMs - p.sentAtMs) / SPEED);
    }
  } finally {
    w.close();
    v.close();
  }
  return stages;
}

/** Times `count` single-row commits to a store opened like the daemons' (WAL, synchronous FULL), ms each. */
function storeCommitMs(count: number): number[] {
  const dir = mkdtempSync(join(tmpdir(), 'bench-settle-db-'));
  const db = openDatabase(join(dir, 'commit.sqlite'), [
    { version: 1, name: 'bench', up: (d) => d.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)') },
  ]);
  const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
  const body = 'x'.repeat(2_000); // about one serialized machine state
  const out: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      insert.run(body);
      out.push(performance.now() - t0);
    }
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

const r1 = (x: number): number => Math.round(x * 10) / 10;
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

/** @returns raw and daemon p50/p99 (real ms), their ratios, invoice and late counts, load average */
export async function run(): Promise<Record<string, unknown>> {
  const loadBefore = loadavg()[0] ?? 0;
  const net = await up({ log: () => undefined });
  try {
    const conn = JSON.parse(readFileSync(net.connectionPath, 'utf8')) as NetworkConnection;
    const blockMsat = overlaysBlockMsat();
    const quarter = RAW_PAYMENTS / 4;
    const cadenceMs = (PROMISED_INVOICE_INTERVAL_SEC * 1000) / SPEED;
    const backToBack = await rawPayments(conn, quarter, blockMsat, null);
    const paced = await rawPayments(conn, quarter, blockMsat, cadenceMs);
    const daemons = await daemonLatencies(net.connectionPath, 'can');
    const overIp = await daemonLatencies(net.connectionPath, 'ip');
    paced.push(...(await rawPayments(conn, quarter, blockMsat, cadenceMs)));
    backToBack.push(...(await rawPayments(conn, quarter, blockMsat, null)));
    const raw = [...paced, ...backToBack];
    const p = (xs: number[], q: number): number => r1(percentile(xs, q));
    const createPay = paced.map((x) => x.createPayMs);
    const pay = paced.map((x) => x.payMs);
    const b2bCreatePay = backToBack.map((x) => x.createPayMs);
    const b2bPay = backToBack.map((x) => x.payMs);
    const d = daemons.latenciesMs;
    const commits = storeCommitMs(200);
    return {
      speed: SPEED,
      invoiceIntervalSec: PROMISED_INVOICE_INTERVAL_SEC,
      rawPayments: raw.length,
      rawPaceMs: r1(cadenceMs),
      rawCreatePayMsP50: p(createPay, 50),
      rawCreatePayMsP99: p(createPay, 99),
      rawPayMsP50: p(pay, 50),
      rawPayMsP99: p(pay, 99),
      daemonInvoices: d.length,
      daemonLateInvoices: daemons.late,
      daemonSettleMsP50: p(d, 50),
      daemonSettleMsP99: p(d, 99),
      ratioP50: r3(percentile(d, 50) / percentile(createPay, 50)),
      ratioP99: r3(percentile(d, 99) / percentile(createPay, 99)),
      ratioVsPayP50: r3(percentile(d, 50) / percentile(pay, 50)),
      ratioVsPayP99: r3(percentile(d, 99) / percentile(pay, 99)),
      rawBackToBack: {
        createPayMsP50: p(b2bCreatePay, 50),
        createPayMsP99: p(b2bCreatePay, 99),
        payMsP50: p(b2bPay, 50),
        payMsP99: p(b2bPay, 99),
      },
      ratioVsBackToBackP50: r3(percentile(d, 50) / percentile(b2bCreatePay, 50)),
      ratioVsBackToBackP99: r3(percentile(d, 99) / percentile(b2bCreatePay, 99)),
      hotPathCosts: {
        decodePaymentRequestMs: {
          p50: p(
            raw.map((x) => x.decodeMs),
            50,
          ),
          p99: p(
            raw.map((x) => x.decodeMs),
            99,
          ),
        },
        getPaymentMs: {
          p50: p(
            raw.map((x) => x.statusMs),
            50,
          ),
          p99: p(
            raw.map((x) => x.statusMs),
            99,
          ),
        },
        storeCommitMs: { p50: p(commits, 50), p99: p(commits, 99) },
      },
      stages: Object.fromEntries(
        Object.entries(daemons.stages).map(([k, xs]) => [k, { p50: p(xs, 50), p99: p(xs, 99) }]),
      ),
      // the same session over an IP link: what the daemons add when the cable transfer is negligible
      ipLink: {
        daemonInvoices: overIp.latenciesMs.length,
        daemonLateInvoices: overIp.late,
        daemonSettleMsP50: p(overIp.latenciesMs, 50),
        daemonSettleMsP99: p(overIp.latenciesMs, 99),
        ratioP50: r3(percentile(overIp.latenciesMs, 50) / percentile(createPay, 50)),
        ratioP99: r3(percentile(overIp.latenciesMs, 99) / percentile(createPay, 99)),
        stages: Object.fromEntries(
          Object.entries(overIp.stages).map(([k, xs]) => [k, { p50: p(xs, 50), p99: p(xs, 99) }]),
        ),
      },
      loadAvg1mBefore: r1(loadBefore),
      loadAvg1mAfter: r1(loadavg()[0] ?? 0),
    };
  } finally {
    if (!net.alreadyUp) await down({ log: () => undefined });
  }
}

/** A raw invoice buys what one daemon block buys at full power: same amount, same route. */
function overlaysBlockMsat(): number {
  const { blocks } = cadenceOverlays({
    targetWh: DAEMON_ENERGY_WH,
    priceMsatPerWh: PRICE_MSAT_PER_WH,
    invoiceIntervalSec: PROMISED_INVOICE_INTERVAL_SEC,
  });
  return blocks.maxBlockWh * PRICE_MSAT_PER_WH;
}
