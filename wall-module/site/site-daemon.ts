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
 *   connector (`wall-module/site/site-status.ts`).
 *
 * Isolation: nothing awaits across connectors after the start; each connector has its own event queue and timers.
 * A connector whose machine fails safe has cut its own power and stopped; the others go on. A failure that means
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

/** Machine-state slot holding the node's committed settle index (the slot a single-connector wall used). */

/** What one connector of the site runs on. */
export interface SiteConnectorParts {
  config: ConnectorConfig;
  link: CableLink;
  evse: Evse;
  meter: EnergyMeter;
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
    const started = await Promise.allSettled(
      this.parts.connectors.map(async (c) => {
        const id = c.config.id;
        const daemon = await WallDaemon.start({
          config: connectorWallConfig(config, c.config),
          clock,
          log: connectorLogger(log, id),
          store: store.forConnector(id),
          node: this.nodeView(id),
          link: c.link,
          evse: c.evse,
          meter: c.meter,
          arbiter: c.arbiter ?? new ConnectorArbiter(),
          observers: c.observers ?? [],
          step: this.parts.step,
          connectorId: id,
        });
        this.connectors.set(id, daemon);
        void daemon.failSafe.failed.then((f) => this.connectorFailed(id, f));
      }),
    );
    const refused = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (refused) throw refused.reason;
    // configuration order (the starts finished in any order)
    const byOrder = this.parts.connectors.map(
      (c) => [c.config.id, this.connectors.get(c.config.id)!] as const,
    );
    this.connectors.clear();
    for (const [id, d] of byOrder) this.connectors.set(id, d);

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

  /** The first connector's daemon (what a single-connector wall's services drive). */
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
    if (recordable && this.failedConnectors.size < this.connectors.size) {
      log.error('connector failed safe: its power is cut; the other connectors go on', {
        connectorId,
        error: f.message,
      });
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
