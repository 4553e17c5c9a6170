// The version-3 messages (offline cases 1b and 3): `delegation` (the wall's node lets a key the wall daemon holds
// sign the handshake and receipt) and `promise` (the car's signed promise to pay). Byte-exact vectors built from
// fixed values on the fixed handshake's channel keys (test/vectors/build.ts), the frame header carrying version 3,
// with real signatures: the delegation by the fixed wall node key, the promise by the fixed car identity key.
// `generate-version-three.ts` writes them to version-three.json; version-three.test.ts checks that the code still
// produces exactly these bytes, that the signatures check, and that hostile inputs are refused.
import {
  encodeBody,
  publicKeyOf,
  sealMessage,
  signNodeMessage,
  toHex,
  type ChannelState,
  type DelegationMessage,
  type PromiseMessage,
} from '../../protocol/index.js';
import { delegationText } from '../../protocol/delegation.js';
import { promiseText } from '../../protocol/promise.js';
import { buildHandshake, FIXED } from './build.js';

/** The protocol version that introduced `delegation` and `promise`. */
export const VERSION_THREE = 3;

/** The delegate's fixed secret key. */
export const DELEGATE_SECRET = '22'.repeat(32);

/** One vector: who seals it, the message, its body, and the frame sealed as the sender's counter-th frame. */
export interface VersionThreeVector {
  description: string;
  sender: 'wall' | 'vehicle';
  message: DelegationMessage | (Omit<PromiseMessage, 'amountMsat'> & { amountMsat: string });
  bodyHex: string;
  counter: number;
  frameHex: string;
}

/** The fixed handshake's session, keys and channel states, moved to version 3. */
export function versionThreeSession(): {
  sessionId: string;
  wallNodePub: string;
  vehicleIdentityPub: string;
  vehicleIdentitySecret: string;
  wall: ChannelState;
  vehicle: ChannelState;
} {
  const { vector, wall, vehicle } = buildHandshake();
  return {
    sessionId: vector.sessionId,
    wallNodePub: vector.wallNodePub,
    vehicleIdentityPub: vector.vehicleIdentityPub,
    vehicleIdentitySecret: vector.vehicleIdentitySecret,
    wall: { ...wall, version: VERSION_THREE },
    vehicle: { ...vehicle, version: VERSION_THREE },
  };
}

/** Builds the vectors (deterministic: RFC 6979 signatures, fixed keys and counters). */
export function buildVersionThreeVectors(): VersionThreeVector[] {
  const session = versionThreeSession();
  const channels = { wall: session.wall, vehicle: session.vehicle };
  const untilMs = 1_767_830_400_000;
  const delegatePub = publicKeyOf(DELEGATE_SECRET);
  const delegation: DelegationMessage = {
    type: 'delegation',
    delegatePub,
    untilMs,
    signature: signNodeMessage(
      delegationText({ nodePub: session.wallNodePub, delegatePub, untilMs }),
      FIXED.wallNodeKey,
    ).signatureHex,
  };
  const promiseOf = (seq: number, paymentHash: string, amountMsat: bigint): PromiseMessage => ({
    type: 'promise',
    seq,
    paymentHash,
    amountMsat,
    signature: signNodeMessage(
      promiseText({
        sessionId: session.sessionId,
        sellerPub: session.wallNodePub,
        buyerPub: session.vehicleIdentityPub,
        seq,
        paymentHash,
        amountMsat,
      }),
      session.vehicleIdentitySecret,
    ).signatureHex,
  });
  const cases: { description: string; sender: 'wall' | 'vehicle'; message: DelegationMessage | PromiseMessage }[] =
    [
      { description: 'delegation before a delegate-signed auth', sender: 'wall', message: delegation },
      { description: 'promise for the first block', sender: 'vehicle', message: promiseOf(1, 'c3'.repeat(32), 4_000n) },
      {
        description: 'promise, largest fields',
        sender: 'vehicle',
        message: promiseOf(0xffffffff, 'ff'.repeat(32), 2n ** 63n - 1n),
      },
    ];
  return cases.map((c) => {
    const body = encodeBody(c.message);
    if (!body.ok) throw new Error(body.error.message);
    const channel = channels[c.sender];
    const counter = channel.sendCounter;
    const sealed = sealMessage(channel, c.message);
    if (!sealed.ok) throw new Error(sealed.error.message);
    channels[c.sender] = sealed.value.channel;
    const message =
      c.message.type === 'promise' ? { ...c.message, amountMsat: c.message.amountMsat.toString() } : c.message;
    return {
      description: c.description,
      sender: c.sender,
      message,
      bodyHex: toHex(body.value),
      counter,
      frameHex: toHex(sealed.value.frame),
    };
  });
}
