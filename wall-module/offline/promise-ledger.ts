/**
 * The wall's ledger of promises to pay (offline case 3, protocol/promise.ts): one row per invoice whose block
 * was credited on the car's signed promise, with the evidence (the car's key and signature) and its fate:
 *   outstanding → paid (the node settled the invoice) | unpaid (the invoice expired unpaid: reported).
 * The invoice's own ledger row stays `open` while the promise is outstanding (the invoice is payable at the node).
 * Rows are written inside the seller step's transaction (write-ahead), from the machine's `invoicePromised` record.
 */
import type { Db } from '../../daemon/database.js';

/** Fate of a promise. */
export type PromiseState = 'outstanding' | 'paid' | 'unpaid';

/** One promise as the wall keeps it. */
export interface PromiseRow {
  paymentHash: string;
  sessionId: string;
  seq: number;
  /** the car's identity key that signed it (hex) */
  vehiclePub: string;
  amountMsat: bigint;
  blockWh: number;
  /** 65-byte recoverable signature over `promiseText` (hex): the evidence */
  signature: string;
  promisedAtMs: number;
  state: PromiseState;
  /** when it was paid or found unpaid, ms; null while outstanding */
  decidedAtMs: number | null;
}

/**
 * Creates the promise table if it does not exist (wall schema step 6).
 * @param db the wall database
 */
export function migratePromiseTable(db: Db): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS promises (
      payment_hash TEXT PRIMARY KEY,
      session_id TEXT NOT NULL REFERENCES sessions(id),
      seq INTEGER NOT NULL,
      vehicle_pub TEXT NOT NULL,
      amount_msat INTEGER NOT NULL CHECK (amount_msat > 0),
      block_wh INTEGER NOT NULL CHECK (block_wh > 0),
      signature TEXT NOT NULL,
      promised_at_ms INTEGER NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('outstanding','paid','unpaid')),
      decided_at_ms INTEGER
    );
    CREATE INDEX IF NOT EXISTS promises_vehicle ON promises (vehicle_pub, state);
    CREATE INDEX IF NOT EXISTS promises_session ON promises (session_id);
  `);
}

interface PromiseDbRow {
  payment_hash: string;
  session_id: string;
  seq: bigint;
  vehicle_pub: string;
  amount_msat: bigint;
  block_wh: bigint;
  signature: string;
  promised_at_ms: bigint;
  state: PromiseState;
  decided_at_ms: bigint | null;
}

function fromDb(r: PromiseDbRow): PromiseRow {
  return {
    paymentHash: r.payment_hash,
    sessionId: r.session_id,
    seq: Number(r.seq),
    vehiclePub: r.vehicle_pub,
    amountMsat: r.amount_msat,
    blockWh: Number(r.block_wh),
    signature: r.signature,
    promisedAtMs: Number(r.promised_at_ms),
    state: r.state,
    decidedAtMs: r.decided_at_ms === null ? null : Number(r.decided_at_ms),
  };
}

/** The wall's promises (a view over the wall database; every write runs inside the caller's transaction). */
export class PromiseLedger {
  constructor(private readonly db: Db) {}

  /**
   * Records a promise the seller accepted (from its `invoicePromised` record). A repeat of the same hash is
   * ignored.
   * @param p the promise, outstanding
   */
  record(p: Omit<PromiseRow, 'state' | 'decidedAtMs'>): void {
    this.db
      .prepare(
        `INSERT OR IGNORE INTO promises (payment_hash, session_id, seq, vehicle_pub, amount_msat, block_wh, signature,
           promised_at_ms, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'outstanding')`,
      )
      .run(
        p.paymentHash,
        p.sessionId,
        p.seq,
        p.vehiclePub.toLowerCase(),
        p.amountMsat,
        p.blockWh,
        p.signature,
        p.promisedAtMs,
      );
  }

  /**
   * Energy held on promises not paid (outstanding or found unpaid), outside one session: by one car, and by all.
   * @param vehiclePub the car's identity key (hex)
   * @param exceptSessionId the session asking (its own promises are in its machine)
   * @returns Wh
   */
  unpaidWh(vehiclePub: string, exceptSessionId: string): { carWh: number; siteWh: number } {
    const r = this.db
      .prepare(
        `SELECT COALESCE(SUM(CASE WHEN vehicle_pub = ? THEN block_wh ELSE 0 END), 0) AS car,
                COALESCE(SUM(block_wh), 0) AS site
         FROM promises WHERE state != 'paid' AND session_id != ?`,
      )
      .get(vehiclePub.toLowerCase(), exceptSessionId) as { car: bigint | number; site: bigint | number };
    return { carWh: Number(r.car), siteWh: Number(r.site) };
  }

  /** The promise for an invoice, if any. */
  byHash(paymentHash: string): PromiseRow | undefined {
    const r = this.db
      .prepare('SELECT * FROM promises WHERE payment_hash = ?')
      .safeIntegers(true)
      .get(paymentHash.toLowerCase()) as PromiseDbRow | undefined;
    return r ? fromDb(r) : undefined;
  }

  /** The promises of a session, by seq. */
  ofSession(sessionId: string): PromiseRow[] {
    return (
      this.db
        .prepare('SELECT * FROM promises WHERE session_id = ? ORDER BY seq')
        .safeIntegers(true)
        .all(sessionId) as PromiseDbRow[]
    ).map(fromDb);
  }

  /** Every promise in a state, oldest first. */
  inState(state: PromiseState): PromiseRow[] {
    return (
      this.db
        .prepare('SELECT * FROM promises WHERE state = ? ORDER BY promised_at_ms, rowid')
        .safeIntegers(true)
        .all(state) as PromiseDbRow[]
    ).map(fromDb);
  }

  /**
   * An outstanding promise is decided: paid (its invoice settled) or unpaid (its invoice expired unpaid).
   * @returns the row as it was, or undefined when there is no outstanding promise for the hash
   */
  decide(paymentHash: string, state: 'paid' | 'unpaid', atMs: number): PromiseRow | undefined {
    const before = this.byHash(paymentHash);
    if (before?.state !== 'outstanding' && !(before?.state === 'unpaid' && state === 'paid'))
      return undefined;
    this.db
      .prepare('UPDATE promises SET state = ?, decided_at_ms = ? WHERE payment_hash = ?')
      .run(state, atMs, before.paymentHash);
    return before;
  }
}
