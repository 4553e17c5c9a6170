// A receipt the wall's delegate key signed (protocol version 3, offline case 1b: the wall's node cannot sign) is
// stored by the real vehicle daemon together with the node-signed delegation it was verified under, and verifies
// again from the store under that delegation (the books check, an audit, the exported JSON). Without the
// delegation, with the wall's node key alone, it does not: before the store kept the delegation every such
// receipt read back as invalid. A stored delegation that is not the node's, or expired at the receipt's end, still
// leaves the receipt refused by the name `verifyReceipt` gives.
import { afterEach, describe, expect, it } from 'vitest';
import { receiptJson, receiptView } from '../../daemon/receipt-view.js';
import { verifyStoredReceipt } from '../../daemon/stored-receipt.js';
import { Reason } from '../../protocol/index.js';
import { signNodeMessage } from '../../protocol/nodeSignature.js';
import type { VehicleDaemon } from '../../vehicle-module/vehicle-daemon.js';
import { DELEGATE_KEY, OTHER_KEY, testDelegation, WALL_PUB } from '../protocol/harness.js';
import { clock, freshHash, ScriptedWall, startVehicle, until, type WallSigner } from './scripted-wall.js';

describe('a delegate-signed receipt in the vehicle store', () => {
  let daemon: VehicleDaemon | undefined;
  let wall: ScriptedWall | undefined;
  afterEach(async () => {
    wall?.close();
    await daemon?.stop();
  });

  it('is stored with its delegation and verifies from the store under it, not with the node key alone', async () => {
    const vehicle = await startVehicle(() => wall);
    const { store, link, errors } = vehicle;
    daemon = vehicle.daemon;
    const d = daemon;
    const delegation = testDelegation({ untilMs: clock.now() + 86_400_000 });
    // the wall's node does not answer: every signature (handshake, receipt) is the delegate key's
    const delegateSigns: WallSigner = (text) => ({
      signature: signNodeMessage(text, DELEGATE_KEY).signatureHex,
      delegation,
    });
    wall = new ScriptedWall(link, 'c3'.repeat(32), (seq) => freshHash(seq, 'delegated'), delegateSigns);
    await until('deposit paid', () => d.state.payments.some((p) => p.status === 'paid'));
    const sessionId = d.state.sessionId!;
    wall.step({ type: 'stopRequest', reason: Reason.USER_STOP, atMs: clock.now() });
    await until(
      'ended with a receipt',
      () => d.state.phase === 'ended' && store.receipt(sessionId) !== undefined,
    );

    const row = store.receipt(sessionId)!;
    expect(row.valid).toBe(true);
    expect(row.delegation).toEqual(delegation);
    const expected = { sellerPub: WALL_PUB, sessionId };
    const check = verifyStoredReceipt(row, expected);
    expect(check.ok && check.value.invoices.length).toBe(1);
    // what the books did before: the wall's node key only
    const nodeKeyOnly = verifyStoredReceipt({ bodyJson: row.bodyJson }, expected);
    expect(!nodeKeyOnly.ok && nodeKeyOnly.error.name).toBe('ReceiptBadSignature');

    // refused by name: a delegation its node did not sign, or one that expired before the receipt's end
    const endMs = check.ok ? check.value.endMs : 0;
    for (const [stored, refusal] of [
      [testDelegation({ untilMs: delegation.untilMs, signer: OTHER_KEY }), 'DELEGATION_NOT_BY_NODE'],
      [testDelegation({ untilMs: endMs - 1 }), 'DELEGATION_EXPIRED'],
    ] as const) {
      const r = verifyStoredReceipt({ ...row, delegation: stored }, expected);
      expect(r.ok ? 'verified' : [r.error.name, r.error.message]).toEqual(['ReceiptBadSignature', refusal]);
    }

    // the exported receipt (`boltcharge receipt --json`, the status page's statement) carries the delegation
    const exported = JSON.parse(receiptJson(receiptView({ role: 'vehicle', store }, sessionId)!)) as {
      signed: { delegation: unknown };
    };
    expect(exported.signed.delegation).toEqual(delegation);
    expect(store.events({ sessionId, limit: 1000 }).map((e) => e.kind)).toContain('receipt.delegation');
    expect(errors).toEqual([]);
  });
});
