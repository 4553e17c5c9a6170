// The `paymentProof` cable message (protocol version 2, offline case 1b): byte-exact vectors, round trip,
// sealed and authenticated like every message after the handshake, bounded size, and hostile inputs refused
// with named errors.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  decodeBody,
  encodeBody,
  fromHex,
  messageInVersion,
  openFrame,
  toHex,
  MESSAGE_TYPE_CODES,
  type ChannelState,
  type PaymentProofMessage,
} from '../../protocol/index.js';
import {
  buildPaymentProofVectors,
  PAYMENT_PROOF_VERSION,
  versionTwoChannels,
  type PaymentProofVector,
} from './payment-proof.js';
import { errorCode, expectSealedFrameRefusals } from './sealed-frame-checks.js';

const stored = JSON.parse(
  readFileSync(new URL('payment-proof.json', import.meta.url), 'utf8'),
) as PaymentProofVector[];

/** The wall's channel after opening the vectors' frames before `counter`. */
function wallAt(counter: number): ChannelState {
  let { wall } = versionTwoChannels();
  for (const v of stored.filter((x) => x.counter < counter)) {
    const opened = openFrame(wall, fromHex(v.frameHex));
    if (!opened.ok) throw new Error(opened.error.message);
    wall = opened.value.channel;
  }
  return wall;
}

describe('paymentProof message', () => {
  it('the code still produces exactly the stored vectors', () => {
    expect(buildPaymentProofVectors()).toEqual(stored);
  });

  it('is sealed type 0x1d, exists from protocol version 2 only', () => {
    expect(MESSAGE_TYPE_CODES.paymentProof).toBe(0x1d);
    expect(messageInVersion('paymentProof', 1)).toBe(false);
    expect(messageInVersion('paymentProof', PAYMENT_PROOF_VERSION)).toBe(true);
    expect(messageInVersion('paid', 1)).toBe(true);
  });

  it('round-trips body and sealed frame; the frame is bounded (76-byte body, 120-byte frame)', () => {
    for (const v of stored) {
      const body = decodeBody('paymentProof', fromHex(v.bodyHex));
      expect(body.ok && body.value).toEqual(v.message);
      expect(fromHex(v.bodyHex)).toHaveLength(76);
      expect(fromHex(v.frameHex)).toHaveLength(120);
      const opened = openFrame(wallAt(v.counter), fromHex(v.frameHex));
      expect(opened.ok && opened.value.message).toEqual(v.message);
    }
  });

  it('refuses a tampered, replayed or foreign-version frame (authenticated like every message)', () => {
    const v = stored[0]!;
    expectSealedFrameRefusals(wallAt(v.counter), fromHex(v.frameHex), 1);
  });

  it('refuses hostile bodies with named errors', () => {
    const body = fromHex(stored[0]!.bodyHex);
    expect(errorCode(decodeBody('paymentProof', body.subarray(0, 75)))).toBe('MalformedMessage');
    expect(errorCode(decodeBody('paymentProof', Uint8Array.of(...body, 0)))).toBe('TrailingBytes');
    expect(errorCode(decodeBody('paymentProof', new Uint8Array(0)))).toBe('MalformedMessage');
    // paidAtMs beyond 2^53 - 1 cannot be represented exactly: refused, never rounded
    const big = Uint8Array.from(body);
    big.set([0x00, 0x20, 0, 0, 0, 0, 0, 0], 68);
    expect(errorCode(decodeBody('paymentProof', big))).toBe('MalformedMessage');
  });

  it('refuses to encode out-of-range fields', () => {
    const m = stored[0]!.message as PaymentProofMessage;
    for (const bad of [
      { ...m, preimage: 'ab'.repeat(31) },
      { ...m, preimage: 'zz'.repeat(32) },
      { ...m, paymentHash: '' },
      { ...m, seq: -1 },
      { ...m, seq: 2 ** 32 },
      { ...m, paidAtMs: 1.5 },
    ])
      expect(errorCode(encodeBody(bad))).toBe('MalformedMessage');
    expect(toHex((encodeBody(m) as { ok: true; value: Uint8Array }).value)).toBe(stored[0]!.bodyHex);
  });
});
