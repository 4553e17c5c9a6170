/**
 * The per-connector services of a site wall, composed beside the connectors' daemons (`bin/cli/run-daemon.ts`):
 *
 * - Walk-up payment on every connector (`attachSiteWalkups`): each connector whose entry does not say
 *   `walkup: false` gets its own `attachWalkup` — its own EVSE, meter, arbiter, store scope, OCPP EVSE (report,
 *   remote start, DirectPayment runner) and TOTP secret (`connectorTotpSecret`: connector 1 keeps
 *   `walkup.totpSecret`, connector n ≥ 2 uses HMAC-SHA256(totpSecret, "connector:n")). Its pages and pay
 *   endpoints are served under `/connectors/<id>/walkup`; the first configured connector is also (and
 *   canonically) served under `/walkup`, as a single-connector wall always was. A fail-safe of one connector's
 *   walk-up fails that connector only.
 * - The blind relay on every connector whose cable link is IP (`startSiteRelays`): on that link's own address
 *   (all at `relay.port`; two links on one address are refused, naming the connectors), lending the uplink only
 *   to that connector's authenticated car and revoking it when THAT connector's session ends
 *   (`ConnectorSessionEnds`).
 */
import type { Database } from 'better-sqlite3';
import type { Logger } from '../../daemon/logger.js';
import type { StatusRoute } from '../../daemon/status-server.js';
import type { Clock } from '../../hardware/clock.js';
import type { Evse } from '../../hardware/evse/evse.js';
import type { CableLink } from '../../hardware/link/cable-link.js';
import { IpLink } from '../../hardware/link/ip-link.js';
import type { EnergyMeter } from '../../hardware/meter/energy-meter.js';
import type { LightningNode } from '../../lightning/lightning-node.js';
import type { ConnectorConfig } from '../config.js';
import type { ConnectorArbiter } from '../connector-arbiter.js';
import type { OcppStation } from '../ocpp/station.js';
import { relayAddressSharedMessage, type RelayConfig } from '../relay-config.js';
import { startRelay, type RunningRelay } from '../relay-service.js';
import type { WallObserver } from '../wall-daemon.js';
import type { DirectPaymentStation } from '../walkup/direct-payment.js';
import { attachWalkup, type AttachedWalkup, type WalkupSectionConfig } from '../walkup/index.js';
import type { WalkupReportStation } from '../walkup/ocpp-report.js';
import { connectorWalkupPrefix, WALKUP_PATH_PREFIX } from '../walkup/routes.js';
import type { WalkupRuntime } from '../walkup/runtime.js';
import { WalkupStore } from '../walkup/store.js';
import { connectorLogger } from './site-daemon.js';

/** One connector's devices, as its services use them. */
export interface ServiceConnector {
  config: ConnectorConfig;
  evse: Evse;
  meter: EnergyMeter;
  /** the arbiter its cable session shares */
  arbiter: ConnectorArbiter;
}

/** The OCPP station walk-up reports to and takes DirectPayment starts from (one for every EVSE). */
export type WalkupOcppStation = WalkupReportStation &
  DirectPaymentStation &
  Pick<OcppStation, 'attachDirectPayment' | 'webPaymentQr'>;

/** Walk-up on every connector of a site. */
export interface SiteWalkups {
  /** the attached walk-ups by connector id, in configuration order (opted-out connectors absent) */
  readonly byConnector: ReadonlyMap<number, AttachedWalkup>;
  /** the runtimes by OCPP EVSE id (for `walkupStationControl`: remote start and stop reach their EVSE) */
  readonly runtimesByEvseId: ReadonlyMap<number, WalkupRuntime>;
  /** every connector's routes (add to the status server) */
  readonly routes: StatusRoute[];
  /**
   * @param connectorId a connector
   * @returns the connector's walk-up page path (`/walkup` for the first connector), or undefined without walk-up
   */
  pathOf(connectorId: number): string | undefined;
  /** recovery of every connector's sessions (each its own), then EVSE, meter and ticks */
  start(): Promise<void>;
  /** stops every connector's walk-up (sessions stay on disk) */
  stop(): void;
}

/**
 * The walk-up path prefix of a connector: `/walkup` for the first configured connector, else
 * `/connectors/<id>/walkup`.
 *
 * @param connectorId the connector
 * @param first whether it is the first configured connector
 */
export function walkupPrefixOf(connectorId: number, first: boolean): string {
  return first ? WALKUP_PATH_PREFIX : connectorWalkupPrefix(connectorId);
}

/**
 * Attaches walk-up payment to every connector that has not opted out.

  {
    config: <Walkup Section Config> (enabled)
    connectors: [<Service Connector>] in configuration order (the first is served under `/walkup` too)
    node: <Lightning Node>
    db: <Wall Store Database>
    clock: <Clock>
    log: <Logger>
    failConnector: <(connectorId, err) => void> a walk-up step or commit failed: that connector fails safe
    ocpp: <Walkup Ocpp Station> (each connector reports as its EVSE; DirectPayment runs per EVSE)
    realNowMs: <() => number> real time for the TOTP, ms (tests)
  }

  @returns the site's walk-ups (not started: call `start()` once the connectors' daemons have booted)
  @throws WalkupConfigRefused, NodeUnreachable (see `attachWalkup`)
 */
export async function attachSiteWalkups(args: {
  config: WalkupSectionConfig;
  connectors: readonly ServiceConnector[];
  node: LightningNode;
  db: Database;
  clock: Clock;
  log: Logger;
  failConnector: (connectorId: number, err: Error) => void;
  ocpp?: WalkupOcppStation;
  realNowMs?: () => number;
}): Promise<SiteWalkups> {
  const firstId = args.connectors[0]?.config.id;
  // sessions stored before walk-up ran per connector were the first connector's (stored as connector 1)
  if (firstId !== undefined) new WalkupStore(args.db).assignLegacyRows(firstId);
  const served = args.connectors.filter((c) => c.config.walkup);
  const prefixes = new Map(
    served.map((c) => [c.config.id, walkupPrefixOf(c.config.id, c.config.id === firstId)]),
  );
  const byConnector = new Map<number, AttachedWalkup>();
  const runtimesByEvseId = new Map<number, WalkupRuntime>();
  for (const c of served) {
    const id = c.config.id;
    const prefix = prefixes.get(id) as string;
    const station = args.ocpp ? { station: args.ocpp, evseId: c.config.evseId } : undefined;
    const walkup = await attachWalkup({
      config: args.config,
      evse: c.evse,
      meter: c.meter,
      node: args.node,
      db: args.db,
      clock: args.clock,
      log: args.log,
      arbiter: c.arbiter,
      maxCurrentA: c.config.evse.maxCurrentA,
      meterPollIntervalMs: c.config.meter.pollIntervalMs,
      connectorId: id,
      pathPrefix: prefix,
      aliasPrefixes: [connectorWalkupPrefix(id)],
      prefixOf: (other) => prefixes.get(other),
      ...(args.connectors.length > 1 ? { label: `connector ${id}` } : {}),
      onFailSafe: (err) => args.failConnector(id, err),
      ...(station ? { directPayment: station, ocpp: station } : {}),
      ...(args.realNowMs ? { realNowMs: args.realNowMs } : {}),
    });
    byConnector.set(id, walkup);
    runtimesByEvseId.set(c.config.evseId, walkup.runtime);
  }
  return {
    byConnector,
    runtimesByEvseId,
    routes: [...byConnector.values()].flatMap((w) => w.routes),
    pathOf: (id) => prefixes.get(id),
    async start() {
      for (const w of byConnector.values()) await w.start();
    },
    stop() {
      for (const w of byConnector.values()) w.stop();
    },
  };
}

/**
 * "The session ended" per connector: each connector's daemon gets `observer(id)`; a connector's services subscribe
 * to its own ends only (the relay of connector 2 is revoked when connector 2's session ends, not connector 1's).
 */
export class ConnectorSessionEnds {
  private readonly listeners = new Map<number, Set<() => void>>();

  /**
   * @param connectorId the connector
   * @returns the observer to add to that connector's daemon
   */
  observer(connectorId: number): WallObserver {
    return { sessionEnded: () => this.listeners.get(connectorId)?.forEach((f) => f()) };
  }

  /**
   * Subscribes to the ends of one connector's sessions.
   * @param connectorId the connector
   * @param listener called after each of its sessions ended
   * @returns unsubscribe
   */
  onSessionEnded(connectorId: number, listener: () => void): () => void {
    let set = this.listeners.get(connectorId);
    if (!set) this.listeners.set(connectorId, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }
}

/** Two connectors' relays would listen on one address (resolved at start: e.g. an interface's link-local). */
export class RelayAddressShared extends Error {
  override readonly name = 'RelayAddressShared';
}

/** A connector as its relay sees it. */
export interface RelayConnectorHost {
  id: number;
  /** the connector's cable link now (a connector started again after a failure has a new one) */
  link: () => CableLink;
  /** the id of its authenticated cable session, or null (no session, not authenticated, connector down) */
  authenticatedSessionId: () => string | null;
}

/**
 * Starts the blind relay on every connector whose cable link is IP, each on its link's own address at
 * `relay.port`, authorizing only that connector's authenticated car and revoked when that connector's session
 * ends. A relay that fails to start stops the ones already started.

  {
    config: <Relay Config> (disabled → none)
    connectors: [<Relay Connector Host>]
    sessionEnds: <Connector Session Ends>
    clock: <Clock>
    log: <Logger>
  }

  @returns the running relays by connector id (CAN connectors have none)
  @throws RelayAddressShared when two IP links listen on one address; the relay's listen error
 */
export async function startSiteRelays(args: {
  config: RelayConfig;
  connectors: readonly RelayConnectorHost[];
  sessionEnds: ConnectorSessionEnds;
  clock: Clock;
  log: Logger;
}): Promise<Map<number, RunningRelay>> {
  const running = new Map<number, RunningRelay>();
  if (!args.config.enabled) return running;
  const ip = args.connectors.flatMap((c) => {
    const link = c.link();
    return link instanceof IpLink ? [{ c, listenHost: link.listenAddress() }] : [];
  });
  const byHost = new Map<string, number>();
  for (const { c, listenHost } of ip) {
    const other = byHost.get(listenHost);
    if (other !== undefined) throw new RelayAddressShared(relayAddressSharedMessage(other, c.id, listenHost));
    byHost.set(listenHost, c.id);
  }
  try {
    for (const { c, listenHost } of ip) {
      const relay = await startRelay({
        config: args.config,
        host: {
          listenHost,
          authorizedPeer: () => {
            const link = c.link();
            return c.authenticatedSessionId() !== null && link instanceof IpLink ? link.peerAddress() : null;
          },
          onSessionEnded: (f) => args.sessionEnds.onSessionEnded(c.id, f),
        },
        clock: args.clock,
        log: connectorLogger(args.log, c.id),
      });
      if (relay) running.set(c.id, relay);
    }
  } catch (err) {
    await Promise.all([...running.values()].map((r) => r.stop().catch(() => {})));
    throw err;
  }
  return running;
}
