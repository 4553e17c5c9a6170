/**
 * `npm run demo -- --offline charger|car [--json]`: a charging session with one side offline, on the real regtest
 * network, both daemons real CLI processes, the cable an IP (PLC) link over a veth pair.
 *
 * - `--offline charger` (issue 15 case 1a): the wall's lnd and the wall daemon run in a network namespace whose
 *   only link, once the session starts, is the cable to the car. The car's node (on the host) reaches the wall's
 *   node across the cable and pays over their direct channel.
 * - `--offline car` (case 2): the car's lnd and the vehicle daemon run in the namespace. The session starts while
 *   the car still has its own uplink; once the first invoice is paid the uplink is cut, and the car's node
 *   reaches its channel partner and its chain backend only through the wall's blind relay (the wall daemon's
 *   `relay:` section), which lets in only the car of the authenticated session.
 *
 * An lnd cannot start without its chain backend, so the offline node is started in the namespace while it still
 * has an uplink (scripts/offline/isolated-namespace.ts), which is cut before it is needed offline: the node lost
 * its signal while running. Afterwards the node moves back to the host (its route back) and the books are
 * reconciled with both nodes.
 *
 * Demo plumbing across the cable besides the cable protocol and the Lightning peer connection: the simulated
 * charger/meters (sim bridge) and the namespace daemon's status page, which the demo reads.
 *
 * The JSON line (last line of stdout with `--json`) has the normal demo's session keys (see
 * scripts/charge-demo.ts; the offline demo has no 90/10 split) plus `offline`:
 *   {mode, case, namespaceInterfaces (while offline), invoicesPaidOffline, paidOfflineMsat, relayConnections,
 *    relayRefusals, reconnectMs}.
 * Exit code 0 only when the session ended normally, the books agree with both nodes after the route is back,
 * the receipt verifies, and invoices were really paid while offline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import Database from 'better-sqlite3';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { addPeer, authenticatedLndGrpc } from 'lightning';
import {
  down,
  relaunchNode,
  up,
  waitForActiveChannel,
  closeLnd,
  startNamespaceChainBackend,
  type NodeConnection,
} from '../regtest/network.js';
import type { NamespacedChainBackend } from '../regtest/placement.js';
import { createIsolatedNamespace, type IsolatedNamespace } from '../offline/isolated-namespace.js';
import { Lines } from '../offline/relay-rig.js';
import { readBooks } from './books.js';
import { sessionFigures, type SessionFigures } from './session-figures.js';
import {
  cadenceOverlays,
  DEMO_MAX_POWER_W,
  PROMISED_INVOICE_INTERVAL_SEC,
  speedForDuration,
} from './cadence.js';
import { ChargeRig, freePort } from './rig.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NORMAL_ENDINGS = new Set(['TARGET_REACHED', 'USER_STOP']);

/** Which side is offline: `charger` (case 1a, the wall's node with it), `charger-stock` (case 1b, the wall
 * daemon alone, its node remote), `car` (case 2), `both` (case 3: the car's node has no route and the wall offers
 * no relay; the car promises to pay, within the wall's cap). */
export type OfflineMode = 'charger' | 'charger-stock' | 'car' | 'both';

/** What the offline part of a run showed. */
export interface OfflineFigures {
  mode: OfflineMode;
  /** the case: 1a (direct channel over the cable), 1b (invoice stock), 2 (blind relay) or 3 (promises) */
  case: '1a' | '1b' | '2' | '3';
  /** the namespace's interfaces while offline (only lo and the cable) */
  namespaceInterfaces: string[];
  /** invoices paid, and msat, while the namespace had no uplink */
  invoicesPaidOffline: number;
  paidOfflineMsat: string;
  /** connections the wall's relay opened / refused (case 2; 0 otherwise), from the wall daemon's log */
  relayConnections: number;
  relayRefusals: number;
  /** real ms for the car's node to reach its channel partner again through the relay after the cut (case 2) */
  reconnectMs: number | null;
  /** case 1b: stocked invoices reconciled with the node after the route came back (each `offline: true`) */
  stockReconciled?: { settled: number; unpaid: number; left: number };
  /** case 1b: handshakes and receipts the wall daemon signed with its delegated key (its node unreachable) */
  signedByDelegate?: number;
  /**
   * case 3: the wall's per-car cap (Wh), the promises the wall credited, and their fate once the car's
   * namespace got its route back (paid) or the invoices expired with the car still offline (unpaid)
   */
  promises?: {
    capWh: number;
    made: number;
    promisedWh: number;
    paid: number;
    unpaid: number;
    outstanding: number;
    /** the wall's database (`boltcharge sessions --db <it>` lists the session's promises) */
    wallDb: string;
  };
}

/** The offline demo's JSON line. */
export interface OfflineDemoResult extends SessionFigures {
  offline: OfflineFigures;
  /** the run's checks that failed (empty when it passed): ended, isolated, relayed, stocked, promised, accounts */
  failedChecks: string[];
  /** only in crash runs */
  crash?: CrashFigures;
}

const portOf = (hostPort: string): number => Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));

/** Connects one node to a peer at an address, retrying while the peer comes up. */
async function connectPeer(from: NodeConnection, to: { pubkey: string; socket: string }): Promise<void> {
  const { lnd } = authenticatedLndGrpc({ cert: from.cert, macaroon: from.macaroon, socket: from.socket });
  try {
    for (let i = 0; ; i++) {
      try {
        await addPeer({ lnd, public_key: to.pubkey, socket: to.socket, timeout: 10_000 });
        return;
      } catch (err) {
        if (i >= 20) throw new Error(`cannot connect to ${to.socket}: ${JSON.stringify(err)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } finally {
    closeLnd(lnd);
  }
}

/** Counts the wall log's relay lines. */
function relayCounts(wallLog: string): { opened: number; refused: number } {
  let text = '';
  try {
    text = readFileSync(wallLog, 'utf8');
  } catch {
    return { opened: 0, refused: 0 };
  }
  const count = (what: string): number => text.split('\n').filter((l) => l.includes(what)).length;
  return { opened: count('"relay opened"'), refused: count('"relay refused"') };
}

/** Options of one offline run. */
export interface OfflineRunOptions {
  mode: OfflineMode;
  /** energy to charge, Wh */
  targetWh: number;
  /** daemon clock speed (× real time) */
  speed: number;
  /** promised invoice interval, s of charging time */
  invoiceIntervalSec: number;
  /** price, msat per Wh */
  priceMsatPerWh: number;
  /** stop the network afterwards when this run started it */
  keepNetwork: boolean;
  /** progress lines (stderr in the CLI) */
  say: (line: string) => void;
  /** lines meant for a human (stdout in the CLI without --json) */
  show: (line: string) => void;
  /** case 3: the wall's per-car cap on promised energy, Wh (default: half the target) */
  promiseCapWh?: number;
  /** case 3: the car never gets its route back: the promises expire unpaid (invoices of 90 s) */
  neverReconnect?: boolean;
  /** kill -9 one daemon while offline (after the cut) once the wall metered `atWh`, restart it after `downMs`
    real ms: the run then passes when nothing is paid twice, the books match both nodes and every session
    ended with a reason on both sides (resumed to its target, or closed) */
  crash?: OfflineCrash;
}

/** A kill -9 during the offline session. */
export interface OfflineCrash {
  victim: 'wall' | 'vehicle';
  atWh: number;
  downMs: number;
}

/** What a crash run showed. */
export interface CrashFigures extends OfflineCrash {
  /** sessions recorded (a restarted wall may greet the still-plugged car with a new one) */
  sessions: number;
  /** how each session ended on each side (null = not recorded there), with its invoices and energy at the wall */
  endings: {
    sessionId: string;
    wall: string | null;
    vehicle: string | null;
    invoices: number;
    energyWh: number;
  }[];
  /** the last session reached its target */
  resumed: boolean;
}

/**
 * Runs the offline demo from its command line and prints the JSON line with `--json`.
 *
 * @param argv command-line arguments (`--offline charger|car`, `--json`, `--energy-wh`, `--speed`, `--real-sec`,
 *   `--interval-sec`, `--price`, `--keep-network`, `--kill wall|vehicle`: kill -9 of that daemon halfway, offline)
 * @returns exit code (0 = normal ending — or, with --kill, every session closed cleanly —, books agree after
 *   reconciliation, invoices paid offline; 2 = usage)
 */
export async function offlineDemo(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      offline: { type: 'string' },
      json: { type: 'boolean', default: false },
      'energy-wh': { type: 'string', default: '2000' },
      speed: { type: 'string' },
      'real-sec': { type: 'string', default: '90' },
      'interval-sec': { type: 'string', default: String(PROMISED_INVOICE_INTERVAL_SEC) },
      price: { type: 'string', default: '100' },
      'keep-network': { type: 'boolean', default: false },
      kill: { type: 'string' },
      'never-reconnect': { type: 'boolean', default: false },
    },
  });
  const say = (line: string): void => void process.stderr.write(`demo: ${line}\n`);
  const show = (line: string): void => void (values.json ? say(line) : process.stdout.write(`${line}\n`));
  const mode = values.offline;
  if (mode !== 'charger' && mode !== 'charger-stock' && mode !== 'car' && mode !== 'both') {
    say(
      '--offline takes charger (the wall and its node have no uplink), charger-stock (the wall daemon has no uplink to its remote node: it sells on its invoice stock), car (the car has no signal) or both (neither side reaches the network: the car promises to pay, within the wall’s cap)',
    );
    return 2;
  }
  const targetWh = Number(values['energy-wh']);
  const invoiceIntervalSec = Number(values['interval-sec']);
  const priceMsatPerWh = Number(values.price);
  const speed =
    values.speed !== undefined
      ? Number(values.speed)
      : speedForDuration(targetWh, DEMO_MAX_POWER_W, Number(values['real-sec']));
  if (!(targetWh > 0) || !(speed >= 1) || !(priceMsatPerWh >= 1) || !(invoiceIntervalSec >= 1)) {
    say('--energy-wh, --speed, --real-sec, --interval-sec and --price must be positive numbers');
    return 2;
  }
  const kill = values.kill;
  if (kill !== undefined && kill !== 'wall' && kill !== 'vehicle') {
    say(
      '--kill takes wall or vehicle (kill -9 of that daemon halfway through the offline stretch, restarted after 1 s)',
    );
    return 2;
  }
  // halfway through the offline stretch: case 3 ends at its promise cap (half the target)
  const killAtWh = Math.floor(targetWh / (mode === 'both' ? 4 : 2));
  const run = await runOfflineDemo({
    ...(kill ? { crash: { victim: kill, atWh: killAtWh, downMs: 1000 } } : {}),
    mode,
    targetWh,
    speed,
    invoiceIntervalSec,
    priceMsatPerWh,
    neverReconnect: values['never-reconnect'],
    keepNetwork: values['keep-network'],
    say,
    show,
  });
  if (values.json && run.result) process.stdout.write(`${JSON.stringify(run.result)}\n`);
  return run.code;
}

/**
 * Runs one offline session (see the file comment) on the regtest network (brought up when needed).
 *
 * @param o the run's options
 * @returns exit code (0 = normal ending, books agree after reconciliation, invoices paid offline) and the JSON
 *   line's object (null when the run failed before the books)
 */
export async function runOfflineDemo(
  o: OfflineRunOptions,
): Promise<{ code: number; result: OfflineDemoResult | null }> {
  const { mode, targetWh, speed, invoiceIntervalSec, say, show } = o;
  const price = o.priceMsatPerWh;
  const net = await up({ log: (l) => say(`regtest: ${l}`) });
  const connectionFile = net.connectionPath;
  const { wall, vehicle } = net.connection.nodes;
  const btcdPort = portOf(net.connection.btcd.rpcHost);
  const wallP2pPort = portOf(wall.p2pSocket);
  const btcdP2pPort = portOf(net.connection.btcd.p2pHost);
  const dir = join(repo, '.demo', `offline-${mode}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  // the node moved into the namespace (case 1b moves none: the wall's node is remote, only the daemon is isolated)
  const bothOffline = mode === 'both';
  const moved: 'wall' | 'vehicle' | null =
    mode === 'charger' ? 'wall' : mode === 'car' || bothOffline ? 'vehicle' : null;
  const wallInNs = mode !== 'car' && !bothOffline;
  const promiseCapWh = o.promiseCapWh ?? Math.floor(targetWh / 2);
  const stockMode = mode === 'charger-stock';
  const wallRpcPort = portOf(wall.socket);
  let space: IsolatedNamespace | undefined;
  let namespaceInterfaces0: string[] = [];
  let paidAtCut = -1n;
  let nodeInNamespace = false;
  let carSide: ChildProcess | undefined;
  let chain: NamespacedChainBackend | undefined;
  let rig: ChargeRig | undefined;
  let code = 1;
  let result: OfflineDemoResult | null = null;
  /** The node returns to the host, and the two nodes' peer connection to its address there. */
  const routeBack = async (): Promise<void> => {
    if (moved === null) return;
    await relaunchNode({ name: moved, placement: {} });
    await connectPeer(vehicle, { pubkey: wall.pubkey, socket: wall.p2pSocket }).catch(() => undefined); // may reconnect by itself
    await waitForActiveChannel(vehicle, wall.pubkey);
  };
  try {
    space = await createIsolatedNamespace({
      // case 1b: while online, the wall daemon reaches its remote node's gRPC port through the uplink
      uplinkPorts: stockMode ? [wallRpcPort] : [btcdPort, btcdP2pPort, wallP2pPort],
    });
    const { ns, cable } = space;
    say(
      `namespace ${ns}: cable ${cable.hostIf}⇄${cable.nsIf} (${cable.hostIpv4} ⇄ ${cable.nsIpv4}), uplink up`,
    );
    const overlays = cadenceOverlays({ targetWh, priceMsatPerWh: price, invoiceIntervalSec, speed });
    const relayPort = await freePort();
    // the namespace's side of the network (test/support/relay-car.ts, run inside it): local forwards on fixed
    // ports, over the namespace's uplink while there is one, then through the wall's relay (the car; the charger
    // has none: once cut, its forwards lead nowhere). The charger's forward is its chain backend's peer link
    // (btcd syncs on regtest only from a peer on 127.0.0.1); the car's are its chain backend and its channel
    // partner.
    const forwards =
      mode === 'charger'
        ? [`127.0.0.1:${btcdP2pPort}@${btcdP2pPort}`]
        : bothOffline
          ? // case 3: the car's own chain backend's peer link, and its channel partner (until the cut)
            [`127.0.0.1:${btcdP2pPort}@${btcdP2pPort}`, `127.0.0.1:${wallP2pPort}`]
          : stockMode
            ? [`127.0.0.1:${wallRpcPort}@${wallRpcPort}`]
            : [`127.0.0.1:${btcdPort}@${btcdPort}`, `127.0.0.1:${wallP2pPort}`];
    const sideLog = openSync(join(dir, 'namespace-side.log'), 'a');
    carSide = spawn(
      'ip',
      [
        ...['netns', 'exec', ns, join(repo, 'node_modules', '.bin', 'tsx')],
        join(repo, 'test', 'support', 'relay-car.ts'),
        ...['--relay', `${cable.hostLinkLocal}%${cable.nsIf}`, '--relay-port', String(relayPort)],
        ...forwards.flatMap((f) => ['--to', f]),
        ...['--uplink', space.uplinkHost],
      ],
      { stdio: ['pipe', 'pipe', sideLog] },
    );
    const lines = new Lines(carSide);
    const wallLocalPort = ((await lines.next(60_000)) as { ports: number[] }).ports[1] ?? 0;
    if (mode === 'charger' || bothOffline)
      // the offline node's own chain backend, beside its node: it follows the network over the uplink until the cut,
      // then sees no new blocks but answers (an lnd whose chain backend is unreachable answers no getinfo)
      chain = await startNamespaceChainBackend({ netns: ns, upstreamP2p: `127.0.0.1:${btcdP2pPort}` });
    const send = (command: object): void => void carSide!.stdin!.write(`${JSON.stringify(command)}\n`);
    const connectThroughSide = async (timeoutMs: number): Promise<number | null> => {
      send({
        cmd: 'connect',
        lnd: { socket: vehicle.socket, cert: vehicle.cert, macaroon: vehicle.macaroon },
        peer: { pubkey: wall.pubkey, port: wallLocalPort },
      });
      const c = (await lines.next(timeoutMs)) as { connected: boolean; ms?: number; error?: string };
      if (!c.connected) throw new Error(`the car's node cannot reach the wall's: ${c.error}`);
      return c.ms ?? null;
    };
    // the offline node moves into the namespace (started while it still has an uplink to its chain backend)
    if (moved !== null) {
      nodeInNamespace = true; // from here on, whatever happens, it is moved back
      await relaunchNode({
        name: moved,
        placement: {
          netns: ns,
          btcdRpcHost: `127.0.0.1:${btcdPort}`,
          ...(mode === 'charger' ? { listenHost: '0.0.0.0' } : {}),
        },
      });
    }
    if (stockMode) {
      say('case 1b: the wall daemon runs in the namespace; its node stays remote (reached over the uplink)');
    } else if (mode === 'charger') {
      await space.cutUplink();
      // the car's node reaches the wall's across the cable (the wall has no other network now)
      await connectPeer(vehicle, { pubkey: wall.pubkey, socket: `${cable.nsIpv4}:${wallP2pPort}` });
      await waitForActiveChannel(vehicle, wall.pubkey);
      say('the wall is offline; the car’s node has its direct channel to the wall’s node over the cable');
    } else {
      await connectThroughSide(180_000);
      say('the car’s node runs in the namespace, still with its own uplink');
    }

    const nsStatus = { status: { listen: cable.nsIpv4, port: 0 } };
    // crash runs: heartbeats long enough for a restart (a few real seconds), so a session can resume
    const crashWall = { session: { ...(overlays.wall.session as object), heartbeatTimeoutMs: 150_000 } };
    const crashVehicle = {
      session: {
        ...(overlays.vehicle.session as object),
        heartbeatTimeoutMs: 150_000,
        receiptTimeoutMs: 100_000,
      },
    };
    rig = await ChargeRig.create({
      dir,
      connectionFile,
      link: 'ip',
      ipInterfaces: wallInNs
        ? { wall: cable.nsIf, vehicle: cable.hostIf }
        : { wall: cable.hostIf, vehicle: cable.nsIf },
      bridgeHost: cable.hostIpv4,
      speed,
      wall: {
        ...overlays.wall,
        ...(o.crash ? crashWall : {}),
        ...(stockMode ? { offline: { stock: stockConfig(overlays.blocks, price, targetWh) } } : {}),
        ...(bothOffline
          ? {
              tariff: {
                ...(overlays.wall.tariff as object),
                promiseCapWh,
                // invoices that expire soon after the capped session (real time; the car's accelerated clock runs
                // ahead of the invoices' timestamps, so not shorter)
                ...(o.neverReconnect ? { invoiceExpirySec: 90 } : {}),
              },
            }
          : {}),
        ...(wallInNs
          ? nsStatus
          : bothOffline
            ? {}
            : {
                relay: {
                  enabled: true,
                  port: relayPort,
                  allow: [`127.0.0.1/32:${btcdPort}`, `127.0.0.1/32:${wallP2pPort}`],
                },
              }),
      },
      vehicle: {
        ...overlays.vehicle,
        ...(mode === 'car' || bothOffline ? nsStatus : {}),
        ...(o.crash ? crashVehicle : {}),
        ...(bothOffline
          ? {
              auth: { identity: 'node' },
              limits: {
                ...(overlays.vehicle.limits as object),
                promiseMaxMsat: String(BigInt(targetWh) * BigInt(price)),
              },
            }
          : {}),
      },
      world: { car: { batteryCapacityWh: 75_000, initialSocPct: 15 } },
    });
    rig[wallInNs ? 'wall' : 'vehicle'].netns = ns;
    await rig.startDaemons();
    if (bothOffline) {
      // case 3: the car loses its signal once its daemon is up, before the session, and the wall offers no relay: its node has no route
      send({ cmd: 'uplink', host: null });
      await lines.next(10_000);
      await space.cutUplink();
      namespaceInterfaces0 = space.interfaces();
      paidAtCut = 0n; // offline from the start (a crash run may kill a daemon from here on)
      say('case 3: the car has no uplink and the wall no relay: the car can only promise to pay');
    }
    show(`wall dashboard:    ${rig.wall.statusUrl}`);
    show(`vehicle dashboard: ${rig.vehicle.statusUrl}`);
    if (stockMode) {
      // the wall stocks its invoices while it reaches its node
      const want = stockConfig(overlays.blocks, price, targetWh);
      const full = want.denominationsMsat.length * want.perDenomination;
      await waitFor(
        'the wall to stock its invoices',
        () => readStock(rig!.files.wallDb).stocked >= full,
        120_000,
      );
      // and holds a signing key its node delegated (the handshake and the receipt without the node)
      await waitFor('the node to delegate a signing key', () => hasDelegate(rig!.files.wallDb), 120_000);
      await space.cutUplink();
      say(
        `the wall daemon stocked ${full} invoices and holds a delegated signing key; its uplink is cut before the car plugs in`,
      );
    }
    show(
      `charging ${targetWh} Wh over the cable (IP over veth) at ${speed}× speed, ${moved ?? 'wall daemon'} offline; logs in ${dir}`,
    );
    let namespaceInterfaces = mode === 'charger' ? space.interfaces() : namespaceInterfaces0;
    let paidAtCutMsat = mode === 'charger' ? 0n : paidAtCut;
    let invoicesAtCut = 0;
    // case 1b: the session starts with the wall's node unreachable (the delegate key signs the handshake); the
    // route comes back at half the target (the node client reconnects with a back-off: the rest of the session
    // gives it time), and the stock is reconciled after the session
    let stockPhase: 'offline' | 'back' | null = stockMode ? 'offline' : null;
    let stockPaidOffline = 0;
    let reconnectMs: number | null = null;
    let crashed = false;
    rig.world.plug();
    const pluggedReal = Date.now();
    let lastPrint = 0;
    const activeRig = rig;
    await rig.until(
      'the session to end on both sides',
      async () => {
        const [w, v] = await Promise.all([activeRig.wall.status(), activeRig.vehicle.status()]);
        if (stockPhase === 'offline' && w.energyWh >= Math.floor(targetWh / 2)) {
          namespaceInterfaces = space!.interfaces();
          stockPhase = 'back';
          stockPaidOffline = readStock(activeRig.files.wallDb).paidOffline;
          await space!.restoreUplink();
          show(
            `  the wall daemon's route is back at ${w.energyWh} Wh (${stockPaidOffline} invoices paid by proof)`,
          );
        }
        if (mode === 'car' && paidAtCutMsat < 0n && BigInt(v.paidMsat) > 0n && w.state !== 'ended') {
          // the car loses its signal: from now on its node reaches the network only through the wall's relay
          paidAtCutMsat = BigInt(v.paidMsat);
          invoicesAtCut = v.ledger.filter((l) => l.state === 'succeeded').length;
          send({ cmd: 'uplink', host: null });
          await lines.next(10_000);
          await space!.cutUplink();
          namespaceInterfaces = space!.interfaces();
          reconnectMs = await connectThroughSide(120_000);
          show(
            `  the car lost its uplink; its node is back with the wall through the relay in ${reconnectMs} ms`,
          );
        }
        const crash = o.crash;
        if (
          crash &&
          !crashed &&
          (stockMode ? stockPhase === 'offline' : paidAtCutMsat >= 0n) &&
          w.energyWh >= crash.atWh
        ) {
          crashed = true;
          const victim = activeRig[crash.victim];
          show(`  kill -9 of the ${crash.victim} daemon at ${w.energyWh} Wh, offline`);
          await victim.kill9();
          await new Promise((r) => setTimeout(r, crash.downMs));
          await victim.start();
          // the wall's relay died with the wall daemon: the car's node comes back through the new one
          if (mode === 'car' && crash.victim === 'wall') reconnectMs = await connectThroughSide(120_000);
          return false;
        }
        if (Date.now() - lastPrint > 3000) {
          lastPrint = Date.now();
          show(
            `  ${w.state.padEnd(9)} ${(w.powerW / 1000).toFixed(1)} kW  wall ${w.energyWh} Wh  car ${v.energyWh} Wh  paid ${Number(BigInt(w.paidMsat)) / 1000} sat`,
          );
        }
        return w.state === 'ended' && v.state === 'ended';
      },
      Math.max(180_000, ((targetWh / 11_000) * 3_600_000 * 3) / speed),
      500,
    );
    const durationSec = Math.round((Date.now() - pluggedReal) / 1000);
    rig.world.unplug();
    let stockReconciled: OfflineFigures['stockReconciled'];
    const paidOfflineRows = stockMode ? readStock(rig.files.wallDb).paidOffline : 0;
    if (stockMode) {
      // the route back (restored at half the target): the wall daemon reconciles every stocked invoice it handed
      await space.restoreUplink();
      await waitFor(
        'the stock to be reconciled',
        () => readStock(rig!.files.wallDb).outstanding === 0,
        120_000,
      );
      const st = readStock(rig.files.wallDb);
      stockReconciled = { settled: st.reconciledSettled, unpaid: st.reconciledUnpaid, left: st.outstanding };
      show(
        `  back online: ${st.reconciledSettled} stocked invoices reconciled settled, ${st.reconciledUnpaid} unpaid`,
      );
    }
    let promises: OfflineFigures['promises'];
    if (bothOffline) {
      const made = readPromises(rig.files.wallDb);
      if (o.neverReconnect) {
        // the car stays offline: its promised invoices expire (30 s) and the wall reports them unpaid
        await waitFor(
          'the promises to be found unpaid',
          () => readPromises(rig!.files.wallDb).outstanding === 0,
          120_000,
        );
      } else {
        // the car's namespace gets its route back: its daemon pays every promise by itself
        await space.restoreUplink();
        send({ cmd: 'uplink', host: space.uplinkHost });
        await lines.next(10_000);
        reconnectMs = await connectThroughSide(120_000);
        show(`  the car's route is back (${reconnectMs} ms): it pays its ${made.made} promises`);
        await waitFor(
          'the promises to be paid',
          () => readPromises(rig!.files.wallDb).outstanding === 0,
          180_000,
        );
        // the wall sees a settlement before the car's daemon has recorded its payment's outcome: the car's books are
        // read once it has (a daemon stopped with a payment in flight leaves it in doubt until its next start)
        await waitFor(
          'the car to record its promised payments',
          () => carUndecided(rig!.files.vehicleDb) === 0,
          60_000,
        );
      }
      const after = readPromises(rig.files.wallDb);
      promises = { capWh: promiseCapWh, ...after, wallDb: rig.files.wallDb };
      show(
        `  promises: ${after.made} made (${after.promisedWh} Wh), ${after.paid} paid, ${after.unpaid} unpaid`,
      );
    }
    await rig.stop();
    const relay = relayCounts(join(dir, 'wall.log'));

    // the route back: the node returns to the host, and the books are reconciled with both nodes
    await routeBack();
    nodeInNamespace = false;
    const books = await readBooks(rig.files, connectionFile);
    const s = books.sessions[books.sessions.length - 1];
    if (!s) throw new Error('no session was recorded');
    const paidMsatAll = books.sessions.reduce((acc, x) => acc + x.vehiclePaidMsat, 0n);
    const paymentsAll = books.sessions.reduce((acc, x) => acc + x.paymentsSucceeded, 0);
    const paidOfflineMsat = stockMode
      ? readStock(rig.files.wallDb).paidOfflineMsat
      : bothOffline
        ? paidMsatAll
        : paidMsatAll - (paidAtCutMsat < 0n ? paidMsatAll : paidAtCutMsat);
    result = {
      ...sessionFigures(s, { speed, invoiceIntervalSec, durationSec }),
      failedChecks: [],
      offline: {
        mode,
        case: mode === 'charger' ? '1a' : stockMode ? '1b' : bothOffline ? '3' : '2',
        namespaceInterfaces,
        invoicesPaidOffline: stockMode
          ? paidOfflineRows
          : bothOffline
            ? (promises?.paid ?? 0)
            : paymentsAll - invoicesAtCut,
        paidOfflineMsat: paidOfflineMsat.toString(),
        relayConnections: relay.opened,
        relayRefusals: relay.refused,
        reconnectMs,
        ...(stockReconciled ? { stockReconciled } : {}),
        ...(stockMode ? { signedByDelegate: countEvents(rig.files.wallDb, 'machine.signedByDelegate') } : {}),
        ...(promises ? { promises } : {}),
      },
      ...(o.crash
        ? {
            crash: {
              ...o.crash,
              sessions: books.sessions.length,
              endings: books.sessions.map((x) => ({
                sessionId: x.sessionId.slice(0, 8),
                wall: x.wallStopReason,
                vehicle: x.vehicleStopReason,
                invoices: x.invoicesIssued,
                energyWh: x.wallEnergyWh,
              })),
              resumed: s.wallStopReason === 'TARGET_REACHED',
            },
          }
        : {}),
    };
    for (const p of books.problems) say(`ACCOUNTS DISAGREE: ${p}`);
    // case 3 ends at the wall's cap on promises (PROMISE_REFUSED), the energy within the cap and the wall's grace
    const endings = bothOffline ? new Set(['PROMISE_REFUSED']) : NORMAL_ENDINGS;
    const normal =
      s.wallStopReason !== null &&
      endings.has(s.wallStopReason) &&
      s.vehicleStopReason === s.wallStopReason &&
      (!bothOffline ||
        s.wallEnergyWh <=
          promiseCapWh + Number((overlays.wall.tariff as { graceWh?: number }).graceWh ?? 30));
    const isolated =
      namespaceInterfaces.length === 2 &&
      namespaceInterfaces.includes(cable.nsIf) &&
      (paidOfflineMsat > 0n || (bothOffline && o.neverReconnect === true));
    const relayed = mode !== 'car' || relay.opened > 0;
    // case 3: promises were made, and each was paid once the car was back (or, never back, found unpaid)
    const promised =
      !bothOffline ||
      (promises !== undefined &&
        promises.made > 0 &&
        promises.outstanding === 0 &&
        (o.neverReconnect ? promises.unpaid === promises.made : promises.paid === promises.made));
    // case 1b: the session started with the node unreachable (the delegate signed its handshake), every invoice
    // meanwhile was a stocked one paid by proof, and each was reconciled settled with the node
    const stocked =
      !stockMode ||
      ((result.offline.signedByDelegate ?? 0) > 0 &&
        paidOfflineRows > 0 &&
        paidOfflineRows >= stockPaidOffline &&
        stockReconciled?.settled === paidOfflineRows &&
        stockReconciled.left === 0);
    // a crash run: every session closed with a reason on both sides, the same amount on both sides, and a
    // session that reached its target has a verified receipt. A greeting the car never answered (the wall's row
    // only: no invoice, no energy) needs the wall's reason alone.
    const closedCleanly = books.sessions.every(
      (x) =>
        x.wallStopReason !== null &&
        (x.vehicleStopReason !== null ||
          (!x.vehicleKnows && x.invoicesIssued === 0 && x.wallEnergyWh === 0)) &&
        x.vehiclePaidMsat === x.wallSettledMsat &&
        (x.wallStopReason !== 'TARGET_REACHED' || x.receiptValid),
    );
    const ended = o.crash ? crashed && closedCleanly : normal && s.receiptValid;
    const checks = { ended, isolated, relayed, stocked, promised, accounts: books.problems.length === 0 };
    result.failedChecks = Object.entries(checks)
      .filter(([, passed]) => !passed)
      .map(([name]) => name);
    code = result.failedChecks.length === 0 ? 0 : 1;
    if (code !== 0) say(`failed checks: ${result.failedChecks.join(', ')}`);
    show(
      `done: ${s.wallEnergyWh} Wh at the wall, ${s.vehicleEnergyWh} Wh at the car, ${s.invoicesSettled} invoices paid (${result.offline.invoicesPaidOffline} offline), ${Number(s.wallSettledMsat) / 1000} sat; receipt ${s.receiptValid ? 'valid' : 'INVALID'}; ${code === 0 ? 'accounts agree with both nodes' : 'FAILED'}`,
    );
  } catch (err) {
    say(`failed: ${(err as Error).message}`);
    code = 1;
  } finally {
    await rig?.stop().catch(() => undefined);
    carSide?.stdin?.end();
    carSide?.kill('SIGTERM');
    if (nodeInNamespace)
      await routeBack().catch((e: Error) => say(`cannot move ${moved} back: ${e.message}`));
    await chain?.stop();
    await space?.destroy();
    if (!net.alreadyUp && !o.keepNetwork) await down({ log: (l) => say(`regtest: ${l}`) });
  }
  return { code, result };
}

/** The stock of the case 1b run: two denominations, the smallest block and the largest whole multiple of it in a
  block (the seller shrinks each block to the largest that fits), enough of each for the whole target. */
function stockConfig(
  blocks: { minBlockWh: number; maxBlockWh: number },
  priceMsatPerWh: number,
  targetWh: number,
): { denominationsMsat: string[]; perDenomination: number; upkeepSec: number } {
  const small = blocks.minBlockWh;
  const large = Math.max(small, blocks.maxBlockWh - (blocks.maxBlockWh % small));
  const amounts = [...new Set([small, large])].map((wh) => String(BigInt(wh) * BigInt(priceMsatPerWh)));
  return { denominationsMsat: amounts, perDenomination: Math.ceil(targetWh / large) + 6, upkeepSec: 2 };
}

/** The wall database's promises (case 3), read beside the running daemon. */
function readPromises(wallDb: string): {
  made: number;
  promisedWh: number;
  paid: number;
  unpaid: number;
  outstanding: number;
} {
  const out = { made: 0, promisedWh: 0, paid: 0, unpaid: 0, outstanding: 0 };
  let db: Database.Database | undefined;
  try {
    db = new Database(wallDb, { readonly: true, fileMustExist: true });
    for (const r of db.prepare('SELECT state, block_wh FROM promises').all() as {
      state: string;
      block_wh: number;
    }[]) {
      out.made++;
      out.promisedWh += r.block_wh;
      if (r.state === 'paid') out.paid++;
      else if (r.state === 'unpaid') out.unpaid++;
      else out.outstanding++;
    }
  } catch {
    // not created yet
  } finally {
    db?.close();
  }
  return out;
}

/** The car's promises not yet decided plus its payments in doubt (`recorded`/`sent`), read beside its daemon. */
function carUndecided(vehicleDb: string): number {
  let db: Database.Database | undefined;
  try {
    db = new Database(vehicleDb, { readonly: true, fileMustExist: true });
    const { n } = db
      .prepare(
        `SELECT (SELECT count(*) FROM promises WHERE state = 'outstanding') +
                (SELECT count(*) FROM payments WHERE state IN ('recorded','sent')) AS n`,
      )
      .get() as { n: number };
    return n;
  } catch {
    return Number.POSITIVE_INFINITY; // not readable yet
  } finally {
    db?.close();
  }
}

/** How many ledger events of `kind` the wall database holds. */
function countEvents(wallDb: string, kind: string): number {
  const db = new Database(wallDb, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM events WHERE kind = ?').get(kind) as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Whether the wall database holds a signing delegation (wall-module/offline/signing-delegate.ts). */
function hasDelegate(wallDb: string): boolean {
  let db: Database.Database | undefined;
  try {
    db = new Database(wallDb, { readonly: true, fileMustExist: true });
    return db.prepare("SELECT 1 FROM machine_state WHERE slot = 'signing-delegate'").get() !== undefined;
  } catch {
    return false;
  } finally {
    db?.close();
  }
}

/** The wall database's stock, read beside the running daemon. */
function readStock(wallDb: string): {
  stocked: number;
  outstanding: number;
  reconciledSettled: number;
  reconciledUnpaid: number;
  paidOffline: number;
  paidOfflineMsat: bigint;
} {
  const out = {
    stocked: 0,
    outstanding: 0,
    reconciledSettled: 0,
    reconciledUnpaid: 0,
    paidOffline: 0,
    paidOfflineMsat: 0n,
  };
  let db: Database.Database | undefined;
  try {
    db = new Database(wallDb, { readonly: true, fileMustExist: true });
    const rows = db.prepare('SELECT phase, body FROM offline_stock').all() as {
      phase: string;
      body: string;
    }[];
    for (const r of rows) {
      if (r.phase === 'stocked') out.stocked++;
      else if (r.phase === 'handed' || r.phase === 'proven') out.outstanding++;
      else if (r.phase === 'reconciled') {
        if ((JSON.parse(r.body) as { settled: boolean }).settled) out.reconciledSettled++;
        else out.reconciledUnpaid++;
      }
    }
    const paid = db
      .prepare(
        "SELECT count(*) AS n, coalesce(sum(received_msat), 0) AS msat FROM invoices WHERE paid_offline = 1 AND state = 'settled'",
      )
      .safeIntegers(true)
      .get() as { n: bigint; msat: bigint };
    out.paidOffline = Number(paid.n);
    out.paidOfflineMsat = paid.msat;
  } catch {
    // not created yet (the daemon is starting)
  } finally {
    db?.close();
  }
  return out;
}

/** Polls a condition every 300 ms (real time).

  @param what what is awaited (for the error)
  @param cond the condition
  @param timeoutMs real ms
  @throws Error naming `what` when it does not hold in time
*/
async function waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}
