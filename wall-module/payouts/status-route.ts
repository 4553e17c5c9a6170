/**
 * The split payouts on the wall's status page (issue 14): `GET /api/payouts` lists the latest payouts (who, how
 * much, the routing fee, the state, the sessions covered) and `GET /api/payouts/statements.json` downloads every
 * signed settlement statement in the form `boltcharge verify-statement FILE` reads. Read-only; money as decimal
 * msat strings.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Db } from '../../daemon/database.js';
import type { StatusRoute } from '../../daemon/status-server.js';
import { PayoutLedger } from './payout-ledger.js';
import { signedStatements } from './receipt-split.js';

/** Most payouts listed (newest first). */
export const PAYOUTS_LISTED = 200;

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
  const send = (res: ServerResponse, body: unknown, download?: string): void => {
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      ...(download ? { 'content-disposition': `attachment; filename="${download}"` } : {}),
    });
    res.end(JSON.stringify(body));
  };
  return [
    {
      method: 'GET',
      path: '/api/payouts',
      handle: (_req: IncomingMessage, res: ServerResponse) =>
        send(res, {
          payouts: ledger
            .payouts()
            .slice(-PAYOUTS_LISTED)
            .reverse()
            .map((p): PayoutView => ({
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
      handle: (_req: IncomingMessage, res: ServerResponse) =>
        send(res, signedStatements(db), 'split-statements.json'),
    },
  ];
}
