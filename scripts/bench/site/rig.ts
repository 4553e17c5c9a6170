/**
 * A site on the real regtest network, for the site tests (test/e2e/site-*) and `npm run bench -- site`: ONE wall
 * daemon process (the CLI, a `connectors:` config) driving N connectors, each with its own simulated charger and
 * meters (a sim world served over its own sim bridge) and its own IP cable on loopback, and one car per
 * connector whose vehicle daemon (a process started with `start()`, or run in-process by the caller from
 * `vehicleConfig`) pays from the regtest vehicle node to the regtest wall node. Shared timeline (`clock.speed`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Clock } from '../../../hardware/clock.js';
import { createSimWorld, type SimWorld } from '../../../hardware/sim/sim-world.js';
import { clockFromConfig } from '../../../daemon/clock-from-config.js';
import { regtestNodes } from '../../demo/books.js';
import { cliNodeFlags, DaemonProcess, DEMO_VEHICLE_LIMITS, freePort } from '../../demo/rig.js';
import { startSimBridge, type SimBridge } from '../../demo/sim-bridge.js';
import { WallStore } from '../../../wall-module/store.js';
import { WalkupStore } from '../../../wall-module/walkup/store.js';
import { SystemClock } from '../../../hardware/clock.js';

/** One connector of the site, with its car. */
export interface SiteCar {
  id: number;
  world: SimWorld;
  bridge: SimBridge;
  vehicle: DaemonProcess;
  vehicleDb: string;
  /** the car's vehicle daemon config file */
  vehicleConfig: string;
}

/** Options of a site rig. */
export interface SiteRigOptions {
  dir: string;
  connectionFile: string;
  /** number of connectors (default 2) */
  connectors?: number;
  /** time acceleration (default 10) */
  speed?: number;
  /** link silence after which a session is cut, in real ms (default 3000) */
  heartbeatRealMs?: number;
  /** more keys of each car's `limits` (e.g. `targetEnergyWh`) */
  vehicleLimits?: Record<string, unknown>;
  /** the daemons' log level (default info) */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** the cars' battery (default: the sim's) */
  car?: { batteryCapacityWh: number; initialSocPct: number };
  /** more keys at the top of the wall config (e.g. `ocpp`) */
  wall?: Record<string, unknown>;
}

/** One connector's cable-session books (`SiteRig.books`). */
export interface SiteConnectorBooks {
  /** what the store says the connector's sessions were paid */
  storeMsat: bigint;
  /** what the wall's lnd received for the same invoices */
  nodeMsat: bigint;
  /** invoices the ledger says settled */
  settled: number;
  settledHashes: string[];
  sessions: number;
}

/** One connector's walk-up books (`SiteRig.walkupBooks`). */
export interface WalkupBooks {
  sessions: { sessionId: string; phase: string; endReason: string | null }[];
  /** the ledger's settled and cancelled hold invoices, with the node's view of each */
  invoices: {
    sessionId: string;
    paymentHash: string;
    purpose: string;
    ledger: 'settled' | 'cancelled';
    /** settled: the amount the ledger booked; cancelled: what was held when cancelled */
    amountMsat: bigint;
    node: 'open' | 'accepted' | 'settled' | 'cancelled';
    nodeReceivedMsat: bigint;
  }[];
  /** sum of the ledger's settled amounts */
  ledgerMsat: bigint;
  /** sum the node received for the invoices the ledger says settled */
  nodeMsat: bigint;
}

/** The running site rig. */
export class SiteRig {
  private constructor(
    readonly clock: Clock,
    readonly cars: SiteCar[],
    readonly wall: DaemonProcess,
    readonly wallDb: string,
    private readonly connectionFile: string,
  ) {}

  /** Builds worlds, bridges, cables and configs; daemons start with `start()`. */
  static async create(o: SiteRigOptions): Promise<SiteRig> {
    mkdirSync(o.dir, { recursive: true });
    const speed = o.speed ?? 10;
    const realMs = (ms: number, floor: number): number => Math.max(floor, Math.round(ms * speed));
    const clockSection = { speed, anchorMs: Date.now() };
    const clock = clockFromConfig(clockSection);
    const wallDb = join(o.dir, 'wall.sqlite');
    const cars: SiteCar[] = [];
    const connectors: Record<string, unknown>[] = [];
    // the kernel may hand a just-released port out again: every cable gets its own
    const cablePorts = new Set<number>();
    for (let id = 1; id <= (o.connectors ?? 2); id++) {
      const world = createSimWorld({
        clock,
        stepMs: 1000,
        seed: id,
        ...(o.car ? { car: o.car } : {}),
        charger: { startEnabled: false, phases: 3, maxCurrentA: 16 },
      });
      const bridge = await startSimBridge(world);
      let port = await freePort();
      while (cablePorts.has(port)) port = await freePort();
      cablePorts.add(port);
      connectors.push({
        id,
        evseId: id,
        link: { kind: 'ip', port, listenAddress: '::1' },
        evse: { kind: 'sim', url: bridge.url, maxCurrentA: 16, maxPowerW: 11_000 },
        meter: { kind: 'sim', url: bridge.url, name: 'wall', pollIntervalMs: realMs(100, 1000) },
      });
      const vehicleDb = join(o.dir, `vehicle${id}.sqlite`);
      const vehicleConfig = join(o.dir, `vehicle${id}.yaml`);
      writeFileSync(
        vehicleConfig,
        stringify({
          limits: { ...DEMO_VEHICLE_LIMITS, ...o.vehicleLimits },
          session: {
            heartbeatTimeoutMs: realMs(o.heartbeatRealMs ?? 3000, 10_000),
            handshakeTimeoutMs: realMs(10_000, 30_000),
            receiptTimeoutMs: realMs(5000, 10_000),
            meterReportIntervalMs: realMs(250, 2000),
            invoiceExpiryMarginSec: 10,
          },
          lightning: { connectionFile: o.connectionFile, node: 'vehicle' },
          link: { kind: 'ip', port, peerAddress: '::1' },
          meter: { kind: 'sim', url: bridge.url, name: 'vehicle', pollIntervalMs: realMs(100, 1000) },
          store: { path: vehicleDb },
          status: { listen: '127.0.0.1', port: 0 },
          log: { level: o.logLevel ?? 'info' },
          clock: clockSection,
        }),
      );
      cars.push({
        id,
        world,
        bridge,
        vehicleDb,
        vehicleConfig,
        vehicle: new DaemonProcess('vehicle', vehicleConfig, join(o.dir, `vehicle${id}.log`)),
      });
    }
    const wallConfig = join(o.dir, 'wall.yaml');
    writeFileSync(
      wallConfig,
      stringify({
        tariff: {
          priceMsatPerWh: 100,
          invoiceIntervalSec: 16,
          depositBlocks: 2,
          graceWh: 30,
          invoiceExpirySec: 86_400,
        },
        session: {
          heartbeatTimeoutMs: realMs(o.heartbeatRealMs ?? 3000, 10_000),
          handshakeTimeoutMs: realMs(10_000, 30_000),
          helloRetryMs: realMs(500, 1000),
          meterReportIntervalMs: realMs(250, 2000),
        },
        lightning: { connectionFile: o.connectionFile, node: 'wall' },
        powerCut: { maxCurrentA: 0.5, withinMs: 5000 },
        store: { path: wallDb },
        status: { listen: '127.0.0.1', port: 0 },
        log: { level: o.logLevel ?? 'info' },
        clock: clockSection,
        connectors,
        ...o.wall,
      }),
    );
    const wall = new DaemonProcess('wall', wallConfig, join(o.dir, 'wall.log'));
    // the wall process runs with the Node/V8 flags of the installed CLI's shebang (bin/boltcharge.js), or with
    // BOLTCHARGE_BENCH_WALL_NODE_FLAGS ("" = none) to compare
    wall.entry = [...siteWallNodeFlags(), ...wall.entry];
    return new SiteRig(clock, cars, wall, wallDb, o.connectionFile);
  }

  /** Car `id`. */
  car(id: number): SiteCar {
    const c = this.cars.find((x) => x.id === id);
    if (!c) throw new Error(`no connector ${id}`);
    return c;
  }

  /**
   * Starts the wall, then the cars' vehicle daemons.
   * @param carIds the cars whose vehicle daemon starts (default every car; a connector used for walk-up has a
   *   simulated car with no vehicle daemon: it only plugs in)
   */
  async start(carIds?: readonly number[]): Promise<void> {
    await this.wall.start();
    await Promise.all(this.cars.filter((c) => carIds?.includes(c.id) ?? true).map((c) => c.vehicle.start()));
  }

  /** One connector's live snapshot from the site's status server (`/connectors/<id>.json`). */
  async connector(
    id: number,
  ): Promise<{ state: string; sessionId: string | null; energyWh: number; paidMsat: string }> {
    const r = await fetch(new URL(`connectors/${id}.json`, this.wall.statusUrl));
    return (await r.json()) as {
      state: string;
      sessionId: string | null;
      energyWh: number;
      paidMsat: string;
    };
  }

  /** Polls until `pred` holds (real ms). */
  async until(what: string, pred: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        if (await pred()) return;
      } catch {
        // the wall restarting: try again
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * The books per connector: what the wall's store says it was paid for the connector's sessions, and what the
   * wall's lnd says it received for the same invoices (every settled or open invoice looked up by hash).
   *
   * @returns per connector id: store msat, node msat, invoices settled (and their hashes), sessions
   */
  async books(): Promise<Map<number, SiteConnectorBooks>> {
    const store = WallStore.open(this.wallDb, new SystemClock());
    const { wall } = regtestNodes(this.connectionFile);
    const out = new Map<number, SiteConnectorBooks>();
    try {
      for (const c of this.cars) {
        let storeMsat = 0n;
        let nodeMsat = 0n;
        const settledHashes: string[] = [];
        const sessions = store.connectorSessionIds(c.id);
        for (const sid of sessions) {
          storeMsat += store.getSession(sid).paidMsat;
          for (const inv of store.invoices(sid)) {
            if (!inv.paymentHash) continue;
            if (inv.state === 'settled') settledHashes.push(inv.paymentHash);
            const st = await wall.lookupInvoice(inv.paymentHash);
            if (st.state === 'settled') nodeMsat += st.receivedMsat;
          }
        }
        out.set(c.id, {
          storeMsat,
          nodeMsat,
          settled: settledHashes.length,
          settledHashes,
          sessions: sessions.length,
        });
      }
    } finally {
      store.close();
      await wall.close();
    }
    return out;
  }

  /**
   * The walk-up books per connector: the walk-up sessions the wall's store holds for the connector
   * (`walkup_sessions.connector_id`) and their ledger (`walkup_records`: every settled and cancelled hold invoice),
   * each hash looked up at the wall's lnd.
   *
   * @returns per connector id: its walk-up sessions (id, phase, end reason), the ledger's settled and cancelled
   *   invoices (hash, purpose, amount) and what the node says of each (state, msat received)
   */
  async walkupBooks(): Promise<Map<number, WalkupBooks>> {
    const store = WallStore.open(this.wallDb, new SystemClock());
    const { wall } = regtestNodes(this.connectionFile);
    const out = new Map<number, WalkupBooks>();
    try {
      for (const c of this.cars) {
        const walkups = new WalkupStore(store.db, { connectorId: c.id });
        const books: WalkupBooks = { sessions: [], invoices: [], ledgerMsat: 0n, nodeMsat: 0n };
        for (const s of walkups.list(1000)) {
          books.sessions.push({
            sessionId: s.sessionId,
            phase: s.state.phase,
            endReason: s.state.phase === 'ended' ? s.state.endReason : null,
          });
          for (const r of walkups.records(s.sessionId)) {
            if (r.kind !== 'invoiceSettled' && r.kind !== 'invoiceCancelled') continue;
            const hash = String(r.data['paymentHash']);
            const node = await wall.lookupInvoice(hash);
            const amountMsat = BigInt(String(r.data['amountMsat'] ?? '0'));
            books.invoices.push({
              sessionId: s.sessionId,
              paymentHash: hash,
              purpose: String(r.data['purpose']),
              ledger: r.kind === 'invoiceSettled' ? 'settled' : 'cancelled',
              amountMsat,
              node: node.state,
              nodeReceivedMsat: node.receivedMsat,
            });
            if (r.kind === 'invoiceSettled') books.ledgerMsat += amountMsat;
            if (r.kind === 'invoiceSettled' && node.state === 'settled') books.nodeMsat += node.receivedMsat;
          }
        }
        out.set(c.id, books);
      }
    } finally {
      store.close();
      await wall.close();
    }
    return out;
  }

  /** Stops every daemon, bridge and world. */
  async stop(): Promise<void> {
    await Promise.all([this.wall.stop(), ...this.cars.map((c) => c.vehicle.stop())]);
    this.wall.close();
    for (const c of this.cars) {
      c.vehicle.close();
      await c.bridge.close();
      c.world.stop();
    }
  }
}

/** Node/V8 flags of the bench's wall process: BOLTCHARGE_BENCH_WALL_NODE_FLAGS when set, else the CLI's. */
export function siteWallNodeFlags(): string[] {
  const env = process.env['BOLTCHARGE_BENCH_WALL_NODE_FLAGS'];
  return env === undefined ? cliNodeFlags() : env.split(/\s+/).filter(Boolean);
}
