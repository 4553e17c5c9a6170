/**
 * The wall's offline invoice stock keeper (offline case 1b): the shell around the pure stock
 * (payments/invoice-stock.ts). While online it keeps `perDenomination` invoices of each fixed amount, with a long
 * expiry, from the wall's node (an invoice-only macaroon is enough: it creates, looks up and cancels invoices);
 * offline it hands one to a session and verifies the car's proof of payment (a preimage) without any network;
 * back online it reconciles every handed or proven invoice with the node.
 *
 * Every change of the stock is committed to the wall database (`offline_stock*` tables) before it takes effect:
 * a creation is recorded as requested before the node is asked, an invoice is recorded as handed before it
 * leaves, a proof is recorded as used before energy is delivered for it. So a kill -9 never hands out or accepts
 * the same invoice twice; a creation cut short by a kill is asked again (its orphan, if the node made one, is never
 * handed out and expires).
 */
import type { Database } from 'better-sqlite3';
import type { Clock } from '../../hardware/clock.js';
import type { LightningNode } from '../../lightning/lightning-node.js';
import {
  acceptProof,
  emptyStock,
  handOut,
  stockStep,
  type ProofRefusal,
  type StockConfig,
  type StockEffect,
  type StockEvent,
  type StockState,
  type StockedInvoice,
} from '../../payments/invoice-stock.js';
import { migrateOfflineStockTables } from './stock-table.js';

/** What the keeper needs of the wall's node (an invoice-only macaroon allows all of it). */
export type StockNode = Pick<LightningNode, 'createInvoice' | 'lookupInvoice' | 'cancelInvoice'>;

/** One reconciled invoice, for the books and the CSMS report (`offline: true`). */
export interface StockReconciliation {
  paymentHash: string;
  amountMsat: bigint;
  sessionId: string | null;
  /** the node settled it (paid); false = handed but never paid, now cancelled or expired */
  settled: boolean;
  offline: true;
}

/** A refused proof, named. */
export class ProofRefused extends Error {
  override name = 'ProofRefused';
  constructor(readonly refusal: ProofRefusal) {
    super(`payment proof refused: ${refusal}`);
  }
}

/** Memo of a stocked invoice: names the request, so a restart can find an invoice it asked for. */
export const stockMemo = (requestId: string): string => `boltcharge offline stock ${requestId}`;

const BIGINT = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? v.toString() : v);

/** The stock keeper of one wall. */
export class StockKeeper {
  private state: StockState;

  private constructor(
    private readonly db: Database,
    private readonly node: StockNode,
    private readonly config: StockConfig,
    private readonly clock: Clock,
  ) {
    migrateOfflineStockTables(db);
    this.state = this.load();
    // creations in flight when the last process died: given up (the next online tick asks again). An invoice the
    // node made for one is never handed out (nobody holds its BOLT11) and expires at the node.
    for (const requestId of Object.keys(this.state.requested))
      this.commit(stockStep(this.state, { type: 'invoiceCreateFailed', requestId }, config).state);
  }

  /** Opens the keeper on the wall database (creating its tables) and loads the persisted stock.

    {
      db: <better-sqlite3 Database>
      node: <Stock Node> (the wall's node; an invoice-only macaroon suffices)
      config: <Stock Config> (denominations msat, per denomination, expiry s, retire margin s)
      clock: <Clock>
    }

    @returns <StockKeeper>
  */
  static open(args: { db: Database; node: StockNode; config: StockConfig; clock: Clock }): StockKeeper {
    return new StockKeeper(args.db, args.node, args.config, args.clock);
  }

  /** The invoices by phase (a copy). */
  invoices(): StockedInvoice[] {
    return Object.values(this.state.invoices);
  }

  /** How many invoices are in each phase. */
  counts(): Record<StockedInvoice['phase'], number> {
    const c = { stocked: 0, handed: 0, proven: 0, reconciled: 0, retired: 0 };
    for (const i of this.invoices()) c[i.phase]++;
    return c;
  }

  /** Replenishes the stock when online (and retires unused invoices near their expiry, cancelling them at the
    node): creates missing invoices one by one, each recorded as requested before the node is asked.

    @param online whether the node is reachable (offline: only retirement, no node call but cancels that fail)
    @returns the number of invoices created
  */
  async replenish(online: boolean): Promise<number> {
    const before = this.counts().stocked;
    await this.apply({ type: 'tick', atMs: this.clock.now(), online });
    return this.counts().stocked - before;
  }

  /** Hands a stocked invoice to a session (recorded before it is returned).

    @param args {sessionId, minMsat: the block's price, msat; maxMsat?, stepMsat?: the largest amount of at most
      maxMsat that is a multiple of stepMsat instead; fits?: and that the seller can sell (see
      payments/invoice-stock.ts `handOut`)}
    @returns the invoice to send over the cable (with its expiry, ms), or null when no stocked invoice fits (the
      session must stop)
  */
  handOut(args: {
    sessionId: string;
    minMsat: bigint;
    maxMsat?: bigint;
    stepMsat?: bigint;
    fits?: (amountMsat: bigint) => boolean;
  }): { paymentHash: string; bolt11: string; amountMsat: bigint; expiresAtMs: number } | null {
    const before = this.state.invoices;
    const step = handOut(this.state, { ...args, atMs: this.clock.now() });
    this.commit(step.state);
    if (step.result === null) return null;
    const inv = before[step.result.paymentHash];
    const expiresAtMs = inv !== undefined && inv.phase === 'stocked' ? inv.expiresAtMs : this.clock.now();
    return { ...step.result, expiresAtMs };
  }

  /** One invoice of the stock by payment hash (a copy), or undefined when it is not from this stock. */
  find(paymentHash: string): StockedInvoice | undefined {
    const inv = this.state.invoices[paymentHash];
    return inv === undefined ? undefined : { ...inv };
  }

  /** Verifies the car's proof for an invoice handed to its session, without the node (recorded as used before
    it returns, so the same proof never buys energy twice).

    @param args {sessionId, paymentHash (hex), preimage (hex)}
    @returns the amount the proof pays, msat
    @throws ProofRefused naming why (PROOF_PREIMAGE_MISMATCH, PROOF_UNKNOWN_INVOICE, PROOF_ALREADY_USED,
      PROOF_NOT_HANDED_TO_SESSION, PROOF_MALFORMED)
  */
  acceptProof(args: { sessionId: string; paymentHash: string; preimage: string }): bigint {
    const step = acceptProof(this.state, { ...args, atMs: this.clock.now() });
    if (!step.result.ok) throw new ProofRefused(step.result.refusal);
    this.commit(step.state);
    return step.result.amountMsat;
  }

  /** Back online: looks up every handed or proven invoice at the node and records what it says.

    @returns the invoices reconciled by this call (settled or not), each marked `offline: true`
    @throws the node's error (NodeUnreachable …) when it cannot be asked; nothing is lost, call again later
  */
  async reconcile(): Promise<StockReconciliation[]> {
    const before = new Set(
      this.invoices()
        .filter((i) => i.phase === 'reconciled')
        .map((i) => i.paymentHash),
    );
    await this.apply({ type: 'reconcile', atMs: this.clock.now() });
    return this.invoices()
      .filter((i): i is Extract<StockedInvoice, { phase: 'reconciled' }> => i.phase === 'reconciled')
      .filter((i) => !before.has(i.paymentHash))
      .map((i) => ({
        paymentHash: i.paymentHash,
        amountMsat: i.amountMsat,
        sessionId: i.sessionId,
        settled: i.settled,
        offline: true,
      }));
  }

  /** Applies an event and runs its effects (their answers are events too), committing after each step. */
  private async apply(event: StockEvent): Promise<void> {
    const queue: StockEvent[] = [event];
    while (queue.length > 0) {
      const step = stockStep(this.state, queue.shift()!, this.config);
      this.commit(step.state);
      for (const effect of step.effects) {
        const answer = await this.run(effect);
        if (answer) queue.push(answer);
      }
    }
  }

  /** Runs one effect against the node; returns the event it answers with, if any. */
  private async run(effect: StockEffect): Promise<StockEvent | null> {
    switch (effect.type) {
      case 'createInvoice':
        try {
          const created = await this.node.createInvoice({
            amountMsat: effect.amountMsat,
            memo: stockMemo(effect.requestId),
            expirySec: effect.expirySec,
          });
          return {
            type: 'invoiceCreated',
            requestId: effect.requestId,
            paymentHash: created.paymentHash,
            bolt11: created.bolt11,
            expiresAtMs: created.expiresAt,
          };
        } catch {
          return { type: 'invoiceCreateFailed', requestId: effect.requestId };
        }
      case 'cancelInvoice':
        await this.node.cancelInvoice(effect.paymentHash).catch(() => undefined); // retired either way
        return null;
      case 'lookupInvoice': {
        const st = await this.node.lookupInvoice(effect.paymentHash);
        const status = st.state === 'settled' ? 'settled' : st.state === 'cancelled' ? 'canceled' : 'open';
        // lnd keeps an expired unpaid invoice "open" until it cancels it: an expired open one is unpaid for good
        const expired = status === 'open' && st.expiresAt <= this.clock.now();
        return { type: 'nodeStatus', paymentHash: effect.paymentHash, status: expired ? 'canceled' : status };
      }
    }
  }

  /** Writes the stock (in one transaction) and makes it current. */
  private commit(next: StockState): void {
    const now = this.clock.now();
    const put = this.db.prepare(
      `INSERT INTO offline_stock (payment_hash, phase, amount_msat, session_id, body, updated_at_ms)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(payment_hash) DO UPDATE SET phase = excluded.phase, session_id = excluded.session_id,
         body = excluded.body, updated_at_ms = excluded.updated_at_ms`,
    );
    this.db.transaction(() => {
      for (const inv of Object.values(next.invoices)) {
        if (this.state.invoices[inv.paymentHash] === inv) continue; // unchanged
        const sessionId = 'sessionId' in inv ? inv.sessionId : null;
        put.run(
          inv.paymentHash,
          inv.phase,
          inv.amountMsat.toString(),
          sessionId,
          JSON.stringify(inv, BIGINT),
          now,
        );
      }
      this.db.prepare('DELETE FROM offline_stock_requests').run();
      const req = this.db.prepare(
        'INSERT INTO offline_stock_requests (request_id, amount_msat, at_ms) VALUES (?, ?, ?)',
      );
      for (const [id, r] of Object.entries(next.requested)) req.run(id, r.amountMsat.toString(), r.atMs);
      this.db
        .prepare(
          'INSERT INTO offline_stock_meta (id, next_request) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET next_request = excluded.next_request',
        )
        .run(next.nextRequest);
    })();
    this.state = next;
  }

  /** Reads the persisted stock. */
  private load(): StockState {
    const state = emptyStock();
    const rows = this.db.prepare('SELECT body FROM offline_stock').all() as { body: string }[];
    for (const { body } of rows) {
      const raw = JSON.parse(body) as StockedInvoice & { amountMsat: string };
      const inv = { ...raw, amountMsat: BigInt(raw.amountMsat) } as StockedInvoice;
      state.invoices[inv.paymentHash] = inv;
    }
    const reqs = this.db
      .prepare('SELECT request_id, amount_msat, at_ms FROM offline_stock_requests')
      .all() as {
      request_id: string;
      amount_msat: string;
      at_ms: number;
    }[];
    for (const r of reqs)
      state.requested[r.request_id] = { amountMsat: BigInt(r.amount_msat), atMs: r.at_ms };
    const meta = this.db.prepare('SELECT next_request FROM offline_stock_meta WHERE id = 1').get() as
      { next_request: number } | undefined;
    if (meta) state.nextRequest = meta.next_request;
    return state;
  }
}
