// Offline case 1b through the real wall and vehicle daemons (in-process rig, manual clock): while the wall's node
// answers, the daemon stocks invoices of a fixed denomination; then its node becomes unreachable (every call
// throws NodeUnreachable, settlements stop reaching it); the session goes on on stocked invoices, each block
// paid by the car's node and credited on the car's paymentProof; back online, the upkeep reconciles every stocked
// invoice with the node (offline: true) and the books equal the node. A wall killed mid-session offline restarts
// and never uses a stocked invoice twice. (The proof on real lnd in a network namespace: test/e2e.)
import { afterEach, describe, expect, it } from 'vitest';
import { NodeUnreachable } from '../../lightning/errors.js';
import type { LightningNode } from '../../lightning/lightning-node.js';
import type { StockReconciliation } from '../../wall-module/offline/stock-keeper.js';
import { InProcessRig } from './in-process-rig.js';
import { booksProblems } from './restart-session.js';

const STOCK_YAML = `status: { enabled: false }
offline: { stock: { denominationsMsat: ['4000'], perDenomination: 8, upkeepSec: 5 } }`;

/** The wall's node behind a switchable uplink: offline, every call fails as unreachable (signing and the identity
 * too: the node is remote) and settlements wait (the stream redelivers them once back). */
function switchableNode(node: LightningNode, offline: { now: boolean }): LightningNode {
  const gate =
    <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
    (...a: A): Promise<R> =>
      offline.now ? Promise.reject(new NodeUnreachable('no route to the node')) : fn(...a);
  return {
    ...node,
    getIdentity: gate(node.getIdentity.bind(node)),
    signMessage: gate(node.signMessage.bind(node)),
    createInvoice: gate(node.createInvoice.bind(node)),
    lookupInvoice: gate(node.lookupInvoice.bind(node)),
    cancelInvoice: gate(node.cancelInvoice.bind(node)),
    onSettled: (handler) =>
      node.onSettled((s) => (offline.now ? Promise.reject(new NodeUnreachable('stream down')) : handler(s))),
  };
}

const STOCK_WH = 40; // 4 000 msat at 100 msat/Wh: the rig's blocks (up to 50 Wh) shrink to it

describe('wall daemon: selling on its invoice stock while its node is unreachable (offline case 1b)', () => {
  let rig: InProcessRig | null = null;
  afterEach(async () => {
    await rig?.close();
    rig = null;
  });

  /** Starts the wall online, waits for its stock, starts the car, plugs in, and cuts the wall's node off once the
   * session is authenticated (the node signs the handshake: it is the wall's identity). */
  async function offlineSession(r: InProcessRig, offline: { now: boolean }, stocked: number): Promise<void> {
    await r.startWall();
    await r.runUntil('the stock is full', () => r.wall!.stock!.counts().stocked === stocked);
    await r.startVehicle();
    r.world.plug();
    await r.runUntil('the session is authenticated', () =>
      ['deposit', 'charging'].includes(r.wall!.state.phase),
    );
    offline.now = true;
  }

  /** The session's ledger rows paid by a proof of a stocked invoice. */
  const stockedRows = (r: InProcessRig, sessionId: string) => {
    return r.wallStore!.invoices(sessionId).filter((i) => i.paidOffline);
  };

  it('sells on stocked invoices while its node is unreachable, then reconciles: books = node, offline: true', async () => {
    const offline = { now: false };
    // what the observers (the OCPP station in a real wall) are told of the reconciliation
    const told: StockReconciliation[] = [];
    rig = new InProcessRig({
      vehicleLimits: 'targetEnergyWh: 200',
      wallYaml: STOCK_YAML,
      wallParts: (p) => ({
        ...p,
        node: switchableNode(p.node, offline),
        observers: [{ stockReconciled: (x) => void told.push(x) }],
      }),
    });
    const r = rig;
    await offlineSession(r, offline, 8);
    const paidAtCut = r.wall!.state.paidWh;
    await r.runUntil('three blocks sold offline', () => r.wall!.stock!.counts().proven >= 3, 300_000);
    // nothing reached the node's settlement stream meanwhile: every block since the cut was credited by a proof
    const [session] = r.wallStore!.listSessions(1);
    const sid = session!.id;
    const offlineRows = stockedRows(r, sid);
    expect(offlineRows.length).toBeGreaterThanOrEqual(3);
    for (const inv of offlineRows) {
      expect(inv.state).toBe('settled');
      expect(inv.amountMsat).toBe(4_000n);
      expect(inv.toWh - inv.fromWh).toBe(STOCK_WH);
    }
    expect(r.wall!.state.paidWh).toBeGreaterThanOrEqual(paidAtCut + 3 * STOCK_WH);
    expect(r.wall!.state.deliveredWh).toBeGreaterThan(paidAtCut);

    // back online: the session ends with a signed receipt, the upkeep reconciles every stocked invoice it handed
    offline.now = false;
    await r.runUntil('the session ends', () => r.vehicle!.state.phase === 'ended', 300_000);
    expect(r.wallStore!.getSession(sid).stopReason).toBe('TARGET_REACHED');
    await r.runUntil('reconciled', () => {
      const c = r.wall!.stock!.counts();
      return c.proven === 0 && c.handed === 0;
    });
    const reconciled = r
      .wallStore!.events({ sessionId: sid })
      .filter((e) => e.kind === 'offline.reconciled')
      .map((e) => e.data as { settled: boolean; offline: boolean });
    expect(reconciled.length).toBe(stockedRows(r, sid).length);
    for (const x of reconciled) expect(x).toMatchObject({ settled: true, offline: true });
    expect(told.map((x) => x.paymentHash).sort()).toEqual(
      stockedRows(r, sid)
        .map((i) => i.paymentHash)
        .sort(),
    );
    for (const x of told) expect(x).toMatchObject({ sessionId: sid, settled: true, amountMsat: 4_000n });
    await r.runUntil('topped up', () => r.wall!.stock!.counts().stocked === 8);
    expect(booksProblems(r)).toEqual([]);
  }, 120_000);

  it('stops when the stock runs out (power cut, nothing delivered beyond what was paid), resumes back online', async () => {
    const offline = { now: false };
    rig = new InProcessRig({
      tariff: 'maxSuspendSec: 600',
      vehicleLimits: 'targetEnergyWh: 300',
      wallYaml: STOCK_YAML.replace('perDenomination: 8', 'perDenomination: 2'),
      wallParts: (p) => ({ ...p, node: switchableNode(p.node, offline) }),
    });
    const r = rig;
    await offlineSession(r, offline, 2);
    await r.runUntil(
      'the stock is out and the power cut',
      () => {
        const c = r.wall!.stock!.counts();
        return (
          c.stocked === 0 && c.handed === 0 && !r.wall!.state.energized && r.wall!.state.phase === 'suspended'
        );
      },
      300_000,
    );
    expect(r.wall!.stock!.counts().proven).toBe(2);
    const w = r.wall!.state;
    expect(w.deliveredWh).toBeLessThanOrEqual(w.paidWh + w.config.graceWh);
    await r.run(20_000); // still no invoice, still off
    expect(r.wall!.state.energized).toBe(false);
    offline.now = false;
    await r.runUntil('the session ends', () => r.vehicle!.state.phase === 'ended', 300_000);
    expect(r.wallStore!.listSessions(1)[0]?.stopReason).toBe('TARGET_REACHED');
    await r.runUntil('reconciled', () => r.wall!.stock!.counts().proven === 0);
    expect(booksProblems(r)).toEqual([]);
  }, 120_000);

  for (const when of ['after the credit committed', 'between the proof written and the ledger'] as const)
    it(`a wall killed offline (${when}) restarts offline, never uses a stocked invoice twice; books = node`, async () => {
      const offline = { now: false };
      let armed = false;
      let crash: Promise<void> | null = null;
      const die = (): void => {
        if (armed && crash === null) crash = rig!.crashWall();
      };
      rig = new InProcessRig({
        vehicleLimits: 'targetEnergyWh: 200',
        wallYaml: STOCK_YAML,
        wallParts: (p) => {
          if (when === 'between the proof written and the ledger') {
            // the keeper recorded the proof as used; the process dies before the ledger row and the machine hear it
            const mark = p.store.markPaidOffline.bind(p.store);
            p.store.markPaidOffline = (hash, preimage) => {
              if (armed && crash === null) {
                die();
                throw new Error('process killed');
              }
              mark(hash, preimage);
            };
          }
          return { ...p, node: switchableNode(p.node, offline) };
        },
        afterWallCommit: () => {
          if (when === 'after the credit committed' && (rig!.wall?.stock?.counts().proven ?? 0) >= 1) die();
        },
      });
      const r = rig;
      await offlineSession(r, offline, 8);
      armed = true;
      await r.runUntil('the crash', () => crash !== null, 300_000);
      await crash;
      armed = false;
      // restarted while its node is still unreachable: the session resumes on the kept identity and the stock
      await r.startWall();
      await r.runUntil('two more blocks sold offline', () => r.wall!.stock!.counts().proven >= 3, 300_000);
      offline.now = false;
      await r.runUntil('the session ends', () => r.vehicle!.state.phase === 'ended', 300_000);
      const store = r.wallStore!;
      const [session] = store.listSessions(1);
      expect(session?.stopReason).toBe('TARGET_REACHED');
      const hashes = store
        .invoices(session!.id)
        .map((i) => i.paymentHash)
        .filter((h) => h !== null);
      expect(new Set(hashes).size).toBe(hashes.length); // no stocked invoice handed twice
      const offlineRows = stockedRows(r, session!.id);
      expect(offlineRows.length).toBeGreaterThanOrEqual(3);
      for (const inv of offlineRows) expect(inv.state).toBe('settled');
      await r.runUntil('reconciled', () => {
        const c = r.wall!.stock!.counts();
        return c.proven === 0 && c.handed === 0;
      });
      expect(booksProblems(r)).toEqual([]);
    }, 120_000);
});
