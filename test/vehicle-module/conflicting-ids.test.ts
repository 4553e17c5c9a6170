// The real vehicle daemon (store, runner, buyer machine) against a scripted wall that reuses ids across
// sessions: first an honest session with a receipt, then a hello with the same session id, then a session
// whose invoice reuses a payment hash of the first. Before the fix both crashed the daemon inside write-ahead
// (PRIMARY KEY / UNIQUE) and the reused session id overwrote the stored receipt. Now both are refused with a
// reason, nothing stored is touched, and the node is never asked to pay the reused hash. The cable is an
// in-memory pair and the Lightning node the in-process rig's scripted car node, settling at the scripted wall: this is a
// logic test of the daemon's wiring (the real-lnd proof of the payment path is test/e2e/hostile-wall).
import { afterEach, describe, expect, it } from 'vitest';
import { Reason, reasonName, buyerEndReason, sellerEndReason } from '../../protocol/index.js';
import type { VehicleDaemon } from '../../vehicle-module/vehicle-daemon.js';
import { clock, freshHash as fresh, ScriptedWall, startVehicle, until } from './scripted-wall.js';

describe('vehicle daemon: a wall reusing ids', () => {
  let daemon: VehicleDaemon | undefined;
  let wall: ScriptedWall | undefined;
  afterEach(async () => {
    wall?.close();
    await daemon?.stop();
  });

  it('refuses a reused session id and a reused payment hash with reasons; receipts and rows stay as stored', async () => {
    const vehicle = await startVehicle(() => wall);
    const { store, link, paid, errors } = vehicle;
    daemon = vehicle.daemon;
    const d = daemon;

    // 1. an honest session: deposit paid, the wall stops, receipt stored (no energy flowed: that would put the
    //    wall in back-off, which is switched off here to reach the id checks)
    wall = new ScriptedWall(link, 'a1'.repeat(32), (seq) => fresh(seq, 'one'));
    await until('deposit paid', () => d.state.payments.some((p) => p.status === 'paid'));
    const first = d.state.sessionId!;
    wall.step({ type: 'stopRequest', reason: Reason.USER_STOP, atMs: clock.now() });
    await until(
      'session 1 ended with a receipt',
      () => d.state.phase === 'ended' && store.receipt(first) !== undefined,
    );
    const receipt = store.receipt(first)!;
    const session = store.getSession(first);
    const rows = store.payments(first);
    expect(rows.map((p) => p.state)).toEqual(['succeeded']);
    wall.close();

    // 2. a new hello with the same session id: refused, nothing written to session 1
    wall = new ScriptedWall(link, 'a1'.repeat(32), (seq) => fresh(seq, 'two'));
    await until('refused', () => buyerEndReason(d.state) === Reason.SESSION_ID_REUSED);
    await until('the wall heard why', () => wall!.seller.phase === 'ended');
    expect(reasonName(sellerEndReason(wall.seller) ?? 0)).toBe('SESSION_ID_REUSED');
    wall.close();

    // 3. a new session whose first invoice reuses session 1's payment hash: refused before the node
    const reused = rows[0]!.paymentHash;
    wall = new ScriptedWall(link, 'b2'.repeat(32), (seq) =>
      seq === 0 ? { hash: reused, preimage: '' } : fresh(seq, 'three'),
    );
    await until(
      'refused',
      () => buyerEndReason(d.state) === Reason.INVOICE_DUPLICATE && d.state.phase !== 'charging',
    );
    const third = d.state.sessionId!;
    expect(third).not.toBe(first);
    expect(paid.filter((h) => h === reused)).toHaveLength(1); // paid once, in session 1 only
    expect(store.payments(third)).toEqual([]);

    // session 1 is exactly as it was
    expect(store.receipt(first)).toEqual(receipt);
    expect(store.getSession(first)).toEqual(session);
    expect(store.payments(first)).toEqual(rows);
    expect(errors).toEqual([]);
    const kinds = store.events({ limit: 100_000 }).map((e) => e.kind);
    expect(kinds).toContain('payment.conflict');
  });
});
