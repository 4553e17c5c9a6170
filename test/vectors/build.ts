// Builds the byte-exact test vectors from fixed keys and messages. `generate.ts` writes them to JSON;
// `test/protocol/vectors.test.ts` checks that the files decode to these messages and that the code still
// produces exactly these bytes.
import {
  deriveChannel,
  deriveSessionSecrets,
  encodeBody,
  encodeClearFrame,
  handshakeText,
  publicKeyOf,
  sealMessage,
  serializeState,
  signNodeMessage,
  toHex,
  transcriptHash,
  type ChannelState,
  type ClearMessage,
  type Message,
  type SealedMessage,
} from '../../protocol/index.js';
import { makeInvoice, sha256hex } from '../protocol/harness.js';

export const FIXED = {
  wallNodeKey: '11'.repeat(32),
  wallEntropy: 'a0'.repeat(32),
  vehicleEntropy: 'b0'.repeat(32),
  version: 1,
};

function ok<T>(r: { ok: true; value: T } | { ok: false; error: { message: string } }): T {
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

export interface HandshakeVector {
  description: string;
  wallNodePrivateKey: string;
  wallNodePub: string;
  wallEntropy: string;
  vehicleEntropy: string;
  wallEphemeralSecret: string;
  vehicleEphemeralSecret: string;
  vehicleIdentitySecret: string;
  vehicleIdentityPub: string;
  sessionId: string;
  wallHelloFrame: string;
  vehicleHelloFrame: string;
  version: number;
  transcriptHash: string;
  keyWallToVehicle: string;
  keyVehicleToWall: string;
  wallAuthText: string;
  wallAuthSignature: string;
  wallAuthFrame: string;
  vehicleAuthText: string;
  vehicleAuthSignature: string;
  vehicleAuthFrame: string;
}

export function buildHandshake(): { vector: HandshakeVector; wall: ChannelState; vehicle: ChannelState } {
  const w = ok(deriveSessionSecrets(FIXED.wallEntropy));
  const v = ok(deriveSessionSecrets(FIXED.vehicleEntropy));
  const wallPub = publicKeyOf(FIXED.wallNodeKey);
  const helloW = ok(
    encodeClearFrame({ type: 'hello', role: 'wall', versions: [1], sessionId: w.sessionId, ephemeralPub: w.ephemeralPub, identityPub: wallPub }),
  );
  const helloV = ok(
    encodeClearFrame({
      type: 'hello',
      role: 'vehicle',
      versions: [1],
      sessionId: w.sessionId,
      ephemeralPub: v.ephemeralPub,
      identityPub: v.identityPub,
    }),
  );
  const th = transcriptHash(FIXED.version, helloW, helloV);
  let wall = ok(deriveChannel('wall', 1, w.sessionId, w.ephemeralSecret, v.ephemeralPub, th));
  let vehicle = ok(deriveChannel('vehicle', 1, w.sessionId, v.ephemeralSecret, w.ephemeralPub, th));
  const wText = handshakeText(1, 'wall', th);
  const vText = handshakeText(1, 'vehicle', th);
  const wSig = signNodeMessage(wText, FIXED.wallNodeKey);
  const vSig = signNodeMessage(vText, v.identitySecret);
  const wAuth = ok(sealMessage(wall, { type: 'auth', signature: wSig.signatureHex }));
  wall = wAuth.channel;
  const vAuth = ok(sealMessage(vehicle, { type: 'auth', signature: vSig.signatureHex }));
  vehicle = vAuth.channel;
  return {
    wall,
    vehicle,
    vector: {
      description:
        'Full handshake with fixed entropy and keys. Secrets derive from entropy (deriveSessionSecrets); th = SHA256("boltcharge" || u8 version || u16 len || wall hello || u16 len || vehicle hello); keys = HKDF-SHA256(ikm = X25519, salt = th, info = "boltcharge/1 wall->vehicle" | "boltcharge/1 vehicle->wall", 32); auth frames are counter 0 of each direction.',
      wallNodePrivateKey: FIXED.wallNodeKey,
      wallNodePub: wallPub,
      wallEntropy: FIXED.wallEntropy,
      vehicleEntropy: FIXED.vehicleEntropy,
      wallEphemeralSecret: w.ephemeralSecret,
      vehicleEphemeralSecret: v.ephemeralSecret,
      vehicleIdentitySecret: v.identitySecret,
      vehicleIdentityPub: v.identityPub,
      sessionId: w.sessionId,
      wallHelloFrame: toHex(helloW),
      vehicleHelloFrame: toHex(helloV),
      version: 1,
      transcriptHash: toHex(th),
      keyWallToVehicle: wall.sendKey,
      keyVehicleToWall: vehicle.sendKey,
      wallAuthText: wText,
      wallAuthSignature: wSig.zbase32,
      wallAuthFrame: toHex(wAuth.frame),
      vehicleAuthText: vText,
      vehicleAuthSignature: vSig.zbase32,
      vehicleAuthFrame: toHex(vAuth.frame),
    },
  };
}

/** One sample of every message type. */
export function sampleMessages(sessionId: string): Message[] {
  const paymentHash = sha256hex('vector preimage 0');
  const bolt11 = makeInvoice({
    key: FIXED.wallNodeKey,
    amountMsat: 12_000n,
    paymentHash,
    timestampSec: 1_760_000_000,
    expirySec: 600,
    description: 'boltcharge vector #0 120 Wh',
  });
  return [
    { type: 'hello', role: 'wall', versions: [1, 2], sessionId, ephemeralPub: '01'.repeat(32), identityPub: '02' + '03'.repeat(32) },
    { type: 'clearError', reason: 0x0401, versions: [1], text: 'no common protocol version: wall [2], vehicle [1]' },
    { type: 'auth', signature: '1f' + 'ab'.repeat(64) },
    {
      type: 'offer',
      offerSeq: 0,
      network: 'regtest',
      priceMsatPerWh: 100n,
      minBlockWh: 10,
      maxBlockWh: 200,
      depositBlocks: 2,
      graceWh: 5,
      invoiceExpirySec: 600,
      targetIntervalSec: 16,
      maxPowerW: 7400,
      heartbeatTimeoutMs: 10_000,
    },
    { type: 'accept', offerSeq: 0, targetEnergyWh: 20_000, maxBlockWh: 200 },
    { type: 'decline', subject: 'offer', ref: 0, reason: 0x0101, text: 'price 250 > 150 msat/Wh' },
    { type: 'invoice', seq: 0, fromWh: 0, blockWh: 120, priceMsatPerWh: 100n, amountMsat: 12_000n, bolt11 },
    { type: 'paid', seq: 0, paymentHash, preimage: sha256hex('x') },
    { type: 'meter', energyWh: 1234, registerWh: 9_876_543, powerW: 7200, voltageMv: 230_100, currentMa: 31_300, atMs: 1_760_000_016_000 },
    { type: 'renew', offerSeq: 1, priceMsatPerWh: 120n, effectiveAtWh: 2000 },
    { type: 'stop', reason: 0x0002, text: 'TARGET_REACHED' },
    {
      type: 'receipt',
      sessionId,
      sellerPub: publicKeyOf(FIXED.wallNodeKey),
      startRegisterWh: 1000,
      endRegisterWh: 1240,
      energyWh: 240,
      startMs: 1_760_000_000_000,
      endMs: 1_760_000_120_000,
      reason: 0x0002,
      invoices: [
        { seq: 0, paymentHash, blockWh: 120, amountMsat: 12_000n },
        { seq: 1, paymentHash: sha256hex('vector preimage 1'), blockWh: 120, amountMsat: 12_000n },
      ],
      totalPaidMsat: 24_000n,
      signature: '20' + 'cd'.repeat(64),
    },
    { type: 'error', reason: 0x0404, text: 'invoice not expected in negotiating' },
    { type: 'ping', atMs: 1_760_000_020_000 },
    { type: 'pong', atMs: 1_760_000_020_000 },
  ];
}

export interface MessageVector {
  name: string;
  /** The message as JSON; bigints as {"$bigint": "..."}. */
  message: unknown;
  bodyHex: string;
  /** Clear frame, or sealed frame from the wall→vehicle channel of handshake.json at `counter`. */
  frameHex: string;
  counter: number | null;
}

export function buildMessageVectors(): MessageVector[] {
  const hs = buildHandshake();
  let wall = hs.wall;
  return sampleMessages(hs.vector.sessionId).map((m) => {
    const body = toHex(ok(encodeBody(m)));
    if (m.type === 'hello' || m.type === 'clearError') {
      return { name: m.type, message: JSON.parse(serializeState(m)), bodyHex: body, frameHex: toHex(ok(encodeClearFrame(m as ClearMessage))), counter: null };
    }
    const counter = wall.sendCounter;
    const sealed = ok(sealMessage(wall, m as SealedMessage));
    wall = sealed.channel;
    return { name: m.type, message: JSON.parse(serializeState(m)), bodyHex: body, frameHex: toHex(sealed.frame), counter };
  });
}
