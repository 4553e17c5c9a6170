// An in-process site for daemon tests on a manual clock: ONE SiteDaemon driving N connectors (each with its own
// simulated charger and meters, in-memory cable and a real vehicle daemon paying through a scripted car node) on
// ONE scripted wall node (one settlement subscription). A logic rig: the proof on real lnd is test/e2e/site-*.
import { runClock, runClockUntil } from './clock-steps.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigReader } from '../../daemon/config-reader.js';
import { ManualClock } from '../../hardware/clock.js';
import type { CableLink } from '../../hardware/link/cable-link.js';
import type { Evse } from '../../hardware/evse/evse.js';
import { createSimWorld, type SimWorld } from '../../hardware/sim/sim-world.js';
import { readVehicleConfig } from '../../vehicle-module/config.js';
import { VehicleStore } from '../../vehicle-module/store.js';
import { VehicleDaemon } from '../../vehicle-module/vehicle-daemon.js';
import { readWallConfig, wallConfigReader } from '../../wall-module/config.js';
import { SiteDaemon, type SiteParts } from '../../wall-module/site/site-daemon.js';
import { WallStore } from '../../wall-module/store.js';
import { Cable, memoryLog, scriptedCarNode, ScriptedWallNode } from './in-process-rig.js';

/** One connector of the rig, with its car. */
export interface RigConnector {
  id: number;
  world: SimWorld;
  cable: Cable;
  /** hashes the car's node paid, with amounts */
  paid: Map<string, bigint>;
  vehicle: VehicleDaemon | null;
  vehicleStore: VehicleStore | null;
}

/** Options of a site rig. */
export interface SiteRigOptions {
  /** number of connectors (default 2) */
  connectors?: number;
  /** wraps a connector's wall end of the cable (fault injection: a hung link) */
  wallLink?: (connectorId: number, link: CableLink) => CableLink;
  /** wraps a connector's charger (fault injection: a hung EVSE) */
  evse?: (connectorId: number, evse: Evse) => Evse;
  /**
   * replaces the site's parts before the start (e.g. a step that throws on one connector; services composed
   * beside the connectors, such as walk-up, on the site's store)
   */
  siteParts?: (p: SiteParts) => SiteParts | Promise<SiteParts>;
  /** changes the site's YAML (e.g. a `walkup:` section, the status server on) */
  siteYaml?: (yaml: string) => string;
}

/** The rig. */
export class SiteRig {
  readonly dir = mkdtempSync(join(tmpdir(), 'bc-site-'));
  readonly clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000);
  readonly wallNode = new ScriptedWallNode(this.clock);
  readonly wallLog = memoryLog();
  readonly connectors: RigConnector[] = [];
  site: SiteDaemon | null = null;
  store: WallStore | null = null;

  constructor(private readonly opts: SiteRigOptions = {}) {
    for (let id = 1; id <= (opts.connectors ?? 2); id++)
      this.connectors.push({
        id,
        world: createSimWorld({ clock: this.clock, stepMs: 1000, seed: id }),
        cable: new Cable(),
        paid: new Map(),
        vehicle: null,
        vehicleStore: null,
      });
  }

  /** The site's YAML: one `connectors:` entry per connector (the links and devices are the rig's own). */
  siteYaml(): string {
    const entries = this.connectors
      .map(
        (c) => `
  - id: ${c.id}
    evseId: ${c.id}
    link: { kind: ip, interface: lo, listenAddress: "::1", port: ${47300 + c.id} }
    evse: { kind: sim, url: "http://127.0.0.1:1/", maxPowerW: 11000, allowUnsupervised: true }
    meter: { kind: sim, url: "http://127.0.0.1:1/", name: wall${c.id}, pollIntervalMs: 1000 }`,
      )
      .join('');
    return `
tariff: { priceMsatPerWh: 100, invoiceIntervalSec: 16, minBlockWh: 10, maxBlockWh: 50, depositBlocks: 1 }
lightning: { connectionFile: conn.json, node: wall }
store: { path: "${join(this.dir, 'wall.sqlite')}" }
status: { enabled: false }
connectors:${entries}
`;
  }

  /** Starts (or restarts) the site on its store. */
  async startSite(): Promise<SiteDaemon> {
    const yaml = this.siteYaml();
    const config = readWallConfig(wallConfigReader(this.opts.siteYaml?.(yaml) ?? yaml));
    const store = WallStore.open(config.store.path, this.clock);
    this.store = store;
    let parts: SiteParts = {
      config,
      clock: this.clock,
      log: this.wallLog,
      store,
      node: this.wallNode.client(),
      connectors: this.connectors.map((c, i) => ({
        config: config.connectors[i]!,
        link: this.opts.wallLink?.(c.id, c.cable.newWallEnd()) ?? c.cable.newWallEnd(),
        evse: this.opts.evse?.(c.id, c.world.evse) ?? c.world.evse,
        meter: c.world.wallMeter,
      })),
    };
    if (this.opts.siteParts) parts = await this.opts.siteParts(parts);
    this.site = await SiteDaemon.start(parts);
    return this.site;
  }

  /** Starts the car's vehicle daemon on connector `id` (its own store). */
  async startVehicle(id: number): Promise<VehicleDaemon> {
    const c = this.connector(id);
    const config = readVehicleConfig(
      ConfigReader.fromYaml(`
limits: { maxPriceMsatPerWh: 150, sessionBudgetMsat: 100000000, dailyBudgetMsat: 200000000, wallBackoffSec: 0 }
lightning: { socket: "127.0.0.1:10009", macaroon: admin.macaroon }
link: { kind: ip, peerAddress: "::1" }
meter: { kind: sim, url: "http://127.0.0.1:1/", name: vehicle${id}, pollIntervalMs: 1000 }
status: { enabled: false }
`),
    );
    c.vehicleStore = VehicleStore.open(join(this.dir, `vehicle${id}.sqlite`), this.clock);
    c.vehicle = await VehicleDaemon.start({
      config,
      clock: this.clock,
      log: memoryLog(),
      store: c.vehicleStore,
      node: scriptedCarNode((hash, amount) => this.wallNode.settle(hash, amount), c.paid),
      link: c.cable.vehicle,
      meter: c.world.vehicleMeter,
      nodeClock: this.clock,
    });
    return c.vehicle;
  }

  /** Connector `id` of the rig. */
  connector(id: number): RigConnector {
    const c = this.connectors.find((x) => x.id === id);
    if (!c) throw new Error(`no connector ${id}`);
    return c;
  }

  /** Runs the clock for `ms` in `stepMs` steps, letting I/O callbacks run between steps. */
  async run(ms: number, stepMs = 100): Promise<void> {
    await runClock(this.clock, ms, stepMs);
  }

  /** Runs until `cond` holds, at most `maxMs` of clock time. */
  async runUntil(what: string, cond: () => boolean, maxMs = 120_000): Promise<void> {
    await runClockUntil(this.clock, what, cond, maxMs);
  }

  /** Stops the site (a restart follows with `startSite`). */
  async stopSite(): Promise<void> {
    await this.site?.stop();
    this.site = null;
  }

  async close(): Promise<void> {
    for (const c of this.connectors) await c.vehicle?.stop().catch(() => {});
    await this.stopSite().catch(() => {});
    for (const c of this.connectors) c.world.stop();
  }
}
