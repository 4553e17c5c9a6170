/**
 * Walk-up sessions as the host's session list shows every session (`boltcharge sessions`): the same row shape
 * as the cable sessions (daemon/session-store.ts `SessionRow`), marked `kind: 'walkup'`, read from the walk-up
 * tables of the wall's store (none when the walk-up was never enabled).
 */
import type { Database } from 'better-sqlite3';
import type { SessionRow } from '../../daemon/session-store.js';
import type { WalkupState } from '../../payments/walkup-state.js';
import { WalkupStore, type StoredWalkupReceipt } from './store.js';

/** A session row of either kind. */
export type AnySessionRow = SessionRow & { kind: 'cable' | 'walkup' };

/** Whether the walk-up tables exist in this database. */
function hasWalkupTables(db: Database): boolean {
  return (
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'walkup_sessions'").get() !==
    undefined
  );
}

/** One walk-up state as a session row: energy delivered, what the driver paid for it, the end reason. */
function rowOf(sessionId: string, state: WalkupState, createdAtMs: number): AnySessionRow {
  const session = state.phase === 'idle' ? null : state.session;
  const ended = state.phase === 'ended';
  return {
    kind: 'walkup',
    id: sessionId,
    peer: null,
    startedAtMs: session?.startMs ?? createdAtMs,
    endedAtMs: ended ? (session?.stoppedAtMs ?? null) : null,
    status: ended ? 'ended' : 'active',
    stopReason: ended ? state.endReason : (session?.stopReason ?? null),
    priceMsatPerWh: session?.priceMsatPerWh ?? null,
    energyWh: session?.deliveredWh ?? 0,
    paidMsat: session?.costMsat ?? 0n,
  };
}

/** Walk-up sessions of a wall store, newest first.

  @param db the wall store's database
  @param limit at most this many
  @returns rows (empty when the walk-up tables do not exist)
*/
export function walkupSessionRows(db: Database, limit: number): AnySessionRow[] {
  if (!hasWalkupTables(db)) return [];
  return new WalkupStore(db).list(limit).map((r) => rowOf(r.sessionId, r.state, r.createdAtMs));
}

/** A walk-up session's stored receipt (signed text), or undefined (no such session, or walk-up never enabled). */
export function walkupReceipt(db: Database, sessionId: string): StoredWalkupReceipt | undefined {
  return hasWalkupTables(db) ? new WalkupStore(db).receipt(sessionId) : undefined;
}
