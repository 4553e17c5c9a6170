/**
 * What an operator can do from the dashboard (behind the operator token): stop the session on a connector,
 * clear (acknowledge) its faults and alarms, and take a connector out of service or back. Every accepted action
 * is written to the event log (`operator.<action>`, with the requester's address) before it is carried out.
 *
 * - stop: the same path as an operator stop through the daemon (`requestStop`): the machine ends the session with
 *   `USER_STOP`, cuts the power and hands out the receipt.
 * - clear fault: clears the alarm list the page shows (the alarms stay in the event log).
 * - availability: recorded in the event log (`operator.availability`); the last record is the connector's
 *   availability (it survives restarts); a daemon that honours it starts no new session on an unavailable
 *   connector (`connectorAvailable`). A running session is not stopped by it (use stop).
 */
import type { SessionStore } from './session-store.js';

/** The result of an action: done (with what was done) or refused with a named reason. */
export type ActionResult =
  | { ok: true; detail: string }
  | { ok: false; reason: 'NoSession' | 'UnknownConnector' | 'NotSupported'; message: string };

/** The actions a status source offers (every connector id is 1-based). */
export interface StatusActions {
  /** stops the session on the connector */
  stopSession(connectorId: number, from: string): ActionResult;
  /** clears the connector's alarms and faults on the page */
  clearFault(connectorId: number, from: string): ActionResult;
  /** takes the connector out of service (false) or back (true) */
  setAvailability(connectorId: number, available: boolean, from: string): ActionResult;
}

/** What the daemon lends the actions. */
export interface ActionHooks {
  /** connector ids the daemon runs (today `[1]`) */
  connectors: readonly number[];
  /** the connector's current session id, or null */
  sessionId(connectorId: number): string | null;
  /** asks the machine to end the connector's session (operator stop) */
  stopSession(connectorId: number): void;
  /** clears the connector's alarm list; returns how many were cleared */
  clearAlarms(connectorId: number): number;
  /** whether the daemon can take connectors out of service (the wall; not the vehicle) */
  availability: boolean;
}

/**
 * The connector's availability as last set by an operator (default: available).
 *
 * @param store the daemon's store
 * @param connectorId connector, 1-based
 */
export function connectorAvailable(store: SessionStore, connectorId: number): boolean {
  const r = store.db
    .prepare(
      `SELECT json_extract(data_json, '$.available') AS available FROM events
       WHERE kind = 'operator.availability' AND json_extract(data_json, '$.connectorId') = ?
       ORDER BY id DESC LIMIT 1`,
    )
    .get(connectorId) as { available: number } | undefined;
  return r === undefined || r.available === 1;
}

/**
 * Builds the actions over a daemon's store and hooks.
 *
 * @param store where every action is logged
 * @param hooks the daemon's side of each action
 */
export function statusActions(store: SessionStore, hooks: ActionHooks): StatusActions {
  const unknown = (connectorId: number): ActionResult | null =>
    hooks.connectors.includes(connectorId)
      ? null
      : { ok: false, reason: 'UnknownConnector', message: `no connector ${connectorId}` };
  return {
    stopSession(connectorId, from) {
      const bad = unknown(connectorId);
      if (bad) return bad;
      const sid = hooks.sessionId(connectorId);
      if (!sid) return { ok: false, reason: 'NoSession', message: `connector ${connectorId} has no session` };
      store.appendEvent(sid, 'operator.stop', { connectorId, from });
      hooks.stopSession(connectorId);
      return { ok: true, detail: `stop requested for session ${sid}` };
    },
    clearFault(connectorId, from) {
      const bad = unknown(connectorId);
      if (bad) return bad;
      store.appendEvent(hooks.sessionId(connectorId), 'operator.clearFault', { connectorId, from });
      const cleared = hooks.clearAlarms(connectorId);
      return { ok: true, detail: `${cleared} alarm(s) cleared` };
    },
    setAvailability(connectorId, available, from) {
      const bad = unknown(connectorId);
      if (bad) return bad;
      if (!hooks.availability)
        return { ok: false, reason: 'NotSupported', message: 'this daemon has no connector availability' };
      store.appendEvent(null, 'operator.availability', { connectorId, available, from });
      return {
        ok: true,
        detail: `connector ${connectorId} ${available ? 'available' : 'unavailable: no new sessions'}`,
      };
    },
  };
}
