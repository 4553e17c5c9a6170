// A car plugged into a connector that may not take a session (busy with a walk-up, out of service, faulted) is
// told so: the seller answers `connectorRefused` with a clear `clearError` carrying the connector reason, and the
// buyer ends with that reason, paying nothing; a later hello starts a normal session.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  buyerStep,
  createBuyer,
  createSeller,
  CONNECTOR_REFUSALS,
  isConnectorRefusal,
  Reason,
  reasonName,
  sellerStep,
  buyerEndReason,
} from '../../protocol/index.js';
import { buildRefusalVectors, type RefusalVector } from '../vectors/build-refusals.js';
import { Sim, T0, testBuyerConfig, testSellerConfig } from './harness.js';

const vectors = JSON.parse(
  readFileSync(new URL('../vectors/connector-refusals.json', import.meta.url), 'utf8'),
) as RefusalVector[];

describe('connector refusal told to the car', () => {
  it('the code still produces exactly the stored refusal frames and buyer outcomes', () => {
    expect(buildRefusalVectors()).toEqual(vectors);
    expect(vectors.map((v) => v.reason)).toEqual([
      'CONNECTOR_BUSY',
      'CONNECTOR_INOPERATIVE',
      'CONNECTOR_FAULTED',
    ]);
    expect(vectors.map((v) => v.code)).toEqual([...CONNECTOR_REFUSALS]);
  });

  it('the arbiter words are reason names', () => {
    for (const word of ['CONNECTOR_BUSY', 'CONNECTOR_INOPERATIVE', 'CONNECTOR_FAULTED'] as const)
      expect(isConnectorRefusal(Reason[word])).toBe(true);
    expect(isConnectorRefusal(Reason.UNPAID)).toBe(false);
  });

  it('the buyer ends with the reason, no payment; its next hello starts a session that charges', () => {
    const sim = new Sim();
    sim.stepSeller({
      type: 'connectorRefused',
      reason: Reason.CONNECTOR_FAULTED,
      detail: 'stuck relay',
      atMs: T0,
    });
    expect(sim.seller.phase).toBe('idle');
    sim.run();
    expect(sim.buyer.phase).toBe('ended');
    expect(buyerEndReason(sim.buyer)).toBe(Reason.CONNECTOR_FAULTED);
    const ended = sim.ofType(sim.buyerEffects, 'sessionEnded');
    expect(ended.map((e) => [e.reasonName, e.summary.paidMsat, e.error])).toEqual([
      ['CONNECTOR_FAULTED', 0n, 'wall refused the session (CONNECTOR_FAULTED): stuck relay'],
    ]);
    expect(sim.ofType(sim.buyerEffects, 'pay')).toEqual([]);
    // the operator cleared the fault: the wall greets the car still plugged in
    sim.plug();
    expect(sim.buyer.phase).toBe('charging');
    sim.advance(30_000);
    expect(sim.buyer.paidMsat).toBeGreaterThan(0n);
  });

  it('a running session is not refused by the event, and only connector reasons refuse', () => {
    const sim = new Sim();
    sim.plug();
    const effects = sim.stepSeller({
      type: 'connectorRefused',
      reason: Reason.CONNECTOR_BUSY,
      detail: 'x',
      atMs: sim.now,
    });
    expect(sim.ofType(effects, 'send')).toEqual([]);
    expect(sim.seller.phase).toBe('charging');
    const other = sellerStep(createSeller(testSellerConfig()), {
      type: 'connectorRefused',
      reason: Reason.UNPAID,
      detail: 'x',
      atMs: T0,
    });
    expect(other.effects.filter((e) => e.type === 'send')).toEqual([]);
  });

  it('the buyer ignores other clear errors between sessions (no session to end)', () => {
    const seller = sellerStep(createSeller(testSellerConfig()), {
      type: 'connectorRefused',
      reason: Reason.CONNECTOR_INOPERATIVE,
      detail: 'operator',
      atMs: T0,
    });
    const frame = seller.effects.find((e) => e.type === 'send');
    if (frame?.type !== 'send') throw new Error('no frame');
    // the same frame with the reason byte changed to VERSION_MISMATCH (0x0401)
    const bytes = Uint8Array.from(frame.frame);
    bytes[4] = 0x04;
    bytes[5] = 0x01;
    const r = buyerStep(createBuyer(testBuyerConfig()), { type: 'frame', bytes, atMs: T0 });
    expect(r.state.phase).toBe('idle');
    expect(reasonName(Reason.CONNECTOR_INOPERATIVE)).toBe('CONNECTOR_INOPERATIVE');
  });
});
