/**
 * Handshake cryptography (the message flow lives in the session machines):
 *  1. wall → vehicle  hello{role wall, versions, sessionId, ephemeralPub, identityPub = node key}   (clear)
 *  2. vehicle → wall  hello{role vehicle, versions, same sessionId, ephemeralPub, identityPub}      (clear)
 *     or clearError{VERSION_MISMATCH} when the lists share no version.
 *  3. both: version = highest common; th = transcriptHash(version, frame1, frame2);
 *     keys = HKDF-SHA256(ikm = X25519(own ephemeral, peer ephemeral), salt = th, info = direction label).
 *  4. each side sends auth{signature over handshakeText(version, role, th)} as its first sealed frame.
 * Everything here is pure; secrets are derived from entropy passed in by the shell.
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { ByteWriter, fromHex, isHex, toHex, utf8 } from './bytes.js';
import type { ChannelState } from './channel.js';
import { fail, ok, protocolError, type Result } from './errors.js';
import type { Role } from './messages.js';

/** Protocol versions this implementation speaks. */
export const SUPPORTED_VERSIONS: readonly number[] = [1, 2, 3];
/** Protocol name bound into the transcript. */
export const PROTOCOL_NAME = 'boltcharge';

/**
 * Highest version present in both lists.
 * @param ours our versions (ascending)
 * @param theirs the peer's versions
 * @returns the version, or undefined when there is none in common
 */
export function negotiateVersion(ours: readonly number[], theirs: readonly number[]): number | undefined {
  const common = ours.filter((v) => theirs.includes(v));
  return common.length === 0 ? undefined : Math.max(...common);
}

/** Secrets a side derives for one session from 32+ bytes of fresh entropy. */
export interface SessionSecrets {
  /** X25519 ephemeral secret, hex 32. */
  ephemeralSecret: string;
  /** X25519 ephemeral public key, hex 32. */
  ephemeralPub: string;
  /** secp256k1 per-session identity secret (vehicle default identity), hex 32. */
  identitySecret: string;
  /** Its compressed public key, hex 33. */
  identityPub: string;
  /** Session id candidate (used by the wall), hex 16. */
  sessionId: string;
}

/**
 * Derives a session's secrets from entropy supplied by the shell (e.g. crypto.randomBytes(32)).
 * @param entropyHex at least 32 bytes of fresh randomness, hex
 * @returns SessionSecrets, or MalformedMessage if entropy is short or not hex
 */
export function deriveSessionSecrets(entropyHex: string): Result<SessionSecrets> {
  if (typeof entropyHex !== 'string' || entropyHex.length < 64 || !isHex(entropyHex, entropyHex.length / 2)) {
    return fail(protocolError('MalformedMessage', 'entropy must be at least 32 bytes of hex'));
  }
  const ikm = fromHex(entropyHex);
  const expand = (label: string, n: number): Uint8Array => hkdf(sha256, ikm, undefined, utf8(label), n);
  const eph = expand('boltcharge entropy ephemeral', 32);
  let id = expand('boltcharge entropy identity', 32);
  for (let i = 0; !secp256k1.utils.isValidSecretKey(id); i++)
    id = expand(`boltcharge entropy identity ${i}`, 32);
  return ok({
    ephemeralSecret: toHex(eph),
    ephemeralPub: toHex(x25519.getPublicKey(eph)),
    identitySecret: toHex(id),
    identityPub: toHex(secp256k1.getPublicKey(id, true)),
    sessionId: toHex(expand('boltcharge entropy session', 16)),
  });
}

/**
 * X25519 public key of an ephemeral secret.
 * @param secretHex 32 bytes hex
 * @returns 32 bytes hex
 */
export function ephemeralPublicKey(secretHex: string): string {
  return toHex(x25519.getPublicKey(fromHex(secretHex)));
}

/**
 * Transcript hash binding protocol name, chosen version and both hello frames (which carry versions
 * offered, session id, both ephemeral keys and both identity keys).
 * th = SHA256("boltcharge" || u8 version || u16 len || wall hello frame || u16 len || vehicle hello frame)
 * @returns 32 bytes
 */
export function transcriptHash(
  version: number,
  wallHelloFrame: Uint8Array,
  vehicleHelloFrame: Uint8Array,
): Uint8Array {
  const w = new ByteWriter().bytes(utf8(PROTOCOL_NAME)).u8(version);
  w.u16(wallHelloFrame.length).bytes(wallHelloFrame).u16(vehicleHelloFrame.length).bytes(vehicleHelloFrame);
  return sha256(w.finish());
}

/**
 * Text each side signs with its identity key (lnd signmessage format) to authenticate.
 * @returns e.g. "boltcharge/1 handshake wall 3f2a…" (th as 64 lower-case hex digits)
 */
export function handshakeText(version: number, role: Role, th: Uint8Array): string {
  return `boltcharge/${version} handshake ${role} ${toHex(th)}`;
}

/**
 * Derives both directions' keys and returns this side's channel state.
 * @param role this side
 * @param version negotiated version
 * @param sessionId hex 16
 * @param ownEphemeralSecret hex 32
 * @param peerEphemeralPub hex 32
 * @param th transcript hash
 * @returns ChannelState with counters at 0, or HandshakeFailed-like BadSignature if the ECDH result is zero
 */
export function deriveChannel(
  role: Role,
  version: number,
  sessionId: string,
  ownEphemeralSecret: string,
  peerEphemeralPub: string,
  th: Uint8Array,
): Result<ChannelState> {
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(fromHex(ownEphemeralSecret), fromHex(peerEphemeralPub));
  } catch (e) {
    return fail(protocolError('BadSignature', `ECDH failed: ${(e as Error).message}`));
  }
  if (shared.every((b) => b === 0))
    return fail(protocolError('BadSignature', 'ECDH produced the zero point'));
  const key = (label: string): string =>
    toHex(hkdf(sha256, shared, th, utf8(`boltcharge/${version} ${label}`), 32));
  const w2v = key('wall->vehicle');
  const v2w = key('vehicle->wall');
  return ok({
    version,
    sessionId,
    sendKey: role === 'wall' ? w2v : v2w,
    recvKey: role === 'wall' ? v2w : w2v,
    sendCounter: 0,
    recvNext: 0,
  });
}
