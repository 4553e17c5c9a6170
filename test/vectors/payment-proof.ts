// The `paymentProof` message (offline case 1b, protocol version 2): byte-exact vectors built from fixed values
// on the fixed handshake's channel keys (test/vectors/build.ts), the frame header carrying version 2.
// `generate-payment-proof.ts` writes them to payment-proof.json; payment-proof.test.ts checks that the code still
// produces exactly these bytes and that hostile inputs are refused.
import { createHash } from 'node:crypto';
import {
  encodeBody,
  sealMessage,
  toHex,
  type ChannelState,
  type PaymentProofMessage,
} from '../../protocol/index.js';
import { buildHandshake } from './build.js';

/** The protocol version that introduced `paymentProof`. */
export const PAYMENT_PROOF_VERSION = 2;

/** One vector: the message, its body, and the frame the car seals as its counter-th frame. */
export interface PaymentProofVector {
  description: string;
  message: Omit<PaymentProofMessage, 'paidAtMs'> & { paidAtMs: number };
  bodyHex: string;
  /** the car's send counter when sealing */
  counter: number;
  frameHex: string;
}

/** The car's and the wall's channel states of the fixed handshake, moved to version 2. */
export function versionTwoChannels(): { wall: ChannelState; vehicle: ChannelState } {
  const { wall, vehicle } = buildHandshake();
  return {
    wall: { ...wall, version: PAYMENT_PROOF_VERSION },
    vehicle: { ...vehicle, version: PAYMENT_PROOF_VERSION },
  };
}

/** Builds the vectors (deterministic). */
export function buildPaymentProofVectors(): PaymentProofVector[] {
  const cases: { description: string; seq: number; preimage: string; paidAtMs: number }[] = [
    { description: 'first stocked invoice', seq: 1, preimage: '5a'.repeat(32), paidAtMs: 1_767_225_600_000 },
    { description: 'largest fields', seq: 0xffffffff, preimage: 'ff'.repeat(32), paidAtMs: Number.MAX_SAFE_INTEGER },
  ];
  let { vehicle } = versionTwoChannels();
  return cases.map((c) => {
    const message: PaymentProofMessage = {
      type: 'paymentProof',
      seq: c.seq,
      paymentHash: createHash('sha256').update(Buffer.from(c.preimage, 'hex')).digest('hex'),
      preimage: c.preimage,
      paidAtMs: c.paidAtMs,
    };
    const body = encodeBody(message);
    if (!body.ok) throw new Error(body.error.message);
    const counter = vehicle.sendCounter;
    const sealed = sealMessage(vehicle, message);
    if (!sealed.ok) throw new Error(sealed.error.message);
    vehicle = sealed.value.channel;
    return {
      description: c.description,
      message,
      bodyHex: toHex(body.value),
      counter,
      frameHex: toHex(sealed.value.frame),
    };
  });
}
