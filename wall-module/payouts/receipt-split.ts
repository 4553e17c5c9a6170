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
  return signedStatements(db, sessionId);
}

/**
 * The signed statements of every settled payout, or of those covering one session.
 * @param db the wall store's connection
 * @param sessionId only the payouts covering this session (default: all)
 * @returns the statements (as `boltcharge verify-statement` reads them), oldest payout first; none when the
 *   store has no payout tables
 */
export function signedStatements(db: Db, sessionId?: string): SignedStatement[] {
  const tables = db
    .prepare(
      "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name IN ('payout_ledger', 'payout_statements')",
    )
    .get() as { n: number | bigint };
  if (Number(tables.n) !== 2) return [];
  const rows = db
    .prepare(
      `SELECT s.text, s.signature, l.session_ids_json FROM payout_statements s
       JOIN payout_ledger l ON l.payout_id = s.payout_id ORDER BY s.payout_id`,
    )
    .all() as { text: string; signature: string; session_ids_json: string }[];
  return rows
    .filter(
      (r) => sessionId === undefined || (JSON.parse(r.session_ids_json) as string[]).includes(sessionId),
    )
    .map((r) => ({
      statement: JSON.parse(r.text) as SignedStatement['statement'],
      text: r.text,
      signature: r.signature,
    }));
}
