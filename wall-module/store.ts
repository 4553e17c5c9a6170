/**
 * The wall daemon's SQLite store: the shared session tables plus the invoice ledger, whose rows follow
 *   requested → open → settled | cancelled | expired,   requested → failed
 * in the seller machine's words (`InvoiceStatus`, protocol/invoiceBook.ts). A row is `requested` (written ahead)
 * before the node is asked for an invoice; `open` once the node returned its BOLT11 and hash (issued to the car);
 * `failed` when the node never returned it; `settled` only from the node's settlement (with the amount the node
 * received).
 * OCPP tables are added by `migrateOcppTables` (wall-module/ocpp) when that module is present.
 */
import { blockFromDb, numberOrNull, type BlockDbRow } from '../daemon/block-row.js';
import type { Clock } from '../hardware/clock.js';
import { openDatabase, type Db, type Migration } from '../daemon/database.js';
import { isoTime, type ReceiptLine } from '../daemon/receipt-view.js';
import { checkTransition, type TransitionTable } from '../daemon/row-state.js';
import { commonMigration, SessionStore, type SessionRow } from '../daemon/session-store.js';
import type { InvoiceStatus } from '../protocol/invoiceBook.js';
import { migrateOfflineStockTables } from './offline/stock-table.js';
import { migratePromiseTable, PromiseLedger } from './offline/promise-ledger.js';

/** State of one invoice in the wall's ledger: the seller machine's vocabulary. */
export type InvoiceState = InvoiceStatus;

/** Allowed invoice state changes in the ledger. */
export const invoiceTransitions: TransitionTable<InvoiceState> = {
  requested: ['open', 'failed'],
  open: ['settled', 'cancelled', 'expired'],
  settled: [],
  // the node settled an invoice the daemon had given up on (paid while being cancelled, or after its expiry was
  // judged): the money arrived, so the ledger says so
  cancelled: ['settled'],
  expired: ['settled'],
  failed: [],
};

/** One invoice in the wall's ledger. */
export interface InvoiceRow {
  sessionId: string;
  /** sequence number within the session (protocol `seq`) */
  seq: number;
  state: InvoiceState;
  paymentHash: string | null;
  bolt11: string | null;
  amountMsat: bigint;
  /** energy block this invoice buys, Wh, as cumulative session energy [fromWh, toWh) */
  fromWh: number;
  toWh: number;
  priceMsatPerWh: bigint;
  requestedAtMs: number;
  issuedAtMs: number | null;
  /** BOLT11 expiry by the node's (real) clock, ms since epoch */
  expiresAtMs: number | null;
  settledAtMs: number | null;
  /** amount the node reports received, msat */
  receivedMsat: bigint | null;
  /** credited on the car's payment proof while the node was unreachable (offline case 1b, a stocked invoice) */
  paidOffline: boolean;
}

/** The invoice row does not exist. */
export class InvoiceNotFound extends Error {
  override readonly name = 'InvoiceNotFound';
}

/** The wall schema's migrations, oldest first (exported for the migration tests). */
export const WALL_MIGRATIONS: readonly Migration[] = [
  commonMigration,
  {
    version: 2,
    name: 'invoice ledger',
    up(db) {
      db.exec(`
        CREATE TABLE invoices (
          session_id TEXT NOT NULL REFERENCES sessions(id),
          seq INTEGER NOT NULL,
          state TEXT NOT NULL CHECK (state IN ('requested','issued','settled','cancelled','expired','abandoned')),
          payment_hash TEXT UNIQUE,
          bolt11 TEXT,
          amount_msat INTEGER NOT NULL CHECK (amount_msat > 0),
          from_wh INTEGER NOT NULL,
          to_wh INTEGER NOT NULL CHECK (to_wh > from_wh),
          price_msat_per_wh INTEGER NOT NULL,
          requested_at_ms INTEGER NOT NULL,
          issued_at_ms INTEGER,
          expires_at_ms INTEGER,
          settled_at_ms INTEGER,
          received_msat INTEGER,
          PRIMARY KEY (session_id, seq)
        );
      `);
    },
  },
  {
    version: 3,
    name: 'connector of each session',
    up(db) {
      // a site runs several connectors on one store: every session row names its connector (1 before this step)
      db.exec(`
        ALTER TABLE sessions ADD COLUMN connector_id INTEGER NOT NULL DEFAULT 1 CHECK (connector_id >= 1);
        CREATE INDEX sessions_connector ON sessions (connector_id, started_at_ms);
      `);
    },
  },
  {
    version: 4,
    name: "invoice states in the seller machine's words",
    up(db) {
      // issued → open, abandoned → failed (protocol/invoiceBook.ts `InvoiceStatus`); SQLite cannot change a CHECK
      // constraint, so the table is rebuilt with the same rows
      db.exec(`
        CREATE TABLE invoices_v4 (
          session_id TEXT NOT NULL REFERENCES sessions(id),
          seq INTEGER NOT NULL,
          state TEXT NOT NULL CHECK (state IN ('requested','open','settled','cancelled','expired','failed')),
          payment_hash TEXT UNIQUE,
          bolt11 TEXT,
          amount_msat INTEGER NOT NULL CHECK (amount_msat > 0),
          from_wh INTEGER NOT NULL,
          to_wh INTEGER NOT NULL CHECK (to_wh > from_wh),
          price_msat_per_wh INTEGER NOT NULL,
          requested_at_ms INTEGER NOT NULL,
          issued_at_ms INTEGER,
          expires_at_ms INTEGER,
          settled_at_ms INTEGER,
          received_msat INTEGER,
          PRIMARY KEY (session_id, seq)
        );
        INSERT INTO invoices_v4
          SELECT session_id, seq,
                 CASE state WHEN 'issued' THEN 'open' WHEN 'abandoned' THEN 'failed' ELSE state END,
                 payment_hash, bolt11, amount_msat, from_wh, to_wh, price_msat_per_wh, requested_at_ms,
                 issued_at_ms, expires_at_ms, settled_at_ms, received_msat
          FROM invoices;
        DROP TABLE invoices;
        ALTER TABLE invoices_v4 RENAME TO invoices;
      `);
    },
  },
  {
    version: 5,
    name: 'offline invoice stock',
    up(db) {
      // offline case 1b: the stock keeper's tables (wall-module/offline/stock-table.ts), and which ledger rows were
      // paid by a proof from the car while the node was unreachable (reconciled with the node later)
      migrateOfflineStockTables(db);
      db.exec(
        'ALTER TABLE invoices ADD COLUMN paid_offline INTEGER NOT NULL DEFAULT 0 CHECK (paid_offline IN (0, 1));',
      );
    },
  },
  {
    version: 6,
    name: 'promises to pay',
    // offline case 3: the blocks credited on a car's signed promise (wall-module/offline/promise-ledger.ts)
    up: migratePromiseTable,
  },
];

/**
 * The machine-state slot of a connector: connector 1 keeps the slot names a single-connector wall always used
 * (`main`), so a store written before sites existed resumes unchanged; connector N > 1 uses `<slot>@N`.
 *
 * @param slot the daemon's slot name
 * @param connectorId 1-based connector id
 */
export function connectorSlot(slot: string, connectorId: number): string {
  return connectorId === 1 ? slot : `${slot}@${connectorId}`;
}

/** Optional extra migration hook (OCPP tables), applied after the wall's own schema. */
export type ExtraMigrate = (db: Db) => void;

interface InvoiceDbRow extends BlockDbRow<InvoiceState, string | null, string | null> {
  price_msat_per_wh: bigint;
  requested_at_ms: bigint;
  issued_at_ms: bigint | null;
  expires_at_ms: bigint | null;
  settled_at_ms: bigint | null;
  paid_offline: bigint;
  received_msat: bigint | null;
}

function invoiceFromDb(r: InvoiceDbRow): InvoiceRow {
  return {
    ...blockFromDb(r),
    priceMsatPerWh: r.price_msat_per_wh,
    requestedAtMs: Number(r.requested_at_ms),
    issuedAtMs: numberOrNull(r.issued_at_ms),
    expiresAtMs: numberOrNull(r.expires_at_ms),
    settledAtMs: numberOrNull(r.settled_at_ms),
    receivedMsat: r.received_msat,
    paidOffline: r.paid_offline === 1n,
  };
}

/** The wall's store. */
export class WallStore extends SessionStore {
  /** the connector this view is scoped to, or null for the whole site (see `forConnector`) */
  private scope: number | null = null;

  /**
   * Opens (creating/migrating) the wall database.
   *
   * @param file SQLite path
   * @param clock time source for timestamps
   * @param extraMigrate e.g. `migrateOcppTables`, run after the wall schema is current
   */
  static open(file: string, clock: Clock, extraMigrate?: ExtraMigrate): WallStore {
    const db = openDatabase(file, WALL_MIGRATIONS);
    extraMigrate?.(db);
    return new WallStore(db, clock);
  }

  /**
   * A view of this store scoped to one connector of the site: the same database (one transaction domain), but
   * sessions it creates carry the connector id, its machine state lives in the connector's own slot
   * (`connectorSlot`), recovery queries (`invoicesInState`, `invoiceByHash`) and session lists see only the
   * connector's rows, and `close` leaves the shared database open (the site closes it).
   *
   * @param connectorId 1-based connector id
   * @returns the scoped store
   */
  forConnector(connectorId: number): WallStore {
    const view = new WallStore(this.db, this.clock);
    view.scope = connectorId;
    return view;
  }

  private promiseLedger: PromiseLedger | undefined;

  /** The promises to pay (offline case 3) of the whole site: a car's cap spans connectors. */
  get promises(): PromiseLedger {
    return (this.promiseLedger ??= new PromiseLedger(this.db));
  }

  /** The connector this store is scoped to (1 for an unscoped store: a single-connector wall). */
  get connectorId(): number {
    return this.scope ?? 1;
  }

  override createSession(id: string, peer: string | null): SessionRow {
    return this.tx(() => {
      super.createSession(id, peer);
      if (this.scope !== null)
        this.db.prepare('UPDATE sessions SET connector_id = ? WHERE id = ?').run(this.scope, id);
      return this.getSession(id);
    });
  }

  /**
   * The connector a session ran on.
   *
   * @param sessionId session id
   * @returns 1-based connector id, or undefined when the session is not stored
   */
  sessionConnector(sessionId: string): number | undefined {
    const r = this.db.prepare('SELECT connector_id AS c FROM sessions WHERE id = ?').get(sessionId) as
      { c: number } | undefined;
    return r?.c;
  }

  /**
   * Sessions of one connector, newest first.
   *
   * @param connectorId 1-based connector id
   * @param limit most rows
   */
  connectorSessionIds(connectorId: number, limit = 100): string[] {
    return (
      this.db
        .prepare(
          'SELECT id FROM sessions WHERE connector_id = ? ORDER BY started_at_ms DESC, rowid DESC LIMIT ?',
        )
        .all(connectorId, limit) as { id: string }[]
    ).map((r) => r.id);
  }

  override listSessions(limit = 100): SessionRow[] {
    if (this.scope === null) return super.listSessions(limit);
    return this.connectorSessionIds(this.scope, limit).map((id) => this.getSession(id));
  }

  override saveMachineState(slot: string, stateJson: string): void {
    super.saveMachineState(connectorSlot(slot, this.connectorId), stateJson);
  }

  override loadMachineState(slot: string): string | undefined {
    return super.loadMachineState(connectorSlot(slot, this.connectorId));
  }

  /** A scoped store's database stays open: the site closes it once every connector stopped. */
  override close(): void {
    if (this.scope === null) super.close();
  }

  /**
   * Writes an invoice ahead of asking the node for it.
   *
   * @param inv session, sequence, amount (msat), energy block [fromWh, toWh) and the price it was computed with
   */
  requestInvoice(inv: {
    sessionId: string;
    seq: number;
    amountMsat: bigint;
    fromWh: number;
    toWh: number;
    priceMsatPerWh: bigint;
  }): void {
    this.tx(() => {
      this.db
        .prepare(
          `INSERT INTO invoices (session_id, seq, state, amount_msat, from_wh, to_wh, price_msat_per_wh, requested_at_ms)
           VALUES (?, ?, 'requested', ?, ?, ?, ?, ?)`,
        )
        .run(
          inv.sessionId,
          inv.seq,
          inv.amountMsat,
          inv.fromWh,
          inv.toWh,
          inv.priceMsatPerWh,
          this.clock.now(),
        );
      this.appendEvent(inv.sessionId, 'invoice.requested', inv);
    });
  }

  /** Records what the node returned for a requested invoice. */
  markIssued(sessionId: string, seq: number, paymentHash: string, bolt11: string, expiresAtMs: number): void {
    this.move(sessionId, seq, 'open', () => {
      this.db
        .prepare(
          'UPDATE invoices SET payment_hash = ?, bolt11 = ?, issued_at_ms = ?, expires_at_ms = ? WHERE session_id = ? AND seq = ?',
        )
        .run(paymentHash, bolt11, this.clock.now(), expiresAtMs, sessionId, seq);
      return { paymentHash };
    });
  }

  /**
   * Records an invoice served from the offline stock (the node unreachable): the row takes the stocked invoice and
   * its fixed amount, the block shrunk to it ([fromWh, toWh) with toWh = fromWh + amount / price).
   *
   * @param sessionId session
   * @param seq the invoice's sequence
   * @param inv {paymentHash, bolt11, expiresAtMs: the stocked invoice's expiry, amountMsat: its denomination,
   *   blockWh: the block it buys, Wh}
   */
  markIssuedFromStock(
    sessionId: string,
    seq: number,
    inv: { paymentHash: string; bolt11: string; expiresAtMs: number; amountMsat: bigint; blockWh: number },
  ): void {
    this.tx(() => {
      const row = this.invoice(sessionId, seq);
      if (!row) throw new InvoiceNotFound(`no invoice ${sessionId}#${seq}`);
      this.db
        .prepare('UPDATE invoices SET amount_msat = ?, to_wh = ? WHERE session_id = ? AND seq = ?')
        .run(inv.amountMsat, row.fromWh + inv.blockWh, sessionId, seq);
      this.appendEvent(sessionId, 'invoice.fromStock', {
        seq,
        paymentHash: inv.paymentHash,
        amountMsat: inv.amountMsat,
        blockWh: inv.blockWh,
      });
      this.markIssued(sessionId, seq, inv.paymentHash, inv.bolt11, inv.expiresAtMs);
    });
  }

  /**
   * Marks a ledger row paid by the car's proof (offline case 1b), before the settlement is recorded.
   *
   * @param paymentHash the stocked invoice's hash
   * @param preimage the proof
   */
  markPaidOffline(paymentHash: string, preimage: string): void {
    this.tx(() => {
      const row = this.invoiceByHash(paymentHash);
      if (!row) return;
      this.db.prepare('UPDATE invoices SET paid_offline = 1 WHERE payment_hash = ?').run(paymentHash);
      this.appendEvent(row.sessionId, 'invoice.paidOffline', { seq: row.seq, paymentHash, preimage });
    });
  }

  /**
   * Records a settlement reported by the node (idempotent: a repeat is ignored).
   *
   * @param paymentHash hex hash of the settled invoice
   * @param receivedMsat amount the node received
   * @returns the invoice row, or undefined when the hash is not in this ledger
   */
  markSettled(paymentHash: string, receivedMsat: bigint): InvoiceRow | undefined {
    return this.tx(() => {
      const inv = this.invoiceByHash(paymentHash);
      if (!inv) return undefined;
      if (inv.state === 'settled') return inv;
      this.move(inv.sessionId, inv.seq, 'settled', () => {
        this.db
          .prepare('UPDATE invoices SET settled_at_ms = ?, received_msat = ? WHERE payment_hash = ?')
          .run(this.clock.now(), receivedMsat, paymentHash);
        this.db
          .prepare('UPDATE sessions SET paid_msat = paid_msat + ? WHERE id = ?')
          .run(receivedMsat, inv.sessionId);
        return { paymentHash, receivedMsat };
      });
      return this.invoiceByHash(paymentHash);
    });
  }

  /** Marks an issued invoice cancelled (voided at the node) or expired. */
  markClosed(sessionId: string, seq: number, to: 'cancelled' | 'expired'): void {
    this.move(sessionId, seq, to, () => ({}));
  }

  /** Marks a requested invoice failed (the node never returned it, or the daemon crashed first). */
  markAbandoned(sessionId: string, seq: number, why: string): void {
    this.move(sessionId, seq, 'failed', () => ({ why }));
  }

  private move(sessionId: string, seq: number, to: InvoiceState, apply: () => object): void {
    this.tx(() => {
      const inv = this.invoice(sessionId, seq);
      if (!inv) throw new InvoiceNotFound(`no invoice ${sessionId}#${seq}`);
      if (checkTransition('invoice', `${sessionId}#${seq}`, invoiceTransitions, inv.state, to)) return;
      const details = apply();
      this.db
        .prepare('UPDATE invoices SET state = ? WHERE session_id = ? AND seq = ?')
        .run(to, sessionId, seq);
      this.appendEvent(sessionId, `invoice.${to}`, { seq, ...details });
    });
  }

  /** One invoice by session and sequence. */
  invoice(sessionId: string, seq: number): InvoiceRow | undefined {
    const r = this.db
      .prepare('SELECT * FROM invoices WHERE session_id = ? AND seq = ?')
      .safeIntegers(true)
      .get(sessionId, seq) as InvoiceDbRow | undefined;
    return r ? invoiceFromDb(r) : undefined;
  }

  /** One invoice by payment hash. */
  invoiceByHash(paymentHash: string): InvoiceRow | undefined {
    const r = this.db
      .prepare(
        `SELECT i.* FROM invoices i JOIN sessions s ON s.id = i.session_id
         WHERE i.payment_hash = ? AND (? IS NULL OR s.connector_id = ?)`,
      )
      .safeIntegers(true)
      .get(paymentHash, this.scope, this.scope) as InvoiceDbRow | undefined;
    return r ? invoiceFromDb(r) : undefined;
  }

  /**
   * The connector whose invoice a payment hash is (the site dispatches each settlement to it).
   *
   * @param paymentHash hex payment hash
   * @returns 1-based connector id, or undefined when no connector issued it
   */
  invoiceConnector(paymentHash: string): number | undefined {
    const r = this.db
      .prepare(
        'SELECT s.connector_id AS c FROM invoices i JOIN sessions s ON s.id = i.session_id WHERE i.payment_hash = ?',
      )
      .get(paymentHash) as { c: number } | undefined;
    return r?.c;
  }

  /** Invoices of a session in sequence order. */
  invoices(sessionId: string): InvoiceRow[] {
    return (
      this.db
        .prepare('SELECT * FROM invoices WHERE session_id = ? ORDER BY seq')
        .safeIntegers(true)
        .all(sessionId) as InvoiceDbRow[]
    ).map(invoiceFromDb);
  }

  /**
   * The session's paid blocks for its receipt view (`boltcharge receipt`, the status page): its settled invoices
   * in order, each at what the node received.
   *
   * @param sessionId session
   * @returns the lines
   */
  receiptLines(sessionId: string): ReceiptLine[] {
    return this.invoices(sessionId)
      .filter((i) => i.state === 'settled')
      .map((i) => ({
        seq: i.seq,
        paymentHash: i.paymentHash ?? '',
        amountMsat: i.receivedMsat ?? i.amountMsat,
        fromWh: i.fromWh,
        toWh: i.toWh,
        paidAt: isoTime(i.settledAtMs),
      }));
  }

  /** Invoices in a given state across sessions (restart recovery: `requested`, `issued`). */
  invoicesInState(state: InvoiceState): InvoiceRow[] {
    return (
      this.db
        .prepare(
          `SELECT i.* FROM invoices i JOIN sessions s ON s.id = i.session_id
           WHERE i.state = ? AND (? IS NULL OR s.connector_id = ?) ORDER BY i.session_id, i.seq`,
        )
        .safeIntegers(true)
        .all(state, this.scope, this.scope) as InvoiceDbRow[]
    ).map(invoiceFromDb);
  }

  /** Sum of settled amounts of a session, msat (equals `sessions.paid_msat`). */
  settledMsat(sessionId: string): bigint {
    const r = this.db
      .prepare(
        "SELECT COALESCE(SUM(received_msat), 0) AS s FROM invoices WHERE session_id = ? AND state = 'settled'",
      )
      .safeIntegers(true)
      .get(sessionId) as { s: bigint };
    return r.s;
  }
}
