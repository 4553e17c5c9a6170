/**
 * The status server's data source over a daemon's store: both daemons serve the same sessions, session detail,
 * receipts and event log; only the role, the live snapshot, each session's ledger (the wall's invoices, the
 * vehicle's payments) and optional extra HTML differ.
 */
import type { SessionStore } from './session-store.js';
import type { StatusSnapshot, StatusSource } from './status-server.js';
import { readStoredJson } from './stored-json.js';

/**
 * Builds a `StatusSource` reading from `store`.
 *
 * @param store the daemon's store
 * @param parts role; `status()` the live snapshot; `ledger(id)` the session's ledger rows keyed by their name
 *   (e.g. `{ invoices }`), merged into the session detail; `extraHtml()` optional HTML above the ledger
 * @returns the source for `StatusServer.start`
 */
export function storeStatusSource(
  store: SessionStore,
  parts: {
    role: StatusSource['role'];
    status(): StatusSnapshot;
    ledger(sessionId: string): Record<string, unknown>;
    extraHtml?(): string;
  },
): StatusSource {
  return {
    role: parts.role,
    status: () => parts.status(),
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
    events: (afterId: number) => store.events({ afterId, limit: 500 }),
    ...(parts.extraHtml ? { extraHtml: parts.extraHtml } : {}),
  };
}
