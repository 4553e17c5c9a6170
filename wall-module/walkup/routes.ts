/**
 * The walk-up pay endpoints and the charger's walk-up display page (issue 12), as extra routes of the wall's
 * status server (served after its Host/Origin checks):
 *
 *   GET  /walkup                        the display page (QR, price, live session, stop button, receipt)
 *   GET  /walkup/walkup.js                its script (no inline script: CSP script-src 'self')
 *   GET  /walkup/api/status             JSON for the page: price, QR (re-keyed every validityTimeSec), session;
 *                                       `remoteStart` while a walk-up the CSMS started waits for its deposit (the
 *                                       QR is then that session's)
 *   GET  /walkup/lnurlp?totp=           LUD-06 payRequest (the QR's LNURL); stale or foreign TOTP refused
 *   GET  /walkup/lnurlp/callback?totp=&amount=   deposit hold invoice + LUD-10 aes success action
 *   GET  /walkup/withdraw?k1=           LUD-03 withdrawRequest of a walk-away refund (min = max = remainder)
 *   GET  /walkup/withdraw/callback?k1=&pr=       claims the refund (single use, one DB transaction)
 *   POST /walkup/stop                   {"sessionId"}: the driver stops charging (from the charger's own display:
 *                                       header x-boltcharge-kiosk = walkup.kioskToken, or loopback when unset)
 *   GET  /walkup/receipt?session=       the seller-signed receipt (JSON); /walkup/receipt.html the same as a page
 *
 * Every endpoint is rate-limited per client address and size-limited (URL ≤ 2048 characters, body ≤ 1 KiB);
 * LNURL failures answer `{"status":"ERROR","reason":...}` with the refusal's name first, and pay nothing.
 *
 * On a site every connector has its own route set (its own runtime, arbiter, TOTP secret and rate limiter) under
 * its own prefix: `/walkup` above is the first connector's (`pathPrefix`, the default); every connector is also
 * served under `/connectors/<id>/walkup` (`aliasPrefixes`). Every URL a route builds (the QR's LNURL, the
 * LUD-06 callback, the withdraw callback, receipt links) carries the connector's `pathPrefix`; the page loads
 * its script and polls under the prefix it was served from.
 */
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import QRCode from 'qrcode';
import type { StatusRoute } from '../../daemon/status-server.js';
import { buildMetadata, encodeLnurl, metadataHashHex, toLud17 } from '../../payments/lnurl.js';
import { totpAccepted, totpAt, totpSecondsLeft, verifyTotp, type TotpParams } from '../../payments/totp.js';
import { view } from '../../payments/walkup-output.js';
import type { WalkupState } from '../../payments/walkup-state.js';
import type { ConnectorArbiter } from '../connector-arbiter.js';
import type { WebPaymentQr } from '../ocpp/web-payment.js';
import { RateLimiter } from './rate-limit.js';
import type { RequestOutcome, WalkupRuntime } from './runtime.js';
import type { WalkupSectionConfig } from './config.js';
import type { WalkupStore } from './store.js';
import { walkupPageHtml, walkupReceiptHtml } from './page.js';

/** Longest request URL accepted, characters. */
export const WALKUP_MAX_URL_CHARS = 2048;
/** Largest request body accepted, bytes. */
export const WALKUP_MAX_BODY_BYTES = 1024;

const pageJsFile = join(dirname(fileURLToPath(import.meta.url)), 'web', 'walkup.js');
let pageJs: Buffer | null = null;

/** What the routes need. */
export interface WalkupRoutesParts {
  config: WalkupSectionConfig;
  runtime: WalkupRuntime;
  store: WalkupStore;
  arbiter: ConnectorArbiter;
  /** real time, ms (the TOTP is bound to real time; default Date.now) */
  realNowMs?: () => number;
  /**
   * QR payment model 1 (OCPP 2.1 C25): the CSMS payment page's URL with the TOTP of a moment (unix seconds), or
   * undefined when web payments are off (`OcppStation.webPaymentQr` for the connector's EVSE)
   */
  webPayment?: (unixSeconds: number) => WebPaymentQr | undefined;
  /** the C25 TOTP shared secret of this connector (default `config.totpSecret`; see `connectorTotpSecret`) */
  totpSecret?: string;
  /** the connector's own path prefix, which every URL built here carries (default `/walkup`) */
  pathPrefix?: string;
  /** further prefixes serving the same routes (e.g. `/connectors/1/walkup` for the first connector) */
  aliasPrefixes?: readonly string[];
  /** where another connector's walk-up is served (a foreign withdraw secret or receipt names it) */
  prefixOf?: (connectorId: number) => string | undefined;
  /** what the page's heading names (e.g. `connector 2`; absent on a single-connector wall) */
  label?: string;
}

/** The walk-up path prefix of the first connector (a single-connector wall's only one). */
export const WALKUP_PATH_PREFIX = '/walkup';

/**
 * Where a connector's walk-up is also served on a site.
 * @param connectorId 1-based connector id
 * @returns `/connectors/<id>/walkup`
 */
export function connectorWalkupPrefix(connectorId: number): string {
  return `/connectors/${connectorId}/walkup`;
}

type Reply = (code: number, body: unknown, type?: string) => void;

/**
 * The walk-up routes.
 * @param parts config, runtime, store, arbiter, real clock
 * @returns routes for `StatusServer` (`routes` option / WallParts.routes)
 */
export function walkupRoutes(parts: WalkupRoutesParts): StatusRoute[] {
  const { config: c, runtime, store, arbiter } = parts;
  const now = parts.realNowMs ?? Date.now;
  const limiter = new RateLimiter({ perMinute: c.rateLimitPerMinute, nowMs: now });
  const prefix = parts.pathPrefix ?? WALKUP_PATH_PREFIX;
  const totp: TotpParams = {
    sharedSecret: parts.totpSecret ?? c.totpSecret,
    validityTimeSec: c.validityTimeSec,
    length: c.totpLength,
  };
  const metadata = buildMetadata(c.description);
  const descriptionHash = metadataHashHex(metadata);
  const base = c.publicBaseUrl;

  /** A route relative to the prefix. */
  const route = (method: RouteDef['method'], path: string, handler: RouteDef['handler']): RouteDef => ({
    method,
    path,
    handler,
  });
  /** Serves a route under one prefix (`servedAt`): size and rate limits, JSON / LNURL error answers, no caching. */
  const serve = (def: RouteDef, servedAt: string): StatusRoute => ({
    method: def.method,
    path: `${servedAt}${def.path}`,
    async handle(req: IncomingMessage, res: ServerResponse) {
      const reply: Reply = (code, body, type = 'application/json') => {
        if (res.headersSent) return;
        res.writeHead(code, {
          'content-type': type,
          'cache-control': 'no-store',
          'access-control-allow-origin': '*',
          'x-content-type-options': 'nosniff',
          'referrer-policy': 'no-referrer',
          ...(type.startsWith('text/html')
            ? {
                'content-security-policy':
                  "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
              }
            : {}),
        });
        res.end(typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body, bigintJson));
      };
      const raw = req.url ?? '/';
      if (raw.length > WALKUP_MAX_URL_CHARS) return reply(414, lnurlError('RequestTooLarge', 'URL too long'));
      if (!limiter.allow(req.socket.remoteAddress ?? 'unknown'))
        return reply(429, lnurlError('RateLimited', 'too many requests, try again in a minute'));
      try {
        await def.handler(new URL(raw, 'http://x'), reply, req, servedAt);
      } catch (err) {
        reply(500, lnurlError('InternalError', (err as Error).message));
      }
    },
  });

  /** Checks the QR's TOTP: current, previous and next interval are accepted; older ones are stale. */
  const totpRefusal = (code: string | null): string | null => {
    if (code === null) return 'TotpMissing: scan the QR code on the charger';
    const v = verifyTotp(totp, code, now() / 1000);
    if (totpAccepted(v)) return null;
    return v.name === 'TotpStale'
      ? 'TotpStale: this QR code has expired, scan the code on the charger again'
      : `${v.name}: this code is not from this charger`;
  };

  const qrNow = async () => {
    const code = totpAt(totp, now() / 1000);
    const url = `${base}${prefix}/lnurlp?totp=${code}`;
    const lnurl = encodeLnurl(url, { allowHttp: c.allowHttp });
    if (!lnurl.ok) throw new Error(`walkup.publicBaseUrl: ${lnurl.error.message}`);
    const bech = lnurl.value.toLowerCase();
    const lud17 = toLud17(url, 'payRequest');
    const content = `LIGHTNING:${lnurl.value}`;
    const svg = await QRCode.toString(content, { type: 'svg', errorCorrectionLevel: 'M', margin: 4 });
    return {
      totp: code,
      url,
      lnurl: bech,
      lud17: lud17.ok ? lud17.value : null,
      lightningUri: `lightning:${bech}`,
      content,
      svgDataUrl: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`,
      secondsLeft: Math.ceil(totpSecondsLeft(c.validityTimeSec, now() / 1000)),
      validityTimeSec: c.validityTimeSec,
    };
  };

  /** The C25 payment page QR of now (model 1), drawn like the LNURL QR. */
  const webPaymentNow = async () => {
    const qr = parts.webPayment?.(now() / 1000);
    if (qr === undefined) return null;
    const svg = await QRCode.toString(qr.url, { type: 'svg', errorCorrectionLevel: 'M', margin: 4 });
    return { ...qr, svgDataUrl: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}` };
  };

  const sessionJson = async (sessionId: string, state: WalkupState) => {
    const v = view(state);
    const session = state.phase === 'idle' ? null : state.session;
    const delivered = BigInt(v.deliveredWh) * (v.priceMsatPerWh ?? 0n);
    const held = session?.deposit.heldMsat ?? null;
    const finalBolt11 = v.finalBolt11;
    const receipt = store.receipt(sessionId);
    return {
      ...v,
      sessionId,
      heldMsat: held,
      creditMsat: held === null ? null : held - delivered > 0n ? held - delivered : 0n,
      meteredCostMsat: delivered,
      finalLightningUri: finalBolt11 ? `lightning:${finalBolt11}` : null,
      finalQrDataUrl: finalBolt11
        ? `data:image/svg+xml;base64,${Buffer.from(
            await QRCode.toString(finalBolt11.toUpperCase(), {
              type: 'svg',
              errorCorrectionLevel: 'L',
              margin: 4,
            }),
          ).toString('base64')}`
        : null,
      receiptUrl: receipt ? `${prefix}/receipt.html?session=${encodeURIComponent(sessionId)}` : null,
      receiptSigned: receipt?.signature != null,
    };
  };

  /** The remote start whose session owns the connector and waits for its deposit, if any. */
  const remoteStartOffered = () => {
    const pending = runtime.pendingRemoteStart();
    const owner = arbiter.current();
    return pending !== null && owner.kind === 'walkup' && owner.sessionId === pending.sessionId
      ? pending
      : null;
  };

  const outcomeError = (o: RequestOutcome): unknown =>
    o.kind === 'refused' ? lnurlError(o.refusal.name, o.refusal.message) : lnurlError('Unexpected', o.kind);

  /** Why another connector's session (withdraw secret or receipt) is not served here: where it is. */
  const elsewhere = (connectorId: number | undefined): string | null => {
    if (connectorId === undefined) return null;
    const other = parts.prefixOf?.(connectorId);
    return `it belongs to connector ${connectorId}${other ? ` (${base}${other})` : ''}`;
  };

  const defs: RouteDef[] = [
    route('GET', '', (_u, reply, _req, servedAt) =>
      reply(
        200,
        walkupPageHtml({ pathPrefix: servedAt, ...(parts.label ? { label: parts.label } : {}) }),
        'text/html; charset=utf-8',
      ),
    ),
    route('GET', '/walkup.js', (_u, reply) => {
      pageJs ??= readFileSync(pageJsFile); // read on first use: a missing asset breaks only this route
      reply(200, pageJs, 'text/javascript; charset=utf-8');
    }),
    route('GET', '/api/status', async (_u, reply) => {
      const cur = runtime.current();
      const owner = arbiter.current();
      const remote = remoteStartOffered();
      const offering = owner.kind === 'idle' || remote !== null;
      reply(200, {
        connector: owner.kind,
        available: offering,
        priceMsatPerWh: c.priceMsatPerWh,
        minDepositMsat: c.minDepositMsat,
        maxDepositMsat: c.maxDepositMsat,
        qr: offering ? await qrNow() : null,
        webPayment: owner.kind === 'idle' ? await webPaymentNow() : null,
        // a walk-up the CSMS started: the QR above is its session's (the first deposit request takes it)
        remoteStart: remote,
        session: cur && remote === null ? await sessionJson(cur.sessionId, cur.state) : null,
      });
    }),
    route('GET', '/lnurlp', (url, reply) => {
      const refused = totpRefusal(param(url, 'totp', 64));
      if (refused !== null) return reply(200, lnurlError('TotpRefused', refused));
      const owner = arbiter.current();
      if (owner.kind !== 'idle' && remoteStartOffered() === null)
        return reply(200, lnurlError(refusalWord(owner.kind), 'the charger is not free'));
      reply(200, {
        tag: 'payRequest',
        callback: `${base}${prefix}/lnurlp/callback?totp=${encodeURIComponent(param(url, 'totp', 64) ?? '')}`,
        minSendable: Number(c.minDepositMsat),
        maxSendable: Number(c.maxDepositMsat),
        metadata,
        commentAllowed: 0,
      });
    }),
    route('GET', '/lnurlp/callback', async (url, reply) => {
      const refused = totpRefusal(param(url, 'totp', 64));
      if (refused !== null) return reply(200, lnurlError('TotpRefused', refused));
      const amount = param(url, 'amount', 20);
      if (amount === null || !/^[1-9][0-9]{0,19}$/.test(amount))
        return reply(200, lnurlError('DepositOutOfRange', 'amount (msat) missing or malformed'));
      const amountMsat = BigInt(amount);
      if (amountMsat < c.minDepositMsat || amountMsat > c.maxDepositMsat)
        return reply(
          200,
          lnurlError('DepositOutOfRange', `amount must be ${c.minDepositMsat}..${c.maxDepositMsat} msat`),
        );
      const o = await runtime.requestDeposit(amountMsat, descriptionHash);
      if (o.kind !== 'depositInvoice') return reply(200, outcomeError(o));
      reply(200, { pr: o.bolt11, routes: [], disposable: false, successAction: o.successAction });
    }),
    route('GET', '/withdraw', (url, reply) => {
      const k1 = param(url, 'k1', 64);
      const sessionId = k1 === null ? undefined : store.sessionByWithdrawSecret(k1);
      const state = sessionId === undefined ? undefined : runtime.session(sessionId);
      if (k1 === null || state === undefined) {
        const foreign = k1 === null ? null : elsewhere(store.connectorOfWithdrawSecret(k1));
        return reply(
          200,
          lnurlError(
            'RefundSecretWrong',
            foreign ? `not this connector's refund: ${foreign}` : 'no refund with this secret',
          ),
        );
      }
      if (state.phase !== 'refundOpen')
        return reply(
          200,
          lnurlError(state.phase === 'refundClaimed' ? 'RefundAlreadyClaimed' : 'RefundNotOpen', state.phase),
        );
      reply(200, {
        tag: 'withdrawRequest',
        callback: `${base}${prefix}/withdraw/callback`,
        k1,
        minWithdrawable: Number(state.refund.amountMsat),
        maxWithdrawable: Number(state.refund.amountMsat),
        defaultDescription: 'Refund of the unused part of your charging deposit',
      });
    }),
    route('GET', '/withdraw/callback', async (url, reply) => {
      const k1 = param(url, 'k1', 64);
      const pr = param(url, 'pr', 4096);
      if (k1 === null || pr === null)
        return reply(200, lnurlError('RequestInvalid', 'k1 and pr are required'));
      const o = await runtime.claimRefund(k1, pr);
      reply(200, o.kind === 'accepted' ? { status: 'OK' } : outcomeError(o));
    }),
    route('POST', '/stop', async (_url, reply, req) => {
      // the stop button is the charger's own display: the pay endpoints are reachable from the internet for
      // phone wallets, so a stranger who reads the session id from the status JSON must not stop someone's
      // charge from afar (with `kioskToken` the display proves itself; without it only loopback may stop, and
      // a reverse proxy on this machine then needs the token)
      if (!stopAllowed(c.kioskToken, req.headers['x-boltcharge-kiosk'], req.socket.remoteAddress))
        return reply(403, lnurlError('StopNotAllowed', "only the charger's display can stop a session"));
      const body = await readSmallJson(req);
      const sessionId = typeof body?.sessionId === 'string' ? body.sessionId.slice(0, 128) : '';
      const o = await runtime.driverStop(sessionId);
      reply(o.kind === 'accepted' ? 200 : 409, o.kind === 'accepted' ? { status: 'OK' } : outcomeError(o));
    }),
    route('GET', '/receipt', (url, reply) => {
      const sessionId = param(url, 'session', 128);
      const r = receiptOf(store, sessionId);
      if (r === undefined) {
        const foreign = sessionId === null ? null : elsewhere(store.connectorOfSession(sessionId));
        return reply(
          404,
          lnurlError(
            'NotFound',
            foreign ? `not this connector's receipt: ${foreign}` : 'no receipt for this session',
          ),
        );
      }
      reply(200, r);
    }),
    route('GET', '/receipt.html', (url, reply) => {
      const r = receiptOf(store, param(url, 'session', 128));
      if (r === undefined) return reply(404, 'no receipt for this session', 'text/plain; charset=utf-8');
      reply(200, walkupReceiptHtml(r), 'text/html; charset=utf-8');
    }),
  ];
  const prefixes = [prefix, ...(parts.aliasPrefixes ?? []).filter((p) => p !== prefix)];
  return prefixes.flatMap((servedAt) => defs.map((d) => serve(d, servedAt)));
}

/** A route before it is served under a prefix: its path is relative to the prefix (`''` is the page). */
interface RouteDef {
  method: 'GET' | 'POST';
  path: string;
  handler: (url: URL, reply: Reply, req: IncomingMessage, servedAt: string) => void | Promise<void>;
}

/** A stored receipt as served: the signed text, the parsed data, signature and signer. */
export interface ServedReceipt {
  sessionId: string;
  text: string;
  receipt: Record<string, unknown>;
  signature: string | null;
  signerPubkey: string | null;
}

function receiptOf(store: WalkupStore, sessionId: string | null): ServedReceipt | undefined {
  const r = sessionId === null ? undefined : store.receipt(sessionId);
  if (r === undefined) return undefined;
  const prefix = r.text.indexOf('{');
  return {
    sessionId: r.sessionId,
    text: r.text,
    receipt: JSON.parse(r.text.slice(prefix)) as Record<string, unknown>,
    signature: r.signature,
    signerPubkey: r.signerPubkey,
  };
}

/** LNURL's error shape; `reason` starts with the refusal's name. */
function lnurlError(name: string, message: string): { status: 'ERROR'; reason: string; name: string } {
  return { status: 'ERROR', reason: `${name}: ${message}`.slice(0, 300), name };
}

function refusalWord(kind: string): string {
  return kind === 'faulted'
    ? 'CONNECTOR_FAULTED'
    : kind === 'inoperative'
      ? 'CONNECTOR_INOPERATIVE'
      : 'CONNECTOR_BUSY';
}

/** A query parameter of at most `maxChars` characters, or null (absent or too long). */
function param(url: URL, name: string, maxChars: number): string | null {
  const v = url.searchParams.get(name);
  return v === null || v.length === 0 || v.length > maxChars ? null : v;
}

function bigintJson(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

async function readSmallJson(req: IncomingMessage): Promise<Record<string, unknown> | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > WALKUP_MAX_BODY_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Whether a peer address is this machine (IPv4/IPv6 loopback, or IPv4-mapped loopback). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\./.test(a);
}

/** Whether a stop request comes from the charger's display: the kiosk token when one is configured (compared in
  constant time), else a loopback peer.

  @param token configured kiosk token, or null
  @param header the request's `x-boltcharge-kiosk` header
  @param peer the peer address
  @returns whether the stop is allowed
*/
export function stopAllowed(
  token: string | null,
  header: string | string[] | undefined,
  peer: string | undefined,
): boolean {
  if (token === null) return isLoopback(peer);
  if (typeof header !== 'string') return false;
  const a = Buffer.from(header);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
