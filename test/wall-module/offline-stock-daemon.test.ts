// Offline case 1b through the real wall and vehicle daemons (in-process rig, manual clock): while the wall's node
// answers, the daemon stocks invoices of a fixed denomination; then its node becomes unreachable (every call
// throws NodeUnreachable, settlements stop reaching it); the session goes on on stocked invoices, each block
// paid by the car's node and credited on the car's paymentProof; back online, the upkeep reconciles every stocked
// invoice with the node (offline: true) and the books equal the node. A wall killed mid-session offline restarts
// and never uses a stocked invoice twice. (The proof on real lnd in a network namespace: test/e2e.)
import { afterEach, describe, expect, it } from 'vitest';
import { NodeUnreachable } from '../../lightning/errors.js';
import type { LightningNode } from '../../lightning/lightning-node.js';
import { InProcessRig } from './in-process-rig.js';
import { booksProblems } from './restart-session.js';

const STOCK_YAML = `status: { enabled: false }
offline: { stock: { denominationsMsat: ['4000'], perDenomination: 8, upkeepSec: 5 } }`;

/** The wall's node behind a switchable uplink: offline, every call fails as unreachable and settlements wait. */
function switchableNode(node: LightningNode, offline: { now: boolean }): LightningNode {
  const gate =
    <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
    (...a: A): Promise<R> =>
      offline.now ? Promise.reject(new NodeUnreachable('no route to the node')) : fn(...a);
  return {
    ...node,
    createInvoice: gate(node.createInvoice.bind(node)),
    lookupInvoice: gate(node.lookupInvoice.bind(node)),
    cancelInvoice: gate(node.cancelInvoice.bind(node)),
    onSettled: (handler) =>
      node.onSettled((s) => (offline.now ? Promise.reject(new NodeUnreachable('stream down')) : handler(s))),
  };
}

describe('wall daemon: selling on its invoice stock while its node is unreachable (offline case 1b)', () => {
  let rig: InProcessRig | null = null;
  afterEach(async () => {
    await rig?.close();
    rig = null;
  });

  const stockRig = (offline: { now: boolean }, crashAt?: () => boolean): InProcessRig =>
    new InProcessRig({
      vehicleLimits: 'targetEnergyWh: 120',
      wallYaml: STOCK_YAML,
      wallParts: (p) => ({ ...p, node: switchableNode(p.node, offline) }),
      afterWallCommit: () => void crashAt?.(),
    });

  it('delivers a session on stocked invoices only, then reconciles: books = node, offline: true', async () => {
    const offline = { now: false };
    rig = stockRig(offline);
    const r = rig;
    await r.startWall();
    await r.runUntil('the stock is full', () => r.wall!.stock!.counts().stocked === 8);
    offline.now = true;
    await r.startVehicle();
    r.world.plug();
    await r.runUntil('the session ends', () => r.vehicle!.state.phase === 'ended', 300_000);
    const store = r.wallStore!;
    const [session] = store.listSessions(1);
    expect(session?.stopReason).toBe('TARGET_REACHED');
    const invoices = store.invoices(session!.id);
    const settled = invoices.filter((i) => i.state === 'settled');
    // every block a stocked 4 000 msat invoice (up to 50 Wh asked, shrunk to 40 Wh), credited on the car's proof
    expect(settled.length).toBe(3);
    for (const inv of settled) {
      expect(inv.amountMsat).toBe(4_000n);
      expect(inv.toWh - inv.fromWh).toBe(40);
    }
    expect(store.paidOfflineHashes(session!.id).sort()).toEqual(settled.map((i) => i.paymentHash).sort());
    expect(r.wall!.stock!.counts().proven).toBe(3);
    expect(r.wall!.state.deliveredWh).toBeGreaterThanOrEqual(115);

    // back online: the upkeep reconciles the three with the node, and the stock is topped up again
    offline.now = false;
    await r.runUntil('reconciled', () => r.wall!.stock!.counts().reconciled === 3, 60_000);
    const reconciled = store
      .events({ sessionId: session!.id })
      .filter((e) => e.kind === 'offline.reconciled')
      .map((e) => e.data as { settled: boolean; offline: boolean });
    expect(reconciled).toEqual([
      expect.objectContaining({ settled: true, offline: true }),
      expect.objectContaining({ settled: true, offline: true }),
      expect.objectContaining({ settled: true, offline: true }),
    ]);
    await r.runUntil('topped up', () => r.wall!.stock!.counts().stocked === 8, 60_000);
    expect(booksProblems(r)).toEqual([]);
  }, 120_000);

  it('stops when the stock runs out: the power is cut, nothing delivered beyond what was proven', async () => {
    const offline = { now: false };
    rig = new InProcessRig({
      tariff: 'maxSuspendSec: 30',
      vehicleLimits: 'targetEnergyWh: 400',
      wallYaml: STOCK_YAML.replace('perDenomination: 8', 'perDenomination: 2'),
      wallParts: (p) => ({ ...p, node: switchableNode(p.node, offline) }),
    });
    const r = rig;
    await r.startWall();
    await r.runUntil('the stock is full', () => r.wall!.stock!.counts().stocked === 2);
    offline.now = true;
    await r.startVehicle();
    r.world.plug();
    await r.runUntil('the session ends', () => r.wall!.state.phase === 'ended', 300_000);
    expect(r.wall!.stock!.counts()).toMatchObject({ stocked: 0, proven: 2 });
    expect(r.wall!.state.paidWh).toBe(80);
    expect(r.wall!.state.deliveredWh).toBeLessThanOrEqual(80 + r.wall!.state.config.graceWh + 20);
    expect(r.wall!.state.endReason).toBeDefined();
  }, 120_000);

  for (const when of ['after the credit committed', 'between the proof written and the ledger'] as const)
    it(`a wall killed mid-session offline (${when}) restarts, never uses a stocked invoice twice; books = node`, async () => {
      const offline = { now: false };
      let armed = false;
      let crash: Promise<void> | null = null;
      const die = (): void => {
        if (armed && crash === null) crash = rig!.crashWall();
      };
      rig = new InProcessRig({
        vehicleLimits: 'targetEnergyWh: 120',
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
      await r.startWall();
      await r.runUntil('the stock is full', () => r.wall!.stock!.counts().stocked === 8);
      offline.now = true;
      armed = true;
      await r.startVehicle();
      r.world.plug();
      await r.runUntil('the crash', () => crash !== null, 300_000);
      await crash;
      armed = false;
      await r.startWall();
      await r.runUntil('the session ends', () => r.vehicle!.state.phase === 'ended', 300_000);
      const store = r.wallStore!;
      const [session] = store.listSessions(1);
      expect(session?.stopReason).toBe('TARGET_REACHED');
      const hashes = store
        .invoices(session!.id)
        .map((i) => i.paymentHash)
        .filter((h) => h !== null);
      expect(new Set(hashes).size).toBe(hashes.length); // no stocked invoice handed twice
      const proven = r.wall!.stock!.counts().proven;
      expect(proven).toBe(3);
      expect(store.settledMsat(session!.id)).toBe(BigInt(proven) * 4_000n);
      expect(store.paidOfflineHashes(session!.id).length).toBe(proven);
      offline.now = false;
      await r.runUntil('reconciled', () => r.wall!.stock!.counts().proven === 0, 60_000);
      expect(booksProblems(r)).toEqual([]);
    }, 120_000);
});
