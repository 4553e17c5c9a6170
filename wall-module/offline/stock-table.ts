/**
 * The wall database's table of the offline invoice stock (offline case 1b): one row per stocked invoice (its
 * phase and facts, from payments/invoice-stock.ts) and one row per creation asked of the node and not answered
 * yet (write-ahead: a restart finds the request and looks the invoice up by its memo).
 */
import type { Database } from 'better-sqlite3';

/**
 * Creates the stock tables if they do not exist. Idempotent: the keeper runs it when it opens (the wall store
 * may run it in its migrations, like `migrateOcppTables`).
 *
 * - `offline_stock`: one row per invoice by payment hash; `phase` stocked | handed | proven | reconciled |
 *   retired; `body` the invoice's JSON (bigints as strings) in that phase.
 * - `offline_stock_requests`: creations asked of the node, by request id, removed when answered.
 * - `offline_stock_meta`: the next request number.
 *
 * @param db better-sqlite3 database of the wall store
 */
export function migrateOfflineStockTables(db: Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS offline_stock (
      payment_hash TEXT PRIMARY KEY,
      phase TEXT NOT NULL,
      amount_msat TEXT NOT NULL,
      session_id TEXT,
      body TEXT NOT NULL,
      updated_at_ms INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS offline_stock_phase ON offline_stock (phase);
    CREATE TABLE IF NOT EXISTS offline_stock_requests (
      request_id TEXT PRIMARY KEY,
      amount_msat TEXT NOT NULL,
      at_ms INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS offline_stock_meta (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      next_request INTEGER NOT NULL
    );
  `);
}
