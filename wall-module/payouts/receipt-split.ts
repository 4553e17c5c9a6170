// The signed split statements for `boltcharge receipt` and the status page (issue 14): read-only, and nothing
// when the store has no payout tables (a wall that never split).
import type { Db } from '../../daemon/database.js';
import type { SignedStatement } from '../../payments/payout-statement.js';

/**
 * The signed statements of the payouts that cover a session's payments.
 * @param db the wall store's connection
 * @param sessionId the session
 * @returns the statements (as `boltcharge verify-statement` reads them), oldest payout first
 */
export function splitStatementsFor(db: Db, sessionId: string): SignedStatement[] {
  return signedStatements(db, { sessionId });
}

/** Which statements to read: one session's, and/or one page of them (payout ids in order). */
export interface StatementQuery {
  /** only the payouts covering this session */
  sessionId?: string;
  /** only payouts whose id sorts after this one (the previous page's last `statement.payoutId`) */
  afterPayoutId?: string;
  /** at most this many statements (default: all) */
  limit?: number;
}

/**
 * The signed statements of every settled payout, or of those covering one session, or one page of them.
 *
 * @param db the wall store's connection
 * @param q session filter and page (default: all statements)
 * @returns the statements (as `boltcharge verify-statement` reads them), in payout id order; none when the
 *   store has no payout tables
 */
export function signedStatements(db: Db, q: StatementQuery = {}): SignedStatement[] {
  const tables = db
    .prepare(
      "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name IN ('payout_ledger', 'payout_statements')",
    )
    .get() as { n: number | bigint };
  if (Number(tables.n) !== 2) return [];
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (q.sessionId !== undefined) {
    where.push('EXISTS (SELECT 1 FROM json_each(l.session_ids_json) WHERE json_each.value = ?)');
    args.push(q.sessionId);
  }
  if (q.afterPayoutId !== undefined) {
    where.push('s.payout_id > ?');
    args.push(q.afterPayoutId);
  }
  const rows = db
    .prepare(
      `SELECT s.text, s.signature FROM payout_statements s
       JOIN payout_ledger l ON l.payout_id = s.payout_id
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY s.payout_id
       ${q.limit !== undefined ? 'LIMIT ?' : ''}`,
    )
    .all(...args, ...(q.limit !== undefined ? [q.limit] : [])) as { text: string; signature: string }[];
  return rows.map((r) => ({
    statement: JSON.parse(r.text) as SignedStatement['statement'],
    text: r.text,
    signature: r.signature,
  }));
}
