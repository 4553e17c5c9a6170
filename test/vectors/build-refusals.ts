// Test vectors of the wall's connector refusals: the exact clear frame a seller sends on `connectorRefused`
// (between sessions, protocol version 1 speaker), and how the buyer ends. Regenerate with
// `npx tsx test/vectors/generate-refusals.ts` only when the wire format changes on purpose.
import { buyerStep, createBuyer, createSeller, reasonName, sellerStep, toHex } from '../../protocol/index.js';
import { testBuyerConfig, testSellerConfig, T0 } from '../protocol/harness.js';

/** One refusal vector. */
export interface RefusalVector {
  reason: string;
  code: number;
  detail: string;
  /** the clear frame the seller sends, hex */
  frameHex: string;
  /** the buyer's end reason after reading it */
  buyerEndReason: string;
  /** the buyer's sessionEnded error text */
  buyerError: string;
}

const CASES: [code: number, detail: string][] = [
  [0x000c, 'walk-up session 5f0c'],
  [0x000d, 'operator'],
  [0x000e, 'POWER_CUT_UNVERIFIED'],
];

/** Builds the vectors from the machines (seller idle, buyer idle). */
export function buildRefusalVectors(): RefusalVector[] {
  return CASES.map(([code, detail]) => {
    const seller = sellerStep(createSeller(testSellerConfig()), {
      type: 'connectorRefused',
      reason: code,
      detail,
      atMs: T0,
    });
    const send = seller.effects.find((e) => e.type === 'send');
    if (send?.type !== 'send') throw new Error(`no frame for ${reasonName(code)}`);
    const buyer = buyerStep(createBuyer(testBuyerConfig()), { type: 'frame', bytes: send.frame, atMs: T0 });
    const ended = buyer.effects.find((e) => e.type === 'sessionEnded');
    if (ended?.type !== 'sessionEnded') throw new Error(`the buyer did not end on ${reasonName(code)}`);
    return {
      reason: reasonName(code),
      code,
      detail,
      frameHex: toHex(send.frame),
      buyerEndReason: ended.reasonName,
      buyerError: ended.error ?? '',
    };
  });
}
