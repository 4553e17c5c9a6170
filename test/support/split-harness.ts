// For split (issue 14) regtest tests: the operator node, a wall store fed with real payments from the vehicle,
// and the books of a payout engine compared with what the nodes recorded.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authenticatedLndGrpc, getInvoices } from 'lightning';
import { SystemClock } from '../../hardware/clock.js';
import { LndPayouts } from '../../lightning/lnd-payouts.js';
import type { LndNode } from '../../lightning/lnd-node.js';
import { type PayoutState } from '../../payments/payout.js';
import { readSplitConfig, type SplitConfig } from '../../payments/split-config.js';
import { PayoutEngine, type PayoutEngineOptions } from '../../wall-module/payouts/payout-engine.js';
import { lndNodeFor } from '../setup/regtest-nodes.js';
import { startLnurlPayServer, type LnurlPayServer } from './lnurl-pay-server.js';
import { splitAmount, type Split } from '../../payments/split.js';
import { closeLnd, up, type NetworkConnection, type NodeConnection } from '../../scripts/regtest/network.js';
import { PayoutLedger } from '../../wall-module/payouts/payout-ledger.js';
import { WallStore } from '../../wall-module/store.js';

/** The split topology: vehicle → wall → operator. */
export async function splitNetwork(): Promise<{ connection: NetworkConnection; operator: NodeConnection }> {
  const { connection } = await up({ split: true, log: (line) => process.stderr.write(`regtest: ${line}\n`) });
  if (!connection.nodes.operator) throw new Error('regtest: up({split: true}) returned no operator node');
  return { connection, operator: connection.nodes.operator };
}

/** A temporary wall store and its payout ledger. */
export function tempWallStore(): { store: WallStore; ledger: PayoutLedger; file: string; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'split-store-'));
  const file = join(dir, 'wall.sqlite');
  const store = WallStore.open(file, new SystemClock());
  return {
    store,
    ledger: new PayoutLedger(store.db),
    file,
    dispose: () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A PayoutNode over the wall's admin connection. */
export function wallPayouts(connection: NetworkConnection): LndPayouts {
  const w = connection.nodes.wall;
  return new LndPayouts({ connection: { socket: w.socket, cert: w.cert, macaroon: w.macaroon } });
}

/**
 * One charging session with real payments: the wall invoices, the vehicle pays, the store records the settlement
 * exactly as the wall daemon does (requested → issued → settled), then the session ends.
 * @param amountsMsat the invoices of the session, msat
 * @returns the session id
 */
export async function paidSession(
  store: WallStore,
  wall: LndNode,
  vehicle: LndNode,
  sessionId: string,
  amountsMsat: bigint[],
): Promise<string> {
  store.createSession(sessionId, null);
  let wh = 0;
  for (const [i, amountMsat] of amountsMsat.entries()) {
    store.requestInvoice({
      sessionId,
      seq: i + 1,
      amountMsat,
      fromWh: wh,
      toWh: wh + 10,
      priceMsatPerWh: 1n,
    });
    wh += 10;
    const inv = await wall.createInvoice({
      amountMsat,
      memo: `boltcharge ${sessionId} #${i + 1}`,
      expirySec: 600,
    });
    store.markIssued(sessionId, i + 1, inv.paymentHash, inv.bolt11, inv.expiresAt);
    await vehicle.pay(inv.bolt11, { maxFeeMsat: 1000n, timeoutMs: 30_000 });
    const state = await wall.lookupInvoice(inv.paymentHash);
    store.markSettled(inv.paymentHash, state.receivedMsat);
  }
  store.endSession(sessionId, 'done');
  return sessionId;
}

/** Per recipient: what is due (Σ parts of every accrual), what was paid, what is open or carried. */
export interface RecipientBooks {
  dueMsat: bigint;
  paidMsat: bigint;
  openMsat: bigint;
  carriedMsat: bigint;
  feesMsat: bigint;
}

/**
 * The books of a ledger.
 * @param ledger the payout ledger
 * @param split the split
 * @returns books per recipient name
 */
export function books(ledger: PayoutLedger, split: Split): Record<string, RecipientBooks> {
  const out: Record<string, RecipientBooks> = {};
  for (const r of split.recipients)
    out[r.name] = { dueMsat: 0n, paidMsat: 0n, openMsat: 0n, carriedMsat: 0n, feesMsat: 0n };
  for (const a of ledger.allAccruals()) {
    for (const [name, part] of Object.entries(splitAmount(a.totalMsat, split))) out[name]!.dueMsat += part;
  }
  for (const p of ledger.payouts()) {
    if (p.status === 'settled') {
      out[p.recipient]!.paidMsat += p.amountMsat;
      out[split.remainderName]!.feesMsat += p.feeMsat ?? 0n;
    } else out[p.recipient]!.openMsat += p.amountMsat;
  }
  const state: PayoutState = ledger.loadState(Date.now());
  for (const [name, b] of Object.entries(state.balances)) out[name]!.carriedMsat = b;
  return out;
}

/**
 * The settled invoices of a node (e.g. the operator's), with their memos.
 * @returns payment hash → {memo, receivedMsat}
 */
export async function settledInvoices(
  node: NodeConnection,
): Promise<Map<string, { memo: string; receivedMsat: bigint }>> {
  const lnd = authenticatedLndGrpc({ socket: node.socket, cert: node.cert, macaroon: node.macaroon }).lnd;
  try {
    const out = new Map<string, { memo: string; receivedMsat: bigint }>();
    let token: string | undefined;
    for (;;) {
      const page = await (token ? getInvoices({ lnd, token }) : getInvoices({ lnd, limit: 500 }));
      for (const inv of page.invoices) {
        if (inv.is_confirmed)
          out.set(inv.id, { memo: inv.description ?? '', receivedMsat: BigInt(inv.received_mtokens) });
      }
      if (!page.next) break;
      token = page.next;
    }
    return out;
  } finally {
    closeLnd(lnd);
  }
}

/** Everything a split regtest test needs: the network with the operator, its LNURL server, and node clients. */
export interface SplitFixture {
  connection: NetworkConnection;
  operator: NodeConnection;
  server: LnurlPayServer;
  wall: LndNode;
  vehicle: LndNode;
  /** the wall's payout node */
  node: LndPayouts;
  close(): Promise<void>;
}

/**
 * Brings up the split topology and starts the operator's Lightning-address server (with the vehicle as the
 * "other" payee for wrong-payee answers).
 * @param opts.slowMs how long the server's `slow` mode waits
 */
export async function splitFixture(opts: { slowMs?: number } = {}): Promise<SplitFixture> {
  const { connection, operator } = await splitNetwork();
  const server = await startLnurlPayServer({ node: operator, otherNode: connection.nodes.vehicle, ...opts });
  const wall = lndNodeFor(connection.nodes.wall);
  const vehicle = lndNodeFor(connection.nodes.vehicle);
  const node = wallPayouts(connection);
  return {
    connection,
    operator,
    server,
    wall,
    vehicle,
    node,
    close: async () => {
      await server.close();
      await node.close();
      await wall.close();
      await vehicle.close();
    },
  };
}

/**
 * The 90/10 host/operator `split:` section paying the fixture's operator through its Lightning address.
 * @param policy extra policy keys
 * @returns the section and its parsed form
 */
export function operatorSplit(
  f: SplitFixture,
  policy: Record<string, unknown> = {},
): { section: Record<string, unknown>; config: SplitConfig } {
  const section = {
    recipients: [
      { name: 'host', remainder: true, shares: 90 },
      { name: 'operator', shares: 10, destination: f.server.address, payeePubkey: f.operator.pubkey },
    ],
    ...policy,
  };
  const parsed = readSplitConfig(section);
  if (!parsed.ok) throw new Error(parsed.error.name);
  return { section, config: parsed.value };
}

/**
 * A payout engine of a temporary wall store against the fixture's wall node.
 * @param extra options overriding the defaults (real clock, regtest, the server's CA, 10 s LNURL limit)
 */
export function payoutEngine(
  f: SplitFixture,
  ledger: PayoutLedger,
  config: SplitConfig,
  extra: Partial<PayoutEngineOptions> = {},
): PayoutEngine {
  return new PayoutEngine({
    ledger,
    node: f.node,
    config,
    network: 'regtest',
    now: () => Date.now(),
    lnurl: { caPem: f.server.caPem, timeoutMs: 10_000 },
    ...extra,
  });
}
