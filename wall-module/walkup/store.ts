/**
 * The walk-up tables in the wall's store database (issue 12): one row per walk-up session holding the pure
 * machine's persisted state (written BEFORE any node call the step asks for: write-ahead), its ledger records,
 * the single-use refund claim, and the signed receipt. `migrateWalkupTables` is idempotent (CREATE IF NOT
 * EXISTS), run when the walk-up runtime attaches.
 *
 * Every session row names its connector. A site runs one walk-up runtime per connector, each on a store scoped to
 * its connector (`new WalkupStore(db, { connectorId })`): its live sessions, its latest session, its receipts
 * and its withdraw secrets only, so no runtime recovers, shows or claims another connector's session. The
 * unscoped `connectorOf…` lookups tell a route whose session a foreign secret or receipt is.
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
    CREATE TABLE IF NOT EXISTS walkup_meta (
      key TEXT PRIMARY KEY,
      value TEXT NOT NULL
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

/** Which connector's sessions a store shows (absent: every connector's, e.g. `boltcharge sessions`). */
export interface WalkupStoreScope {
  /** 1-based connector id */
  connectorId: number;
}

/** The `walkup_meta` key recording that rows from before per-connector walk-up were given their connector. */
const LEGACY_ROWS_KEY = 'legacyRowsAssigned';

/** The walk-up tables of one wall store. All writes of a step go through `commitStep` (one transaction). */
export class WalkupStore {
  /** SQL condition on `walkup_sessions` (alias `s`) of the scope, and its parameters */
  private readonly scopeSql: string;
  private readonly scopeArgs: number[];

  /**
   * @param db the wall store's database (migrated here)
   * @param scope the connector whose sessions this store reads (absent: all)
   */
  constructor(
    private readonly db: Database,
    readonly scope?: WalkupStoreScope,
  ) {
    migrateWalkupTables(db);
    this.scopeSql = scope ? ' AND s.connector_id = ?' : '';
    this.scopeArgs = scope ? [scope.connectorId] : [];
  }

  /**
   * Before walk-up ran on every connector it ran on the first configured connector only, and stored its sessions
   * as connector 1 whatever that connector's id. Once per database, those rows are given the first connector's
   * id (nothing changes when it is 1), so that after an upgrade its runtime, not connector 1's, recovers them.
   *
   * @param firstConnectorId the first configured connector's id
   * @returns the number of rows moved
   */
  assignLegacyRows(firstConnectorId: number): number {
    return this.db.transaction(() => {
      const done = this.db.prepare('SELECT 1 FROM walkup_meta WHERE key = ?').get(LEGACY_ROWS_KEY);
      if (done !== undefined) return 0;
      const moved =
        firstConnectorId === 1
          ? 0
          : this.db
              .prepare('UPDATE walkup_sessions SET connector_id = ? WHERE connector_id = 1')
              .run(firstConnectorId).changes;
      this.db
        .prepare('INSERT INTO walkup_meta (key, value) VALUES (?, ?)')
        .run(LEGACY_ROWS_KEY, String(firstConnectorId));
      return moved;
    })();
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
        `SELECT session_id, state_json FROM walkup_sessions s WHERE phase != 'ended'${this.scopeSql}
         ORDER BY created_at_ms, rowid`,
      )
      .all(...this.scopeArgs) as { session_id: string; state_json: string }[];
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
        `SELECT session_id, state_json, created_at_ms FROM walkup_sessions s WHERE 1${this.scopeSql}
         ORDER BY created_at_ms DESC, rowid DESC LIMIT ?`,
      )
      .all(...this.scopeArgs, limit) as { session_id: string; state_json: string; created_at_ms: number }[];
    return rows.map((r) => ({
      sessionId: r.session_id,
      state: this.parse(r.session_id, r.state_json),
      createdAtMs: r.created_at_ms,
    }));
  }

  /** One session's state (of the scope's connector), or undefined. */
  get(sessionId: string): WalkupState | undefined {
    const row = this.db
      .prepare(`SELECT state_json FROM walkup_sessions s WHERE session_id = ?${this.scopeSql}`)
      .get(sessionId, ...this.scopeArgs) as { state_json: string } | undefined;
    return row ? this.parse(sessionId, row.state_json) : undefined;
  }

  /** The session (of the scope's connector) whose withdraw secret is `secretHex`, or undefined. */
  sessionByWithdrawSecret(secretHex: string): string | undefined {
    const row = this.db
      .prepare(`SELECT session_id FROM walkup_sessions s WHERE withdraw_k1_hash = ?${this.scopeSql}`)
      .get(k1Hash(secretHex), ...this.scopeArgs) as { session_id: string } | undefined;
    return row?.session_id;
  }

  /**
   * Whose session has this withdraw secret, whatever the scope (a route tells a wallet that came to the wrong
   * connector where its refund is).
   * @param secretHex the withdraw secret (k1), hex
   * @returns the session's connector id, or undefined when no session has it
   */
  connectorOfWithdrawSecret(secretHex: string): number | undefined {
    const row = this.db
      .prepare('SELECT connector_id FROM walkup_sessions WHERE withdraw_k1_hash = ?')
      .get(k1Hash(secretHex)) as { connector_id: number } | undefined;
    return row?.connector_id;
  }

  /**
   * Whose session this is, whatever the scope.
   * @param sessionId the walk-up session id
   * @returns its connector id, or undefined when there is no such session
   */
  connectorOfSession(sessionId: string): number | undefined {
    const row = this.db
      .prepare('SELECT connector_id FROM walkup_sessions WHERE session_id = ?')
      .get(sessionId) as { connector_id: number } | undefined;
    return row?.connector_id;
  }

  /** The most recently updated session (of the scope's connector), or undefined. */
  latest(): { sessionId: string; state: WalkupState } | undefined {
    const row = this.db
      .prepare(
        `SELECT session_id, state_json FROM walkup_sessions s WHERE 1${this.scopeSql}
         ORDER BY updated_at_ms DESC, rowid DESC LIMIT 1`,
      )
      .get(...this.scopeArgs) as { session_id: string; state_json: string } | undefined;
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

  /**
   * Stored receipts (of the scope's connector) still without a signature (the node was away, or the daemon
   * stopped before signing).
   */
  unsignedReceipts(): StoredWalkupReceipt[] {
    const ids = this.db
      .prepare(
        `SELECT r.session_id FROM walkup_receipts r LEFT JOIN walkup_sessions s ON s.session_id = r.session_id
         WHERE r.signature IS NULL${this.scopeSql} ORDER BY r.created_at_ms`,
      )
      .all(...this.scopeArgs) as { session_id: string }[];
    return ids.map((r) => this.receipt(r.session_id)).filter((r) => r !== undefined);
  }

  /** A session's receipt (of the scope's connector), or undefined. */
  receipt(sessionId: string): StoredWalkupReceipt | undefined {
    const row = this.db
      .prepare(
        `SELECT r.session_id, r.receipt_json, r.signature, r.signer_pubkey, r.created_at_ms
         FROM walkup_receipts r LEFT JOIN walkup_sessions s ON s.session_id = r.session_id
         WHERE r.session_id = ?${this.scopeSql}`,
      )
      .get(sessionId, ...this.scopeArgs) as
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
