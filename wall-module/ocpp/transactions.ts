/**
 * OCPP transaction records: which transaction is open on which EVSE, its paid session, its OCPP 2.x seqNo
 * counter, its last meter report and its OCPP 1.6 transactionId. Persisted so a restart resumes numbering.
 */
import type { Database } from 'better-sqlite3';
import type { StopReason } from './events.js';

/** Charging state as OCPP 2.x names it. */
export type ChargingState = 'EVConnected' | 'Charging' | 'SuspendedEVSE' | 'SuspendedEV' | 'Idle';

export interface TransactionRecord {
  /** station-side transaction id (the OCPP 2.x transactionId, a UUID) */
  txKey: string;
  evseId: number;
  connectorId: number;
  sessionId: string | null;
  startedAtMs: number;
  endedAtMs: number | null;
  chargingState: ChargingState;
  meterStartWh: number | null;
  lastMeterWh: number | null;
  /** time of the last periodic meter report, ms since epoch */
  lastReportAtMs: number | null;
  /** OCPP 1.6 transactionId from StartTransaction.conf */
  csmsTxId16: number | null;
  /** why its Lightning session ended while the cable stayed plugged (null: no session ended yet) */
  stopReason: StopReason | null;
}

interface Row {
  tx_key: string;
  evse_id: number;
  connector_id: number;
  session_id: string | null;
  started_at_ms: number;
  ended_at_ms: number | null;
  charging_state: string;
  meter_start_wh: number | null;
  last_meter_wh: number | null;
  last_report_at_ms: number | null;
  csms_tx_id_16: number | null;
  stop_reason: string | null;
}

function fromRow(r: Row): TransactionRecord {
  return {
    txKey: r.tx_key,
    evseId: r.evse_id,
    connectorId: r.connector_id,
    sessionId: r.session_id,
    startedAtMs: r.started_at_ms,
    endedAtMs: r.ended_at_ms,
    chargingState: r.charging_state as ChargingState,
    meterStartWh: r.meter_start_wh,
    lastMeterWh: r.last_meter_wh,
    lastReportAtMs: r.last_report_at_ms,
    csmsTxId16: r.csms_tx_id_16,
    stopReason: r.stop_reason as StopReason | null,
  };
}

export class TransactionStore {
  constructor(private readonly db: Database) {}

  /** Creates an open transaction. */
  open(txKey: string, evseId: number, connectorId: number, atMs: number, state: ChargingState): void {
    this.db
      .prepare(
        `INSERT INTO ocpp_transactions (tx_key, evse_id, connector_id, started_at_ms, charging_state)
         VALUES (?, ?, ?, ?, ?)`,
      )
      .run(txKey, evseId, connectorId, atMs, state);
  }

  /** @returns the open transaction on an EVSE, if any */
  openOnEvse(evseId: number): TransactionRecord | undefined {
    const row = this.db
      .prepare(
        'SELECT * FROM ocpp_transactions WHERE evse_id = ? AND ended_at_ms IS NULL ORDER BY rowid DESC',
      )
      .get(evseId) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** @returns every open transaction */
  allOpen(): TransactionRecord[] {
    return (this.db.prepare('SELECT * FROM ocpp_transactions WHERE ended_at_ms IS NULL').all() as Row[]).map(
      fromRow,
    );
  }

  /** @returns the transaction of a paid session (open or ended) */
  bySession(sessionId: string): TransactionRecord | undefined {
    const row = this.db.prepare('SELECT * FROM ocpp_transactions WHERE session_id = ?').get(sessionId) as
      Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** @returns the transaction with this station-side id */
  byKey(txKey: string): TransactionRecord | undefined {
    const row = this.db.prepare('SELECT * FROM ocpp_transactions WHERE tx_key = ?').get(txKey) as
      Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** Binds a Lightning session to a transaction and records its start meter reading (state unchanged). */
  bindSession(txKey: string, sessionId: string, meterStartWh: number, atMs: number): void {
    this.db
      .prepare(
        `UPDATE ocpp_transactions SET session_id = ?, meter_start_wh = ?, last_meter_wh = ?, last_report_at_ms = ?
         WHERE tx_key = ?`,
      )
      .run(sessionId, meterStartWh, meterStartWh, atMs, txKey);
  }

  /** @returns the next OCPP 2.x seqNo of the transaction (0 for the first event), consuming it */
  takeSeqNo(txKey: string): number {
    const row = this.db.prepare('SELECT next_seq_no FROM ocpp_transactions WHERE tx_key = ?').get(txKey) as
      { next_seq_no: number } | undefined;
    const seqNo = row?.next_seq_no ?? 0;
    this.db.prepare('UPDATE ocpp_transactions SET next_seq_no = ? WHERE tx_key = ?').run(seqNo + 1, txKey);
    return seqNo;
  }

  /** Records the charging state. */
  setState(txKey: string, state: ChargingState): void {
    this.db.prepare('UPDATE ocpp_transactions SET charging_state = ? WHERE tx_key = ?').run(state, txKey);
  }

  /** Records the last meter reading, and whether it was reported as a periodic sample. */
  setMeter(txKey: string, energyWh: number, reportedAtMs: number | null): void {
    if (reportedAtMs === null)
      this.db.prepare('UPDATE ocpp_transactions SET last_meter_wh = ? WHERE tx_key = ?').run(energyWh, txKey);
    else
      this.db
        .prepare('UPDATE ocpp_transactions SET last_meter_wh = ?, last_report_at_ms = ? WHERE tx_key = ?')
        .run(energyWh, reportedAtMs, txKey);
  }

  /** Records that the transaction's Lightning session ended (power off) while the cable stays plugged. */
  finishSession(txKey: string, reason: StopReason): void {
    this.db
      .prepare(
        `UPDATE ocpp_transactions SET stop_reason = ?, charging_state = 'EVConnected' WHERE tx_key = ?`,
      )
      .run(reason, txKey);
  }

  /** Closes a transaction. */
  close(txKey: string, atMs: number): void {
    this.db
      .prepare(`UPDATE ocpp_transactions SET ended_at_ms = ?, charging_state = 'Idle' WHERE tx_key = ?`)
      .run(atMs, txKey);
  }

  /** Records OCPP 1.6's transactionId from StartTransaction.conf. */
  setCsmsTxId16(txKey: string, transactionId: number): void {
    this.db
      .prepare('UPDATE ocpp_transactions SET csms_tx_id_16 = ? WHERE tx_key = ?')
      .run(transactionId, txKey);
  }

  /** Records whether a cable is plugged into an EVSE. */
  setPlugged(evseId: number, plugged: boolean, atMs: number): void {
    this.db
      .prepare(
        `INSERT INTO ocpp_evses (evse_id, plugged, updated_at_ms) VALUES (?, ?, ?)
         ON CONFLICT (evse_id) DO UPDATE SET plugged = excluded.plugged, updated_at_ms = excluded.updated_at_ms`,
      )
      .run(evseId, plugged ? 1 : 0, atMs);
  }

  /** @returns whether a cable is plugged into an EVSE (false if never reported) */
  isPlugged(evseId: number): boolean {
    const row = this.db.prepare('SELECT plugged FROM ocpp_evses WHERE evse_id = ?').get(evseId) as
      { plugged: number } | undefined;
    return row?.plugged === 1;
  }
}
