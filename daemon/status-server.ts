/**
 * The local status server both daemons run: the dashboards (plain HTML/JS, no build step; charts with uPlot
 * served from the daemon's own node_modules: no CDN, every asset local), a JSON API and a WebSocket that pushes
 * every status change.
 *
 *   GET  /                                     the dashboard
 *   GET  /assets/<file>                        app.js, app.css, uplot.js, uplot.css (all local)
 *   GET  /api/status                           current snapshot (see `StatusSnapshot`)
 *   GET  /api/sessions                         stored sessions, newest first
 *   GET  /api/sessions/<id>                    one session with its ledger and meter samples
 *   GET  /api/sessions/<id>/receipt            its stored receipt (404 if none yet)
 *   GET  /api/sessions/<id>/books              the session's books (energy, money, fees, unpaid energy)
 *   GET  /api/sessions/<id>/samples?after=&limit=   own-meter samples, paged (`next` cursor, `baseWh`)
 *   GET  /api/sessions/<id>/ledger?after=&limit=    invoices (wall) / payments (vehicle), paged by seq
 *   GET  /api/sessions/<id>/power              power cuts and resumes
 *   GET  /api/sessions/<id>/statement.json|csv the receipt and settlement statement as a download
 *   GET  /api/history/sessions?before=&limit=  sessions with their books, newest first, paged
 *   GET  /api/history/buckets?bucket=day|week&tzOffsetMin=   the same per local day or week
 *   GET  /api/alarms?limit=                    alarms, faults and operator actions, newest first
 *   GET  /api/spend                            vehicle: spent today / this month vs budgets, per charger
 *   GET  /api/events?after=<id>&session=<id>   the event log
 *   POST /api/actions/stop|clear-fault|availability   operator actions (header `x-operator-token`)
 *   WS   /ws                                   {"type":"status", ...snapshot} on connect and on every change
 * Amounts are msat and energies Wh; bigints are JSON strings.
 *
 * Hostile callers: every request (and the WebSocket upgrade) must carry an allowed Host and, when it has one, an
 * allowed Origin (`RequestGuard`): refused with 421/403 and a named reason. Actions are POST only with the token
 * in a header (never a cookie) and a JSON body of at most 4 KiB: a cross-site page can neither send nor read
 * them. WebSocket frames from clients are capped (`maxPayloadBytes`); a client that does not read its pushes
 * (more than `maxBufferedBytes` queued) is dropped, so a slow reader costs bounded memory.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import type { StatusConfig } from './config-sections.js';
import { toJson } from './session-store.js';
import type { ActionResult, StatusActions } from './status-actions.js';
import { RequestGuard, type Refusal } from './status-guard.js';
import type { ChargerSummary, StatusHistory } from './status-history.js';
import { statusPageHtml } from './status-page.js';

/** One line of the invoice list on the page (a wall invoice or a vehicle payment). */
export interface LedgerLine {
  seq: number;
  state: string;
  amountMsat: bigint;
  fromWh: number;
  toWh: number;
  paymentHash: string | null;
  /**
   * issue → settle (wall) or record → success (vehicle) latency, ms: daemon-clock ms from the daemon, REAL ms
   * once the status source has divided it by the clock's speed (what the API and the page show)
   */
  latencyMs: number | null;
}

/** One connector on the site overview. */
export interface ConnectorView {
  /** 1-based */
  connectorId: number;
  state: string;
  sessionId: string | null;
  powerW: number;
  energyWh: number;
  alarms: string[];
  /** false once an operator took it out of service */
  available: boolean;
}

/** What the page shows. */
export interface StatusSnapshot {
  role: 'wall' | 'vehicle';
  /** daemon time of the snapshot, ms since epoch (accelerated when `clockSpeed` > 1) */
  tMs: number;
  /** machine state name, e.g. `idle`, `charging`, `suspended`, `ended` */
  state: string;
  sessionId: string | null;
  peer: string | null;
  powerW: number;
  /** energy of the current session by this daemon's meter, Wh */
  energyWh: number;
  priceMsatPerWh: bigint | null;
  /** paid-for energy not yet delivered, Wh (negative = delivered but unpaid) */
  creditWh: number;
  paidMsat: bigint;
  stopReason: string | null;
  alarms: string[];
  ledger: LedgerLine[];
  /** the daemon clock's speed (1 = real time; the demo runs faster), added by the status source */
  clockSpeed?: number;
  /** every connector of the site (today one), added by the status source */
  connectors?: ConnectorView[];
}

/** The vehicle owner's spend against the budgets, and the chargers used. */
export interface VehicleSpend {
  /** committed since the start of the UTC day (what the daily budget counts), msat with fees */
  todayMsat: bigint;
  /** committed since the start of the UTC month, msat with fees */
  monthMsat: bigint;
  dailyBudgetMsat: bigint | null;
  monthlyBudgetMsat: bigint | null;
  sessionBudgetMsat: bigint | null;
  chargers: ChargerView[];
  /** the loss bound across sessions (null: the source has none) */
  lossCaps: LossCaps | null;
}

/** The vehicle's loss bound across sessions, as the buyer machine enforces it. */
export interface LossCaps {
  /** rolling window of the caps and the back-off, s */
  windowSec: number;
  /** `limits.maxUndeliveredWhPerWall`, Wh */
  perWallWh: number;
  /** `limits.maxUndeliveredWhTotal`, Wh */
  totalWh: number;
  /** paid (or in doubt) but not delivered over every wall in the window now, Wh */
  undeliveredTotalWh: number;
}

/** One charger on the owner's dashboard: its books, alias and use of the loss caps. */
export interface ChargerView extends ChargerSummary {
  /** the alias its node announced (looked up once per wall), or null */
  alias: string | null;
  /** paid (or in doubt) but not delivered with this wall in the window now, Wh (null: no loss bound known) */
  undeliveredWindowWh: number | null;
  /** the wall is in back-off until then (daemon clock ms), or null when it is not in back-off now */
  backoffUntilMs: number | null;
}

/** Where the server gets its data. The history, spend and actions are optional (older sources). */
export interface StatusSource {
  role: 'wall' | 'vehicle';
  status(): StatusSnapshot;
  sessions(): unknown;
  session(id: string): unknown;
  receipt(id: string): unknown;
  events(afterId: number, sessionId?: string): unknown;
  /** the receipt and settlement statement as a download, undefined for an unknown session */
  statement?(id: string, format: 'json' | 'csv'): string | undefined;
  history?: StatusHistory;
  /** vehicle only */
  spend?(): VehicleSpend;
  /** operator actions (served only when an operator token is configured) */
  actions?: StatusActions;
  /** optional extra HTML shown above the ledger (e.g. the wall's OCPP display messages) */
  extraHtml?(): string;
}

/** An extra route, served after the Host/Origin checks (e.g. `/metrics`). */
export interface StatusRoute {
  method: 'GET' | 'POST';
  /** exact path, e.g. `/metrics` */
  path: string;
  handle(req: IncomingMessage, res: ServerResponse): void | Promise<void>;
}

/** Options of `StatusServer.start`. */
export interface StatusServerOptions {
  /** extra routes (served after the Host/Origin checks) */
  routes?: ReadonlyArray<StatusRoute>;
  /** the operator token for actions; absent or empty = read-only */
  operatorToken?: string;
  /** extra Host names served besides the listen address and loopback names */
  allowedHosts?: readonly string[];
  /** extra Origins allowed besides same-origin (e.g. a reverse proxy's `https://name`) */
  allowedOrigins?: readonly string[];
  /** largest WebSocket frame accepted from a client, bytes (default 4096: clients send nothing) */
  maxPayloadBytes?: number;
  /** a client with more than this queued is dropped as a slow reader, bytes (default 1 MiB) */
  maxBufferedBytes?: number;
}

/** Default bounds. */
export const STATUS_DEFAULTS = {
  maxPayloadBytes: 4096,
  maxBufferedBytes: 1 << 20,
  maxBodyBytes: 4096,
  /** ledger lines pushed over the WebSocket (the page pages the rest from the API) */
  pushedLedgerLines: 50,
} as const;

const webDir = join(dirname(fileURLToPath(import.meta.url)), 'status-web');

/** The page's static assets: our own files and uPlot from node_modules. */
function loadAssets(): Map<string, { type: string; body: Buffer }> {
  const req = createRequire(import.meta.url);
  const uplotDir = dirname(req.resolve('uplot/package.json'));
  const js = 'text/javascript; charset=utf-8';
  const css = 'text/css; charset=utf-8';
  return new Map([
    ['/assets/app.js', { type: js, body: readFileSync(join(webDir, 'app.js')) }],
    ['/assets/app.css', { type: css, body: readFileSync(join(webDir, 'app.css')) }],
    ['/assets/uplot.js', { type: js, body: readFileSync(join(uplotDir, 'dist', 'uPlot.iife.min.js')) }],
    ['/assets/uplot.css', { type: css, body: readFileSync(join(uplotDir, 'dist', 'uPlot.min.css')) }],
  ]);
}

/** A request body that is too large or not JSON. */
class BadBody extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    message: string,
  ) {
    super(message);
  }
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** The running status server. */
export class StatusServer {
  /** clients dropped because they did not read their pushes */
  droppedSlowReaders = 0;
  private readonly assets = loadAssets();

  private constructor(
    private readonly http: Server,
    private readonly wss: WebSocketServer,
    private readonly source: StatusSource,
    private readonly guard: RequestGuard,
    private readonly options: StatusServerOptions,
    /** the URL of the page */
    readonly url: string,
  ) {}

  /**
   * Starts the HTTP and WebSocket server.
   *
   * @param source data provider
   * @param listen address to bind (e.g. 127.0.0.1)
   * @param port TCP port, 0 = any free port
   * @param options extra routes, operator token, Host/Origin allow-lists, WebSocket bounds
   * @returns the server; `url` is the page's address
   */
  static async start(
    source: StatusSource,
    listen: string,
    port: number,
    options: StatusServerOptions = {},
  ): Promise<StatusServer> {
    // a client that trickles its request ties up nothing for long (the page's requests are small and local)
    const http = createServer({ requestTimeout: 10_000, headersTimeout: 5_000 });
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxPayloadBytes ?? STATUS_DEFAULTS.maxPayloadBytes,
    });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, listen, () => resolve());
    });
    const addr = http.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    const guard = new RequestGuard({
      listen,
      ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}),
      ...(options.allowedOrigins ? { allowedOrigins: options.allowedOrigins } : {}),
      ...(options.operatorToken ? { operatorToken: options.operatorToken } : {}),
    });
    const server = new StatusServer(http, wss, source, guard, options, `http://${host}:${addr.port}/`);
    http.on('request', (req, res) => void server.handle(req, res));
    http.on('upgrade', (req, socket, head) => {
      const refused = guard.check(req);
      if (req.url !== '/ws' || refused) {
        const status = refused ? refused.status : 404;
        const reason = refused ? refused.error : 'NotFound';
        socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => server.welcome(ws));
    });
    return server;
  }

  /**
   * Starts the server a daemon's `status` config section describes (address, port, allow-lists, token).
   *
   * @param source data provider
   * @param config the `status` section
   * @param extra more options (e.g. `routes` for `/metrics`)
   */
  static forConfig(
    source: StatusSource,
    config: Pick<StatusConfig, 'listen' | 'port' | 'allowedHosts' | 'allowedOrigins' | 'operatorToken'>,
    extra: StatusServerOptions = {},
  ): Promise<StatusServer> {
    return StatusServer.start(source, config.listen, config.port, {
      allowedHosts: config.allowedHosts,
      allowedOrigins: config.allowedOrigins,
      ...(config.operatorToken ? { operatorToken: config.operatorToken } : {}),
      ...extra,
    });
  }

  /** Number of connected WebSocket clients. */
  get clientCount(): number {
    return this.wss.clients.size;
  }

  private welcome(ws: WebSocket): void {
    // clients have nothing to say: anything they send is ignored (and capped by maxPayload)
    ws.on('error', () => ws.terminate());
    this.push(ws, this.pushText());
  }

  private pushText(): string {
    const s = this.source.status();
    return toJson({ type: 'status', ...s, ledger: s.ledger.slice(-STATUS_DEFAULTS.pushedLedgerLines) });
  }

  /** Sends to one client, or drops it when it has too much unread. */
  private push(ws: WebSocket, text: string): void {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > (this.options.maxBufferedBytes ?? STATUS_DEFAULTS.maxBufferedBytes)) {
      this.droppedSlowReaders++;
      ws.terminate();
      return;
    }
    ws.send(text);
  }

  /** Pushes the current snapshot to every connected page. */
  publish(): void {
    if (this.wss.clients.size === 0) return;
    const text = this.pushText();
    for (const c of this.wss.clients) this.push(c, text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const json = (code: number, body: unknown, headers: Record<string, string> = {}): void => {
      if (res.headersSent) return;
      res.writeHead(code, {
        'content-type': 'application/json',
        'cache-control': 'no-store',
        ...SECURITY_HEADERS,
        ...headers,
      });
      res.end(toJson(body));
    };
    const refuse = (r: Refusal): void => json(r.status, { error: r.error, message: r.message });
    try {
      const refused = this.guard.check(req);
      if (refused) return refuse(refused);
      const url = new URL(req.url ?? '/', 'http://x');
      const p = url.pathname;
      const extra = this.options.routes?.find((r) => r.method === req.method && r.path === p);
      if (extra) return await extra.handle(req, res);
      if (req.method === 'POST' && p.startsWith('/api/actions/'))
        return await this.action(req, p, json, refuse);
      if (p.startsWith('/api/actions/'))
        return json(405, { error: 'MethodNotAllowed', message: 'actions are POST only' }, { allow: 'POST' });
      if (req.method !== 'GET') return json(405, { error: 'MethodNotAllowed', message: 'GET only here' });
      const asset = this.assets.get(p);
      if (asset) {
        res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache', ...SECURITY_HEADERS });
        res.end(asset.body);
        return;
      }
      if (p === '/') {
        // scripts only from this server, never inline (the CSMS's display HTML cannot run handlers); eval stays
        // allowed because browser automation (the tests' string predicates) evaluates strings in the page
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
          'content-security-policy':
            "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
            "connect-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
          ...SECURITY_HEADERS,
        });
        res.end(statusPageHtml(this.source.role, { actions: this.guard.actionsEnabled }));
        return;
      }
      if (p === '/api/status') return json(200, this.source.status());
      if (p === '/api/extra') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...SECURITY_HEADERS });
        res.end(this.source.extraHtml?.() ?? '');
        return;
      }
      if (p === '/api/sessions') return json(200, this.source.sessions());
      if (p === '/api/events')
        return json(
          200,
          this.source.events(intParam(url, 'after', 0), url.searchParams.get('session') ?? undefined),
        );
      if (p === '/api/alarms')
        return this.source.history
          ? json(200, this.source.history.alarms(intParam(url, 'limit', 100)))
          : json(404, notFound('no history here'));
      if (p === '/api/spend')
        return this.source.spend ? json(200, this.source.spend()) : json(404, notFound('no budgets here'));
      const h = this.source.history;
      if (h && p === '/api/history/sessions') {
        const before = url.searchParams.get('before');
        return json(
          200,
          h.sessions({
            limit: intParam(url, 'limit', 200),
            ...(before !== null ? { beforeMs: intParam(url, 'before', 0) } : {}),
          }),
        );
      }
      if (h && p === '/api/history/buckets') {
        const bucket = url.searchParams.get('bucket') === 'week' ? 'week' : 'day';
        const off = Math.max(-900, Math.min(900, intParam(url, 'tzOffsetMin', 0)));
        return json(200, h.buckets(bucket, off));
      }
      const m = /^\/api\/sessions\/([0-9A-Za-z_-]{1,128})(?:\/([a-z]+)(?:\.(json|csv))?)?$/.exec(p);
      if (m?.[1]) return this.sessionRoute(m[1], m[2], m[3], url, json, res);
      json(404, notFound('no such path'));
    } catch (err) {
      if (err instanceof BadBody) return json(err.status, { error: 'BadRequest', message: err.message });
      json(500, { error: 'InternalError', message: (err as Error).message });
    }
  }

  private sessionRoute(
    id: string,
    sub: string | undefined,
    ext: string | undefined,
    url: URL,
    json: (code: number, body: unknown, headers?: Record<string, string>) => void,
    res: ServerResponse,
  ): void {
    const h = this.source.history;
    const found = (body: unknown): void =>
      body === undefined ? json(404, notFound(`no session ${id}`)) : json(200, body);
    if (sub === undefined) return found(this.source.session(id));
    if (sub === 'receipt' && ext === undefined) return found(this.source.receipt(id));
    if (sub === 'statement' && ext && this.source.statement) {
      const text = this.source.statement(id, ext === 'csv' ? 'csv' : 'json');
      if (text === undefined) return json(404, notFound(`no session ${id}`));
      res.writeHead(200, {
        'content-type': ext === 'csv' ? 'text/csv; charset=utf-8' : 'application/json',
        'content-disposition': `attachment; filename="boltcharge-${this.source.role}-${id.slice(0, 16)}.${ext}"`,
        'cache-control': 'no-store',
        ...SECURITY_HEADERS,
      });
      res.end(text);
      return;
    }
    if (!h || ext !== undefined) return json(404, notFound('no such path'));
    if (sub === 'books')
      return found(h.sessions({ limit: 1, beforeMs: Number.MAX_SAFE_INTEGER, id }).items[0]);
    if (sub === 'samples')
      return json(200, h.samples(id, intParam(url, 'after', 0), intParam(url, 'limit', 2000)));
    if (sub === 'ledger')
      return json(200, h.ledger(id, intParam(url, 'after', -1), intParam(url, 'limit', 1000)));
    if (sub === 'power') return json(200, h.powerChanges(id));
    json(404, notFound('no such path'));
  }

  private async action(
    req: IncomingMessage,
    path: string,
    json: (code: number, body: unknown) => void,
    refuse: (r: Refusal) => void,
  ): Promise<void> {
    const tokenRefused = this.guard.checkToken(req);
    if (tokenRefused) return refuse(tokenRefused);
    const actions = this.source.actions;
    if (!actions) return json(404, notFound('this daemon offers no actions'));
    const body = await readJsonBody(req, STATUS_DEFAULTS.maxBodyBytes);
    const connectorId = typeof body.connectorId === 'number' ? body.connectorId : 1;
    const from = req.socket.remoteAddress ?? 'unknown';
    let result: ActionResult;
    if (path === '/api/actions/stop') result = actions.stopSession(connectorId, from);
    else if (path === '/api/actions/clear-fault') result = actions.clearFault(connectorId, from);
    else if (path === '/api/actions/availability') {
      if (typeof body.available !== 'boolean')
        return json(400, { error: 'BadRequest', message: 'body needs "available": true|false' });
      result = actions.setAvailability(connectorId, body.available, from);
    } else return json(404, notFound('no such action'));
    if (result.ok) this.publish();
    json(result.ok ? 200 : 409, result.ok ? result : { error: result.reason, message: result.message });
  }

  /** Closes every connection and the listener. */
  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}

function notFound(message: string): { error: 'NotFound'; message: string } {
  return { error: 'NotFound', message };
}

/** An integer query parameter (bounded to the safe integer range), or the default. */
function intParam(url: URL, name: string, dflt: number): number {
  const v = url.searchParams.get(name);
  if (v === null || !/^-?\d{1,16}$/.test(v)) return dflt;
  return Number(v);
}

/** Reads a small JSON object body (`content-type: application/json`, at most `maxBytes`). */
async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/json')) throw new BadBody(415, 'send the body as application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new BadBody(413, `body over ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BadBody(400, 'body is not JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new BadBody(400, 'body must be a JSON object');
  return parsed as Record<string, unknown>;
}
