/**
 * One wall daemon for a whole site: N connectors, each a `WallDaemon` (its own link, EVSE, meter, seller machine,
 * arbiter, send queue, meter poller, timers and connector-scoped store view), composed over what a site shares:
 *
 * - ONE Lightning node connection and ONE invoice subscription: each connector sees a view of the node whose
 *   `onSettled` registers with the site and which has no settlement cursor of its own; the site resumes the
 *   node's stream from the persisted settle index (the slot a single-connector wall always used) and hands each
 *   settlement to the connector whose invoice it is (by payment hash, through the store). Delivery is concurrent
 *   per handler (`lightning/settlement-delivery.ts`): a connector slow to commit holds back only the persisted
 *   index, never another connector's settlement. A settlement of no connector (walk-up, payouts) is acknowledged.
 * - ONE store (one database, one transaction domain; session rows name their connector).
 * - ONE status server: the site snapshot (connectors list), per-connector pages and JSON, operator actions per
 *   connector (`wall-module/site/site-status.ts`), and the routes of the per-connector services the caller
 *   composes beside the connectors (walk-up payment on every connector, under `/connectors/<id>/walkup`, and the
 *   blind relay of every IP connector: `wall-module/site/connector-services.ts`).
 *
 * A connector whose start fails (its cable link's device is missing, its charger does not answer) does not hold
 * the site back: the others run, and it is started again with a backoff (5 s doubling to 5 min of daemon clock)
 * until its hardware answers; meanwhile the site page, `/site.json`, `/connectors/<id>.json` and the metrics show
 * it as failed with the reason and the next retry (`downConnectors`), and the event log records
 * `connector.startFailed` / `connector.joined`. Only a site none of whose connectors starts fails its start.
 *
 * Isolation: nothing awaits across connectors after the start; each connector has its own event queue and timers.
 * A connector whose machine fails safe has cut its own power and stopped; the others go on, and the site starts it
 * again with the same backoff (`connector.failSafe`, then `connector.startFailed` … `connector.joined`). A failure that means
 * the store can no longer record (a failed commit, or a probe write that fails) cuts every connector and resolves
 * the site's `failSafe.failed` (the CLI then exits non-zero); so does the failure of the last running connector
 * (for a single-connector wall: its fail-safe stops the daemon, as it always did).
 */
import { settlementCursor } from '../settlement-cursor.js';
import type { Clock } from '../../hardware/clock.js';
import type { Evse } from '../../hardware/evse/evse.js';
import type { EnergyMeter } from '../../hardware/meter/energy-meter.js';
import type { CableLink } from '../../hardware/link/cable-link.js';
import type { LightningNode, NodeIdentity, SettlementEvent } from '../../lightning/lightning-node.js';
import type { FailSafe, MachineFailure } from '../../daemon/machine-runner.js';
import type { Logger } from '../../daemon/logger.js';
import { StatusServer, type StatusRoute } from '../../daemon/status-server.js';
import type { ConnectorConfig, WallConfig } from '../config.js';
import { ConnectorArbiter } from '../connector-arbiter.js';
import type { WallStore } from '../store.js';
import { WallDaemon, type WallObserver, type WallParts } from '../wall-daemon.js';
import { siteStatus } from './site-status.js';

/** First wait before a connector whose start failed is started again, daemon clock ms. */
export const CONNECTOR_RETRY_FIRST_MS = 5_000;
/** Longest wait between two starts of a connector that keeps failing, daemon clock ms. */
export const CONNECTOR_RETRY_MAX_MS = 300_000;

/** A connector's devices. */
export interface ConnectorDevices {
  link: CableLink;
  evse: Evse;
  meter: EnergyMeter;
}

/** A connector that is not running because its start failed: why, and when it is tried again. */
export interface ConnectorDown {
  connectorId: number;
  /** the start's error message */
  reason: string;
  /** daemon clock ms of the first failed start */
  sinceMs: number;
  /** failed starts so far */
  attempts: number;
  /** daemon clock ms of the next start */
  nextRetryAtMs: number;
}

/** What one connector of the site runs on. */
export interface SiteConnectorParts extends ConnectorDevices {
  config: ConnectorConfig;
  /**
   * fresh devices for a start after a failed one (a failed start closes the devices it was given); default: the
   * same devices again
   */
  reopen?: () => Promise<ConnectorDevices>;
  /** who owns the connector (shared with walk-up / OCPP; default: a new one) */
  arbiter?: ConnectorArbiter;
  /** hooks of this connector (OCPP for its EVSE, systemd watchdog, …) */
  observers?: WallObserver[];
}

/** Everything the site runs on. */
export interface SiteParts {
  config: WallConfig;
  clock: Clock;
  log: Logger;
  /** the site's store (unscoped); each connector gets `store.forConnector(id)` */
  store: WallStore;
  /** the one node connection */
  node: LightningNode;
  connectors: SiteConnectorParts[];
  /** extra routes on the status server (`/metrics`, walk-up pages) */
  routes?: StatusRoute[];
  /** a connector's walk-up page path, or undefined when it has none (the site page links to it) */
  walkupPath?: (connectorId: number) => string | undefined;
  /** replaces the seller step of every connector (fault-injection tests) */
  step?: WallParts['step'];
}

/** A settlement handler as the node calls it. */
type SettlementHandler = (event: SettlementEvent) => unknown;

/** A connector's settlement is not handled (its daemon is not running): the node's delivery retries it. */
export class ConnectorNotRunning extends Error {
  override readonly name = 'ConnectorNotRunning';
}

/**
 * A logger that adds the connector id to every line.
 *
 * @param log the site's logger
 * @param connectorId 1-based id
 */
export function connectorLogger(log: Logger, connectorId: number): Logger {
  const at =
    (level: keyof Logger) =>
    (msg: string, fields?: object): void =>
      log[level](msg, { connectorId, ...fields });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/**
 * The wall configuration one connector's daemon runs with: the site's tariff, session, node and clock settings
 * with the connector's link, EVSE, meter and power-cut verification; its status page is the site's.
 *
 * @param config the site configuration
 * @param c the connector
 */
export function connectorWallConfig(config: WallConfig, c: ConnectorConfig): WallConfig {
  return {
    ...config,
    connectors: [c],
    link: c.link,
    evse: c.evse,
    meter: c.meter,
    powerCut: c.powerCut,
    status: { ...config.status, enabled: false },
  };
}

/** Whether a machine failure means the store can no longer record (then every connector is cut). */
function storeFailure(f: MachineFailure): boolean {
  if (f.stage === 'commit') return true;
  const code = (f.cause as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE');
}

/** The running site. */
export class SiteDaemon implements FailSafe {
  /** the connectors' daemons by connector id, in configuration order */
  readonly connectors = new Map<number, WallDaemon>();
  /** resolves once the site failed safe (a store that cannot record: every connector cut) */
  readonly failed: Promise<MachineFailure>;
  private resolveFailed: (f: MachineFailure) => void = () => {};
  private readonly handlers = new Map<number, SettlementHandler>();
  /** connectors whose machine failed safe (cut, stopped) while the site runs on */
  readonly failedConnectors = new Map<number, MachineFailure>();
  /** connectors whose start failed, by id: they are started again with a backoff until they join */
  readonly downConnectors = new Map<number, ConnectorDown>();
  /** the running connectors by OCPP EVSE id (kept current as connectors join) */
  readonly byEvseId = new Map<number, WallDaemon>();
  private readonly retryTimers = new Map<number, { cancel(): void }>();
  private unsubscribe: (() => void) | null = null;
  private status: StatusServer | null = null;
  private stopping = false;
  private identity: Promise<NodeIdentity> | null = null;
  private publishTimer: { cancel(): void } | null = null;

  private constructor(private readonly parts: SiteParts) {
    this.failed = new Promise((resolve) => (this.resolveFailed = resolve));
  }

  /**
   * Starts every connector (concurrently), then the one settlement subscription and the status server.
   *
   * @param parts config, clock, log, store, node, the connectors' devices
   * @returns the running site
   * @throws the first connector's start error (after stopping the connectors that started)
   */
  static async start(parts: SiteParts): Promise<SiteDaemon> {
    const site = new SiteDaemon(parts);
    try {
      await site.boot();
    } catch (err) {
      await site.stop();
      throw err;
    }
    return site;
  }

  private async boot(): Promise<void> {
    const { config, clock, log, store, node } = this.parts;
    const started = await Promise.allSettled(this.parts.connectors.map((c) => this.startConnector(c, c)));
    const refused = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    // no connector runs: the site cannot start (a single-connector wall exits as it always did)
    if (refused && !started.some((r) => r.status === 'fulfilled')) throw refused.reason;
    // configuration order (the starts finished in any order)
    this.orderConnectors();
    this.parts.connectors.forEach((c, i) => {
      const r = started[i]!;
      if (r.status === 'rejected') this.connectorDown(c, r.reason);
    });

    // one subscription: resume after the committed index (every connector's handler is registered by now, so a
    // replayed settlement finds its connector)
    node.resumeSettlements?.(
      settlementCursor(store, log, (hash) => ({ connectorId: store.invoiceConnector(hash.toLowerCase()) })),
    );
    this.unsubscribe = node.onSettled((ev) => this.dispatchSettlement(ev));

    if (config.status.enabled) {
      const { source, routes } = siteStatus({
        store,
        clockSpeed: config.clock.speed,
        connectors: this.connectors,
        ids: this.parts.connectors.map((c) => c.config.id),
        down: this.downConnectors,
        ...(this.parts.walkupPath ? { walkupPath: this.parts.walkupPath } : {}),
      });
      this.status = await StatusServer.forConfig(source, config.status, {
        routes: [...(this.parts.routes ?? []), ...routes],
      });
      log.info('status page', { url: this.status.url });
      // the dashboard's live pushes: once a second of daemon clock (not per connector step: N connectors)
      const publish = (): void => {
        this.publishTimer = clock.setTimer(1000, () => {
          if (this.stopping) return;
          this.status?.publish();
          publish();
        });
      };
      publish();
      // where `boltcharge clear-fault` reaches the operator actions (a port 0 is resolved here)
      store.appendEvent(null, 'status.listening', { url: this.status.url });
    }
    log.info('site started', { connectors: [...this.connectors.keys()] });
  }

  /**
   * Starts one connector's daemon on its devices and adds it to the running connectors.
   *
   * @param c the connector's parts
   * @param devices its link, EVSE and meter
   * @throws the daemon's start error (the daemon has closed the devices)
   */
  private async startConnector(c: SiteConnectorParts, devices: ConnectorDevices): Promise<WallDaemon> {
    const { config, clock, log, store } = this.parts;
    const id = c.config.id;
    c.arbiter ??= new ConnectorArbiter();
    const daemon = await WallDaemon.start({
      config: connectorWallConfig(config, c.config),
      clock,
      log: connectorLogger(log, id),
      store: store.forConnector(id),
      node: this.nodeView(id),
      link: devices.link,
      evse: devices.evse,
      meter: devices.meter,
      arbiter: c.arbiter,
      observers: c.observers ?? [],
      step: this.parts.step,
      connectorId: id,
    });
    this.connectors.set(id, daemon);
    this.byEvseId.set(c.config.evseId, daemon);
    void daemon.failSafe.failed.then((f) => this.connectorFailed(id, f));
    return daemon;
  }

  /** Orders the running connectors as the configuration lists them. */
  private orderConnectors(): void {
    const byOrder = this.parts.connectors
      .map((c) => [c.config.id, this.connectors.get(c.config.id)] as const)
      .filter((e): e is readonly [number, WallDaemon] => e[1] !== undefined);
    this.connectors.clear();
    for (const [id, d] of byOrder) this.connectors.set(id, d);
  }

  /**
   * A connector's start failed: it is shown down with the reason, recorded, and started again after a backoff
   * (`CONNECTOR_RETRY_FIRST_MS` doubling up to `CONNECTOR_RETRY_MAX_MS`) while the others run.
   *
   * @param c the connector
   * @param err why its start failed
   */
  private connectorDown(c: SiteConnectorParts, err: unknown): void {
    if (this.stopping) return;
    const { clock, log, store } = this.parts;
    const id = c.config.id;
    const now = clock.now();
    const prev = this.downConnectors.get(id);
    const attempts = (prev?.attempts ?? 0) + 1;
    const waitMs = Math.min(CONNECTOR_RETRY_FIRST_MS * 2 ** (attempts - 1), CONNECTOR_RETRY_MAX_MS);
    const reason = err instanceof Error ? err.message : String(err);
    const down: ConnectorDown = {
      connectorId: id,
      reason,
      sinceMs: prev?.sinceMs ?? now,
      attempts,
      nextRetryAtMs: now + waitMs,
    };
    this.downConnectors.set(id, down);
    log.error('connector start failed: the other connectors run; retrying', { ...down });
    try {
      store.appendEvent(null, 'connector.startFailed', { ...down });
    } catch (e) {
      log.warn('connector.startFailed not recorded', { error: (e as Error).message });
    }
    this.retryTimers.set(
      id,
      clock.setTimer(waitMs, () => void this.retryConnector(c)),
    );
  }

  /** Starts a down connector again, on fresh devices when it has a `reopen`. */
  private async retryConnector(c: SiteConnectorParts): Promise<void> {
    const id = c.config.id;
    this.retryTimers.delete(id);
    if (this.stopping) return;
    try {
      const devices = c.reopen ? await c.reopen() : c;
      if (this.stopping) return;
      await this.startConnector(c, devices);
    } catch (err) {
      this.connectorDown(c, err);
      return;
    }
    if (this.stopping) {
      await this.connectors.get(id)?.stop();
      return;
    }
    const down = this.downConnectors.get(id);
    this.downConnectors.delete(id);
    this.orderConnectors();
    this.parts.log.info('connector joined the site', { connectorId: id, attempts: down?.attempts });
    this.parts.store.appendEvent(null, 'connector.joined', {
      connectorId: id,
      attempts: down?.attempts ?? 0,
    });
  }

  /** The status page URL, if enabled. */
  get statusUrl(): string | null {
    return this.status?.url ?? null;
  }

  /** The site's fail-safe as the process sees it. */
  get failSafe(): FailSafe {
    return this;
  }

  /**
   * Fails safe from outside every machine (an uncaught exception in the process): every connector cuts its
   * power and stops; `failed` resolves.
   *
   * @param cause the error
   */
  async fail(cause: unknown): Promise<void> {
    await Promise.all([...this.connectors.values()].map((d) => d.failSafe.fail(cause)));
    const first = await Promise.race([...this.connectors.values()].map((d) => d.failSafe.failed));
    this.resolveFailed(first);
  }

  /** The first running connector's daemon (the dashboard's top view; a single-connector wall's only one). */
  get primary(): WallDaemon {
    const d = this.connectors.values().next().value;
    if (!d) throw new ConnectorNotRunning('the site runs no connector');
    return d;
  }

  /**
   * The node as one connector sees it: the same connection, with settlements delivered by the site (its
   * `onSettled` registers the connector's handler; it has no cursor and does not close the shared node), and
   * the node's identity asked once for the whole site.
   */
  private nodeView(connectorId: number): LightningNode {
    const node = this.parts.node;
    const own: Partial<LightningNode> = {
      onSettled: (handler) => {
        this.handlers.set(connectorId, handler);
        return () => {
          if (this.handlers.get(connectorId) === handler) this.handlers.delete(connectorId);
        };
      },
      resumeSettlements: undefined,
      getIdentity: () => (this.identity ??= node.getIdentity()),
      close: async () => {},
    };
    return new Proxy(node, {
      get(target, key) {
        if (Object.prototype.hasOwnProperty.call(own, key)) return own[key as keyof LightningNode];
        const v: unknown = Reflect.get(target, key);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }

  /**
   * Hands a settlement to the connector whose invoice it is. Not ours (a walk-up invoice, a payout): acknowledged.
   * Ours but the connector is not running: rejected, so the node's delivery retries and the committed index stays
   * behind it (the next start replays it).
   */
  private dispatchSettlement(ev: SettlementEvent): unknown {
    const id = this.parts.store.invoiceConnector(ev.paymentHash.toLowerCase());
    if (id === undefined) return undefined;
    const handler = this.handlers.get(id);
    if (!handler) return Promise.reject(new ConnectorNotRunning(`connector ${id} is not running`));
    return handler(ev);
  }

  /**
   * A connector failed safe (its power is cut, its machine stopped). If the store can still record, the others
   * go on; otherwise every connector is cut and the site fails.
   */
  private connectorFailed(connectorId: number, f: MachineFailure): void {
    if (this.stopping) return;
    this.failedConnectors.set(connectorId, f);
    const { store, log } = this.parts;
    let recordable = !storeFailure(f);
    if (recordable) {
      try {
        store.appendEvent(null, 'connector.failSafe', { connectorId, error: f.message });
      } catch {
        recordable = false;
      }
    }
    if (recordable && (this.failedConnectors.size < this.connectors.size || this.downConnectors.size > 0)) {
      log.error(
        'connector failed safe: its power is cut; the other connectors go on; it rejoins after a backoff',
        {
          connectorId,
          error: f.message,
        },
      );
      void this.rejoinLater(connectorId, f);
      return;
    }
    if (recordable) {
      // no connector is left running (a single-connector wall: its one connector): the daemon has nothing to
      // supervise and fails safe as a whole (the CLI exits non-zero, a supervisor restarts it)
      log.error('every connector failed safe: the daemon stops', { connectorId, error: f.message });
      this.resolveFailed(f);
      return;
    }
    log.error('the store cannot record: cutting every connector', { connectorId, error: f.message });
    void Promise.all([...this.connectors.values()].map((d) => d.failSafe.fail(f))).then(() =>
      this.resolveFailed(f),
    );
  }

  /**
   * A connector that failed safe while others run is supervised by the site, as a supervisor restarts a
   * single-connector wall: its daemon is stopped (its power stays cut, its devices closed), and it is started
   * again on fresh devices with the start backoff (`connectorDown`), restoring its persisted machine state (a
   * session that failed safe is not resumed; a persisted fault still refuses plug-ins until cleared). A connector
   * without `reopen` (its devices cannot be opened again) stays failed until the daemon restarts.
   *
   * @param connectorId the connector
   * @param f why it failed safe
   */
  private async rejoinLater(connectorId: number, f: MachineFailure): Promise<void> {
    const c = this.parts.connectors.find((x) => x.config.id === connectorId);
    const daemon = this.connectors.get(connectorId);
    if (!c?.reopen || !daemon) return;
    await daemon
      .stop()
      .catch((err: Error) =>
        this.parts.log.warn('failed connector did not stop cleanly', { connectorId, error: err.message }),
      );
    if (this.stopping || this.connectors.get(connectorId) !== daemon) return;
    this.connectors.delete(connectorId);
    if (this.byEvseId.get(c.config.evseId) === daemon) this.byEvseId.delete(c.config.evseId);
    this.failedConnectors.delete(connectorId);
    this.connectorDown(c, new Error(`failed safe: ${f.message}`));
  }

  /** Resolves when every connector's queued events are processed (tests). */
  async idle(): Promise<void> {
    await Promise.all([...this.connectors.values()].map((d) => d.idle()));
  }

  /**
   * Stops every connector (concurrently: a slow EVSE close never holds another connector up), the subscription
   * and the status server, then records `daemon.stopped` and closes the store.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.unsubscribe?.();
    this.publishTimer?.cancel();
    for (const t of this.retryTimers.values()) t.cancel();
    this.retryTimers.clear();
    await Promise.all([...this.connectors.values()].map((d) => d.stop()));
    await this.status?.close().catch(() => {});
    try {
      this.parts.store.appendEvent(null, 'site.stopped', { connectors: this.connectors.size });
    } catch (err) {
      this.parts.log.warn('site.stopped not recorded', { error: (err as Error).message });
    }
    this.parts.store.close();
  }
}
