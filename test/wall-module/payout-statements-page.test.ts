// The status page's split downloads stay bounded however long the wall has run: `/api/payouts` lists the newest
// payouts only, `/api/payouts/statements.json` serves a page at a time with a cursor to the next page, and a
// hostile query is refused with a named error instead of reading the whole table.
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SystemClock } from '../../hardware/clock.js';
import { migratePayoutTables } from '../../wall-module/payouts/payout-ledger.js';
import { splitStatementsFor } from '../../wall-module/payouts/receipt-split.js';
import {
  PAYOUTS_LISTED,
  payoutRoutes,
  STATEMENTS_PER_PAGE,
  type PayoutView,
} from '../../wall-module/payouts/status-route.js';
import { WallStore } from '../../wall-module/store.js';

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** Calls one GET route as the status server would and collects the reply. */
function get(routes: ReturnType<typeof payoutRoutes>, url: string): Reply {
  const path = url.split('?')[0];
  const route = routes.find((r) => r.path === path)!;
  let reply: Reply | undefined;
  const res = {
    status: 0,
    headers: {} as Record<string, string>,
    writeHead(status: number, headers: Record<string, string>) {
      this.status = status;
      this.headers = headers;
      return this;
    },
    end(text: string) {
      reply = { status: this.status, headers: this.headers, body: JSON.parse(text) };
    },
  };
  void route.handle({ url, method: 'GET' } as IncomingMessage, res as unknown as ServerResponse);
  return reply!;
}

describe('split payouts on the status page are served in bounded pages', () => {
  let dispose = (): void => undefined;
  afterEach(() => dispose());

  /** A wall store holding `n` settled payouts with signed statements, payout i covering session `s-(i % 7)`. */
  function storeWith(n: number): WallStore {
    const dir = mkdtempSync(join(tmpdir(), 'payout-page-'));
    const store = WallStore.open(join(dir, 'wall.sqlite'), new SystemClock());
    dispose = () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    };
    migratePayoutTables(store.db);
    const ledger = store.db.prepare(
      `INSERT INTO payout_ledger (payout_id, recipient, status, amount_msat, max_fee_msat, covered_msat,
         carried_in_msat, carried_out_msat, accrual_ids_json, session_ids_json, planned_at_ms, settled_at_ms)
       VALUES (?, 'operator', 'settled', ?, 1000, ?, 0, 0, '[]', ?, ?, ?)`,
    );
    const statement = store.db.prepare(
      'INSERT INTO payout_statements (payout_id, text, signature, signed_at_ms) VALUES (?, ?, ?, ?)',
    );
    store.db.transaction(() => {
      for (let i = 1; i <= n; i++) {
        const id = `po-${String(i).padStart(6, '0')}`;
        ledger.run(id, 1000 * i, 10_000 * i, JSON.stringify([`s-${i % 7}`]), i * 1000, i * 1000 + 5);
        statement.run(
          id,
          JSON.stringify({ payoutId: id, amountMsat: String(1000 * i) }),
          'sig',
          i * 1000 + 6,
        );
      }
    })();
    return store;
  }

  it('lists the newest payouts first, at most PAYOUTS_LISTED of them', () => {
    const routes = payoutRoutes(storeWith(PAYOUTS_LISTED + 30).db);
    const { payouts } = get(routes, '/api/payouts').body as { payouts: PayoutView[] };
    expect(payouts).toHaveLength(PAYOUTS_LISTED);
    expect(payouts[0]!.payoutId).toBe(`po-${String(PAYOUTS_LISTED + 30).padStart(6, '0')}`);
    expect(payouts[0]!.amountMsat).toBe(String(1000 * (PAYOUTS_LISTED + 30)));
    expect(payouts.at(-1)!.payoutId).toBe('po-000031');
  });

  it('pages through every statement exactly once by following x-next-after', () => {
    const total = STATEMENTS_PER_PAGE * 2 + 17;
    const routes = payoutRoutes(storeWith(total).db);
    const seen: string[] = [];
    let url = '/api/payouts/statements.json';
    let pages = 0;
    for (;;) {
      const r = get(routes, url);
      expect(r.status).toBe(200);
      const page = r.body as { statement: { payoutId: string } }[];
      expect(page.length).toBeLessThanOrEqual(STATEMENTS_PER_PAGE);
      seen.push(...page.map((s) => s.statement.payoutId));
      pages++;
      const next = r.headers['x-next-after'];
      if (next === undefined) break;
      url = `/api/payouts/statements.json?after=${next}`;
    }
    expect(pages).toBe(3);
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
    expect(seen).toEqual([...seen].sort());
  });

  it('honours a smaller limit and refuses a hostile query with BadQuery', () => {
    const routes = payoutRoutes(storeWith(10).db);
    const first = get(routes, '/api/payouts/statements.json?limit=4');
    expect((first.body as unknown[]).length).toBe(4);
    expect(first.headers['x-next-after']).toBe('po-000004');
    for (const bad of [
      'limit=0',
      `limit=${STATEMENTS_PER_PAGE + 1}`,
      'limit=1e9',
      'limit=abc',
      `after=${'x'.repeat(500)}`,
      "after=po-1'%20OR%201=1",
    ]) {
      const r = get(routes, `/api/payouts/statements.json?${bad}`);
      expect(r.status, bad).toBe(400);
      expect((r.body as { error: string }).error).toBe('BadQuery');
    }
  });

  it("a session's receipt lists only the statements of the payouts covering it", () => {
    const store = storeWith(30);
    const ids = splitStatementsFor(store.db, 's-3').map((s) => s.statement.payoutId);
    expect(ids).toEqual(['po-000003', 'po-000010', 'po-000017', 'po-000024']);
  });
});
