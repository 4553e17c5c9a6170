// Offline case 1b building block, on real lnd: the wall's stock keeper (wall-module/offline/stock-keeper.ts)
// stocks invoices of fixed denominations from the wall's node through an invoice-only macaroon (it cannot
// spend), hands one to a session, the car's node pays it, the keeper accepts the preimage as proof with no node
// call, and back online reconciles it with the node (settled, offline: true). Attacks are refused by name: a
// replayed proof, the preimage of an invoice not from this stock, a wrong preimage, a proof from another session;
// a restart (a fresh keeper on the same database) keeps every refusal.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { authenticatedLndGrpc, grantAccess } from 'lightning';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SystemClock } from '../../hardware/clock.js';
import { LndNode } from '../../lightning/lnd-node.js';
import { INVOICE_ONLY_PERMISSIONS } from '../../lightning/lnd-hold-invoices.js';
import { closeLnd, readConnection } from '../../scripts/regtest/network.js';
import { ProofRefused, StockKeeper } from '../../wall-module/offline/stock-keeper.js';
import type { StockConfig } from '../../payments/invoice-stock.js';

const CONFIG: StockConfig = {
  denominationsMsat: [10_000n, 50_000n],
  perDenomination: 2,
  expirySec: 7 * 86_400,
  retireBeforeExpirySec: 3_600,
};

function refusalOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProofRefused) return err.refusal;
    throw err;
  }
  return 'ACCEPTED';
}

describe('offline invoice stock keeper (case 1b) on real lnd', () => {
  const connectionPath = inject('regtestConnectionPath');
  let wallInvoices: LndNode; // invoice-only macaroon
  let car: LndNode;
  let wallAdmin: LndNode;
  let dbPath: string;
  const open = (db: Database.Database): StockKeeper =>
    StockKeeper.open({ db, node: wallInvoices, config: CONFIG, clock: new SystemClock() });

  beforeAll(async () => {
    const { nodes } = readConnection(connectionPath);
    const admin = authenticatedLndGrpc({
      cert: nodes.wall.cert,
      macaroon: nodes.wall.macaroon,
      socket: nodes.wall.socket,
    }).lnd;
    const granted = await grantAccess({ lnd: admin, permissions: [...INVOICE_ONLY_PERMISSIONS] });
    closeLnd(admin);
    const invoiceMacaroon = Buffer.from(granted.macaroon, 'base64').toString('hex');
    wallInvoices = new LndNode({
      connection: { socket: nodes.wall.socket, cert: nodes.wall.cert, macaroon: invoiceMacaroon },
    });
    wallAdmin = new LndNode({
      connection: { socket: nodes.wall.socket, cert: nodes.wall.cert, macaroon: nodes.wall.macaroon },
    });
    car = new LndNode({
      connection: {
        socket: nodes.vehicle.socket,
        cert: nodes.vehicle.cert,
        macaroon: nodes.vehicle.macaroon,
      },
    });
    dbPath = join(mkdtempSync(join(tmpdir(), 'offline-stock-')), 'wall.sqlite');
  }, 60_000);

  afterAll(async () => {
    await Promise.all([wallInvoices?.close(), wallAdmin?.close(), car?.close()]);
  });

  it('stocks, hands out, accepts a real proof once, refuses attacks by name, survives a restart, reconciles', async () => {
    const db = new Database(dbPath);
    const keeper = open(db);
    // the invoice-only macaroon can stock invoices but never spend
    await expect(wallInvoices.getBalances()).rejects.toThrow();
    expect(await keeper.replenish(true)).toBe(4);
    expect(keeper.counts().stocked).toBe(4);
    for (const inv of keeper.invoices()) {
      const st = await wallAdmin.lookupInvoice(inv.paymentHash);
      expect(st.state).toBe('open');
      expect(st.amountMsat).toBe(inv.amountMsat);
    }
    expect(await keeper.replenish(true)).toBe(0); // full

    // offline: a session takes the smallest invoice covering its block; the car pays it through its own uplink
    const handed = keeper.handOut({ sessionId: 'session-a', minMsat: 8_000n })!;
    expect(handed.amountMsat).toBe(10_000n);
    const paid = await car.pay(handed.bolt11, { maxFeeMsat: 1_000n, timeoutMs: 30_000 });
    expect(paid.paymentHash).toBe(handed.paymentHash);

    // the attacks first: a wrong preimage, a proof from another session
    expect(
      refusalOf(() =>
        keeper.acceptProof({
          sessionId: 'session-a',
          paymentHash: handed.paymentHash,
          preimage: '00'.repeat(32),
        }),
      ),
    ).toBe('PROOF_PREIMAGE_MISMATCH');
    expect(
      refusalOf(() =>
        keeper.acceptProof({
          sessionId: 'session-b',
          paymentHash: handed.paymentHash,
          preimage: paid.preimage,
        }),
      ),
    ).toBe('PROOF_NOT_HANDED_TO_SESSION');
    // the real proof buys its amount once
    expect(
      keeper.acceptProof({
        sessionId: 'session-a',
        paymentHash: handed.paymentHash,
        preimage: paid.preimage,
      }),
    ).toBe(10_000n);
    expect(
      refusalOf(() =>
        keeper.acceptProof({
          sessionId: 'session-a',
          paymentHash: handed.paymentHash,
          preimage: paid.preimage,
        }),
      ),
    ).toBe('PROOF_ALREADY_USED');

    // a genuinely paid invoice of the same wall node, but not from the stock: its preimage proves nothing here
    const foreign = await wallAdmin.createInvoice({
      amountMsat: 10_000n,
      memo: 'not stocked',
      expirySec: 600,
    });
    const foreignPaid = await car.pay(foreign.bolt11, { maxFeeMsat: 1_000n, timeoutMs: 30_000 });
    expect(
      refusalOf(() =>
        keeper.acceptProof({
          sessionId: 'session-a',
          paymentHash: foreign.paymentHash,
          preimage: foreignPaid.preimage,
        }),
      ),
    ).toBe('PROOF_UNKNOWN_INVOICE');

    // another session takes an invoice and never pays it
    const unpaid = keeper.handOut({ sessionId: 'session-c', minMsat: 40_000n })!;
    expect(unpaid.amountMsat).toBe(50_000n);
    // a creation in flight when the process dies: written ahead, never answered
    db.prepare('INSERT INTO offline_stock_requests (request_id, amount_msat, at_ms) VALUES (?, ?, ?)').run(
      'stock-999',
      '10000',
      Date.now(),
    );
    db.close();

    // kill -9 / restart: a fresh keeper on the same database still refuses the used proof and knows the handed one
    const db2 = new Database(dbPath);
    const again = open(db2);
    expect(again.counts()).toEqual({ stocked: 2, handed: 1, proven: 1, reconciled: 0, retired: 0 });
    expect(
      refusalOf(() =>
        again.acceptProof({
          sessionId: 'session-a',
          paymentHash: handed.paymentHash,
          preimage: paid.preimage,
        }),
      ),
    ).toBe('PROOF_ALREADY_USED');

    // back online: the proven invoice is settled at the node; the handed unpaid one stays open until it expires
    const reconciled = await again.reconcile();
    expect(reconciled).toEqual([
      {
        paymentHash: handed.paymentHash,
        amountMsat: 10_000n,
        sessionId: 'session-a',
        settled: true,
        offline: true,
      },
    ]);
    expect(again.counts()).toEqual({ stocked: 2, handed: 1, proven: 0, reconciled: 1, retired: 0 });
    // and the stock is topped up again: one of each denomination replaces the two that left it (the creation cut
    // short by the restart was given up, so it does not count as coming)
    expect(await again.replenish(true)).toBe(2);
    expect(again.counts().stocked).toBe(4);
    db2.close();
  }, 120_000);
});
