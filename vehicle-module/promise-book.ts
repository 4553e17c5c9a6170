/**
 * The car's book of promises to pay (offline case 3, protocol/promise.ts): one row per invoice the car's node
 * could not pay for lack of a route and the car promised the wall to pay, written from the buyer machine's
 * `paymentPromised` record in the step's transaction (write-ahead, before the node signs the promise). The
 * payment's own ledger row stays `sent` (owed, counted against the budgets) until the promise payer
 * (`vehicle-module/promise-payer.ts`) pays it once the node is back online:
 *   outstanding → paid | refused (the wall did not accept it: not owed) | lapsed (the invoice expired unpaid).
 */
import type { Db } from '../daemon/database.js';
import { nextPromiseAttemptAtMs } from '../protocol/promise.js';

/** Fate of a promise the car made. */
export type CarPromiseState = 'outstanding' | 'paid' | 'refused' | 'lapsed';

/** One promise the car made. */
export interface CarPromiseRow {
  paymentHash: string;
  sessionId: string;
  seq: number;
  wallPub: string;
  bolt11: string;
  amountMsat: bigint;
  maxFeeMsat: bigint;
  blockWh: number;
  /** when the invoice expires, ms (a promise not paid by then lapses) */
  expiresAtMs: number;
  promisedAtMs: number;
  state: CarPromiseState;
  /** payment attempts made after the promise */
  attempts: number;
  /** the next attempt is due at this time, ms */
  nextAttemptAtMs: number;
  decidedAtMs: number | null;
}

/**
 * Creates the promise table if it does not exist (vehicle schema step 5).
 * @param db the vehicle database
 */
export function migrateCarPromiseTable(db: Db): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS promises (
      payment_hash TEXT PRIMARY KEY,
      session_id TEXT NOT NULL REFERENCES sessions(id),
      seq INTEGER NOT NULL,
      wall_pub TEXT NOT NULL,
      bolt11 TEXT NOT NULL,
      amount_msat INTEGER NOT NULL CHECK (amount_msat > 0),
      max_fee_msat INTEGER NOT NULL CHECK (max_fee_msat >= 0),
      block_wh INTEGER NOT NULL,
      expires_at_ms INTEGER NOT NULL,
      promised_at_ms INTEGER NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('outstanding','paid','refused','lapsed')),
      attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at_ms INTEGER NOT NULL,
      decided_at_ms INTEGER
    );
    CREATE INDEX IF NOT EXISTS promises_state ON promises (state, next_attempt_at_ms);
  `);
}

interface CarPromiseDbRow {
  payment_hash: string;
  session_id: string;
  seq: bigint;
  wall_pub: string;
  bolt11: string;
  amount_msat: bigint;
  max_fee_msat: bigint;
  block_wh: bigint;
  expires_at_ms: bigint;
  promised_at_ms: bigint;
  state: CarPromiseState;
  attempts: bigint;
  next_attempt_at_ms: bigint;
  decided_at_ms: bigint | null;
}

function fromDb(r: CarPromiseDbRow): CarPromiseRow {
  return {
    paymentHash: r.payment_hash,
    sessionId: r.session_id,
    seq: Number(r.seq),
    wallPub: r.wall_pub,
    bolt11: r.bolt11,
    amountMsat: r.amount_msat,
    maxFeeMsat: r.max_fee_msat,
    blockWh: Number(r.block_wh),
    expiresAtMs: Number(r.expires_at_ms),
    promisedAtMs: Number(r.promised_at_ms),
    state: r.state,
    attempts: Number(r.attempts),
    nextAttemptAtMs: Number(r.next_attempt_at_ms),
    decidedAtMs: r.decided_at_ms === null ? null : Number(r.decided_at_ms),
  };
}

/** The car's promises (a view over the vehicle database; writes run inside the caller's transaction). */
export class CarPromiseBook {
  constructor(private readonly db: Db) {}

  /** Records a promise (from the machine's `paymentPromised` record); a repeat of the hash is ignored. */
  record(p: Omit<CarPromiseRow, 'state' | 'attempts' | 'decidedAtMs' | 'nextAttemptAtMs'>): void {
    this.db
      .prepare(
        `INSERT OR IGNORE INTO promises (payment_hash, session_id, seq, wall_pub, bolt11, amount_msat, max_fee_msat,
           block_wh, expires_at_ms, promised_at_ms, state, next_attempt_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'outstanding', ?)`,
      )
      .run(
        p.paymentHash,
        p.sessionId,
        p.seq,
        p.wallPub.toLowerCase(),
        p.bolt11,
        p.amountMsat,
        p.maxFeeMsat,
        p.blockWh,
        p.expiresAtMs,
        p.promisedAtMs,
        nextPromiseAttemptAtMs(1, p.promisedAtMs),
      );
  }

  /** The promise for an invoice, if any. */
  byHash(paymentHash: string): CarPromiseRow | undefined {
    const r = this.db
      .prepare('SELECT * FROM promises WHERE payment_hash = ?')
      .safeIntegers(true)
      .get(paymentHash.toLowerCase()) as CarPromiseDbRow | undefined;
    return r ? fromDb(r) : undefined;
  }

  /** Outstanding promises, oldest first. */
  outstanding(): CarPromiseRow[] {
    return (
      this.db
        .prepare("SELECT * FROM promises WHERE state = 'outstanding' ORDER BY promised_at_ms, rowid")
        .safeIntegers(true)
        .all() as CarPromiseDbRow[]
    ).map(fromDb);
  }

  /** Every promise of a session, by seq. */
  ofSession(sessionId: string): CarPromiseRow[] {
    return (
      this.db
        .prepare('SELECT * FROM promises WHERE session_id = ? ORDER BY seq')
        .safeIntegers(true)
        .all(sessionId) as CarPromiseDbRow[]
    ).map(fromDb);
  }

  /** What the car owes on outstanding promises (amounts), msat. */
  owedMsat(): bigint {
    const r = this.db
      .prepare("SELECT COALESCE(SUM(amount_msat), 0) AS s FROM promises WHERE state = 'outstanding'")
      .get() as { s: bigint | number };
    return BigInt(r.s);
  }

  /** One more attempt was made; the next is due at `nextAttemptAtMs`. */
  attempted(paymentHash: string, nextAttemptAtMs: number): void {
    this.db
      .prepare('UPDATE promises SET attempts = attempts + 1, next_attempt_at_ms = ? WHERE payment_hash = ?')
      .run(nextAttemptAtMs, paymentHash);
  }

  /** Moves an outstanding promise's next attempt (its attempts unchanged). */
  reschedule(paymentHash: string, nextAttemptAtMs: number): void {
    this.db
      .prepare("UPDATE promises SET next_attempt_at_ms = ? WHERE payment_hash = ? AND state = 'outstanding'")
      .run(nextAttemptAtMs, paymentHash.toLowerCase());
  }

  /** An outstanding promise is decided. @returns whether one was outstanding */
  decide(paymentHash: string, state: Exclude<CarPromiseState, 'outstanding'>, atMs: number): boolean {
    const r = this.db
      .prepare(
        "UPDATE promises SET state = ?, decided_at_ms = ? WHERE payment_hash = ? AND state = 'outstanding'",
      )
      .run(state, atMs, paymentHash.toLowerCase());
    return r.changes > 0;
  }
}
