/**
 * Lightning node-key signatures in lnd's `signmessage` format: a 65-byte recoverable compact signature
 * (header byte 31 + recovery id, then r and s) over SHA256(SHA256("Lightning Signed Message:" + text)),
 * shown as zbase32 text by lnd. Verification recovers the public key and compares it to the expected one.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, fromHex, isHex, toHex, utf8 } from './bytes.js';
import { fail, ok, protocolError, type Result } from './errors.js';

const PREFIX = utf8('Lightning Signed Message:');
const ZBASE32 = 'ybndrfg8ejkmcpqxot1uwisza345h769';

/**
 * Digest lnd signs for `signMessage(text)`.
 * @param text message text (UTF-8)
 * @returns 32-byte double SHA-256
 */
export function signedMessageDigest(text: string): Uint8Array {
  return sha256(sha256(concatBytes(PREFIX, utf8(text))));
}

/** zbase32 text of bytes (lnd's signature encoding). */
export function zbase32Encode(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ZBASE32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += ZBASE32[(acc << (5 - bits)) & 31];
  return out;
}

/** Bytes of zbase32 text, or undefined if it has characters outside the alphabet. */
export function zbase32Decode(text: string): Uint8Array | undefined {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const ch of text) {
    const v = ZBASE32.indexOf(ch);
    if (v < 0) return undefined;
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((acc >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
    acc &= (1 << bits) - 1;
  }
  return Uint8Array.from(out);
}

/**
 * Signs `text` with a private key exactly as lnd's signmessage does (for tests, vectors and the vehicle's
 * per-session key).
 * @param text message text
 * @param privateKeyHex 32-byte secp256k1 private key, hex
 * @returns { signatureHex: 65 bytes hex, zbase32: lnd's text form }
 */
export function signNodeMessage(
  text: string,
  privateKeyHex: string,
): { signatureHex: string; zbase32: string } {
  const rec = secp256k1.sign(signedMessageDigest(text), fromHex(privateKeyHex), {
    prehash: false,
    format: 'recovered',
    lowS: true,
  });
  const sig = concatBytes(Uint8Array.of(31 + (rec[0] as number)), rec.subarray(1));
  return { signatureHex: toHex(sig), zbase32: zbase32Encode(sig) };
}

/**
 * Normalises a signature given as zbase32 (lnd's output) or 130-char hex to 65-byte hex.
 * @returns hex or BadSignature
 */
export function normaliseSignature(signature: string): Result<string> {
  if (isHex(signature, 65)) return ok(signature.toLowerCase());
  const bytes = zbase32Decode(signature);
  if (bytes === undefined || bytes.length !== 65) {
    return fail(protocolError('BadSignature', 'signature is neither 65-byte hex nor zbase32 of 65 bytes'));
  }
  return ok(toHex(bytes));
}

/**
 * Recovers the compressed public key that signed `text`.
 * @param text message text
 * @param signature 65-byte hex or zbase32 (header 27..34, r, s)
 * @returns 33-byte compressed public key hex, or BadSignature
 */
export function recoverNodeKey(text: string, signature: string): Result<string> {
  const norm = normaliseSignature(signature);
  if (!norm.ok) return norm;
  const sig = fromHex(norm.value);
  const header = sig[0] as number;
  if (header < 27 || header > 34)
    return fail(protocolError('BadSignature', `bad signature header ${header}`));
  const recovery = (header - 27) & 3;
  try {
    const rec = concatBytes(Uint8Array.of(recovery), sig.subarray(1));
    const pub = secp256k1.recoverPublicKey(rec, signedMessageDigest(text), { prehash: false });
    return ok(toHex(secp256k1.Point.fromBytes(pub).toBytes(true)));
  } catch (e) {
    return fail(protocolError('BadSignature', `signature does not recover a key: ${(e as Error).message}`));
  }
}

/**
 * Checks that `text` was signed by the node whose key is `expectedPubHex`.
 * @param text message text
 * @param signature 65-byte hex or zbase32
 * @param expectedPubHex 33-byte compressed key, hex
 * @returns ok(true) or BadSignature naming the recovered key
 */
export function verifyNodeSignature(text: string, signature: string, expectedPubHex: string): Result<true> {
  const rec = recoverNodeKey(text, signature);
  if (!rec.ok) return rec;
  if (rec.value !== expectedPubHex.toLowerCase()) {
    return fail(protocolError('BadSignature', `signed by ${rec.value}, expected ${expectedPubHex}`));
  }
  return ok(true);
}

/**
 * Compressed public key of a private key.
 * @param privateKeyHex 32 bytes hex
 * @returns 33 bytes hex
 */
export function publicKeyOf(privateKeyHex: string): string {
  return toHex(secp256k1.getPublicKey(fromHex(privateKeyHex), true));
}
