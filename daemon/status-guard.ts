/**
 * Who may talk to the status server: the Host header and the Origin header are checked against allow-lists
 * before any route runs (a web page on another site, or a DNS-rebinding name pointing at this machine, is
 * refused), and the operator token guards the actions.
 *
 * Host: the request's host name (without port) must be the listen address, a loopback name (`localhost`,
 * `127.0.0.1`, `::1`), one of this machine's interface addresses when listening on a wildcard address, or one of
 * the configured `allowedHosts`. A DNS-rebinding page always sends its own host name, so it is refused.
 * Origin: absent (a non-browser client) or same-origin (`http(s)://` + the request's Host) or one of the
 * configured `allowedOrigins` (e.g. `https://charger.example.org` behind a reverse proxy).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { networkInterfaces } from 'node:os';

/** A refused request: HTTP status and a named reason. */
export interface Refusal {
  /** 421 for a Host that is not ours, 403 for a foreign Origin, 401 for a missing/wrong token */
  status: 401 | 403 | 421;
  /** `HostNotAllowed`, `OriginNotAllowed`, `OperatorTokenMissing`, `OperatorTokenWrong` */
  error: 'HostNotAllowed' | 'OriginNotAllowed' | 'OperatorTokenMissing' | 'OperatorTokenWrong';
  message: string;
}

/** The header that carries the operator token (never a cookie: a cross-site request cannot set it). */
export const OPERATOR_TOKEN_HEADER = 'x-operator-token';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];
const WILDCARDS = ['0.0.0.0', '::', ''];

/** Lower-case host name without brackets or port, e.g. `[::1]:8410` → `::1`. */
export function hostNameOf(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
  const colon = h.lastIndexOf(':');
  // a bare IPv6 address has several colons and no port
  return colon > 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

/** Checks requests against the Host and Origin allow-lists. */
export class RequestGuard {
  private readonly hosts: Set<string>;
  private readonly origins: Set<string>;
  private readonly tokenDigest: Buffer | null;

  /**
   * @param opts `listen`: the bound address; `allowedHosts`: extra host names (e.g. `charger.local`);
   *   `allowedOrigins`: extra origins (`scheme://host[:port]`); `operatorToken`: the actions' token (absent =
   *   every action is refused: read-only)
   */
  constructor(opts: {
    listen: string;
    allowedHosts?: readonly string[];
    allowedOrigins?: readonly string[];
    operatorToken?: string;
  }) {
    const listen = hostNameOf(opts.listen);
    this.hosts = new Set([...LOOPBACK_NAMES, listen, ...(opts.allowedHosts ?? []).map(hostNameOf)]);
    if (WILDCARDS.includes(listen))
      for (const list of Object.values(networkInterfaces()))
        for (const a of list ?? []) this.hosts.add(a.address.toLowerCase().split('%')[0] ?? '');
    this.origins = new Set(
      (opts.allowedOrigins ?? []).map((o) => o.trim().toLowerCase().replace(/\/+$/, '')),
    );
    this.tokenDigest =
      opts.operatorToken && opts.operatorToken.length > 0 ? digest(opts.operatorToken) : null;
  }

  /** Whether actions are possible at all (a token is configured). */
  get actionsEnabled(): boolean {
    return this.tokenDigest !== null;
  }

  /**
   * Checks the Host and Origin headers of a request (HTTP or WebSocket upgrade).
   *
   * @param req the incoming request
   * @returns null when allowed, else the refusal
   */
  check(req: IncomingMessage): Refusal | null {
    const host = req.headers.host;
    if (!host || !this.hosts.has(hostNameOf(host)))
      return {
        status: 421,
        error: 'HostNotAllowed',
        message: `host ${JSON.stringify(host ?? '')} is not served here (add it to status.allowedHosts)`,
      };
    const origin = req.headers.origin;
    if (origin === undefined) return null;
    const o = origin.trim().toLowerCase();
    const same = o === `http://${host.toLowerCase()}` || o === `https://${host.toLowerCase()}`;
    if (same || this.origins.has(o)) return null;
    return {
      status: 403,
      error: 'OriginNotAllowed',
      message: `origin ${JSON.stringify(origin)} may not use this server (add it to status.allowedOrigins)`,
    };
  }

  /**
   * Checks the operator token header of an action request (compared in constant time).
   *
   * @param req the incoming request
   * @returns null when the token matches, else the refusal
   */
  checkToken(req: IncomingMessage): Refusal | null {
    const given = req.headers[OPERATOR_TOKEN_HEADER];
    if (this.tokenDigest === null)
      return {
        status: 403,
        error: 'OperatorTokenMissing',
        message: 'no operator token is configured (status.operatorToken): the page is read-only',
      };
    if (typeof given !== 'string' || given.length === 0)
      return {
        status: 401,
        error: 'OperatorTokenMissing',
        message: `send the token in ${OPERATOR_TOKEN_HEADER}`,
      };
    if (!timingSafeEqual(digest(given), this.tokenDigest))
      return { status: 401, error: 'OperatorTokenWrong', message: 'wrong operator token' };
    return null;
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
