/**
 * The walk-up tables in the wall's store database (issue 12): one row per walk-up session holding the pure
 * machine's persisted state (written BEFORE any node call the step asks for: write-ahead), its ledger records,
 * the single-use refund claim, and the signed receipt. `migrateWalkupTables` is idempotent (CREATE IF NOT
 * EXISTS), run when the walk-up runtime attaches.
 */
import { createHash } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import { deserializeState, serializeState } from '../../protocol/serialize.js';
import { checkWalkupState } from '../../payments/walkup.js';
import type { WalkupRecord, WalkupState } from '../../payments/walkup-state.js';

/**
 * Creates the walk-up tables when missing.
 * @param db the wall store's database
 */
export function migrateWalkupTables(db: Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS walkup_sessions (
      session_id TEXT PRIMARY KEY,
      connector_id INTEGER NOT NULL,
      phase TEXT NOT NULL,
      state_json TEXT NOT NULL,
      withdraw_k1_hash TEXT,
      created_at_ms INTEGER NOT NULL,
      updated_at_ms INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS walkup_sessions_phase ON walkup_sessions (phase);
    CREATE UNIQUE INDEX IF NOT EXISTS walkup_sessions_k1 ON walkup_sessions (withdraw_k1_hash);
    CREATE TABLE IF NOT EXISTS walkup_records (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      session_id TEXT,
      at_ms INTEGER NOT NULL,
      kind TEXT NOT NULL,
      data_json TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS walkup_records_session ON walkup_records (session_id, id);
    CREATE TABLE IF NOT EXISTS walkup_refund_claims (
      session_id TEXT PRIMARY KEY,
      payment_hash TEXT NOT NULL,
      claimed_at_ms INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS walkup_receipts (
      session_id TEXT PRIMARY KEY,
      receipt_json TEXT NOT NULL,
      signature TEXT,
      signer_pubkey TEXT,
      created_at_ms INTEGER NOT NULL
    );
  `);
}

/** A stored receipt: the canonical text that was signed, its signature (zbase32) and the signer's key. */
export interface StoredWalkupReceipt {
  sessionId: string;
  /** canonical JSON text of the receipt (bigints as decimal strings): exactly what was signed */
  text: string;
  signature: string | null;
  signerPubkey: string | null;
  createdAtMs: number;
}

/** sha256 hex of a withdraw secret (the store indexes secrets by hash, never by value). */
export function k1Hash(secretHex: string): string {
  return createHash('sha256').update(secretHex.toLowerCase()).digest('hex');
}

/** A stored state that cannot be read back (corrupt row or another schema version). */
export class WalkupStoreCorrupt extends Error {
  override readonly name = 'WalkupStoreCorrupt';
}

/** The walk-up tables of one wall store. All writes of a step go through `commitStep` (one transaction). */
export class WalkupStore {
  /** @param db the wall store's database (migrated here) */
  constructor(private readonly db: Database) {
    migrateWalkupTables(db);
  }

  /**
   * Writes one step's outcome in ONE transaction: the new state, its ledger records, and (for an accepted
   * refund claim) the single-use claim row. Throws (and writes nothing) when the claim row exists already.
   *
   * @param sessionId the machine's session
   * @param connectorId 1-based connector
   * @param state the state after the step
   * @param records the step's ledger records
   * @param atMs daemon clock, ms
   * @param receiptText the canonical receipt text when the step ended the session (stored unsigned; the
   *   signature follows, also after a restart)
   */
  commitStep(
    sessionId: string,
    connectorId: number,
    state: WalkupState,
    records: WalkupRecord[],
    atMs: number,
    receiptText: string | null = null,
  ): void {
    const k1 =
      state.phase !== 'idle' && state.session !== null ? k1Hash(state.session.withdrawSecretHex) : null;
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO walkup_sessions (session_id, connector_id, phase, state_json, withdraw_k1_hash,
             created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(session_id) DO UPDATE SET phase = excluded.phase, state_json = excluded.state_json,
             updated_at_ms = excluded.updated_at_ms`,
        )
        .run(sessionId, connectorId, state.phase, serializeState(state), k1, atMs, atMs);
      const ins = this.db.prepare(
        'INSERT INTO walkup_records (session_id, at_ms, kind, data_json) VALUES (?, ?, ?, ?)',
      );
      for (const r of records) ins.run(r.sessionId ?? sessionId, r.atMs, r.kind, JSON.stringify(r.data));
      if (state.phase === 'refundClaimed' && state.refund.claim !== null) {
        const claimed = this.db
          .prepare('SELECT payment_hash FROM walkup_refund_claims WHERE session_id = ?')
          .get(sessionId) as { payment_hash: string } | undefined;
        if (claimed === undefined)
          this.db
            .prepare(
              'INSERT INTO walkup_refund_claims (session_id, payment_hash, claimed_at_ms) VALUES (?, ?, ?)',
            )
            .run(sessionId, state.refund.claim.paymentHash, atMs);
        else if (claimed.payment_hash !== state.refund.claim.paymentHash)
          throw new Error(`walk-up ${sessionId}: a second refund claim (single use)`);
      }
      if (receiptText !== null)
        this.db
          .prepare(
            `INSERT INTO walkup_receipts (session_id, receipt_json, created_at_ms) VALUES (?, ?, ?)
             ON CONFLICT(session_id) DO NOTHING`,
          )
          .run(sessionId, receiptText, atMs);
      if (state.phase === 'refundOpen') {
        // a failed payout reopens the claim
        this.db.prepare('DELETE FROM walkup_refund_claims WHERE session_id = ?').run(sessionId);
      }
    })();
  }

  /**
   * Every session not yet ended (the active one and open refunds), oldest first.
   * @returns session id and state
   * @throws WalkupStoreCorrupt for a row that does not read back as a walk-up state of this schema
   */
  live(): { sessionId: string; state: WalkupState }[] {
    const rows = this.db
      .prepare(
        "SELECT session_id, state_json FROM walkup_sessions WHERE phase != 'ended' ORDER BY created_at_ms, rowid",
      )
      .all() as { session_id: string; state_json: string }[];
    return rows.map((r) => ({ sessionId: r.session_id, state: this.parse(r.session_id, r.state_json) }));
  }

  /**
   * Sessions, newest first (for `boltcharge sessions`).
   * @param limit at most this many
   * @returns session id, state and creation time, ms
   * @throws WalkupStoreCorrupt for a row that does not read back as a walk-up state of this schema
   */
  list(limit: number): { sessionId: string; state: WalkupState; createdAtMs: number }[] {
    const rows = this.db
      .prepare(
        'SELECT session_id, state_json, created_at_ms FROM walkup_sessions ORDER BY created_at_ms DESC, rowid DESC LIMIT ?',
      )
      .all(limit) as { session_id: string; state_json: string; created_at_ms: number }[];
    return rows.map((r) => ({
      sessionId: r.session_id,
      state: this.parse(r.session_id, r.state_json),
      createdAtMs: r.created_at_ms,
    }));
  }

  /** One session's state, or undefined. */
  get(sessionId: string): WalkupState | undefined {
    const row = this.db
      .prepare('SELECT state_json FROM walkup_sessions WHERE session_id = ?')
      .get(sessionId) as { state_json: string } | undefined;
    return row ? this.parse(sessionId, row.state_json) : undefined;
  }

  /** The session whose withdraw secret is `secretHex`, or undefined. */
  sessionByWithdrawSecret(secretHex: string): string | undefined {
    const row = this.db
      .prepare('SELECT session_id FROM walkup_sessions WHERE withdraw_k1_hash = ?')
      .get(k1Hash(secretHex)) as { session_id: string } | undefined;
    return row?.session_id;
  }

  /** The most recently updated session, or undefined. */
  latest(): { sessionId: string; state: WalkupState } | undefined {
    const row = this.db
      .prepare(
        'SELECT session_id, state_json FROM walkup_sessions ORDER BY updated_at_ms DESC, rowid DESC LIMIT 1',
      )
      .get() as { session_id: string; state_json: string } | undefined;
    return row ? { sessionId: row.session_id, state: this.parse(row.session_id, row.state_json) } : undefined;
  }

  /** A session's ledger records, in order. */
  records(sessionId: string): { atMs: number; kind: string; data: Record<string, unknown> }[] {
    const rows = this.db
      .prepare('SELECT at_ms, kind, data_json FROM walkup_records WHERE session_id = ? ORDER BY id')
      .all(sessionId) as { at_ms: number; kind: string; data_json: string }[];
    return rows.map((r) => ({
      atMs: r.at_ms,
      kind: r.kind,
      data: JSON.parse(r.data_json) as Record<string, unknown>,
    }));
  }

  /** Adds the node's signature to a stored receipt (kept when it is already signed). */
  signReceipt(sessionId: string, signature: string, signerPubkey: string): void {
    this.db
      .prepare(
        'UPDATE walkup_receipts SET signature = ?, signer_pubkey = ? WHERE session_id = ? AND signature IS NULL',
      )
      .run(signature, signerPubkey, sessionId);
  }

  /** Stored receipts still without a signature (the node was away, or the daemon stopped before signing). */
  unsignedReceipts(): StoredWalkupReceipt[] {
    const ids = this.db
      .prepare('SELECT session_id FROM walkup_receipts WHERE signature IS NULL ORDER BY created_at_ms')
      .all() as { session_id: string }[];
    return ids.map((r) => this.receipt(r.session_id)).filter((r) => r !== undefined);
  }

  /** A session's receipt, or undefined. */
  receipt(sessionId: string): StoredWalkupReceipt | undefined {
    const row = this.db
      .prepare(
        'SELECT session_id, receipt_json, signature, signer_pubkey, created_at_ms FROM walkup_receipts WHERE session_id = ?',
      )
      .get(sessionId) as
      | {
          session_id: string;
          receipt_json: string;
          signature: string | null;
          signer_pubkey: string | null;
          created_at_ms: number;
        }
      | undefined;
    return row
      ? {
          sessionId: row.session_id,
          text: row.receipt_json,
          signature: row.signature,
          signerPubkey: row.signer_pubkey,
          createdAtMs: row.created_at_ms,
        }
      : undefined;
  }

  private parse(sessionId: string, text: string): WalkupState {
    const parsed = deserializeState<unknown>(text);
    if (!parsed.ok) throw new WalkupStoreCorrupt(`walk-up ${sessionId}: ${parsed.error.message}`);
    const checked = checkWalkupState(parsed.value);
    if (!checked.ok) throw new WalkupStoreCorrupt(`walk-up ${sessionId}: ${checked.error.message}`);
    return checked.value;
  }
}
