// The version-3 cable messages `delegation` (0x1f, wall) and `promise` (0x1e, vehicle): byte-exact vectors, real
// signatures that check against the keys the session proved, sealed and authenticated like every message after
// the handshake, bounded size, and hostile inputs refused with named errors.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  decodeBody,
  fromHex,
  messageInVersion,
  openFrame,
  verifyNodeSignature,
  MESSAGE_TYPE_CODES,
  type ChannelState,
  type DelegationMessage,
} from '../../protocol/index.js';
import { delegationProblem } from '../../protocol/delegation.js';
import { promiseText } from '../../protocol/promise.js';
import {
  buildVersionThreeVectors,
  versionThreeSession,
  VERSION_THREE,
  type VersionThreeVector,
} from './version-three.js';
import { errorCode, expectSealedFrameRefusals } from './sealed-frame-checks.js';

const stored = JSON.parse(
  readFileSync(new URL('version-three.json', import.meta.url), 'utf8'),
) as VersionThreeVector[];

const BODY_BYTES = { delegation: 106, promise: 109 } as const;

/** The receiving channel of `v` after opening the sender's earlier vectors' frames. */
function receiverAt(v: VersionThreeVector): ChannelState {
  const session = versionThreeSession();
  let channel = v.sender === 'wall' ? session.vehicle : session.wall;
  for (const x of stored.filter((y) => y.sender === v.sender && y.counter < v.counter)) {
    const opened = openFrame(channel, fromHex(x.frameHex));
    if (!opened.ok) throw new Error(opened.error.message);
    channel = opened.value.channel;
  }
  return channel;
}

/** The decoded message as the vectors store it (amounts as decimal strings). */
function asStored(m: unknown): unknown {
  return JSON.parse(JSON.stringify(m, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)));
}

describe('version-3 messages (delegation, promise)', () => {
  it('the code still produces exactly the stored vectors', () => {
    expect(buildVersionThreeVectors()).toEqual(stored);
  });

  it('are sealed types 0x1f and 0x1e, from protocol version 3 only', () => {
    expect(MESSAGE_TYPE_CODES.delegation).toBe(0x1f);
    expect(MESSAGE_TYPE_CODES.promise).toBe(0x1e);
    for (const type of ['delegation', 'promise'] as const) {
      expect(messageInVersion(type, 2)).toBe(false);
      expect(messageInVersion(type, VERSION_THREE)).toBe(true);
    }
  });

  it('round-trip body and sealed frame; bodies are bounded (106 and 109 bytes, frame = 44 + body)', () => {
    for (const v of stored) {
      const type = v.message.type;
      const body = decodeBody(type, fromHex(v.bodyHex));
      expect(body.ok && asStored(body.value)).toEqual(v.message);
      expect(fromHex(v.bodyHex)).toHaveLength(BODY_BYTES[type]);
      expect(fromHex(v.frameHex)).toHaveLength(44 + BODY_BYTES[type]);
      const opened = openFrame(receiverAt(v), fromHex(v.frameHex));
      expect(opened.ok && asStored(opened.value.message)).toEqual(v.message);
    }
  });

  it('carry signatures that check against the keys the handshake proved', () => {
    const session = versionThreeSession();
    const d = stored.find((v) => v.message.type === 'delegation')!.message as DelegationMessage;
    const { type: _type, ...delegation } = d;
    expect(delegationProblem(session.wallNodePub, delegation, d.untilMs - 1)).toBeNull();
    expect(delegationProblem(session.wallNodePub, delegation, d.untilMs)).toBe('DELEGATION_EXPIRED');
    expect(delegationProblem(session.vehicleIdentityPub, delegation, 0)).toBe('DELEGATION_NOT_BY_NODE');
    for (const v of stored.filter((x) => x.message.type === 'promise')) {
      const m = v.message as { seq: number; paymentHash: string; amountMsat: string; signature: string };
      const text = promiseText({
        sessionId: session.sessionId,
        sellerPub: session.wallNodePub,
        buyerPub: session.vehicleIdentityPub,
        seq: m.seq,
        paymentHash: m.paymentHash,
        amountMsat: BigInt(m.amountMsat),
      });
      expect(verifyNodeSignature(text, m.signature, session.vehicleIdentityPub).ok).toBe(true);
      // the same signature over another amount is not the car's promise
      const other = text.replace(` ${m.amountMsat} msat`, ` ${BigInt(m.amountMsat) - 1n} msat`);
      expect(verifyNodeSignature(other, m.signature, session.vehicleIdentityPub).ok).toBe(false);
    }
  });

  it('refuse a tampered, replayed or older-version frame', () => {
    for (const v of stored.slice(0, 2)) expectSealedFrameRefusals(receiverAt(v), fromHex(v.frameHex), 2);
  });

  it('refuse hostile bodies with named errors', () => {
    for (const v of stored) {
      const type = v.message.type;
      const body = fromHex(v.bodyHex);
      expect(errorCode(decodeBody(type, body.subarray(0, body.length - 1)))).toBe('MalformedMessage');
      expect(errorCode(decodeBody(type, Uint8Array.of(...body, 0)))).toBe('TrailingBytes');
      expect(errorCode(decodeBody(type, new Uint8Array(0)))).toBe('MalformedMessage');
    }
    // a delegation valid until beyond 2^53 - 1 ms cannot be represented exactly: refused, never rounded
    const d = fromHex(stored[0]!.bodyHex);
    const big = Uint8Array.from(d);
    big.set([0x00, 0x20, 0, 0, 0, 0, 0, 0], 33);
    expect(errorCode(decodeBody('delegation', big))).toBe('MalformedMessage');
  });
});
