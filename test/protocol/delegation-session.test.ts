// Signing delegation (protocol version 3, offline case 1b): the wall's node is unreachable, so the wall daemon
// signs the handshake and the receipt with a key its node delegated while online, and sends the node's delegation
// first. The car accepts the delegate's signatures only under a delegation its wall's node key signed and that has
// not expired by its own clock; anything else is refused by name and the session does not start.
import { describe, expect, it } from 'vitest';
import type { Effect, SellerEvent } from '../../protocol/effects.js';
import type { Delegation } from '../../protocol/delegation.js';
import { signNodeMessage } from '../../protocol/nodeSignature.js';
import { reasonName } from '../../protocol/reasons.js';
import { verifyReceipt } from '../../protocol/receipt.js';
import { fromHex } from '../../protocol/bytes.js';
import { handshakeText } from '../../protocol/handshake.js';
import { sellerKeyed } from '../../protocol/seller.js';
import {
  DELEGATE_KEY,
  injectFromWall,
  OTHER_KEY,
  Sim,
  testBuyerConfig,
  testDelegation,
  testSellerConfig,
  WALL_PUB,
} from './harness.js';

/** The seller's transcript hash (the handshake text both sides sign). */
function sellerTh(sim: Sim): string {
  if (!sellerKeyed(sim.seller)) throw new Error('no keys');
  return sim.seller.th;
}

/** A wall whose node is unreachable: every signature the seller asks for is made by the delegate key. */
class DelegatingSim extends Sim {
  delegation: Delegation;
  constructor(o: { versions?: number[]; untilMs?: number; signer?: string } = {}) {
    const versions = o.versions ?? [1, 2, 3];
    super(testSellerConfig({ versions }), testBuyerConfig({ versions }));
    this.delegation = testDelegation({
      untilMs: o.untilMs ?? this.now + 86_400_000,
      ...(o.signer ? { signer: o.signer } : {}),
    });
  }

  override stepSeller(ev: SellerEvent): Effect[] {
    const effects = super.stepSeller(ev);
    for (const e of effects) {
      if (e.type !== 'signWithNodeKey') continue;
      // the node did not answer: replace its signature with the delegate's
      this.sellerQueue = this.sellerQueue.filter((q) => !(q.type === 'nodeSignature' && q.text === e.text));
      this.sellerQueue.push({
        type: 'nodeSignature',
        atMs: this.now,
        text: e.text,
        signature: signNodeMessage(e.text, DELEGATE_KEY).signatureHex,
        delegation: this.delegation,
      });
    }
    return effects;
  }
}

const records = (effects: Effect[], kind: string) =>
  effects.filter((e) => e.type === 'record' && e.kind === kind);

describe('signing delegation (wall node unreachable)', () => {
  it('a session starts, charges and ends with a receipt signed by the delegate key', () => {
    const sim = new DelegatingSim();
    sim.plugBoth();
    sim.run();
    expect(sim.buyer.phase).toBe('charging');
    expect(records(sim.buyerEffects, 'delegationAccepted')).toHaveLength(1);
    sim.advance(30_000);
    sim.stepSeller({ type: 'stopRequest', atMs: sim.now, reason: 1 });
    sim.run();
    expect(sim.buyer.phase).toBe('ended');
    const ended = sim.buyerEffects.find((e) => e.type === 'sessionEnded');
    expect(ended?.type === 'sessionEnded' && ended.error).toBeFalsy();
    const receipt = ended?.type === 'sessionEnded' ? ended.receipt : undefined;
    expect(receipt?.invoices.length).toBeGreaterThan(0);
    // the receipt verifies under the delegation (checked at its end), not without it
    const expected = { sellerPub: WALL_PUB, sessionId: receipt!.sessionId };
    expect(verifyReceipt(3, receipt!, { ...expected, delegation: sim.delegation }).ok).toBe(true);
    expect(verifyReceipt(3, receipt!, expected).ok).toBe(false);
  });

  it('the wall never uses a delegation its node did not sign or that expired: no session', () => {
    for (const o of [{ signer: OTHER_KEY }, { untilMs: 1 }]) {
      const sim = new DelegatingSim(o);
      sim.plugBoth();
      sim.run();
      expect(sim.seller.phase).toBe('ended');
      if (sim.seller.phase === 'ended') expect(reasonName(sim.seller.endReason)).toBe('LOCAL_FAULT');
      expect(sim.energized).toBe(false);
    }
  });

  it('the car refuses a forged or expired delegation by name, and the delegate’s handshake signature with it', () => {
    for (const [forged, refusal] of [
      [{ signer: OTHER_KEY }, 'DELEGATION_NOT_BY_NODE'],
      [{ untilMs: 1 }, 'DELEGATION_EXPIRED'],
    ] as const) {
      const sim = new DelegatingSim();
      const bad = new DelegatingSim(forged).delegation;
      // stop before the wall's own (valid) delegation goes out: the hellos only
      sim.exchangeHellos();
      injectFromWall(sim, { type: 'delegation', ...bad });
      expect(
        records(sim.buyerEffects, 'delegationRefused').map((r) => r.type === 'record' && r.data['refusal']),
      ).toEqual([refusal]);
      // a handshake signature by the delegate key then does not authenticate the wall
      injectFromWall(sim, {
        type: 'auth',
        signature: signNodeMessage(handshakeText(3, 'wall', fromHex(sellerTh(sim))), DELEGATE_KEY)
          .signatureHex,
      });
      expect(sim.buyer.phase).toBe('ended');
      if (sim.buyer.phase === 'ended') expect(reasonName(sim.buyer.endReason)).toBe('HANDSHAKE_FAILED');
    }
  });

  it('a car of version 2 knows no delegation: the wall cannot start a session without its node', () => {
    const sim = new DelegatingSim({ versions: [1, 2] });
    sim.plugBoth();
    sim.run();
    expect(sim.seller.phase).toBe('ended');
    if (sim.seller.phase === 'ended') expect(reasonName(sim.seller.endReason)).toBe('LOCAL_FAULT');
    expect(sim.energized).toBe(false);
  });
});
