/**
 * The status server's data source over a daemon's store: both daemons serve the same sessions, session detail,
 * history, receipts and event log; only the role, the live snapshot, each session's ledger (the wall's invoices,
 * the vehicle's payments), the budgets (vehicle), the operator actions and optional extra HTML differ.
 *
 * Time: the snapshot's `tMs` and every stored time are on the daemon's clock, which the demo accelerates
 * (`clock.speed`); the source adds `clockSpeed` to the snapshot and converts ledger latencies to real ms.
 */
import { receiptCsv, receiptJson, receiptView, type ReceiptSource } from './receipt-view.js';
import { connectorAvailable, statusActions, type ActionHooks } from './status-actions.js';
import { StatusHistory, UNKNOWN_PEER } from './status-history.js';
import type {
  ChargerView,
  ConnectorView,
  StatusSnapshot,
  StatusSource,
  VehicleSpend,
} from './status-server.js';
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

/**
 * The vehicle's loss bound and charger aliases, read by the same store functions the vehicle daemon uses to feed
 * the buyer machine (no second computation).
 */
export interface LossBoundSource {
  /** the caps from `limits` */
  caps: { windowSec: number; perWallWh: number; totalWh: number };
  /**
   * The store's figures for a wall now (what the buyer is fed before the wall's hello).
   *
   * @param wallPub the wall's node key, hex
   * @returns undelivered Wh with this wall and over every wall in the window, the back-off end (ms) or null
   */
  exposure(wallPub: string): {
    undeliveredWallWh: number;
    undeliveredTotalWh: number;
    backoffUntilMs: number | null;
  };
  /** The stored alias of a wall, or null. */
  alias(wallPub: string): string | null;
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
 * @param parts role; `splitStatements` (wall) the split statements of a session; `status()` the live snapshot; `ledger(id)` the session's ledger rows keyed by their name
 *   (e.g. `{ invoices }`), merged into the session detail; `extraHtml()` optional HTML above the ledger;
 *   `clockSpeed` the daemon clock's speed (default 1); `budgets` the vehicle's limits; `actions` the daemon's
 *   side of the operator actions (absent: none offered); `lossBound` the vehicle's loss caps and charger aliases
 * @returns the source for `StatusServer.start`
 */
export function storeStatusSource(
  store: ReceiptSource['store'],
  parts: {
    role: StatusSource['role'];
    /** wall: the signed split statements covering a session, shown with its statement (issue 14) */
    splitStatements?: ReceiptSource['splitStatements'];
    status(): StatusSnapshot;
    ledger(sessionId: string): Record<string, unknown>;
    extraHtml?(): string;
    clockSpeed?: number;
    budgets?: BudgetLimits;
    actions?: Omit<ActionHooks, 'connectors' | 'sessionId'> &
      Partial<Pick<ActionHooks, 'connectors' | 'sessionId'>>;
    lossBound?: LossBoundSource;
    /** every connector's view (a site); absent: one connector per id in `actions.connectors`, all from `status` */
    connectorViews?(): ConnectorView[];
  },
): StatusSource {
  const clockSpeed = parts.clockSpeed ?? 1;
  const history = new StatusHistory(store, parts.role, clockSpeed);
  const receiptSource: ReceiptSource = {
    role: parts.role,
    store,
    ...(parts.splitStatements ? { splitStatements: parts.splitStatements } : {}),
  };
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
      connectors: parts.connectorViews?.() ?? connectors.map((id) => ({ ...view, connectorId: id })),
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
      ...chargerViews(history, parts.lossBound, nowMs),
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
      const v = receiptView(receiptSource, id);
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
            sessionId:
              parts.actions.sessionId ??
              (() => {
                const s = parts.status();
                return s.state === 'ended' || s.state === 'idle' ? null : s.sessionId;
              }),
          }),
        }
      : {}),
    ...(parts.extraHtml ? { extraHtml: parts.extraHtml } : {}),
  };
}

/**
 * The chargers with their aliases and use of the loss caps, and the caps with the total use.
 *
 * @param history the store's history reader
 * @param bound the loss bound source (absent: no caps, no aliases)
 * @param nowMs daemon clock now: a back-off ending at or before it is over (as the buyer machine decides)
 */
function chargerViews(
  history: StatusHistory,
  bound: LossBoundSource | undefined,
  nowMs: number,
): Pick<VehicleSpend, 'chargers' | 'lossCaps'> {
  let totalWh: number | null = null;
  const chargers = history.byPeer().map((c): ChargerView => {
    const known = bound !== undefined && c.peer !== UNKNOWN_PEER;
    const e = known ? bound.exposure(c.peer) : null;
    if (e) totalWh = e.undeliveredTotalWh;
    return {
      ...c,
      alias: known ? bound.alias(c.peer) : null,
      undeliveredWindowWh: e?.undeliveredWallWh ?? null,
      backoffUntilMs: e?.backoffUntilMs != null && nowMs < e.backoffUntilMs ? e.backoffUntilMs : null,
    };
  });
  if (bound === undefined) return { chargers, lossCaps: null };
  // without a charger, a key no wall has: only the total counts
  totalWh ??= bound.exposure('').undeliveredTotalWh;
  return { chargers, lossCaps: { ...bound.caps, undeliveredTotalWh: totalWh } };
}
