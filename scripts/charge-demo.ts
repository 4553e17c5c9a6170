/**
 * The full boltcharge demo: brings up the regtest Lightning network, starts both daemons (as CLI child
 * processes) with a simulated charger, car and meters over emulated SLCAN CAN adapters on PTYs (`--link ip` for
 * the PLC path), charges ~20 kWh at 11 kW on an accelerated clock, prints the dashboard URLs and a summary.
 * Invoices come at the promised cadence (`--interval-sec`, default 16 s of charging time), blocks sized by
 * `demo/cadence.ts` (one cadence of energy at the charger's largest power); the clock speed defaults to what
 * makes the charging take about `--real-sec` (120) real seconds.
 *
 *   npm run demo [-- --json] [--link can|ip] [--energy-wh 20000] [--speed N] [--real-sec 120]
 *     [--interval-sec 16] [--keep] [--keep-network]
 *
 * `--json`: headless; the last line of stdout is one JSON object with exactly the keys
 *   energyWhWall, energyWhVehicle, invoicesIssued, invoicesPaid, paidMsat, priceMsatPerWh, maxUnpaidWh,
 *   maxPrepaidUndeliveredWh, settleLatencyMsP50, settleLatencyMsP99, stopReason, receiptValid
 * followed by the run's cadence figures: invoiceIntervalSec, speed, lateInvoices (settled more than one cadence
 * after they were issued, i.e. after the next one was due), durationSec (real seconds from plug-in to the end
 * of the session), and the split figures operatorPaidMsat, hostKeptMsat, payoutFeesMsat (the 90/10
 * host/operator split, scripts/demo/split.ts).
 * Exit code 0 only when the session ended normally and the accounts agree (both ledgers and both nodes).
 * Settle latencies are real milliseconds (daemon-clock latency ÷ speed).
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { down, up } from './regtest/network.js';
import { readBooks } from './demo/books.js';
import { sessionFigures, type SessionFigures } from './demo/session-figures.js';
import {
  cadenceOverlays,
  DEMO_MAX_POWER_W,
  PROMISED_INVOICE_INTERVAL_SEC,
  speedForDuration,
} from './demo/cadence.js';
import { ChargeRig } from './demo/rig.js';
import { settleSplitDemo, splitDemoSection, type SplitDemoResult } from './demo/split.js'; // split

const NORMAL_ENDINGS = new Set(['TARGET_REACHED', 'USER_STOP']);

/** The demo's JSON line (exactly the keys the issue names). */
export interface DemoResult extends SplitDemoResult, SessionFigures {}

/**
 * Runs the demo.
 *
 * @param argv command-line arguments
 * @returns exit code
 */
export async function chargeDemo(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      link: { type: 'string', default: 'can' },
      'energy-wh': { type: 'string', default: '20000' },
      speed: { type: 'string' },
      'real-sec': { type: 'string', default: '120' },
      'interval-sec': { type: 'string', default: String(PROMISED_INVOICE_INTERVAL_SEC) },
      price: { type: 'string', default: '100' },
      keep: { type: 'boolean', default: false },
      'keep-network': { type: 'boolean', default: false },
    },
  });
  const json = values.json;
  const say = (line: string): void => void process.stderr.write(`demo: ${line}\n`);
  const show = (line: string): void => void (json ? say(line) : process.stdout.write(`${line}\n`));
  const link = values.link === 'ip' ? 'ip' : 'can';
  const targetWh = Number(values['energy-wh']);
  const speed =
    values.speed !== undefined
      ? Number(values.speed)
      : speedForDuration(targetWh, DEMO_MAX_POWER_W, Number(values['real-sec']));
  const price = Number(values.price);
  const invoiceIntervalSec = Number(values['interval-sec']);
  if (!(targetWh > 0) || !(speed >= 1) || !(price >= 1) || !(invoiceIntervalSec >= 1)) {
    say('--energy-wh, --speed, --real-sec, --interval-sec and --price must be positive numbers');
    return 2;
  }

  const net = await up({ split: true, log: (l) => say(`regtest: ${l}`) }); // split: the operator node
  say(
    `regtest network ${net.alreadyUp ? 'already up' : 'started'} in ${(net.elapsedMs / 1000).toFixed(1)} s`,
  );
  const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
  const dir = join(root, '.demo', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(dir, { recursive: true });
  // an invoice every 16 s of charging time, each a real Lightning payment; blocks sized for that cadence
  const overlays = cadenceOverlays({ targetWh, priceMsatPerWh: price, invoiceIntervalSec, speed });
  const blocks = overlays.blocks;
  const rig = await ChargeRig.create({
    dir,
    connectionFile: net.connectionPath,
    link,
    bitrate: 500_000,
    speed,
    wall: { ...overlays.wall, split: splitDemoSection(net.connection) }, // split: 90/10 host/operator
    vehicle: overlays.vehicle,
    world: { car: { batteryCapacityWh: 75_000, initialSocPct: 15 } },
  });
  let code = 1;
  const startedReal = Date.now();
  try {
    await rig.startDaemons();
    show(`wall dashboard:    ${rig.wall.statusUrl}`);
    show(`vehicle dashboard: ${rig.vehicle.statusUrl}`);
    show(
      `charging ${targetWh} Wh, an invoice every ${invoiceIntervalSec} s (${blocks.maxBlockWh} Wh at full power), over ${link === 'can' ? 'emulated SLCAN CAN (500 kbit/s)' : 'IP (PLC path, ::1)'} at ${speed}× speed; logs in ${dir}`,
    );
    rig.world.plug();
    const pluggedReal = Date.now();
    let lastPrint = 0;
    await rig.until(
      'the session to end on both sides',
      async () => {
        const [w, v] = await Promise.all([rig.wall.status(), rig.vehicle.status()]);
        if (Date.now() - lastPrint > 3000) {
          lastPrint = Date.now();
          show(
            `  ${w.state.padEnd(9)} ${(w.powerW / 1000).toFixed(1)} kW  wall ${w.energyWh} Wh  car ${v.energyWh} Wh  paid ${Number(BigInt(w.paidMsat)) / 1000} sat  credit ${w.creditWh} Wh`,
          );
        }
        return w.state === 'ended' && v.state === 'ended';
      },
      Math.max(120_000, ((targetWh / 11_000) * 3_600_000 * 3) / speed),
      500,
    );
    const durationSec = Math.round((Date.now() - pluggedReal) / 1000);
    rig.world.unplug();
    const split = await settleSplitDemo(rig.files.wallDb, net.connection); // split: payouts done, books = nodes
    await rig.stop();
    const books = await readBooks(rig.files, net.connectionPath);
    const s = books.sessions[books.sessions.length - 1];
    if (!s) throw new Error('no session was recorded');
    const result: DemoResult = {
      ...sessionFigures(s, { speed, invoiceIntervalSec, durationSec }),
      ...split.result,
    };
    for (const p of [...books.problems, ...split.problems]) say(`ACCOUNTS DISAGREE: ${p}`);
    const normal =
      s.wallStopReason !== null &&
      NORMAL_ENDINGS.has(s.wallStopReason) &&
      s.vehicleStopReason === s.wallStopReason;
    code = normal && books.problems.length === 0 && split.problems.length === 0 && s.receiptValid ? 0 : 1;
    show(
      `done in ${((Date.now() - startedReal) / 1000).toFixed(0)} s: ${s.wallEnergyWh} Wh metered at the wall, ${s.vehicleEnergyWh} Wh at the car, ${s.invoicesSettled} invoices paid, ${Number(s.wallSettledMsat) / 1000} sat, routing fees ${s.vehicleFeesMsat} msat; receipt ${s.receiptValid ? 'valid' : 'INVALID'}; ${code === 0 ? 'accounts agree' : 'FAILED'}`,
    );
    if (json) process.stdout.write(JSON.stringify(result) + '\n');
    else
      show(`receipt: node bin/boltcharge.js receipt ${s.sessionId.slice(0, 8)} --db ${rig.files.vehicleDb}`);
  } catch (err) {
    say(`failed: ${(err as Error).message}`);
    code = 1;
  } finally {
    await rig.stop();
    if (!net.alreadyUp && !values['keep-network']) await down({ log: (l) => say(`regtest: ${l}`) });
  }
  return code;
}
