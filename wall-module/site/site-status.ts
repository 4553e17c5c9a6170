/**
 * The site's status server content: the dashboard's source (the first connector's live view at the top, every
 * connector in the `connectors` list, operator actions addressed per connector) and the site routes:
 *
 * - `GET /site.json` — every connector's view (state, session, power, energy, alarms, availability, the path of
 *   its walk-up page or null)
 * - `GET /connectors/<id>.json` — one connector's live snapshot (its ledger included) and its recent sessions
 * - `GET /connectors/<id>` — the same as a small HTML page (the dashboard's connector table links to it)
 *
 * A connector with walk-up payment has its pay page at `/connectors/<id>/walkup` (served by its walk-up routes, no
 * clash with the paths above); its JSON says where (`walkupUrl`) and its page links to it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { toJson } from '../../daemon/session-store.js';
import { connectorAvailable } from '../../daemon/status-actions.js';
import type { ConnectorView, StatusRoute, StatusSnapshot, StatusSource } from '../../daemon/status-server.js';
import { storeStatusSource } from '../../daemon/status-source.js';
import type { WallStore } from '../store.js';
import type { WallDaemon } from '../wall-daemon.js';
import type { ConnectorDown } from './site-daemon.js';
import { splitStatementsFor } from '../payouts/receipt-split.js'; // split

/** What the site's status content reads. */
export interface SiteStatusParts {
  /** the site's (unscoped) store */
  store: WallStore;
  /** the daemon clock's speed (the demo accelerates it) */
  clockSpeed: number;
  /** the running connectors by id, in configuration order */
  connectors: ReadonlyMap<number, WallDaemon>;
  /** every configured connector id, in configuration order (default: the running ones) */
  ids?: readonly number[];
  /** connectors whose start failed, retried with a backoff (shown as `failed` with the reason) */
  down?: ReadonlyMap<number, ConnectorDown>;
  /** a connector's walk-up page path, or undefined when it has none */
  walkupPath?: (connectorId: number) => string | undefined;
}

/** The state a connector whose start failed shows. */
export const CONNECTOR_DOWN_STATE = 'failed';

/**
 * What a connector that is down says on the site page: the reason and when it is tried again.
 *
 * @param d the connector's down record
 */
export function downAlarm(d: ConnectorDown): string {
  return `start failed (attempt ${d.attempts}): ${d.reason}; next retry at ${new Date(d.nextRetryAtMs).toISOString()}`;
}

/**
 * A down connector's line on the site overview.
 *
 * @param store the site's store
 * @param d its down record
 */
export function downView(store: WallStore, d: ConnectorDown): ConnectorView {
  return {
    connectorId: d.connectorId,
    state: CONNECTOR_DOWN_STATE,
    sessionId: null,
    powerW: 0,
    energyWh: 0,
    alarms: [downAlarm(d)],
    available: connectorAvailable(store, d.connectorId),
  };
}

/** The running session of a snapshot, or null when none runs. */
function runningSession(s: StatusSnapshot): string | null {
  return s.state === 'ended' || s.state === 'idle' ? null : s.sessionId;
}

/**
 * One connector's line on the site overview.
 *
 * @param store the site's store
 * @param id connector id
 * @param d its daemon
 */
export function connectorView(store: WallStore, id: number, d: WallDaemon): ConnectorView {
  const s = d.snapshot();
  return {
    connectorId: id,
    state: s.state,
    sessionId: s.sessionId,
    powerW: s.powerW,
    energyWh: s.energyWh,
    alarms: [...d.alarms],
    available: connectorAvailable(store, id),
  };
}

/**
 * Builds the site's status source and routes.
 *
 * @param parts store, clock speed, connectors
 * @returns the source for `StatusServer` and the site routes
 */
export function siteStatus(parts: SiteStatusParts): { source: StatusSource; routes: StatusRoute[] } {
  const { store, connectors } = parts;
  const down = parts.down ?? new Map<number, ConnectorDown>();
  const ids = parts.ids ?? [...connectors.keys()];
  const first = (): WallDaemon => connectors.values().next().value as WallDaemon;
  const views = (): ConnectorView[] =>
    ids.flatMap((id) => {
      const d = connectors.get(id);
      if (d) return [connectorView(store, id, d)];
      const dn = down.get(id);
      return dn ? [downView(store, dn)] : [];
    });
  const source = storeStatusSource(store, {
    role: 'wall',
    splitStatements: (id) => splitStatementsFor(store.db, id), // split
    status: () => first().snapshot(),
    ledger: (id) => ({ invoices: store.invoices(id), connectorId: store.sessionConnector(id) ?? null }),
    clockSpeed: parts.clockSpeed,
    // what the connectors' observers draw (the CSMS's display messages), above the ledger
    extraHtml: () => [...connectors.values()].map((d) => d.displayHtml()).join(''),
    connectorViews: views,
    actions: {
      availability: true,
      connectors: [...ids],
      sessionId: (id) => {
        const d = connectors.get(id);
        return d ? runningSession(d.snapshot()) : null;
      },
      stopSession: (id) => connectors.get(id)?.requestStop(),
      clearAlarms: (id) => connectors.get(id)?.clearAlarms() ?? 0,
    },
  });
  const json = (res: ServerResponse, body: unknown): void => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(toJson(body));
  };
  const detail = (id: number): Record<string, unknown> | null => {
    const d = connectors.get(id);
    const dn = down.get(id);
    if (!d && !dn) return null;
    return {
      connectorId: id,
      available: connectorAvailable(store, id),
      walkupUrl: parts.walkupPath?.(id) ?? null,
      ...(d
        ? { ...d.snapshot(), alarms: [...d.alarms] }
        : {
            state: CONNECTOR_DOWN_STATE,
            sessionId: null,
            powerW: 0,
            energyWh: 0,
            paidMsat: 0n,
            creditWh: 0,
          }),
      ...(dn ? { alarms: [downAlarm(dn)], down: dn, ledger: [] } : {}),
      sessions: store.connectorSessionIds(id, 20).map((sid) => store.getSession(sid)),
    };
  };
  const notRunning = (res: ServerResponse, id: number): void => {
    res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(toJson({ error: 'NotFound', message: `connector ${id} is not running` }));
  };
  const routes: StatusRoute[] = [
    {
      method: 'GET',
      path: '/site.json',
      handle: (_req, res) =>
        json(res, {
          connectors: views().map((v) => ({ ...v, walkupUrl: parts.walkupPath?.(v.connectorId) ?? null })),
        }),
    },
  ];
  for (const id of ids) {
    routes.push(
      {
        method: 'GET',
        path: `/connectors/${id}.json`,
        handle: (_req, res) => {
          const body = detail(id);
          if (body) json(res, body);
          else notRunning(res, id);
        },
      },
      {
        method: 'GET',
        path: `/connectors/${id}`,
        handle: (_req: IncomingMessage, res: ServerResponse) => {
          const body = detail(id);
          if (!body) return notRunning(res, id);
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
          res.end(connectorPage(body));
        },
      },
    );
  }
  return { source, routes };
}

const escapeHtml = (v: unknown): string =>
  String(v).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

/** A connector's page: its live figures, alarms, current ledger and recent sessions (no script). */
function connectorPage(d: Record<string, unknown>): string {
  const s = d as unknown as StatusSnapshot & {
    connectorId: number;
    available: boolean;
    walkupUrl: string | null;
    sessions: { id: string; status: string; energyWh: number; paidMsat: bigint; stopReason: string | null }[];
  };
  const row = (k: string, v: unknown): string =>
    `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>Connector ${s.connectorId}</title>
<link rel="stylesheet" href="/assets/app.css"><meta http-equiv="refresh" content="5"></head><body>
<h1>Connector ${s.connectorId}</h1><p><a href="/">Site</a> · <a href="/connectors/${s.connectorId}.json">JSON</a>${
    s.walkupUrl ? ` · <a href="${escapeHtml(s.walkupUrl)}">Walk-up payment</a>` : ''
  }</p>
<table>${row('State', s.state)}${row('Session', s.sessionId ?? '–')}${row('Power', `${s.powerW} W`)}${row(
    'Energy',
    `${s.energyWh} Wh`,
  )}${row('Paid', `${s.paidMsat} msat`)}${row('Credit', `${s.creditWh} Wh`)}${row(
    'Availability',
    s.available ? 'available' : 'out of service',
  )}${row('Alarms', s.alarms.length ? s.alarms.join(' · ') : 'none')}</table>
<h2>Invoices of the session</h2><table><tr><th>seq</th><th>state</th><th>msat</th><th>Wh</th></tr>${s.ledger
    .map(
      (l) =>
        `<tr><td>${l.seq}</td><td>${escapeHtml(l.state)}</td><td>${l.amountMsat}</td><td>${l.fromWh}–${l.toWh}</td></tr>`,
    )
    .join('')}</table>
<h2>Recent sessions</h2><table><tr><th>session</th><th>status</th><th>Wh</th><th>msat</th><th>end</th></tr>${s.sessions
    .map(
      (x) =>
        `<tr><td>${escapeHtml(x.id.slice(0, 16))}</td><td>${escapeHtml(x.status)}</td><td>${x.energyWh}</td><td>${x.paidMsat}</td><td>${escapeHtml(x.stopReason ?? '')}</td></tr>`,
    )
    .join('')}</table></body></html>`;
}
