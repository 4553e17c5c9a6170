// Test support: a raw BOLT11 writer that puts any list of tagged fields (repeated, wrong-length, unknown) into
// a validly signed invoice, the way a dishonest wall would. The signature is made by a callback so the regtest
// test can have lnd sign for its node key. Logic-test scaffolding only.
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bech32HrpExpand, bech32Polymod, wordsToBytes } from '../../protocol/index.js';

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';

/** One tagged field: its letter and its 5-bit groups. */
export interface RawTag {
  letter: string;
  words: number[];
}

/** Bytes → 5-bit groups (zero-padded). */
export function toWords(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push((acc >> bits) & 31);
    }
  }
  if (bits > 0) out.push((acc << (5 - bits)) & 31);
  return out;
}

/** A number as big-endian 5-bit groups (at least one group). */
export function numberWords(n: number): number[] {
  const out: number[] = [];
  let v = n;
  do {
    out.unshift(v & 31);
    v = Math.floor(v / 32);
  } while (v > 0);
  return out;
}

/** Tag helpers. */
export const tag = {
  hash: (letter: 'p' | 's' | 'h', hex: string): RawTag => ({
    letter,
    words: toWords(Buffer.from(hex, 'hex')),
  }),
  description: (text: string): RawTag => ({ letter: 'd', words: toWords(Buffer.from(text, 'utf8')) }),
  expiry: (sec: number): RawTag => ({ letter: 'x', words: numberWords(sec) }),
  cltv: (blocks: number): RawTag => ({ letter: 'c', words: numberWords(blocks) }),
  payee: (pubHex: string): RawTag => ({ letter: 'n', words: toWords(Buffer.from(pubHex, 'hex')) }),
  /** Feature bits: bit i set counts from the least significant bit of the last group. */
  features: (bits: number[]): RawTag => {
    const groups = Math.floor(Math.max(...bits) / 5) + 1;
    const words = new Array<number>(groups).fill(0);
    for (const b of bits) words[groups - 1 - Math.floor(b / 5)]! |= 1 << (b % 5);
    return { letter: '9', words };
  },
};

/** Signs the 32-byte digest (= SHA-256 of `preimage`, hrp ‖ data): 64 bytes r‖s plus a recovery id 0..3. */
export type Signer = (
  digest: Uint8Array,
  preimage: Uint8Array,
) => Promise<{ rs: Uint8Array; recovery: number }>;

/** A signer over a private key held by the test. */
export function keySigner(privateKeyHex: string): Signer {
  return async (digest) => {
    const rec = secp256k1.sign(digest, Buffer.from(privateKeyHex, 'hex'), {
      prehash: false,
      format: 'recovered',
      lowS: true,
    });
    return { rs: rec.subarray(1), recovery: rec[0] as number };
  };
}

/**
 * Writes and signs an invoice.
 * @param o hrp (e.g. "lnbcrt12340n"), timestamp (s), tags in order, signer
 * @returns the BOLT11 text (lower case)
 */
export async function rawInvoice(o: {
  hrp: string;
  timestampSec: number;
  tags: RawTag[];
  sign: Signer;
}): Promise<string> {
  const ts = numberWords(o.timestampSec);
  const words = [...new Array<number>(7 - ts.length).fill(0), ...ts];
  for (const t of o.tags) {
    const type = CHARSET.indexOf(t.letter);
    words.push(type, t.words.length >> 5, t.words.length & 31, ...t.words);
  }
  const preimage = Buffer.concat([Buffer.from(o.hrp, 'utf8'), wordsToBytes(words, true) as Uint8Array]);
  const sig = await o.sign(sha256(preimage), preimage);
  const all = [...words, ...toWords(Buffer.concat([sig.rs, Buffer.of(sig.recovery)]))];
  const mod = bech32Polymod([...bech32HrpExpand(o.hrp), ...all, 0, 0, 0, 0, 0, 0]) ^ 1;
  for (let i = 0; i < 6; i++) all.push((mod >>> (5 * (5 - i))) & 31);
  return `${o.hrp}1${all.map((w) => CHARSET[w]).join('')}`;
}

/**
 * The recovery id that makes a 64-byte r‖s signature over `digest` recover `pubkeyHex`.
 * @throws when none does
 */
export function recoveryFor(rs: Uint8Array, digest: Uint8Array, pubkeyHex: string): number {
  for (let recovery = 0; recovery < 4; recovery++) {
    try {
      const pub = secp256k1.recoverPublicKey(Buffer.concat([Buffer.of(recovery), rs]), digest, {
        prehash: false,
      });
      if (Buffer.from(secp256k1.Point.fromBytes(pub).toBytes(true)).toString('hex') === pubkeyHex)
        return recovery;
    } catch {
      // not this one
    }
  }
  throw new Error(`signature does not recover ${pubkeyHex}`);
}

/** BOLT11 amount text for an msat amount (pico-BTC: always exact). */
export function amountText(amountMsat: bigint): string {
  return `${amountMsat * 10n}p`;
}
