/**
 * The payout ledger (issue 14), in the wall's SQLite store (its own `payout_*` tables, created idempotently on
 * the wall store's connection, like the OCPP tables):
 * - `payout_machine`: the payout machine's state (one row), written in the same transaction as everything else;
 * - `payout_accruals`: every settled payment of the wall that was split (payment hash unique: one accrual per
 *   payment, ever), with its session and amount;
 * - `payout_ledger`: one row per payout, `planned → in_flight → settled` (a failed attempt goes back to
 *   `planned`; its attempts are in `payout_attempts`), with the covered accruals, carries, fee and preimage;
 * - `payout_attempts`: every payment attempt with its hash, written before the payment is sent (`in_flight`),
 *   then `settled` or `failed` as the node decided;
 * - `payout_alarms`: one row per raised alarm (unreachable recipient), cleared when a payout succeeds;
 * - `payout_statements`: the signed settlement statement of each settled payout.
 *
 * The accrual feed reads the wall store's `invoices` and `sessions` tables read-only: settled invoices not yet
 * accrued (the cursor is the accrual table itself, joined on the unique payment hash; only payments settled
 * after the split was first enabled count), and ended sessions not yet announced to the machine.
 */
import { parseReceiptText } from '../walkup/runtime.js';
import type { Db } from '../../daemon/database.js';
import {
  initialPayoutState,
  payoutStateFromJson,
  payoutStateToJson,
  type Payout,
  type PayoutEffect,
  type PayoutState,
} from '../../payments/payout.js';
import type { SignedStatement } from '../../payments/payout-statement.js';
import { splitStatementsFor } from './receipt-split.js';

/** Creates the payout tables when missing (idempotent). */
export function migratePayoutTables(db: Db): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS payout_machine (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      state_json TEXT NOT NULL,
      enabled_at_ms INTEGER NOT NULL,
      updated_at_ms INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS payout_accruals (
      payment_hash TEXT PRIMARY KEY,
      session_id TEXT NOT NULL,
      total_msat INTEGER NOT NULL,
      settled_at_ms INTEGER NOT NULL,
      accrued_at_ms INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS payout_session_ends (
      session_id TEXT PRIMARY KEY,
      seen_at_ms INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS payout_ledger (
      payout_id TEXT PRIMARY KEY,
      recipient TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('planned','in_flight','settled','failed')),
      amount_msat INTEGER NOT NULL,
      max_fee_msat INTEGER NOT NULL,
      covered_msat INTEGER NOT NULL,
      carried_in_msat INTEGER NOT NULL,
      carried_out_msat INTEGER NOT NULL,
      accrual_ids_json TEXT NOT NULL,
      session_ids_json TEXT NOT NULL,
      payment_hash TEXT,
      bolt11 TEXT,
      kind TEXT,
      preimage TEXT,
      fee_msat INTEGER,
      failures INTEGER NOT NULL DEFAULT 0,
      last_error TEXT,
      planned_at_ms INTEGER NOT NULL,
      settled_at_ms INTEGER
    );
    CREATE TABLE IF NOT EXISTS payout_attempts (
      payment_hash TEXT PRIMARY KEY,
      payout_id TEXT NOT NULL REFERENCES payout_ledger(payout_id),
      kind TEXT NOT NULL,
      bolt11 TEXT,
      state TEXT NOT NULL CHECK (state IN ('in_flight','settled','failed')),
      reason TEXT,
      started_at_ms INTEGER NOT NULL,
      ended_at_ms INTEGER
    );
    CREATE TABLE IF NOT EXISTS payout_alarms (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      recipient TEXT NOT NULL,
      reason TEXT NOT NULL,
      raised_at_ms INTEGER NOT NULL,
      cleared_at_ms INTEGER
    );
    CREATE TABLE IF NOT EXISTS payout_statements (
      payout_id TEXT PRIMARY KEY REFERENCES payout_ledger(payout_id),
      text TEXT NOT NULL,
      signature TEXT NOT NULL,
      signed_at_ms INTEGER NOT NULL,
      reported_at_ms INTEGER
    );
  `);
}

/** A settled payment of the wall not yet accrued. */
export interface SettledPayment {
  paymentHash: string;
  sessionId: string;
  receivedMsat: bigint;
  settledAtMs: number;
}

/** A payout as the ledger shows it. */
export interface PayoutLedgerRow {
  payoutId: string;
  recipient: string;
  status: 'planned' | 'in_flight' | 'settled' | 'failed';
  amountMsat: bigint;
  maxFeeMsat: bigint;
  coveredMsat: bigint;
  carriedInMsat: bigint;
  carriedOutMsat: bigint;
  accrualIds: string[];
  sessionIds: string[];
  paymentHash: string | null;
  bolt11: string | null;
  kind: 'invoice' | 'keysend' | null;
  preimage: string | null;
  feeMsat: bigint | null;
  failures: number;
  lastError: string | null;
  plannedAtMs: number;
  settledAtMs: number | null;
}

interface LedgerDbRow {
  payout_id: string;
  recipient: string;
  status: PayoutLedgerRow['status'];
  amount_msat: bigint;
  max_fee_msat: bigint;
  covered_msat: bigint;
  carried_in_msat: bigint;
  carried_out_msat: bigint;
  accrual_ids_json: string;
  session_ids_json: string;
  payment_hash: string | null;
  bolt11: string | null;
  kind: 'invoice' | 'keysend' | null;
  preimage: string | null;
  fee_msat: bigint | null;
  failures: bigint | number;
  last_error: string | null;
  planned_at_ms: bigint | number;
  settled_at_ms: bigint | number | null;
}

const big = (v: bigint | number): bigint => BigInt(v);

function rowFromDb(r: LedgerDbRow): PayoutLedgerRow {
  return {
    payoutId: r.payout_id,
    recipient: r.recipient,
    status: r.status,
    amountMsat: big(r.amount_msat),
    maxFeeMsat: big(r.max_fee_msat),
    coveredMsat: big(r.covered_msat),
    carriedInMsat: big(r.carried_in_msat),
    carriedOutMsat: big(r.carried_out_msat),
    accrualIds: JSON.parse(r.accrual_ids_json) as string[],
    sessionIds: JSON.parse(r.session_ids_json) as string[],
    paymentHash: r.payment_hash,
    bolt11: r.bolt11,
    kind: r.kind,
    preimage: r.preimage,
    feeMsat: r.fee_msat === null ? null : big(r.fee_msat),
    failures: Number(r.failures),
    lastError: r.last_error,
    plannedAtMs: Number(r.planned_at_ms),
    settledAtMs: r.settled_at_ms === null ? null : Number(r.settled_at_ms),
  };
}

/** The payout tables of one wall store. Every write method runs inside the caller's transaction. */
export class PayoutLedger {
  /**
   * @param db the wall store's connection (`WallStore.db`); the payout tables are created when missing
   */
  constructor(readonly db: Db) {
    migratePayoutTables(db);
  }

  /** Runs `fn` in one transaction (nested calls join the outer one). */
  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /**
   * The machine state; on first use a fresh one (and the instant the split was enabled: earlier payments are
   * not split).
   * @param nowMs now, ms since epoch
   */
  loadState(nowMs: number): PayoutState {
    const row = this.db.prepare('SELECT state_json FROM payout_machine WHERE id = 1').get() as
      { state_json: string } | undefined;
    if (row) return payoutStateFromJson(row.state_json);
    const state = initialPayoutState(nowMs);
    this.db
      .prepare(
        'INSERT INTO payout_machine (id, state_json, enabled_at_ms, updated_at_ms) VALUES (1, ?, ?, ?)',
      )
      .run(payoutStateToJson(state), nowMs, nowMs);
    return state;
  }

  /** Stores the machine state. */
  saveState(state: PayoutState, nowMs: number): void {
    this.db
      .prepare('UPDATE payout_machine SET state_json = ?, updated_at_ms = ? WHERE id = 1')
      .run(payoutStateToJson(state), nowMs);
  }

  /** When the split was first enabled, ms since epoch. */
  enabledAtMs(): number {
    const row = this.db.prepare('SELECT enabled_at_ms FROM payout_machine WHERE id = 1').get() as
      { enabled_at_ms: bigint | number } | undefined;
    return row ? Number(row.enabled_at_ms) : 0;
  }

  /**
   * Settled payments of the wall (its `invoices` table, read-only) not yet accrued, oldest first.
   * @param limit at most this many
   */
  unaccruedPayments(limit: number): SettledPayment[] {
    const rows = this.db
      .prepare(
        `SELECT i.payment_hash, i.session_id, i.received_msat, i.settled_at_ms FROM invoices i
         WHERE i.state = 'settled' AND i.payment_hash IS NOT NULL AND i.settled_at_ms >= ?
           AND NOT EXISTS (SELECT 1 FROM payout_accruals a WHERE a.payment_hash = i.payment_hash)
         ORDER BY i.settled_at_ms, i.rowid LIMIT ?`,
      )
      .all(this.enabledAtMs(), limit) as {
      payment_hash: string;
      session_id: string;
      received_msat: bigint | number;
      settled_at_ms: bigint | number;
    }[];
    return rows.map((r) => ({
      paymentHash: r.payment_hash,
      sessionId: r.session_id,
      receivedMsat: big(r.received_msat),
      settledAtMs: Number(r.settled_at_ms),
    }));
  }

  /**
   * Walk-up sessions (the walk-up's `walkup_receipts`, read-only; none when walk-up was never enabled) that
   * ended after the split was enabled and were not yet fed, oldest first. What the wall kept of each is one
   * accrual: settled (deposit and final invoice) − refund paid back, under the hash of its settled invoice (the
   * final invoice's when it was paid, else the deposit's), so a walk-up payment is split like a cable payment.
   * @param limit at most this many
   * @returns per session: the accrual (paymentHash null when nothing was kept) and its end time
   */
  unfedWalkups(limit: number): (Omit<SettledPayment, 'paymentHash'> & { paymentHash: string | null })[] {
    const exists = this.db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'walkup_receipts'")
      .get();
    if (exists === undefined) return [];
    const rows = this.db
      .prepare(
        `SELECT r.session_id, r.receipt_json, r.created_at_ms FROM walkup_receipts r
         WHERE r.created_at_ms >= ?
           AND NOT EXISTS (SELECT 1 FROM payout_session_ends e WHERE e.session_id = r.session_id)
         ORDER BY r.created_at_ms, r.rowid LIMIT ?`,
      )
      .all(this.enabledAtMs(), limit) as {
      session_id: string;
      receipt_json: string;
      created_at_ms: bigint | number;
    }[];
    return rows.map((r) => {
      const receipt = parseReceiptText(r.receipt_json) ?? {};
      const amount = (k: string): bigint => {
        const v = receipt[k];
        return typeof v === 'string' && /^\d+$/.test(v) ? BigInt(v) : 0n;
      };
      const kept = amount('settledMsat') - amount('refundPaidMsat');
      const hash =
        typeof receipt.finalPreimageHex === 'string' && typeof receipt.finalPaymentHash === 'string'
          ? receipt.finalPaymentHash
          : typeof receipt.depositPaymentHash === 'string' && receipt.depositOutcome === 'settled'
            ? receipt.depositPaymentHash
            : null;
      return {
        paymentHash: kept > 0n ? hash : null,
        sessionId: r.session_id,
        receivedMsat: kept > 0n ? kept : 0n,
        settledAtMs: Number(r.created_at_ms),
      };
    });
  }

  /** Records an accrual (in the transaction that feeds it to the machine). */
  recordAccrual(p: SettledPayment, nowMs: number): void {
    this.db
      .prepare(
        'INSERT INTO payout_accruals (payment_hash, session_id, total_msat, settled_at_ms, accrued_at_ms) VALUES (?, ?, ?, ?, ?)',
      )
      .run(p.paymentHash, p.sessionId, p.receivedMsat, p.settledAtMs, nowMs);
  }

  /** Sessions of the wall (read-only) that ended and were not yet announced, with a settled payment accrued. */
  unannouncedSessionEnds(limit: number): { sessionId: string; endedAtMs: number }[] {
    const rows = this.db
      .prepare(
        `SELECT s.id, s.ended_at_ms FROM sessions s
         WHERE s.status = 'ended' AND s.ended_at_ms IS NOT NULL AND s.ended_at_ms >= ?
           AND NOT EXISTS (SELECT 1 FROM payout_session_ends e WHERE e.session_id = s.id)
         ORDER BY s.ended_at_ms LIMIT ?`,
      )
      .all(this.enabledAtMs(), limit) as { id: string; ended_at_ms: bigint | number }[];
    return rows.map((r) => ({ sessionId: r.id, endedAtMs: Number(r.ended_at_ms) }));
  }

  /** Marks a session end as announced. */
  recordSessionEnd(sessionId: string, nowMs: number): void {
    this.db
      .prepare('INSERT INTO payout_session_ends (session_id, seen_at_ms) VALUES (?, ?)')
      .run(sessionId, nowMs);
  }

  /**
   * Projects the machine's payouts and effects into the ledger rows (same transaction as the state).
   * @param state the state after the step
   * @param effects the step's effects (alarms are recorded here, before they are run)
   * @param nowMs now
   */
  project(state: PayoutState, effects: PayoutEffect[], nowMs: number): void {
    const upsert = this.db.prepare(
      `INSERT INTO payout_ledger (payout_id, recipient, status, amount_msat, max_fee_msat, covered_msat,
         carried_in_msat, carried_out_msat, accrual_ids_json, session_ids_json, payment_hash, bolt11, kind,
         preimage, fee_msat, failures, last_error, planned_at_ms, settled_at_ms)
       VALUES (@id, @recipient, @status, @amount, @maxFee, @covered, @carriedIn, @carriedOut, @accruals, @sessions,
         @hash, @bolt11, @kind, @preimage, @fee, @failures, @lastError, @plannedAt, @settledAt)
       ON CONFLICT (payout_id) DO UPDATE SET status = excluded.status, payment_hash = excluded.payment_hash,
         bolt11 = excluded.bolt11, kind = excluded.kind, preimage = excluded.preimage, fee_msat = excluded.fee_msat,
         failures = excluded.failures, last_error = excluded.last_error, settled_at_ms = excluded.settled_at_ms
       WHERE payout_ledger.status != 'settled'`,
    );
    const attempt = this.db.prepare(
      `INSERT INTO payout_attempts (payment_hash, payout_id, kind, bolt11, state, started_at_ms)
       VALUES (?, ?, ?, ?, 'in_flight', ?) ON CONFLICT (payment_hash) DO NOTHING`,
    );
    for (const p of Object.values(state.payouts)) {
      upsert.run(ledgerParams(p));
      if (p.attempt) attempt.run(p.attempt.paymentHash, p.id, p.attempt.kind, p.attempt.bolt11, nowMs);
    }
    for (const e of effects) {
      if (e.kind === 'alarm') {
        this.db
          .prepare('INSERT INTO payout_alarms (recipient, reason, raised_at_ms) VALUES (?, ?, ?)')
          .run(e.recipient, e.reason, nowMs);
      } else if (e.kind === 'alarmCleared') {
        this.db
          .prepare('UPDATE payout_alarms SET cleared_at_ms = ? WHERE recipient = ? AND cleared_at_ms IS NULL')
          .run(nowMs, e.recipient);
      }
    }
  }

  /** Records how the node ended an attempt (in the step's transaction). */
  endAttempt(paymentHash: string, state: 'settled' | 'failed', reason: string | null, nowMs: number): void {
    this.db
      .prepare(
        `UPDATE payout_attempts SET state = ?, reason = ?, ended_at_ms = ? WHERE payment_hash = ? AND state = 'in_flight'`,
      )
      .run(state, reason, nowMs, paymentHash);
  }

  /** Every payout, oldest first. */
  payouts(): PayoutLedgerRow[] {
    return (
      this.db.prepare('SELECT * FROM payout_ledger ORDER BY planned_at_ms, payout_id').all() as LedgerDbRow[]
    ).map(rowFromDb);
  }

  /**
   * The newest payouts, newest first (for the status page: bounded however long the wall has run).
   *
   * @param limit most rows returned
   * @returns up to `limit` payouts, newest planned first
   */
  latestPayouts(limit: number): PayoutLedgerRow[] {
    return (
      this.db
        .prepare('SELECT * FROM payout_ledger ORDER BY planned_at_ms DESC, payout_id DESC LIMIT ?')
        .all(limit) as LedgerDbRow[]
    ).map(rowFromDb);
  }

  /** One payout, or undefined. */
  payout(payoutId: string): PayoutLedgerRow | undefined {
    const r = this.db.prepare('SELECT * FROM payout_ledger WHERE payout_id = ?').get(payoutId) as
      LedgerDbRow | undefined;
    return r ? rowFromDb(r) : undefined;
  }

  /** Accruals by payment hash. */
  accruals(paymentHashes: string[]): { paymentHash: string; sessionId: string; totalMsat: bigint }[] {
    const get = this.db.prepare(
      'SELECT payment_hash, session_id, total_msat FROM payout_accruals WHERE payment_hash = ?',
    );
    return paymentHashes.map((h) => {
      const r = get.get(h) as { payment_hash: string; session_id: string; total_msat: bigint | number };
      return { paymentHash: r.payment_hash, sessionId: r.session_id, totalMsat: big(r.total_msat) };
    });
  }

  /** Every accrual, oldest first. */
  allAccruals(): { paymentHash: string; sessionId: string; totalMsat: bigint }[] {
    const rows = this.db
      .prepare(
        'SELECT payment_hash, session_id, total_msat FROM payout_accruals ORDER BY settled_at_ms, payment_hash',
      )
      .all() as { payment_hash: string; session_id: string; total_msat: bigint | number }[];
    return rows.map((r) => ({
      paymentHash: r.payment_hash,
      sessionId: r.session_id,
      totalMsat: big(r.total_msat),
    }));
  }

  /** Every attempt. */
  attempts(): { paymentHash: string; payoutId: string; state: string; reason: string | null }[] {
    return (
      this.db
        .prepare('SELECT payment_hash, payout_id, state, reason FROM payout_attempts ORDER BY started_at_ms')
        .all() as {
        payment_hash: string;
        payout_id: string;
        state: string;
        reason: string | null;
      }[]
    ).map((r) => ({ paymentHash: r.payment_hash, payoutId: r.payout_id, state: r.state, reason: r.reason }));
  }

  /** Alarms raised (open ones have `clearedAtMs` null). */
  alarms(): { recipient: string; reason: string; raisedAtMs: number; clearedAtMs: number | null }[] {
    return (
      this.db.prepare('SELECT * FROM payout_alarms ORDER BY id').all() as {
        recipient: string;
        reason: string;
        raised_at_ms: bigint | number;
        cleared_at_ms: bigint | number | null;
      }[]
    ).map((r) => ({
      recipient: r.recipient,
      reason: r.reason,
      raisedAtMs: Number(r.raised_at_ms),
      clearedAtMs: r.cleared_at_ms === null ? null : Number(r.cleared_at_ms),
    }));
  }

  /** Settled payouts without a statement yet (signing is pending, e.g. after a restart). */
  unsignedSettled(): string[] {
    return (
      this.db
        .prepare(
          `SELECT l.payout_id FROM payout_ledger l WHERE l.status = 'settled'
           AND NOT EXISTS (SELECT 1 FROM payout_statements s WHERE s.payout_id = l.payout_id) ORDER BY l.payout_id`,
        )
        .all() as { payout_id: string }[]
    ).map((r) => r.payout_id);
  }

  /** Stores a signed statement (idempotent). */
  saveStatement(payoutId: string, signed: SignedStatement, nowMs: number): void {
    this.db
      .prepare(
        'INSERT INTO payout_statements (payout_id, text, signature, signed_at_ms) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      )
      .run(payoutId, signed.text, signed.signature, nowMs);
  }

  /** Marks a statement as handed to the CSMS outbox. */
  markReported(payoutId: string, nowMs: number): void {
    this.db
      .prepare('UPDATE payout_statements SET reported_at_ms = ? WHERE payout_id = ?')
      .run(nowMs, payoutId);
  }

  /** Signed statements of the payouts covering `sessionId`. */
  statements(sessionId: string): SignedStatement[] {
    return splitStatementsFor(this.db, sessionId);
  }
}

function ledgerParams(p: Payout): Record<string, unknown> {
  return {
    id: p.id,
    recipient: p.recipient,
    status: p.status,
    amount: p.amountMsat,
    maxFee: p.maxFeeMsat,
    covered: p.coveredMsat,
    carriedIn: p.carriedInMsat,
    carriedOut: p.carriedOutMsat,
    accruals: JSON.stringify(p.accrualIds),
    sessions: JSON.stringify(p.sessionIds),
    hash: p.attempt?.paymentHash ?? null,
    bolt11: p.attempt?.bolt11 ?? null,
    kind: p.attempt?.kind ?? null,
    preimage: p.preimage ?? p.attempt?.preimage ?? null,
    fee: p.feeMsat,
    failures: p.failures,
    lastError: p.lastError,
    plannedAt: p.plannedAtMs,
    settledAt: p.settledAtMs,
  };
}
