/**
 * SQLite tables of the OCPP component, created in the wall store's own database so a transaction-related
 * message is committed in the same file as the session it reports.
 */
import type { Database } from 'better-sqlite3';
import { VARIABLES_TABLE_SQL } from './device-model.js';

/**
 * Creates the OCPP tables if they do not exist. Idempotent: the wall store runs it in its migrations, and the
 * station runs it again on construction.
 *
 * - `ocpp_outbox`: every transaction-related message, written before any send attempt; delivered in `id`
 *   order; `message_key` is the idempotent id (a repeated daemon call inserts nothing).
 * - `ocpp_transactions`: one row per OCPP transaction (one per plug-in or per paid session), with the 2.x
 *   seqNo counter and the 1.6 transactionId once StartTransaction's reply arrived.
 * - `ocpp_evses`: whether a cable is plugged into each EVSE (connector status after a restart).
 * - `ocpp_display_messages`: messages set by the CSMS with SetDisplayMessage.
 * - `ocpp_variables`: device model values the CSMS set (GetVariables/SetVariables, 1.6 Get/ChangeConfiguration).
 *
 * @param db better-sqlite3 database of the wall store
 */
export function migrateOcppTables(db: Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS ocpp_outbox (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      message_key TEXT NOT NULL UNIQUE,
      tx_key TEXT,
      seq_no INTEGER,
      event TEXT NOT NULL,
      offline INTEGER NOT NULL,
      created_at_ms INTEGER NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      last_error TEXT,
      done_at_ms INTEGER,
      outcome TEXT
    );
    CREATE INDEX IF NOT EXISTS ocpp_outbox_pending ON ocpp_outbox (done_at_ms, id);
    CREATE TABLE IF NOT EXISTS ocpp_transactions (
      tx_key TEXT PRIMARY KEY,
      evse_id INTEGER NOT NULL,
      connector_id INTEGER NOT NULL,
      session_id TEXT UNIQUE,
      next_seq_no INTEGER NOT NULL DEFAULT 0,
      started_at_ms INTEGER NOT NULL,
      ended_at_ms INTEGER,
      charging_state TEXT NOT NULL,
      meter_start_wh INTEGER,
      last_meter_wh INTEGER,
      last_report_at_ms INTEGER,
      csms_tx_id_16 INTEGER
    );
    CREATE INDEX IF NOT EXISTS ocpp_transactions_open ON ocpp_transactions (evse_id, ended_at_ms);
    CREATE TABLE IF NOT EXISTS ocpp_evses (
      evse_id INTEGER PRIMARY KEY,
      plugged INTEGER NOT NULL,
      updated_at_ms INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS ocpp_display_messages (
      id INTEGER PRIMARY KEY,
      priority TEXT NOT NULL,
      state TEXT,
      format TEXT NOT NULL,
      language TEXT,
      content TEXT NOT NULL,
      start_ms INTEGER,
      end_ms INTEGER,
      transaction_id TEXT,
      display_name TEXT,
      display_instance TEXT,
      received_at_ms INTEGER NOT NULL
    );
    ${VARIABLES_TABLE_SQL}
  `);
  // added with the device model: why the Lightning session of a still-open transaction ended (the
  // transaction itself ends at unplug)
  const columns = db.prepare('PRAGMA table_info(ocpp_transactions)').all() as { name: string }[];
  if (!columns.some((c) => c.name === 'stop_reason'))
    db.exec('ALTER TABLE ocpp_transactions ADD COLUMN stop_reason TEXT');
}
