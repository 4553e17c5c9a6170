/**
 * A connector's safety fault, as the store keeps it across restarts: the event log holds `connector.faulted`
 * (why, since when) and `connector.faultCleared` (who cleared it); the newest of the two is the connector's
 * state. The wall daemon restores its `ConnectorArbiter` from it on boot, and `boltcharge clear-fault` clears it
 * in the store when no daemon is running (see bin/cli/clear-fault.ts).
 */
import type { SessionStore } from './session-store.js';

/** A fault the store holds for a connector. */
export interface StoredFault {
  /** why (e.g. "power cut not verified: 16 A still flowing") */
  reason: string;
  /** when it was raised, daemon clock ms */
  sinceMs: number;
}

/**
 * Records a fault (inside the caller's transaction if there is one).
 *
 * @param store the wall store
 * @param connectorId connector, 1-based
 * @param fault reason and time
 */
export function recordConnectorFault(store: SessionStore, connectorId: number, fault: StoredFault): void {
  store.appendEvent(null, 'connector.faulted', { connectorId, reason: fault.reason, sinceMs: fault.sinceMs });
}

/**
 * Records that an operator cleared the connector's fault.
 *
 * @param store the wall store
 * @param connectorId connector, 1-based
 * @param from who cleared it (the CLI, a dashboard address)
 */
export function recordConnectorFaultCleared(store: SessionStore, connectorId: number, from: string): void {
  store.appendEvent(null, 'connector.faultCleared', { connectorId, from });
}

/**
 * The connector's stored fault.
 *
 * @param store the wall store
 * @param connectorId connector, 1-based
 * @returns the fault when the newest fault record raises one, else null
 */
export function storedConnectorFault(store: SessionStore, connectorId: number): StoredFault | null {
  const r = store.db
    .prepare(
      `SELECT kind, json_extract(data_json, '$.reason') AS reason, json_extract(data_json, '$.sinceMs') AS sinceMs
       FROM events WHERE kind IN ('connector.faulted', 'connector.faultCleared')
         AND json_extract(data_json, '$.connectorId') = ?
       ORDER BY id DESC LIMIT 1`,
    )
    .get(connectorId) as { kind: string; reason: string | null; sinceMs: number | null } | undefined;
  if (r === undefined || r.kind !== 'connector.faulted') return null;
  return { reason: r.reason ?? 'fault', sinceMs: Number(r.sinceMs ?? 0) };
}
