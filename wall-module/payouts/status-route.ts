/**
 * The split payouts on the wall's status page (issue 14): `GET /api/payouts` lists the latest payouts (who, how
 * much, the routing fee, the state, the sessions covered) and `GET /api/payouts/statements.json` downloads the
 * signed settlement statements in the form `boltcharge verify-statement FILE` reads, a page at a time
 * (`?after=<payoutId>&limit=<n>`, at most {@link STATEMENTS_PER_PAGE}; the `x-next-after` header names the next
 * page's `after` while more remain). Read-only; money as decimal msat strings; every response is bounded however
 * long the wall has run.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Db } from '../../daemon/database.js';
import type { StatusRoute } from '../../daemon/status-server.js';
import { PayoutLedger } from './payout-ledger.js';
import { signedStatements } from './receipt-split.js';

/** Most payouts listed (newest first). */
export const PAYOUTS_LISTED = 200;

/** Most statements in one download (a page; the `x-next-after` header continues it). */
export const STATEMENTS_PER_PAGE = 500;

/** A payout id as the store makes them (the `after` query parameter): bounded, printable. */
const PAYOUT_ID = /^[\w:.-]{1,128}$/;

/** One payout as the status page shows it. */
export interface PayoutView {
  payoutId: string;
  recipient: string;
  status: 'planned' | 'in_flight' | 'settled' | 'failed';
  /** the share paid, msat (decimal string) */
  amountMsat: string;
  /** routing fee paid, msat (decimal string; null until settled) */
  feeMsat: string | null;
  /** remainder carried to the next payout of this recipient, msat (decimal string) */
  carriedOutMsat: string;
  sessionIds: string[];
  plannedAtMs: number;
  settledAtMs: number | null;
  failures: number;
  lastError: string | null;
}

/**
 * The payout routes of a wall that splits its payments.
 *
 * @param db the wall store's connection (the payout tables exist: `attachPayouts` created them)
 * @returns the two GET routes
 */
export function payoutRoutes(db: Db): StatusRoute[] {
  const ledger = new PayoutLedger(db);
  const send = (
    res: ServerResponse,
    body: unknown,
    extra: Record<string, string> = {},
    statusCode = 200,
  ): void => {
    res.writeHead(statusCode, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      ...extra,
    });
    res.end(JSON.stringify(body));
  };
  return [
    {
      method: 'GET',
      path: '/api/payouts',
      handle: (_req: IncomingMessage, res: ServerResponse) =>
        send(res, {
          payouts: ledger.latestPayouts(PAYOUTS_LISTED).map((p): PayoutView => ({
            payoutId: p.payoutId,
            recipient: p.recipient,
            status: p.status,
            amountMsat: p.amountMsat.toString(),
            feeMsat: p.feeMsat === null ? null : p.feeMsat.toString(),
            carriedOutMsat: p.carriedOutMsat.toString(),
            sessionIds: p.sessionIds,
            plannedAtMs: p.plannedAtMs,
            settledAtMs: p.settledAtMs,
            failures: p.failures,
            lastError: p.lastError,
          })),
        }),
    },
    {
      method: 'GET',
      path: '/api/payouts/statements.json',
      handle: (req: IncomingMessage, res: ServerResponse) => {
        const url = new URL(req.url ?? '/', 'http://x');
        const after = url.searchParams.get('after') ?? undefined;
        const limitText = url.searchParams.get('limit');
        const limit = limitText === null ? STATEMENTS_PER_PAGE : Number(limitText);
        if (after !== undefined && !PAYOUT_ID.test(after))
          return send(res, { error: 'BadQuery', message: 'after must be a payout id' }, {}, 400);
        if (!Number.isInteger(limit) || limit < 1 || limit > STATEMENTS_PER_PAGE)
          return send(
            res,
            { error: 'BadQuery', message: `limit must be 1..${STATEMENTS_PER_PAGE}` },
            {},
            400,
          );
        // one more than asked tells whether another page follows
        const rows = signedStatements(db, { ...(after ? { afterPayoutId: after } : {}), limit: limit + 1 });
        const page = rows.slice(0, limit);
        const last = page[page.length - 1];
        send(res, page, {
          'content-disposition': 'attachment; filename="split-statements.json"',
          ...(rows.length > limit && last ? { 'x-next-after': last.statement.payoutId } : {}),
        });
      },
    },
  ];
}
