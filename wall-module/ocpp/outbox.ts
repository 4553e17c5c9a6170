/**
 * The durable outbox: transaction-related OCPP messages written to SQLite before any send attempt, delivered
 * strictly in insertion order, marked done only after the CSMS answered (or after the attempt budget ran out).
 */
import type { Database } from 'better-sqlite3';
import type { OutboxEntry, StationEvent } from './events.js';

interface OutboxRow {
  id: number;
  message_key: string;
  event: string;
  seq_no: number | null;
  offline: number;
  attempts: number;
  created_at_ms: number;
}

/** How one outbox message finished. */
export type OutboxOutcome =
  'delivered' | `rejected:${string}` | `dropped:${string}` | `not-applicable:${string}`;

export class Outbox {
  constructor(private readonly db: Database) {}

  /**
   * Appends a message unless one with the same idempotent key exists.
   *
   * @param messageKey idempotent id (e.g. `session:<id>:InvoicePaid:3`)
   * @param event the version-neutral event
   * @param seqNo OCPP 2.x seqNo allocated for it
   * @param offline whether the CSMS link was down when the event happened
   * @param nowMs ms since epoch
   * @returns true if inserted, false if the key already existed
   */
  append(messageKey: string, event: StationEvent, seqNo: number, offline: boolean, nowMs: number): boolean {
    const info = this.db
      .prepare(
        `INSERT OR IGNORE INTO ocpp_outbox (message_key, tx_key, seq_no, event, offline, created_at_ms)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(messageKey, event.txKey, seqNo, JSON.stringify(event), offline ? 1 : 0, nowMs);
    return info.changes === 1;
  }

  /** @returns true if a message with this idempotent key was ever appended */
  has(messageKey: string): boolean {
    return this.db.prepare('SELECT 1 FROM ocpp_outbox WHERE message_key = ?').get(messageKey) !== undefined;
  }

  /**
   * @param prefix start of an idempotent message key (e.g. `session:<id>:InvoicePaid:`)
   * @returns the oldest message (done or not) whose key starts with it
   */
  firstWithPrefix(prefix: string): OutboxEntry | undefined {
    const row = this.db
      .prepare(
        `SELECT id, message_key, event, seq_no, offline, attempts, created_at_ms
         FROM ocpp_outbox WHERE substr(message_key, 1, length(?)) = ? ORDER BY id LIMIT 1`,
      )
      .get(prefix, prefix) as OutboxRow | undefined;
    return row ? entryOf(row) : undefined;
  }

  /**
   * Every message whose key starts with `prefix`, oldest first (delivered or not: delivered ones are kept for
   * the retention period).
   */
  allWithPrefix(prefix: string): OutboxEntry[] {
    const rows = this.db
      .prepare(
        `SELECT id, message_key, event, seq_no, offline, attempts, created_at_ms
         FROM ocpp_outbox WHERE substr(message_key, 1, length(?)) = ? ORDER BY id`,
      )
      .all(prefix, prefix) as OutboxRow[];
    return rows.map(entryOf);
  }

  /** @returns the oldest message not yet done, or undefined when the outbox is drained */
  head(): OutboxEntry | undefined {
    const row = this.db
      .prepare(
        `SELECT id, message_key, event, seq_no, offline, attempts, created_at_ms
         FROM ocpp_outbox WHERE done_at_ms IS NULL ORDER BY id LIMIT 1`,
      )
      .get() as OutboxRow | undefined;
    return row ? entryOf(row) : undefined;
  }

  /** Records a failed attempt (the message stays at the head). @returns the attempt count after this one */
  recordAttempt(id: number, error: string): number {
    this.db
      .prepare('UPDATE ocpp_outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?')
      .run(error, id);
    const row = this.db.prepare('SELECT attempts FROM ocpp_outbox WHERE id = ?').get(id) as
      { attempts: number } | undefined;
    return row?.attempts ?? 0;
  }

  /** Marks a message done; it will never be sent again. */
  finish(id: number, outcome: OutboxOutcome, nowMs: number): void {
    this.db
      .prepare('UPDATE ocpp_outbox SET done_at_ms = ?, outcome = ? WHERE id = ?')
      .run(nowMs, outcome, id);
  }

  /**
   * Deletes messages finished before `beforeMs` (their idempotent keys are forgotten with them).
   *
   * @param beforeMs ms since epoch
   * @returns number of rows deleted
   */
  prune(beforeMs: number): number {
    return this.db
      .prepare('DELETE FROM ocpp_outbox WHERE done_at_ms IS NOT NULL AND done_at_ms < ?')
      .run(beforeMs).changes;
  }

  /** @returns the number of messages not yet done (of one transaction when `txKey` is given) */
  pendingCount(txKey?: string): number {
    const row = (
      txKey === undefined
        ? this.db.prepare('SELECT COUNT(*) AS n FROM ocpp_outbox WHERE done_at_ms IS NULL').get()
        : this.db
            .prepare('SELECT COUNT(*) AS n FROM ocpp_outbox WHERE done_at_ms IS NULL AND tx_key = ?')
            .get(txKey)
    ) as { n: number };
    return row.n;
  }
}

function entryOf(row: OutboxRow): OutboxEntry {
  return {
    id: row.id,
    messageKey: row.message_key,
    event: JSON.parse(row.event) as StationEvent,
    seqNo: row.seq_no ?? 0,
    offline: row.offline === 1,
    attempts: row.attempts,
    createdAtMs: row.created_at_ms,
  };
}
