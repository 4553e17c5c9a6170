/**
 * The site's status server content: the dashboard's source (the first connector's live view at the top, every
 * connector in the `connectors` list, operator actions addressed per connector) and the site routes:
 *
 * - `GET /site.json` — every connector's view (state, session, power, energy, alarms, availability)
 * - `GET /connectors/<id>.json` — one connector's live snapshot (its ledger included) and its recent sessions
 * - `GET /connectors/<id>` — the same as a small HTML page (the dashboard's connector table links to it)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { toJson } from '../../daemon/session-store.js';
import { connectorAvailable } from '../../daemon/status-actions.js';
import type { ConnectorView, StatusRoute, StatusSnapshot, StatusSource } from '../../daemon/status-server.js';
import { storeStatusSource } from '../../daemon/status-source.js';
import type { WallStore } from '../store.js';
import type { WallDaemon } from '../wall-daemon.js';

/** What the site's status content reads. */
export interface SiteStatusParts {
  /** the site's (unscoped) store */
  store: WallStore;
  /** the daemon clock's speed (the demo accelerates it) */
  clockSpeed: number;
  /** the running connectors by id, in configuration order */
  connectors: ReadonlyMap<number, WallDaemon>;
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
  const first = (): WallDaemon => connectors.values().next().value as WallDaemon;
  const views = (): ConnectorView[] => [...connectors].map(([id, d]) => connectorView(store, id, d));
  const source = storeStatusSource(store, {
    role: 'wall',
    status: () => first().snapshot(),
    ledger: (id) => ({ invoices: store.invoices(id), connectorId: store.sessionConnector(id) ?? null }),
    clockSpeed: parts.clockSpeed,
    // what the connectors' observers draw (the CSMS's display messages), above the ledger
    extraHtml: () => [...connectors.values()].map((d) => d.displayHtml()).join(''),
    connectorViews: views,
    actions: {
      availability: true,
      connectors: [...connectors.keys()],
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
  const detail = (id: number, d: WallDaemon): Record<string, unknown> => ({
    connectorId: id,
    available: connectorAvailable(store, id),
    ...d.snapshot(),
    alarms: [...d.alarms],
    sessions: store.connectorSessionIds(id, 20).map((sid) => store.getSession(sid)),
  });
  const routes: StatusRoute[] = [
    { method: 'GET', path: '/site.json', handle: (_req, res) => json(res, { connectors: views() }) },
  ];
  for (const [id, d] of connectors) {
    routes.push(
      { method: 'GET', path: `/connectors/${id}.json`, handle: (_req, res) => json(res, detail(id, d)) },
      {
        method: 'GET',
        path: `/connectors/${id}`,
        handle: (_req: IncomingMessage, res: ServerResponse) => {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
          res.end(connectorPage(detail(id, d)));
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
    sessions: { id: string; status: string; energyWh: number; paidMsat: bigint; stopReason: string | null }[];
  };
  const row = (k: string, v: unknown): string =>
    `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>Connector ${s.connectorId}</title>
<link rel="stylesheet" href="/assets/app.css"><meta http-equiv="refresh" content="5"></head><body>
<h1>Connector ${s.connectorId}</h1><p><a href="/">Site</a> · <a href="/connectors/${s.connectorId}.json">JSON</a></p>
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
