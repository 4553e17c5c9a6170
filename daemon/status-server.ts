/**
 * The local status page both daemons serve: an HTML page (plain HTML/JS, no build step), a JSON API and a
 * WebSocket that pushes every status change for the live chart.
 *
 *   GET /                          the page
 *   GET /api/status                current snapshot (see `StatusSnapshot`)
 *   GET /api/sessions              stored sessions, newest first
 *   GET /api/sessions/<id>         one session with its ledger and meter samples
 *   GET /api/sessions/<id>/receipt its receipt (404 if none yet)
 *   GET /api/events?after=<id>     the event log
 *   WS  /ws                        {"type":"status", ...snapshot} on connect and on every change
 * Amounts are msat and energies Wh; bigints are JSON strings.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { toJson } from './session-store.js';
import { statusPageHtml } from './status-page.js';

/** One line of the invoice list on the page (a wall invoice or a vehicle payment). */
export interface LedgerLine {
  seq: number;
  state: string;
  amountMsat: bigint;
  fromWh: number;
  toWh: number;
  paymentHash: string | null;
  /** issue → settle (wall) or record → success (vehicle) latency, ms */
  latencyMs: number | null;
}

/** What the page shows. */
export interface StatusSnapshot {
  role: 'wall' | 'vehicle';
  /** daemon time of the snapshot, ms since epoch */
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
}

/** Where the server gets its data. */
export interface StatusSource {
  role: 'wall' | 'vehicle';
  status(): StatusSnapshot;
  sessions(): unknown;
  session(id: string): unknown;
  receipt(id: string): unknown;
  events(afterId: number): unknown;
  /** optional extra HTML shown above the ledger (e.g. the wall's OCPP display messages) */
  extraHtml?(): string;
}

/** An extra HTTP route served by the status server (e.g. `/metrics`). */
export interface StatusRoute {
  method: 'GET' | 'POST';
  path: string;
  handle(req: IncomingMessage, res: ServerResponse): void | Promise<void>;
}

/** Options of `StatusServer.start`. */
export interface StatusServerOptions {
  /** extra routes, matched on method and exact path before the built-in ones */
  routes?: ReadonlyArray<StatusRoute>;
}

/** The running status server. */
export class StatusServer {
  private constructor(
    private readonly http: Server,
    private readonly wss: WebSocketServer,
    private readonly source: StatusSource,
    /** the URL of the page */
    readonly url: string,
    private readonly routes: ReadonlyArray<StatusRoute> = [],
  ) {}

  /**
   * Starts the HTTP and WebSocket server.
   *
   * @param source data provider
   * @param listen address to bind (e.g. 127.0.0.1)
   * @param port TCP port, 0 = any free port
   * @param options extra routes
   * @returns the server; `url` is the page's address
   */
  static async start(
    source: StatusSource,
    listen: string,
    port: number,
    options: StatusServerOptions = {},
  ): Promise<StatusServer> {
    const http = createServer();
    const wss = new WebSocketServer({ noServer: true });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, listen, () => resolve());
    });
    const addr = http.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    const server = new StatusServer(http, wss, source, `http://${host}:${addr.port}/`, options.routes);
    http.on('request', (req, res) => server.handle(req, res));
    http.on('upgrade', (req, socket, head) => {
      if (req.url !== '/ws') {
        socket.destroy();
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => server.welcome(ws));
    });
    return server;
  }

  private welcome(ws: WebSocket): void {
    ws.send(toJson({ type: 'status', ...this.source.status() }));
  }

  /** Pushes the current snapshot to every connected page. */
  publish(): void {
    if (this.wss.clients.size === 0) return;
    const text = toJson({ type: 'status', ...this.source.status() });
    for (const c of this.wss.clients) if (c.readyState === c.OPEN) c.send(text);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(toJson(body));
    };
    try {
      const route = this.routes.find((r) => r.method === req.method && r.path === url.pathname);
      if (route) {
        void Promise.resolve()
          .then(() => route.handle(req, res))
          .catch((err: Error) => {
            if (!res.headersSent) json(500, { error: err.message });
            else res.end();
          });
        return;
      }
      if (req.method !== 'GET') return json(405, { error: 'only GET' });
      const p = url.pathname;
      if (p === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(statusPageHtml(this.source.role));
        return;
      }
      if (p === '/api/status') return json(200, this.source.status());
      if (p === '/api/extra') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(this.source.extraHtml?.() ?? '');
        return;
      }
      if (p === '/api/sessions') return json(200, this.source.sessions());
      if (p === '/api/events')
        return json(200, this.source.events(Number(url.searchParams.get('after') ?? 0)));
      const m = /^\/api\/sessions\/([0-9A-Za-z_-]+)(\/receipt)?$/.exec(p);
      if (m?.[1]) {
        const body = m[2] ? this.source.receipt(m[1]) : this.source.session(m[1]);
        return body === undefined ? json(404, { error: 'not found' }) : json(200, body);
      }
      json(404, { error: 'not found' });
    } catch (err) {
      json(500, { error: (err as Error).message });
    }
  }

  /** Closes every connection and the listener. */
  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}
