// The wall's one settlement path, in process on a manual clock (test/wall-module/in-process-rig.ts): the seller
// machine accepts a settlement before anything reports it paid, the ledger row and the machine state commit
// together, the node's delivery is acknowledged only after that commit, and a store write that throws during a
// settlement is retried by the delivery and applied exactly once.
import { afterEach, describe, expect, it } from 'vitest';
import type { WallStore } from '../../wall-module/store.js';
import type { WallObserver } from '../../wall-module/wall-daemon.js';
import { InProcessRig } from './in-process-rig.js';

let rig: InProcessRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

/** The wall's books: settled msat in the store equals what the node received, per invoice. */
function expectBooksEqualNode(r: InProcessRig): void {
  const store = r.wallStore!;
  const sessions = store.listSessions(100);
  let storeMsat = 0n;
  for (const s of sessions) {
    storeMsat += store.settledMsat(s.id);
    for (const inv of store.invoices(s.id)) {
      const node = inv.paymentHash ? r.wallNode.invoices.get(inv.paymentHash) : undefined;
      if (inv.state === 'settled') expect(node?.state, `invoice ${inv.seq}`).toBe('settled');
      if (node?.state === 'settled') expect(inv.state, `invoice ${inv.seq}`).toBe('settled');
    }
  }
  expect(storeMsat).toBe(r.wallNode.receivedMsat());
}

describe('wall settlement path (in process, manual clock)', () => {
  it('charges, pays every block and reports paid only after the machine accepted it; books equal the node', async () => {
    const paidSeen: { paymentHash: string; settledInStore: boolean; machineCredited: boolean }[] = [];
    const observer: WallObserver = {
      invoicePaid: (_sid, inv) => {
        const row = rig!.wallStore!.invoiceByHash(inv.paymentHash);
        const m = rig!.wall!.state.invoices.find((i) => i.paymentHash === inv.paymentHash);
        paidSeen.push({
          paymentHash: inv.paymentHash,
          settledInStore: row?.state === 'settled',
          machineCredited: m?.status === 'settled',
        });
      },
    };
    rig = new InProcessRig({ wallParts: (p) => ({ ...p, observers: [observer] }) });
    const r = rig;
    await r.startWall();
    await r.startVehicle();
    r.world.plug();
    await r.runUntil('charging', () => r.wall!.state.phase === 'charging');
    await r.runUntil(
      '3 invoices paid',
      () => r.wall!.state.invoices.filter((i) => i.status === 'settled').length >= 3,
    );
    r.wall!.requestStop();
    await r.runUntil('ended', () => r.wall!.state.phase === 'ended');
    await r.run(2000);
    expect(paidSeen.length).toBeGreaterThanOrEqual(3);
    for (const p of paidSeen) expect(p).toMatchObject({ settledInStore: true, machineCredited: true });
    expectBooksEqualNode(r);
    expect(r.wallStore!.loadMachineState('lnd.settleIndex')).toBe(
      String(
        r.wallNode.invoices.size > 0
          ? [...r.wallNode.invoices.values()].filter((i) => i.state === 'settled').length
          : 0,
      ),
    );
  }, 60_000);

  it('a store write that throws during a settlement is retried and applied exactly once, never lost', async () => {
    let failures = 2;
    let markSettledCalls = 0;
    rig = new InProcessRig({
      wallParts: (p) => {
        const store = p.store;
        const original = store.markSettled.bind(store);
        (store as WallStore).markSettled = (hash, amount) => {
          markSettledCalls++;
          if (failures > 0) {
            failures--;
            throw new Error('SQLITE_IOERR: disk I/O error (injected)');
          }
          return original(hash, amount);
        };
        return p;
      },
    });
    const r = rig;
    await r.startWall();
    await r.startVehicle();
    r.world.plug();
    await r.runUntil('first invoice settled at the node', () => r.wallNode.receivedMsat() > 0n);
    // the first two commits failed: not in the store, not credited, the runner did not fail safe
    await r.runUntil('credited after the retries', () => r.wall!.state.paidMsat > 0n, 10_000);
    expect(r.wall!.failSafe).toBeDefined();
    expect(failures).toBe(0);
    const first = [...r.wallNode.invoices.values()].find((i) => i.state === 'settled')!;
    expect(r.wallStore!.invoiceByHash(first.paymentHash)?.state).toBe('settled');
    expect(r.wall!.state.paidMsat).toBe(first.receivedMsat);
    expect(r.wallLog.lines.filter((l) => l.startsWith('error settlement not committed'))).toHaveLength(2);
    await r.runUntil('charging', () => r.wall!.state.phase === 'charging');
    r.wall!.requestStop();
    await r.runUntil('ended', () => r.wall!.state.phase === 'ended');
    await r.run(2000);
    expectBooksEqualNode(r);
    // each settled invoice credited exactly once
    const credited = r.wallStore!.events({ limit: 10_000 }).filter((e) => e.kind === 'invoice.settled');
    expect(credited).toHaveLength(r.wall!.state.invoices.filter((i) => i.status === 'settled').length);
    expect(markSettledCalls).toBe(credited.length + 2);
  }, 60_000);
});
