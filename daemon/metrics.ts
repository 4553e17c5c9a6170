/**
 * Prometheus metrics for both daemons (prom-client), served as `GET /metrics` on the status server.
 *
 * Every business metric is a projection of the daemon's store, read at scrape time: the counters are the
 * store's totals (sessions ended by reason, invoices or payments by state, msat billed / received / paid, power
 * cut verifications, link drops, watchdog misses), so they equal the ledger by construction and survive
 * restarts; the latency histograms are fed from ledger rows settled since the last scrape. Live values come from
 * the daemon's status snapshot (machine phase, exposure, energy) and, for node reachability, a probe of the
 * Lightning node at scrape time. Nothing here is on the session loop's path.
 *
 * msat are exported as numbers: sums are read from SQLite as bigint and converted once; a double holds every
 * integer up to 2^53 msat (about 90,000 BTC) exactly, which bounds what a scrape can misstate.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from './database.js';
import type { StatusRoute, StatusSnapshot } from './status-server.js';

/** What the metrics are computed from. */
export interface MetricsSources {
  role: 'wall' | 'vehicle';
  /** the daemon's SQLite database (read-only queries) */
  db: Db;
  /** the daemon's status snapshot, or null before it started */
  snapshot(): StatusSnapshot | null;
  /** probes the Lightning node (e.g. `getIdentity`); resolves true when it answered */
  probeNode?(): Promise<boolean>;
  /** every connector's snapshot (a wall site): the `boltcharge_connector_*` metrics, labelled `connector` */
  connectors?(): { connectorId: number; snapshot: StatusSnapshot }[];
  /** connectors whose start failed and that are retried (a wall site): why, how often, when next */
  downConnectors?(): { connectorId: number; reason: string; attempts: number; nextRetryAtMs: number }[];
  /** real time, ms (default `Date.now`) */
  nowMs?: () => number;
}

/** Buckets for settlement / payment latency, seconds. */
const latencyBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];
/** Resolution of the event-loop delay histogram (`boltcharge_process_eventloop_lag_*`), ms. */
const EVENT_LOOP_SAMPLE_MS = 1000;
/** How long a node probe may take before the node counts as unreachable, ms. */
const probeTimeoutMs = 2000;

type Row = Record<string, unknown>;

/** A bigint or number column as a number (exact below 2^53). */
function num(v: unknown): number {
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : 0;
}

/** The metrics of one daemon. */
export class DaemonMetrics {
  /** The registry `/metrics` renders. */
  readonly registry = new Registry();
  private readonly nowMs: () => number;
  /** ledger rows already observed in the latency histogram: (time, rowid) cursor */
  private latencyCursor = { tMs: -1, rowid: -1 };
  /** last event id observed in the cable round-trip histogram */
  private cableRttCursor = -1;

  /** @param sources store, snapshot, node probe */
  constructor(private readonly sources: MetricsSources) {
    this.nowMs = sources.nowMs ?? Date.now;
    const r = this.registry;
    r.setDefaultLabels({ daemon: sources.role });
    // the event-loop delay histogram samples once a second: its default (every 10 ms) woke an idle daemon 100
    // times a second, most of an idle site's CPU
    collectDefaultMetrics({
      register: r,
      prefix: 'boltcharge_process_',
      eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS,
    });
    const nowMs = this.nowMs;
    const tableExists = (name: string): boolean =>
      sources.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(name) !==
      undefined;
    const all = (sql: string): Row[] => sources.db.prepare(sql).safeIntegers(true).all() as Row[];

    new Gauge({
      name: 'boltcharge_sessions',
      help: 'Sessions in the store by status (active, ended)',
      labelNames: ['status'],
      registers: [r],
      collect() {
        this.reset();
        for (const row of all(`SELECT status, COUNT(*) AS n FROM sessions GROUP BY status`))
          this.set({ status: String(row.status) }, num(row.n));
      },
    });
    new Counter({
      name: 'boltcharge_sessions_ended_total',
      help: 'Sessions ended, by stop reason',
      labelNames: ['reason'],
      registers: [r],
      collect() {
        this.reset();
        for (const row of all(
          `SELECT COALESCE(stop_reason, 'unknown') AS reason, COUNT(*) AS n FROM sessions
           WHERE status = 'ended' GROUP BY reason`,
        ))
          this.inc({ reason: String(row.reason) }, num(row.n));
      },
    });
    new Gauge({
      name: 'boltcharge_session_phase',
      help: 'Current session machine phase (1 for the current one)',
      labelNames: ['phase'],
      registers: [r],
      collect() {
        this.reset();
        const s = sources.snapshot();
        if (s) this.set({ phase: s.state }, 1);
      },
    });
    new Gauge({
      name: 'boltcharge_session_energy_wh',
      help: 'Energy of the current (or last) session, Wh, as the machine counts it',
      registers: [r],
      collect() {
        this.set(sources.snapshot()?.energyWh ?? 0);
      },
    });
    new Gauge({
      name: 'boltcharge_meter_energy_wh',
      help: 'Latest meter register of the current (or last) session, Wh, by meter (own, peer)',
      labelNames: ['meter'],
      registers: [r],
      collect() {
        this.reset();
        for (const row of all(
          `SELECT source, energy_wh FROM meter_samples m
           WHERE session_id = (SELECT id FROM sessions ORDER BY started_at_ms DESC LIMIT 1)
             AND t_ms = (SELECT MAX(t_ms) FROM meter_samples WHERE session_id = m.session_id AND source = m.source)`,
        ))
          this.set({ meter: String(row.source) }, num(row.energy_wh));
      },
    });
    new Gauge({
      name: sources.role === 'wall' ? 'boltcharge_unpaid_exposure_wh' : 'boltcharge_prepaid_exposure_wh',
      help:
        sources.role === 'wall'
          ? 'Seller exposure: energy delivered beyond what was paid, Wh'
          : 'Buyer exposure: energy paid for but not yet delivered, Wh',
      registers: [r],
      collect() {
        const s = sources.snapshot();
        const creditWh = s?.creditWh ?? 0;
        this.set(sources.role === 'wall' ? Math.max(0, -creditWh) : Math.max(0, creditWh));
      },
    });

    if (sources.role === 'wall') {
      new Counter({
        name: 'boltcharge_invoices_total',
        help: 'Invoices by state: issued (ever handed to the car), settled, expired, cancelled, failed',
        labelNames: ['state'],
        registers: [r],
        collect() {
          this.reset();
          const [issued] = all(`SELECT COUNT(*) AS n FROM invoices WHERE issued_at_ms IS NOT NULL`);
          this.inc({ state: 'issued' }, num(issued?.n));
          for (const row of all(
            `SELECT state, COUNT(*) AS n FROM invoices WHERE state <> 'open' GROUP BY state`,
          ))
            this.inc({ state: String(row.state) }, num(row.n));
        },
      });
      new Counter({
        name: 'boltcharge_billed_msat_total',
        help: 'msat invoiced to cars (invoices issued)',
        registers: [r],
        collect() {
          this.reset();
          this.inc(
            num(
              all(`SELECT COALESCE(SUM(amount_msat), 0) AS v FROM invoices WHERE issued_at_ms IS NOT NULL`)[0]
                ?.v,
            ),
          );
        },
      });
      new Counter({
        name: 'boltcharge_received_msat_total',
        help: 'msat received (settled invoices, as the node reported them)',
        registers: [r],
        collect() {
          this.reset();
          this.inc(
            num(
              all(`SELECT COALESCE(SUM(received_msat), 0) AS v FROM invoices WHERE state = 'settled'`)[0]?.v,
            ),
          );
        },
      });
    } else {
      new Counter({
        name: 'boltcharge_payments_total',
        help: 'Payments by state (recorded, sent, succeeded, failed)',
        labelNames: ['state'],
        registers: [r],
        collect() {
          this.reset();
          for (const row of all(`SELECT state, COUNT(*) AS n FROM payments GROUP BY state`))
            this.inc({ state: String(row.state) }, num(row.n));
        },
      });
      new Counter({
        name: 'boltcharge_paid_msat_total',
        help: 'msat paid to chargers (succeeded payments, without routing fees)',
        registers: [r],
        collect() {
          this.reset();
          this.inc(
            num(
              all(`SELECT COALESCE(SUM(amount_msat), 0) AS v FROM payments WHERE state = 'succeeded'`)[0]?.v,
            ),
          );
        },
      });
      new Counter({
        name: 'boltcharge_routing_fees_msat_total',
        help: 'Routing fees paid, msat',
        registers: [r],
        collect() {
          this.reset();
          this.inc(
            num(all(`SELECT COALESCE(SUM(fee_msat), 0) AS v FROM payments WHERE state = 'succeeded'`)[0]?.v),
          );
        },
      });
    }

    const latency = new Histogram({
      name: sources.role === 'wall' ? 'boltcharge_settlement_seconds' : 'boltcharge_payment_seconds',
      help:
        sources.role === 'wall'
          ? 'Invoice issued to settled, seconds (daemon clock)'
          : 'Payment sent to succeeded, seconds (real time)',
      buckets: latencyBuckets,
      registers: [r],
    });
    const latencySql =
      sources.role === 'wall'
        ? `SELECT rowid, settled_at_ms AS t, settled_at_ms - issued_at_ms AS ms FROM invoices
           WHERE state = 'settled' AND issued_at_ms IS NOT NULL AND (settled_at_ms, rowid) > (?, ?)
           ORDER BY settled_at_ms, rowid`
        : `SELECT rowid, finished_at_ms AS t, finished_at_ms - sent_at_ms AS ms FROM payments
           WHERE state = 'succeeded' AND sent_at_ms IS NOT NULL AND (finished_at_ms, rowid) > (?, ?)
           ORDER BY finished_at_ms, rowid`;
    this.feedLatency = (): void => {
      const rows = sources.db.prepare(latencySql).all(this.latencyCursor.tMs, this.latencyCursor.rowid) as {
        rowid: number;
        t: number;
        ms: number;
      }[];
      for (const row of rows) {
        latency.observe(Math.max(0, row.ms) / 1000);
        this.latencyCursor = { tMs: row.t, rowid: row.rowid };
      }
    };

    const cableRtt = new Histogram({
      name: 'boltcharge_cable_round_trip_seconds',
      help: 'Cable round trip (ping sent to pong received over the charge cable), seconds (daemon clock)',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [r],
    });
    this.feedCableRtt = (): void => {
      const rows = sources.db
        .prepare(
          `SELECT id, data_json FROM events WHERE kind = 'machine.cableRoundTrip' AND id > ? ORDER BY id LIMIT 10000`,
        )
        .all(this.cableRttCursor) as { id: number; data_json: string }[];
      for (const row of rows) {
        const rttMs = (JSON.parse(row.data_json) as { rttMs?: unknown }).rttMs;
        if (typeof rttMs === 'number' && rttMs >= 0) cableRtt.observe(rttMs / 1000);
        this.cableRttCursor = row.id;
      }
    };

    new Counter({
      name: 'boltcharge_events_total',
      help: 'Operational events from the store: power cut verified / not verified, link drops, EVSE watchdog misses, alarms',
      labelNames: ['kind'],
      registers: [r],
      collect() {
        this.reset();
        for (const row of all(
          `SELECT kind, COUNT(*) AS n FROM events
           WHERE kind IN ('powerCut.verified', 'powerCut.alarm', 'machine.linkDown', 'evse.watchdogMissed', 'alarm')
           GROUP BY kind`,
        ))
          this.inc({ kind: String(row.kind) }, num(row.n));
      },
    });

    if (tableExists('ocpp_outbox')) {
      new Gauge({
        name: 'boltcharge_ocpp_outbox_depth',
        help: 'OCPP messages waiting in the durable outbox',
        registers: [r],
        collect() {
          this.set(num(all(`SELECT COUNT(*) AS n FROM ocpp_outbox WHERE done_at_ms IS NULL`)[0]?.n));
        },
      });
      new Gauge({
        name: 'boltcharge_ocpp_outbox_oldest_age_seconds',
        help: 'Age of the oldest undelivered OCPP message, seconds (0 when empty)',
        registers: [r],
        collect() {
          const oldest = all(`SELECT MIN(created_at_ms) AS t FROM ocpp_outbox WHERE done_at_ms IS NULL`)[0]
            ?.t;
          this.set(oldest === null || oldest === undefined ? 0 : Math.max(0, nowMs() - num(oldest)) / 1000);
        },
      });
    }

    if (sources.connectors) this.connectorMetrics(sources.connectors, all, tableExists('invoices'));
    if (sources.downConnectors) this.downConnectorMetrics(sources.downConnectors);

    if (sources.probeNode) {
      const probe = sources.probeNode;
      new Gauge({
        name: 'boltcharge_node_reachable',
        help: 'The Lightning node answered a probe at scrape time (1) or not (0)',
        registers: [r],
        async collect() {
          let timer: NodeJS.Timeout | undefined;
          const timeout = new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(false), probeTimeoutMs);
          });
          const ok = await Promise.race([probe().catch(() => false), timeout]);
          clearTimeout(timer);
          this.set(ok ? 1 : 0);
        },
      });
    }
  }

  /**
   * The per-connector metrics of a site: live phase, energy, power and exposure from each connector's snapshot,
   * and the invoice ledger by connector and state from the store (so they equal the books by construction).
   */
  private connectorMetrics(
    connectors: NonNullable<MetricsSources['connectors']>,
    all: (sql: string) => Row[],
    invoices: boolean,
  ): void {
    const r = this.registry;
    const live = (
      name: string,
      help: string,
      value: (s: StatusSnapshot) => number,
      extra?: (s: StatusSnapshot) => Record<string, string>,
    ): void =>
      void new Gauge({
        name,
        help,
        labelNames: extra ? ['connector', 'phase'] : ['connector'],
        registers: [r],
        collect() {
          this.reset();
          for (const c of connectors())
            this.set({ connector: String(c.connectorId), ...extra?.(c.snapshot) }, value(c.snapshot));
        },
      });
    live(
      'boltcharge_connector_phase',
      'Session machine phase of each connector (1 for its current phase)',
      () => 1,
      (s) => ({ phase: s.state }),
    );
    live(
      'boltcharge_connector_energy_wh',
      'Energy of the connector’s current (or last) session, Wh',
      (s) => s.energyWh,
    );
    live('boltcharge_connector_power_w', 'Power on the connector by its meter, W', (s) => s.powerW);
    live(
      'boltcharge_connector_unpaid_exposure_wh',
      'Energy the connector delivered beyond what was paid, Wh (0 when prepaid)',
      (s) => Math.max(0, -s.creditWh),
    );
    if (!invoices) return;
    new Counter({
      name: 'boltcharge_connector_invoices_total',
      help: 'Invoices by connector and state (issued counts every invoice the node returned)',
      labelNames: ['connector', 'state'],
      registers: [r],
      collect() {
        this.reset();
        for (const row of all(
          `SELECT s.connector_id AS c, i.state AS state, COUNT(*) AS n FROM invoices i
           JOIN sessions s ON s.id = i.session_id GROUP BY s.connector_id, i.state`,
        ))
          this.inc({ connector: String(row.c), state: String(row.state) }, num(row.n));
      },
    });
    new Counter({
      name: 'boltcharge_connector_received_msat_total',
      help: 'msat the node received for each connector’s invoices',
      labelNames: ['connector'],
      registers: [r],
      collect() {
        this.reset();
        for (const row of all(
          `SELECT s.connector_id AS c, COALESCE(SUM(i.received_msat), 0) AS v FROM invoices i
           JOIN sessions s ON s.id = i.session_id WHERE i.state = 'settled' GROUP BY s.connector_id`,
        ))
          this.inc({ connector: String(row.c) }, num(row.v));
      },
    });
  }

  /**
   * The connectors of a site whose start failed: `boltcharge_connector_down{connector,reason}` (1 while it is
   * down, with the start's error), its failed starts and the time of its next start (Unix seconds, daemon clock).
   */
  private downConnectorMetrics(down: NonNullable<MetricsSources['downConnectors']>): void {
    const r = this.registry;
    new Gauge({
      name: 'boltcharge_connector_down',
      help: 'A connector whose start failed (1), labelled with the reason; it is retried with a backoff',
      labelNames: ['connector', 'reason'],
      registers: [r],
      collect() {
        this.reset();
        for (const d of down()) this.set({ connector: String(d.connectorId), reason: d.reason }, 1);
      },
    });
    new Gauge({
      name: 'boltcharge_connector_start_failures',
      help: 'Failed starts of a connector that is down',
      labelNames: ['connector'],
      registers: [r],
      collect() {
        this.reset();
        for (const d of down()) this.set({ connector: String(d.connectorId) }, d.attempts);
      },
    });
    new Gauge({
      name: 'boltcharge_connector_next_retry_timestamp_seconds',
      help: 'When a connector that is down is started again (Unix seconds, daemon clock)',
      labelNames: ['connector'],
      registers: [r],
      collect() {
        this.reset();
        for (const d of down()) this.set({ connector: String(d.connectorId) }, d.nextRetryAtMs / 1000);
      },
    });
  }

  private readonly feedLatency: () => void;
  private readonly feedCableRtt: () => void;

  /**
   * Renders the Prometheus text exposition.
   *
   * @returns the body and its content type
   */
  async render(): Promise<{ body: string; contentType: string }> {
    this.feedLatency();
    this.feedCableRtt();
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }

  /** The `GET /metrics` route for the status server. */
  route(): StatusRoute {
    return {
      method: 'GET',
      path: '/metrics',
      handle: async (_req: IncomingMessage, res: ServerResponse) => {
        const { body, contentType } = await this.render();
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        res.end(body);
      },
    };
  }
}
