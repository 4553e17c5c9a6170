/**
 * The status server's data source over a daemon's store: both daemons serve the same sessions, session detail,
 * history, receipts and event log; only the role, the live snapshot, each session's ledger (the wall's invoices,
 * the vehicle's payments), the budgets (vehicle), the operator actions and optional extra HTML differ.
 *
 * Time: the snapshot's `tMs` and every stored time are on the daemon's clock, which the demo accelerates
 * (`clock.speed`); the source adds `clockSpeed` to the snapshot and converts ledger latencies to real ms.
 */
import { receiptCsv, receiptJson, receiptView } from '../bin/cli/receipt-view.js';
import type { OpenedStore } from '../bin/cli/open-store.js';
import type { SessionStore } from './session-store.js';
import { connectorAvailable, statusActions, type ActionHooks } from './status-actions.js';
import { StatusHistory } from './status-history.js';
import type { ConnectorView, StatusSnapshot, StatusSource, VehicleSpend } from './status-server.js';
import { readStoredJson } from './stored-json.js';

/** The vehicle's budgets, msat (shown against the spend). */
export interface BudgetLimits {
  /** per UTC day across sessions */
  dailyMsat: bigint;
  /** per session */
  sessionMsat: bigint;
  /** per UTC calendar month, if the owner set one */
  monthlyMsat?: bigint;
}

/** Start of the UTC month containing `ms`. */
function utcMonthStartMs(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/**
 * Builds a `StatusSource` reading from `store`.
 *
 * @param store the daemon's store (a `WallStore` for role `wall`, a `VehicleStore` for `vehicle`)
 * @param parts role; `status()` the live snapshot; `ledger(id)` the session's ledger rows keyed by their name
 *   (e.g. `{ invoices }`), merged into the session detail; `extraHtml()` optional HTML above the ledger;
 *   `clockSpeed` the daemon clock's speed (default 1); `budgets` the vehicle's limits; `actions` the daemon's
 *   side of the operator actions (absent: none offered)
 * @returns the source for `StatusServer.start`
 */
export function storeStatusSource(
  store: SessionStore,
  parts: {
    role: StatusSource['role'];
    status(): StatusSnapshot;
    ledger(sessionId: string): Record<string, unknown>;
    extraHtml?(): string;
    clockSpeed?: number;
    budgets?: BudgetLimits;
    actions?: Omit<ActionHooks, 'connectors' | 'sessionId'> & Partial<Pick<ActionHooks, 'connectors'>>;
  },
): StatusSource {
  const clockSpeed = parts.clockSpeed ?? 1;
  const history = new StatusHistory(store, parts.role, clockSpeed);
  // the daemons pass their own store with their role (WallStore ↔ wall, VehicleStore ↔ vehicle)
  const opened = { role: parts.role, store } as OpenedStore;
  const connectors = parts.actions?.connectors ?? [1];
  const status = (): StatusSnapshot => {
    const s = parts.status();
    const view: ConnectorView = {
      connectorId: 1,
      state: s.state,
      sessionId: s.sessionId,
      powerW: s.powerW,
      energyWh: s.energyWh,
      alarms: s.alarms,
      available: parts.role === 'wall' ? connectorAvailable(store, 1) : true,
    };
    return {
      ...s,
      clockSpeed,
      ledger: s.ledger.map((l) => ({
        ...l,
        latencyMs: l.latencyMs === null ? null : Math.round(l.latencyMs / clockSpeed),
      })),
      connectors: connectors.map((id) => ({ ...view, connectorId: id })),
    };
  };
  const vehicleSpend = (): VehicleSpend => {
    const nowMs = parts.status().tMs;
    const dayStartMs = Math.floor(nowMs / 86_400_000) * 86_400_000;
    return {
      todayMsat: history.committedSinceMsat(dayStartMs),
      monthMsat: history.committedSinceMsat(utcMonthStartMs(nowMs)),
      dailyBudgetMsat: parts.budgets?.dailyMsat ?? null,
      monthlyBudgetMsat: parts.budgets?.monthlyMsat ?? null,
      sessionBudgetMsat: parts.budgets?.sessionMsat ?? null,
      chargers: history.byPeer(),
    };
  };
  return {
    role: parts.role,
    status,
    sessions: () => store.listSessions(200),
    session: (id: string) => {
      const s = store.findSession(id);
      return s
        ? { ...s, ...parts.ledger(id), offers: store.offers(id), samples: store.meterSamples(id) }
        : undefined;
    },
    receipt: (id: string) => {
      const r = store.receipt(id);
      return r ? { ...r, body: readStoredJson(r.bodyJson) } : undefined;
    },
    statement: (id: string, format: 'json' | 'csv') => {
      if (!store.findSession(id)) return undefined;
      const v = receiptView(opened, id);
      return v === undefined ? undefined : format === 'csv' ? receiptCsv(v) : receiptJson(v);
    },
    events: (afterId: number, sessionId?: string) =>
      store.events({ afterId, limit: 500, ...(sessionId ? { sessionId } : {}) }),
    history,
    ...(parts.role === 'vehicle' ? { spend: vehicleSpend } : {}),
    ...(parts.actions
      ? {
          actions: statusActions(store, {
            ...parts.actions,
            connectors,
            sessionId: () => {
              const s = parts.status();
              return s.state === 'ended' || s.state === 'idle' ? null : s.sessionId;
            },
          }),
        }
      : {}),
    ...(parts.extraHtml ? { extraHtml: parts.extraHtml } : {}),
  };
}
