/**
 * The vehicle daemon's SQLite store: the shared session tables, the payment ledger and the notification outbox.
 * Payment rows follow
 *   recorded → sent → succeeded | failed,   recorded → failed (never reached the node)
 * and are committed as `recorded` BEFORE the node is asked to pay (write-ahead). After a restart every
 * `recorded`/`sent` row is resolved with the node's payment status before anything new is paid.
 *
 * Conflicting ids from a wall never reach a constraint: `recordPayment` reports a hash or (session, sequence)
 * already in the ledger instead of inserting, and a stored receipt is never replaced (receipts are append-only).
 * Per wall (node key) the store keeps each session's outcome, from which `history` derives the cross-session
 * figures the buyer machine enforces: energy paid (or in doubt) but not delivered within a rolling window,
 * and the wall's back-off after sessions that ended with prepaid energy undelivered.
 */
import { blockFromDb, numberOrNull, type BlockDbRow } from '../daemon/block-row.js';
import type { Clock } from '../hardware/clock.js';
import type { Delegation } from '../protocol/delegation.js';
import { openDatabase, type Migration } from '../daemon/database.js';
import { isoTime, type ReceiptLine } from '../daemon/receipt-view.js';
import { checkTransition, type TransitionTable } from '../daemon/row-state.js';
import { commonMigration, SessionStore, toJson, type ReceiptRow } from '../daemon/session-store.js';
import { CarPromiseBook, migrateCarPromiseTable } from './promise-book.js';

/** State of one payment. */
export type PaymentState = 'recorded' | 'sent' | 'succeeded' | 'failed';

/** Allowed payment state changes. */
export const paymentTransitions: TransitionTable<PaymentState> = {
  recorded: ['sent', 'succeeded', 'failed'],
  sent: ['succeeded', 'failed'],
  succeeded: [],
  failed: [],
};

/** One payment in the vehicle's ledger. */
export interface PaymentRow {
  sessionId: string;
  seq: number;
  state: PaymentState;
  paymentHash: string;
  bolt11: string;
  amountMsat: bigint;
  /** energy block bought, cumulative session Wh [fromWh, toWh) */
  fromWh: number;
  toWh: number;
  /** the seller's node key, hex */
  payee: string;
  recordedAtMs: number;
  sentAtMs: number | null;
  finishedAtMs: number | null;
  feeMsat: bigint | null;
  preimage: string | null;
  error: string | null;
}

/** Delivery state of one notification. */
export type NotificationState = 'pending' | 'delivered' | 'failed';

/** One queued notification. */
export interface NotificationRow {
  id: number;
  state: NotificationState;
  attempts: number;
  body: unknown;
  lastError: string | null;
}

/** The payment row does not exist. */
export class PaymentNotFound extends Error {
  override readonly name = 'PaymentNotFound';
}

/** The vehicle store's schema steps, in version order (`openDatabase`). */
export const VEHICLE_MIGRATIONS: readonly Migration[] = [
  commonMigration,
  {
    version: 2,
    name: 'payment ledger and notification outbox',
    up(db) {
      db.exec(`
        CREATE TABLE payments (
          session_id TEXT NOT NULL REFERENCES sessions(id),
          seq INTEGER NOT NULL,
          state TEXT NOT NULL CHECK (state IN ('recorded','sent','succeeded','failed')),
          payment_hash TEXT NOT NULL,
          bolt11 TEXT NOT NULL,
          amount_msat INTEGER NOT NULL CHECK (amount_msat > 0),
          from_wh INTEGER NOT NULL,
          to_wh INTEGER NOT NULL,
          payee TEXT NOT NULL,
          recorded_at_ms INTEGER NOT NULL,
          sent_at_ms INTEGER,
          finished_at_ms INTEGER,
          fee_msat INTEGER,
          preimage TEXT,
          error TEXT,
          PRIMARY KEY (session_id, seq)
        );
        -- one live or successful payment per hash: a hash is never paid twice
        CREATE UNIQUE INDEX payments_hash_once ON payments (payment_hash) WHERE state != 'failed';
        CREATE TABLE notifications (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          created_at_ms INTEGER NOT NULL,
          state TEXT NOT NULL CHECK (state IN ('pending','delivered','failed')),
          attempts INTEGER NOT NULL DEFAULT 0,
          body_json TEXT NOT NULL,
          last_error TEXT
        );
      `);
    },
  },
  {
    version: 3,
    name: 'session outcomes per wall (loss bound across sessions, back-off)',
    up(db) {
      db.exec(`
        CREATE TABLE session_outcomes (
          session_id TEXT PRIMARY KEY REFERENCES sessions(id),
          wall_pub TEXT NOT NULL,
          ended_at_ms INTEGER NOT NULL,
          paid_wh INTEGER NOT NULL,
          delivered_wh INTEGER NOT NULL,
          undelivered_wh INTEGER NOT NULL,
          strike INTEGER NOT NULL CHECK (strike IN (0, 1))
        );
        CREATE INDEX session_outcomes_wall ON session_outcomes (wall_pub, ended_at_ms);
        CREATE INDEX sessions_peer ON sessions (peer, started_at_ms);
        CREATE INDEX payments_session ON payments (session_id);
      `);
    },
  },
  {
    version: 4,
    name: 'wall aliases (looked up from the Lightning graph, for the dashboard)',
    up(db) {
      db.exec(`
        CREATE TABLE wall_aliases (
          wall_pub TEXT PRIMARY KEY,
          alias TEXT NOT NULL,
          looked_up_at_ms INTEGER NOT NULL
        );
      `);
    },
  },
  {
    version: 5,
    name: 'promises to pay',
    // offline case 3: invoices the car promised to pay once its node is back (vehicle-module/promise-book.ts)
    up: migrateCarPromiseTable,
  },
  {
    version: 6,
    name: 'receipt delegations',
    // protocol version 3 (offline case 1b): a receipt the wall's delegate key signed verifies only with the
    // node-signed delegation it arrived under; receipts stored before this step have none (NULL)
    up(db) {
      db.exec('ALTER TABLE receipts ADD COLUMN delegation_json TEXT');
    },
  },
];

/** A stored delegation is not the JSON `saveReceiptDelegation` writes (the store is damaged or was edited). */
export class StoredDelegationUnreadable extends Error {
  override readonly name = 'StoredDelegationUnreadable';
}

/**
 * Reads a delegation as `saveReceiptDelegation` stored it.
 *
 * @param sessionId the receipt's session (for the error)
 * @param text the stored JSON, or null when none is stored
 * @returns the delegation, or null
 * @throws StoredDelegationUnreadable when the text is not a delegation
 */
function delegationFromDb(sessionId: string, text: string | null): Delegation | null {
  if (text === null) return null;
  let d: unknown;
  try {
    d = JSON.parse(text);
  } catch (err) {
    throw new StoredDelegationUnreadable(`receipt ${sessionId}: delegation: ${(err as Error).message}`);
  }
  const { delegatePub, untilMs, signature } = (d ?? {}) as Record<string, unknown>;
  if (typeof delegatePub !== 'string' || typeof untilMs !== 'number' || typeof signature !== 'string')
    throw new StoredDelegationUnreadable(
      `receipt ${sessionId}: delegation is not {delegatePub, untilMs, signature}`,
    );
  return { delegatePub, untilMs, signature };
}

/** Why `recordPayment` did not record: the wall reused an id the ledger already holds. */
export type PaymentConflict = 'hash-in-ledger' | 'sequence-in-ledger';

/** The loss-bound figures for one wall now (see `VehicleStore.wallExposure`). */
export interface WallExposure {
  /** energy paid (or in doubt) but not delivered in sessions with this wall within the window, Wh */
  undeliveredWallWh: number;
  /** the same over every wall, Wh */
  undeliveredTotalWh: number;
  /** the wall is in back-off until then (ms), or null */
  backoffUntilMs: number | null;
}

/** The rolling window and back-off base of the loss bound, ms (from `limits.undeliveredWindowSec` etc.). */
export interface ExposureWindow {
  windowMs: number;
  backoffMs: number;
}

/** What the ledger says about a wall before a new session with it (see `VehicleStore.history`). */
export interface WallHistory extends WallExposure {
  /** a session with this id is already stored */
  sessionIdKnown: boolean;
}

interface PaymentDbRow extends BlockDbRow<PaymentState, string, string> {
  payee: string;
  recorded_at_ms: bigint;
  sent_at_ms: bigint | null;
  finished_at_ms: bigint | null;
  fee_msat: bigint | null;
  preimage: string | null;
  error: string | null;
}

function paymentFromDb(r: PaymentDbRow): PaymentRow {
  return {
    ...blockFromDb(r),
    payee: r.payee,
    recordedAtMs: Number(r.recorded_at_ms),
    sentAtMs: numberOrNull(r.sent_at_ms),
    finishedAtMs: numberOrNull(r.finished_at_ms),
    feeMsat: r.fee_msat,
    preimage: r.preimage,
    error: r.error,
  };
}

/** Start of the UTC day containing `ms`. */
export function utcDayStartMs(ms: number): number {
  return Math.floor(ms / 86_400_000) * 86_400_000;
}

/** The vehicle's store. */
export class VehicleStore extends SessionStore {
  /**
   * Opens (creating/migrating) the vehicle database.
   *
   * @param file SQLite path
   * @param clock time source for timestamps and the daily budget's UTC day
   */
  static open(file: string, clock: Clock): VehicleStore {
    return new VehicleStore(openDatabase(file, VEHICLE_MIGRATIONS), clock);
  }

  /**
   * Write-ahead: commits a payment as `recorded` before the node is asked to pay it.
   *
   * @param p session, sequence, hash, BOLT11, amount (msat), block [fromWh, toWh), payee node key
   * @returns null when recorded; otherwise why not (nothing written): the hash is already in the ledger (any
   *   state, any session: a hash is never paid twice, and a wall reusing one is refused), or the session already
   *   has a payment with this sequence number
   */
  recordPayment(p: {
    sessionId: string;
    seq: number;
    paymentHash: string;
    bolt11: string;
    amountMsat: bigint;
    fromWh: number;
    toWh: number;
    payee: string;
  }): PaymentConflict | null {
    return this.tx(() => {
      if (this.db.prepare('SELECT 1 FROM payments WHERE payment_hash = ?').get(p.paymentHash) !== undefined)
        return 'hash-in-ledger';
      if (
        this.db.prepare('SELECT 1 FROM payments WHERE session_id = ? AND seq = ?').get(p.sessionId, p.seq) !==
        undefined
      )
        return 'sequence-in-ledger';
      this.db
        .prepare(
          `INSERT INTO payments (session_id, seq, state, payment_hash, bolt11, amount_msat, from_wh, to_wh, payee, recorded_at_ms)
           VALUES (?, ?, 'recorded', ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          p.sessionId,
          p.seq,
          p.paymentHash,
          p.bolt11,
          p.amountMsat,
          p.fromWh,
          p.toWh,
          p.payee,
          this.clock.now(),
        );
      this.appendEvent(p.sessionId, 'payment.recorded', {
        seq: p.seq,
        paymentHash: p.paymentHash,
        amountMsat: p.amountMsat,
      });
      return null;
    });
  }

  /** The payment a session recorded under a sequence number, if any. */
  paymentAt(sessionId: string, seq: number): PaymentRow | undefined {
    const r = this.db
      .prepare('SELECT * FROM payments WHERE session_id = ? AND seq = ?')
      .safeIntegers(true)
      .get(sessionId, seq) as PaymentDbRow | undefined;
    return r ? paymentFromDb(r) : undefined;
  }

  /**
   * Stores a session's receipt once: receipts are append-only, so a second receipt for the same session (a
   * wall reusing a session id) is logged and dropped, never written over the first.
   */
  override saveReceipt(r: Omit<ReceiptRow, 'tMs'>): void {
    this.tx(() => {
      if (super.receipt(r.sessionId) !== undefined) {
        this.appendEvent(r.sessionId, 'receipt.kept', {
          reason: 'a receipt is already stored for this session',
        });
        return;
      }
      super.saveReceipt(r);
    });
  }

  /**
   * Keeps, beside a session's stored receipt, the node-signed delegation the car verified it under (protocol
   * version 3: the wall's delegate key may have signed it, and then it verifies only with the delegation). Written
   * once, and only onto the receipt it came with: a receipt is never given another's delegation.
   *
   * @param sessionId the session
   * @param receiptSignature the signature of the receipt the delegation came with
   * @param delegation the delegation as received (and accepted) in the session
   * @returns true when stored; false when the stored receipt is another one (a second receipt for the session was
   *   dropped), none is stored, or it already has a delegation
   */
  saveReceiptDelegation(sessionId: string, receiptSignature: string, delegation: Delegation): boolean {
    const { delegatePub, untilMs, signature } = delegation;
    const changed = this.db
      .prepare(
        `UPDATE receipts SET delegation_json = ?
         WHERE session_id = ? AND signature = ? AND delegation_json IS NULL`,
      )
      .run(JSON.stringify({ delegatePub, untilMs, signature }), sessionId, receiptSignature).changes;
    if (changed === 1) this.appendEvent(sessionId, 'receipt.delegation', { delegatePub, untilMs });
    return changed === 1;
  }

  /**
   * The receipt of a session with the delegation it was verified under (null: none; receipts stored before schema
   * step 6 have none).
   *
   * @throws StoredDelegationUnreadable when the stored delegation cannot be read
   */
  override receipt(sessionId: string): (ReceiptRow & { delegation: Delegation | null }) | undefined {
    const r = super.receipt(sessionId);
    if (r === undefined) return undefined;
    const d = this.db.prepare('SELECT delegation_json FROM receipts WHERE session_id = ?').get(sessionId) as {
      delegation_json: string | null;
    };
    return { ...r, delegation: delegationFromDb(sessionId, d.delegation_json) };
  }

  /**
   * Records how a session ended for its wall (once; a second call for the session is ignored).
   *
   * @param o session, wall key, paid (or in doubt) / delivered / undelivered energy (Wh), strike = ended with
   *   prepaid energy undelivered beyond tolerance and not by the owner's choice
   */
  recordOutcome(o: {
    sessionId: string;
    wallPub: string;
    paidWh: number;
    deliveredWh: number;
    undeliveredWh: number;
    strike: boolean;
  }): void {
    this.db
      .prepare(
        `INSERT INTO session_outcomes (session_id, wall_pub, ended_at_ms, paid_wh, delivered_wh, undelivered_wh, strike)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(session_id) DO NOTHING`,
      )
      .run(
        o.sessionId,
        o.wallPub,
        this.clock.now(),
        o.paidWh,
        o.deliveredWh,
        o.undeliveredWh,
        o.strike ? 1 : 0,
      );
  }

  /**
   * Energy paid (or in doubt) but not delivered by our own meter, summed over sessions active or ended within
   * the window (each session counts max(0, paid − delivered); payments that failed do not count).
   *
   * @param sinceMs window start, ms
   * @param wallPub only sessions with this wall, or every wall
   * @returns Wh
   */
  undeliveredWh(sinceMs: number, wallPub?: string): number {
    const r = this.db
      .prepare(
        `SELECT COALESCE(SUM(MAX(0, paid - energy_wh)), 0) AS wh FROM (
           SELECT s.energy_wh,
             COALESCE((SELECT SUM(p.to_wh - p.from_wh) FROM payments p
                       WHERE p.session_id = s.id AND p.state != 'failed'), 0) AS paid
           FROM sessions s
           WHERE (s.status = 'active' OR COALESCE(s.ended_at_ms, s.started_at_ms) >= ?)
             AND (? IS NULL OR s.peer = ?))`,
      )
      .safeIntegers(true)
      .get(sinceMs, wallPub ?? null, wallPub ?? null) as { wh: bigint };
    return Number(r.wh);
  }

  /**
   * Until when a wall is in back-off: after n consecutive recent sessions that ended with prepaid energy
   * undelivered (strikes within the window), from the last one's end for min(window, base × 2^(n−1)).
   *
   * @param wallPub the wall's node key, hex
   * @param sinceMs window start, ms
   * @param baseMs back-off after one strike, ms
   * @param maxMs longest back-off, ms
   * @returns ms since the Unix epoch, or null when not in back-off
   */
  backoffUntilMs(wallPub: string, sinceMs: number, baseMs: number, maxMs: number): number | null {
    const rows = this.db
      .prepare(
        `SELECT ended_at_ms, strike FROM session_outcomes WHERE wall_pub = ? AND ended_at_ms >= ?
         ORDER BY ended_at_ms DESC, rowid DESC LIMIT 64`,
      )
      .all(wallPub, sinceMs) as { ended_at_ms: number; strike: number }[];
    let strikes = 0;
    for (const r of rows) {
      if (r.strike !== 1) break;
      strikes += 1;
    }
    if (strikes === 0) return null;
    const lengthMs = Math.min(maxMs, baseMs * 2 ** Math.min(strikes - 1, 40));
    return (rows[0] as { ended_at_ms: number }).ended_at_ms + lengthMs;
  }

  /**
   * The ledger's figures for a new session with a wall (fed to the buyer machine before the wall's hello).
   *
   * @param wallPub the wall's node key from its hello, hex
   * @param sessionId the session id from its hello
   * @param o rolling window and back-off base, ms
   */
  history(wallPub: string, sessionId: string, o: ExposureWindow): WallHistory {
    return { ...this.wallExposure(wallPub, o), sessionIdKnown: this.findSession(sessionId) !== undefined };
  }

  /**
   * The loss-bound figures for a wall now: what `history` feeds the buyer machine, and what the owner's
   * dashboard shows against the caps.
   *
   * @param wallPub the wall's node key, hex
   * @param o rolling window and back-off base, ms
   */
  wallExposure(wallPub: string, o: ExposureWindow): WallExposure {
    const sinceMs = this.clock.now() - o.windowMs;
    return {
      undeliveredWallWh: this.undeliveredWh(sinceMs, wallPub),
      undeliveredTotalWh: this.undeliveredWh(sinceMs),
      backoffUntilMs: this.backoffUntilMs(wallPub, sinceMs, o.backoffMs, o.windowMs),
    };
  }

  /**
   * Stores (or replaces) the alias a wall's node announced.
   *
   * @param wallPub the wall's node key, hex
   * @param alias the alias (at most 32 bytes in the gossip; stored up to 64 characters)
   */
  saveWallAlias(wallPub: string, alias: string): void {
    this.db
      .prepare(
        `INSERT INTO wall_aliases (wall_pub, alias, looked_up_at_ms) VALUES (?, ?, ?)
         ON CONFLICT(wall_pub) DO UPDATE SET alias = excluded.alias, looked_up_at_ms = excluded.looked_up_at_ms`,
      )
      .run(wallPub.toLowerCase(), alias.slice(0, 64), this.clock.now());
  }

  /** The stored alias of a wall, or undefined when none is stored. */
  wallAlias(wallPub: string): string | undefined {
    const r = this.db
      .prepare('SELECT alias FROM wall_aliases WHERE wall_pub = ?')
      .get(wallPub.toLowerCase()) as { alias: string } | undefined;
    return r?.alias;
  }

  /** Marks a recorded payment as handed to the node. */
  markSent(paymentHash: string): void {
    this.move(paymentHash, 'sent', () => {
      this.db
        .prepare("UPDATE payments SET sent_at_ms = ? WHERE payment_hash = ? AND state != 'failed'")
        .run(this.clock.now(), paymentHash);
      return {};
    });
  }

  /**
   * Marks a payment succeeded (idempotent) and adds it to the session's paid total.
   *
   * @param paymentHash hex hash
   * @param result preimage (hex) and routing fee paid (msat)
   */
  markSucceeded(paymentHash: string, result: { preimage: string; feeMsat: bigint }): PaymentRow {
    return this.tx(() => {
      const p = this.livePayment(paymentHash);
      this.move(paymentHash, 'succeeded', () => {
        this.db
          .prepare(
            "UPDATE payments SET finished_at_ms = ?, preimage = ?, fee_msat = ? WHERE payment_hash = ? AND state != 'failed'",
          )
          .run(this.clock.now(), result.preimage, result.feeMsat, paymentHash);
        this.db
          .prepare('UPDATE sessions SET paid_msat = paid_msat + ? WHERE id = ?')
          .run(p.amountMsat, p.sessionId);
        return { feeMsat: result.feeMsat };
      });
      return this.livePayment(paymentHash);
    });
  }

  /** Marks a payment failed with the node's reason (idempotent). */
  markFailed(paymentHash: string, error: string): void {
    this.move(paymentHash, 'failed', () => {
      this.db
        .prepare(
          "UPDATE payments SET finished_at_ms = ?, error = ? WHERE payment_hash = ? AND state != 'failed'",
        )
        .run(this.clock.now(), error, paymentHash);
      return { error };
    });
  }

  private move(paymentHash: string, to: PaymentState, apply: () => object): void {
    this.tx(() => {
      const p = this.livePayment(paymentHash);
      if (checkTransition('payment', paymentHash, paymentTransitions, p.state, to)) return;
      const details = apply();
      this.db
        .prepare("UPDATE payments SET state = ? WHERE payment_hash = ? AND state != 'failed'")
        .run(to, paymentHash);
      this.appendEvent(p.sessionId, `payment.${to}`, { seq: p.seq, paymentHash, ...details });
    });
  }

  /** The latest row for a hash (the live one, else the last failed attempt). */
  livePayment(paymentHash: string): PaymentRow {
    const r = this.db
      .prepare(
        "SELECT * FROM payments WHERE payment_hash = ? ORDER BY (state != 'failed') DESC, recorded_at_ms DESC LIMIT 1",
      )
      .safeIntegers(true)
      .get(paymentHash) as PaymentDbRow | undefined;
    if (!r) throw new PaymentNotFound(`no payment ${paymentHash}`);
    return paymentFromDb(r);
  }

  /** The payment for a hash if any. */
  findPayment(paymentHash: string): PaymentRow | undefined {
    try {
      return this.livePayment(paymentHash);
    } catch (err) {
      if (err instanceof PaymentNotFound) return undefined;
      throw err;
    }
  }

  /** Payments of a session in sequence order. */
  payments(sessionId: string): PaymentRow[] {
    return (
      this.db
        .prepare('SELECT * FROM payments WHERE session_id = ? ORDER BY seq')
        .safeIntegers(true)
        .all(sessionId) as PaymentDbRow[]
    ).map(paymentFromDb);
  }

  /**
   * The session's paid blocks for its receipt view (`boltcharge receipt`, the status page): its succeeded
   * payments in order.
   *
   * @param sessionId session
   * @returns the lines
   */
  receiptLines(sessionId: string): ReceiptLine[] {
    return this.payments(sessionId)
      .filter((p) => p.state === 'succeeded')
      .map((p) => ({
        seq: p.seq,
        paymentHash: p.paymentHash,
        amountMsat: p.amountMsat,
        fromWh: p.fromWh,
        toWh: p.toWh,
        paidAt: isoTime(p.finishedAtMs),
      }));
  }

  private promiseBook: CarPromiseBook | undefined;

  /** The promises to pay the car made (offline case 3). */
  get promises(): CarPromiseBook {
    return (this.promiseBook ??= new CarPromiseBook(this.db));
  }

  /**
   * Payments whose outcome is unknown (`recorded` or `sent`): resolve them with the node before paying. A payment
   * promised to the wall (offline case 3) is not in doubt: it is owed, and the promise payer pays it.
   */
  inFlight(): PaymentRow[] {
    return (
      this.db
        .prepare(
          `SELECT * FROM payments WHERE state IN ('recorded','sent') AND payment_hash NOT IN
             (SELECT payment_hash FROM promises WHERE state = 'outstanding') ORDER BY recorded_at_ms`,
        )
        .safeIntegers(true)
        .all() as PaymentDbRow[]
    ).map(paymentFromDb);
  }

  /**
   * Money committed since the start of the budget day: succeeded plus in-flight amounts and fees (msat).
   * Used against the daily budget.
   *
   * @param dayStartMs start of the budget day, store clock ms (default: the current UTC day; the daemon passes
   *   `budgetDayStartMs(now, budgetDayUtcOffsetMin)`)
   */
  spentTodayMsat(dayStartMs: number = utcDayStartMs(this.clock.now())): bigint {
    const r = this.db
      .prepare(
        `SELECT COALESCE(SUM(amount_msat + COALESCE(fee_msat, 0)), 0) AS s FROM payments
         WHERE state != 'failed' AND recorded_at_ms >= ?`,
      )
      .safeIntegers(true)
      .get(dayStartMs) as { s: bigint };
    return r.s;
  }

  /** Sum of succeeded payments of a session, msat (without fees). */
  paidMsat(sessionId: string): bigint {
    const r = this.db
      .prepare(
        "SELECT COALESCE(SUM(amount_msat), 0) AS s FROM payments WHERE session_id = ? AND state = 'succeeded'",
      )
      .safeIntegers(true)
      .get(sessionId) as { s: bigint };
    return r.s;
  }

  /** Queues a notification for delivery; returns its id. */
  enqueueNotification(body: unknown): number {
    const info = this.db
      .prepare("INSERT INTO notifications (created_at_ms, state, body_json) VALUES (?, 'pending', ?)")
      .run(this.clock.now(), toJson(body));
    return Number(info.lastInsertRowid);
  }

  /** Notifications waiting for delivery, oldest first. */
  pendingNotifications(): NotificationRow[] {
    return this.notificationsWhere("state = 'pending'");
  }

  /** All notifications, oldest first. */
  notifications(): NotificationRow[] {
    return this.notificationsWhere('1 = 1');
  }

  private notificationsWhere(where: string): NotificationRow[] {
    const rows = this.db.prepare(`SELECT * FROM notifications WHERE ${where} ORDER BY id`).all() as {
      id: number;
      state: NotificationState;
      attempts: number;
      body_json: string;
      last_error: string | null;
    }[];
    return rows.map((r) => ({
      id: r.id,
      state: r.state,
      attempts: r.attempts,
      body: JSON.parse(r.body_json) as unknown,
      lastError: r.last_error,
    }));
  }

  /**
   * Records one delivery attempt.
   *
   * @param id notification id
   * @param outcome delivered, or failed with the error (`final` = no attempts left)
   */
  noteDelivery(id: number, outcome: { ok: true } | { ok: false; error: string; final: boolean }): void {
    const state: NotificationState = outcome.ok ? 'delivered' : outcome.final ? 'failed' : 'pending';
    this.db
      .prepare('UPDATE notifications SET attempts = attempts + 1, state = ?, last_error = ? WHERE id = ?')
      .run(state, outcome.ok ? null : outcome.error, id);
  }
}
