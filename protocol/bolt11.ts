/**
 * The buyer's one view of a BOLT11 invoice, decoded with the rules of the node that pays it (lnd's `zpay32`
 * decoder) and refusing every invoice that two readers could read differently. Pure: decoding recovers the
 * payee key from the invoice signature (authenticity = comparing it with the key the wall proved in the
 * handshake). The seller uses this module too, to read its own node's invoices.
 *
 * Why strict: lnd takes the FIRST well-formed `p` (and `s`, `d`, `h`, `n`, `x`, `c`, `9`, `m`, `f`) tag and
 * skips fields of the wrong length, while other decoders (the `bolt11` npm package) take the last or read a
 * wrong-length field anyway. An invoice with two payment hashes is then checked, deduplicated and recorded
 * under one hash while the node pays the other. So this decoder refuses (`InvoiceAmbiguous`):
 * - a repeated single-valued tag (`p s d h n x c 9 m f`), whichever reader would win;
 * - a `p`/`s`/`h` field that is not 52 groups, an `n` field that is not 53 groups (lnd skips them);
 * - both `d` and `h`; an `n` that differs from the key the signature recovers (lnd would verify against `n`);
 * - a mixed-case string;
 * and (`InvoiceUnsupported`) blinded payment paths (`b`, paid to a node the signature does not name) and any
 * compulsory (even) feature bit outside {8 var_onion, 14 payment_secret, 16 basic_mpp}: lnd refuses unknown
 * compulsory features, and AMP (30) pays other hashes than `p`.
 * Everything lnd itself rejects (bad padding, lengths over 13 groups for numbers, `r` not a multiple of 51
 * bytes, invalid keys, a `p` amount not a multiple of 10...) is `InvoiceMalformed`, as are high-S signatures.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, toHex, utf8 } from './bytes.js';
import { fail, ok, type Result } from './errors.js';
import type { Network } from './messages.js';

/** BOLT11 default expiry when the invoice has no `x` tag, seconds. */
export const DEFAULT_EXPIRY_SEC = 3600;
/** BOLT11 default `min_final_cltv_expiry_delta` when the invoice has no `c` tag, blocks. */
export const DEFAULT_MIN_FINAL_CLTV_DELTA = 18;
/** Largest amount an invoice may carry: all bitcoin there will ever be, msat (lnd's uint64 arithmetic wraps
 * above ~1.8e19 msat; refusing above 2.1e18 keeps both readers' amounts equal and every ledger in range). */
export const MAX_INVOICE_MSAT = 21_000_000n * 100_000_000_000n;
/** Longest payment request accepted, characters. */
export const MAX_PAYMENT_REQUEST_CHARS = 4096;
/** Compulsory feature bits the buyer's node is known to handle for a plain payment. */
export const KNOWN_REQUIRED_FEATURES: readonly number[] = [8, 14, 16];

/** The fields of a BOLT11 invoice that the protocol relies on. */
export interface DecodedInvoice {
  /** Compressed public key (hex 33) recovered from the invoice signature: the node the payment goes to. */
  payeePubkey: string;
  network: Network;
  /** Amount in msat. */
  amountMsat: bigint;
  /** Hex 32: the hash the paying node pays (the one `p` tag). */
  paymentHash: string;
  /** Payment secret (`s`), hex 32, or null. */
  paymentSecret: string | null;
  /** Creation time, seconds since the Unix epoch. */
  timestampSec: number;
  /** Seconds after `timestampSec` at which the invoice expires. */
  expirySec: number;
  description: string;
  /** Hash of a long description (`h`), hex 32, or null (then `description` is set). */
  descriptionHash: string | null;
  /** Final CLTV delta asked for, blocks. */
  minFinalCltvDelta: number;
  /** Feature bits set, ascending. */
  featureBits: number[];
}

/** Why an invoice failed decoding or a check. Each name maps to its own wire reason code. */
export type InvoiceProblemName =
  | 'InvoiceMalformed'
  | 'InvoiceMissingAmount'
  | 'InvoiceAmbiguous'
  | 'InvoiceUnsupported'
  | 'InvoicePayeeMismatch'
  | 'InvoiceNetworkMismatch'
  | 'InvoiceAmountMismatch'
  | 'InvoiceExpired';

/** A typed invoice problem. */
export interface InvoiceProblem {
  readonly kind: 'InvoiceProblem';
  readonly name: InvoiceProblemName;
  readonly message: string;
}

function problem(name: InvoiceProblemName, message: string): { ok: false; error: InvoiceProblem } {
  return fail({ kind: 'InvoiceProblem', name, message });
}

const NETWORKS: { prefix: string; network: Network }[] = [
  { prefix: 'lnbcrt', network: 'regtest' },
  { prefix: 'lntbs', network: 'signet' },
  { prefix: 'lntb', network: 'testnet' },
  { prefix: 'lnbc', network: 'bitcoin' },
];

/**
 * BOLT11 human-readable prefix for a network.
 * @returns e.g. "lnbcrt" for regtest
 */
export function bolt11Prefix(network: Network): string {
  return (NETWORKS.find((n) => n.network === network) as { prefix: string }).prefix;
}

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
const SIGNATURE_GROUPS = 104;
const TIMESTAMP_GROUPS = 7;
/** secp256k1 group order. */
const CURVE_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** Tag letters by 5-bit type, for messages. */
const TAG_LETTER = (t: number): string => CHARSET[t] as string;
/** Tag types (the bech32 letter of `b`, blinded paths, is '5'). */
const TAG = { p: 1, r: 3, x: 6, f: 9, d: 13, s: 16, n: 19, b: 20, h: 23, c: 24, m: 27, features: 5 };
/** Tags that may appear once: a second one is read differently by different decoders. */
const SINGLE = new Set([TAG.p, TAG.s, TAG.d, TAG.h, TAG.n, TAG.x, TAG.c, TAG.features, TAG.m, TAG.f]);

/**
 * BIP-173 checksum polymod over 5-bit values (a valid bech32 string gives 1).
 * @param values expanded hrp followed by the data groups
 */
export function bech32Polymod(values: number[]): number {
  let chk = 1;
  for (const v of values) {
    const b = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((b >>> i) & 1) chk ^= GEN[i] as number;
  }
  return chk >>> 0;
}

/** BIP-173 expansion of a human-readable part for the checksum. */
export function bech32HrpExpand(hrp: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) >> 5);
  out.push(0);
  for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) & 31);
  return out;
}

/**
 * 5-bit groups → bytes.
 * @param pad keep a final partial byte, zero-filled (what is signed); otherwise leftover bits must be < 5 and 0
 * @returns the bytes, or null when unpadded groups leave non-zero or too many bits
 */
export function wordsToBytes(words: number[], pad: boolean): Uint8Array | null {
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  for (const w of words) {
    acc = ((acc << 5) | w) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  if (pad) {
    if (bits > 0) out.push((acc << (8 - bits)) & 0xff);
  } else if (bits >= 5 || (acc & ((1 << bits) - 1)) !== 0) {
    return null;
  }
  return Uint8Array.from(out);
}

function wordsToBigint(words: number[]): bigint {
  let v = 0n;
  for (const w of words) v = (v << 5n) | BigInt(w);
  return v;
}

function validPoint(bytes: Uint8Array): boolean {
  if (bytes.length !== 33 || (bytes[0] !== 2 && bytes[0] !== 3)) return false;
  try {
    secp256k1.Point.fromBytes(bytes);
    return true;
  } catch {
    return false;
  }
}

const MULTIPLIER: Record<string, { mul: bigint; div: bigint }> = {
  '': { mul: 100_000_000_000n, div: 1n },
  m: { mul: 100_000_000n, div: 1n },
  u: { mul: 100_000n, div: 1n },
  n: { mul: 100n, div: 1n },
  p: { mul: 1n, div: 10n },
};

/** Amount of the human-readable part after the network prefix, msat; null when absent. */
function parseAmount(text: string): Result<bigint | null, InvoiceProblem> {
  if (text === '') return ok(null);
  const m = /^([1-9][0-9]{0,19})([munp]?)$/.exec(text);
  if (m === null) return problem('InvoiceMalformed', `BOLT11 amount "${text}" is not a number and unit`);
  const digits = BigInt(m[1] as string);
  const unit = MULTIPLIER[m[2] as string] as { mul: bigint; div: bigint };
  if (unit.div === 10n && digits % 10n !== 0n)
    return problem('InvoiceMalformed', `BOLT11 amount ${text} is not a whole number of msat`);
  const msat = (digits * unit.mul) / unit.div;
  if (msat > MAX_INVOICE_MSAT) return problem('InvoiceMalformed', `BOLT11 amount ${text} is out of range`);
  return ok(msat);
}

/** The tagged fields as read, before the signature check. */
interface Fields {
  paymentHash: string | null;
  paymentSecret: string | null;
  description: string | null;
  descriptionHash: string | null;
  destination: string | null;
  expirySec: number;
  minFinalCltvDelta: number;
  featureBits: number[];
}

/** Reads one 32-byte field (p, s, h): exactly 52 groups, zero padding. */
function hash32(type: number, data: number[]): Result<string, InvoiceProblem> {
  if (data.length !== 52) {
    return problem(
      'InvoiceAmbiguous',
      `'${TAG_LETTER(type)}' field of ${data.length} groups (52 expected): decoders differ on skipping it`,
    );
  }
  const bytes = wordsToBytes(data, false);
  if (bytes === null) return problem('InvoiceMalformed', `'${TAG_LETTER(type)}' field has non-zero padding`);
  return ok(toHex(bytes));
}

/** A number field (x, c): at most 13 groups as lnd reads it, and at most 2^32 here. */
function smallNumber(type: number, data: number[]): Result<number, InvoiceProblem> {
  if (data.length > 13)
    return problem('InvoiceMalformed', `'${TAG_LETTER(type)}' field of ${data.length} groups`);
  const v = wordsToBigint(data);
  if (v > 0xffffffffn) return problem('InvoiceMalformed', `'${TAG_LETTER(type)}' value ${v} is out of range`);
  return ok(Number(v));
}

function readFields(words: number[]): Result<Fields, InvoiceProblem> {
  const f: Fields = {
    paymentHash: null,
    paymentSecret: null,
    description: null,
    descriptionHash: null,
    destination: null,
    expirySec: DEFAULT_EXPIRY_SEC,
    minFinalCltvDelta: DEFAULT_MIN_FINAL_CLTV_DELTA,
    featureBits: [],
  };
  const seen = new Set<number>();
  let i = 0;
  while (i < words.length) {
    if (words.length - i < 3) return problem('InvoiceMalformed', 'BOLT11 tagged field is cut short');
    const type = words[i] as number;
    const len = ((words[i + 1] as number) << 5) | (words[i + 2] as number);
    if (i + 3 + len > words.length)
      return problem('InvoiceMalformed', 'BOLT11 tagged field overruns the data');
    const data = words.slice(i + 3, i + 3 + len);
    i += 3 + len;
    if (SINGLE.has(type)) {
      if (seen.has(type)) {
        return problem(
          'InvoiceAmbiguous',
          `BOLT11 has more than one '${TAG_LETTER(type)}' field: decoders disagree on which one counts`,
        );
      }
      seen.add(type);
    }
    switch (type) {
      case TAG.p:
      case TAG.s:
      case TAG.h: {
        const h = hash32(type, data);
        if (!h.ok) return h;
        if (type === TAG.p) f.paymentHash = h.value;
        else if (type === TAG.s) f.paymentSecret = h.value;
        else f.descriptionHash = h.value;
        break;
      }
      case TAG.d: {
        const bytes = wordsToBytes(data, false);
        if (bytes === null) return problem('InvoiceMalformed', "'d' field has bad padding");
        f.description = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
        break;
      }
      case TAG.n: {
        if (data.length !== 53) {
          return problem(
            'InvoiceAmbiguous',
            `'n' field of ${data.length} groups (53 expected): decoders differ on skipping it`,
          );
        }
        const bytes = wordsToBytes(data, false);
        if (bytes === null || !validPoint(bytes))
          return problem('InvoiceMalformed', "'n' field is not a public key");
        f.destination = toHex(bytes);
        break;
      }
      case TAG.x:
      case TAG.c: {
        const v = smallNumber(type, data);
        if (!v.ok) return v;
        if (type === TAG.x) f.expirySec = v.value;
        else f.minFinalCltvDelta = v.value;
        break;
      }
      case TAG.features: {
        for (let g = 0; g < data.length; g++) {
          const w = data[data.length - 1 - g] as number;
          for (let b = 0; b < 5; b++) if ((w >> b) & 1) f.featureBits.push(g * 5 + b);
        }
        f.featureBits.sort((a, b) => a - b);
        const unknown = f.featureBits.filter((b) => b % 2 === 0 && !KNOWN_REQUIRED_FEATURES.includes(b));
        if (unknown.length > 0)
          return problem(
            'InvoiceUnsupported',
            `BOLT11 requires unknown feature bit(s) ${unknown.join(', ')}`,
          );
        break;
      }
      case TAG.r: {
        const bytes = wordsToBytes(data, false);
        if (bytes === null || bytes.length % 51 !== 0)
          return problem('InvoiceMalformed', "'r' field is not a list of 51-byte hop hints");
        for (let o = 0; o < bytes.length; o += 51) {
          if (!validPoint(bytes.subarray(o, o + 33)))
            return problem('InvoiceMalformed', "'r' hop hint has an invalid node key");
        }
        break;
      }
      case TAG.f: {
        if (data.length < 2) return problem('InvoiceMalformed', "'f' field is empty");
        const version = data[0] as number;
        const program = wordsToBytes(data.slice(1), false);
        if (version <= 18 && program === null)
          return problem('InvoiceMalformed', "'f' field has bad padding");
        const n = program?.length ?? 0;
        if ((version === 0 && n !== 20 && n !== 32) || ((version === 17 || version === 18) && n !== 20))
          return problem('InvoiceMalformed', `'f' fallback address of ${n} bytes`);
        break;
      }
      case TAG.m:
        if (wordsToBytes(data, false) === null)
          return problem('InvoiceMalformed', "'m' field has bad padding");
        break;
      case TAG.b:
        return problem('InvoiceUnsupported', 'BOLT11 pays through blinded paths (not to the signing node)');
      default:
      // unknown tags are skipped by every reader
    }
  }
  return ok(f);
}

/**
 * Decodes a BOLT11 payment request with the paying node's (lnd's) rules, refusing any ambiguity.
 * @param paymentRequest BOLT11 text (all lower or all upper case)
 * @returns DecodedInvoice, or InvoiceMalformed (bad bech32, checksum, prefix, field, signature; missing hash or
 *   description; amount out of range) / InvoiceAmbiguous (a field two decoders read differently, see the module
 *   comment) / InvoiceUnsupported (unknown compulsory feature, blinded paths) / InvoiceMissingAmount
 *   (zero-amount invoices are never paid by the protocol)
 */
export function decodeInvoice(paymentRequest: string): Result<DecodedInvoice, InvoiceProblem> {
  if (typeof paymentRequest !== 'string') return decodeUncached(paymentRequest);
  const hit = recent.get(paymentRequest);
  if (hit !== undefined) return structuredClone(hit);
  const result = decodeUncached(paymentRequest);
  recent.set(paymentRequest, result);
  if (recent.size > RECENT_DECODES) recent.delete(recent.keys().next().value as string);
  return structuredClone(result);
}

/**
 * The last decodings, by payment request: the same invoice is decoded by the seller that created it, by the
 * buyer (again for each re-check of a held invoice) and by the vehicle's cross-check with its node, and the
 * signature recovery dominates the cost. A pure function's memo: results are copies, never shared.
 */
const recent = new Map<string, Result<DecodedInvoice, InvoiceProblem>>();
const RECENT_DECODES = 64;

function decodeUncached(paymentRequest: string): Result<DecodedInvoice, InvoiceProblem> {
  if (typeof paymentRequest !== 'string' || paymentRequest.length > MAX_PAYMENT_REQUEST_CHARS) {
    return problem(
      'InvoiceMalformed',
      `payment request is not a string of at most ${MAX_PAYMENT_REQUEST_CHARS} characters`,
    );
  }
  for (let i = 0; i < paymentRequest.length; i++) {
    const c = paymentRequest.charCodeAt(i);
    if (c < 33 || c > 126)
      return problem('InvoiceMalformed', 'payment request has a non-printable character');
  }
  const lower = paymentRequest.toLowerCase();
  if (paymentRequest !== lower && paymentRequest !== paymentRequest.toUpperCase())
    return problem('InvoiceAmbiguous', 'payment request mixes upper and lower case');
  const one = lower.lastIndexOf('1');
  if (one < 1 || one + 7 > lower.length) return problem('InvoiceMalformed', 'payment request is not bech32');
  const hrp = lower.slice(0, one);
  const words: number[] = [];
  for (const ch of lower.slice(one + 1)) {
    const v = CHARSET.indexOf(ch);
    if (v < 0) return problem('InvoiceMalformed', `payment request has a character outside bech32: ${ch}`);
    words.push(v);
  }
  if (bech32Polymod([...bech32HrpExpand(hrp), ...words]) !== 1)
    return problem('InvoiceMalformed', 'payment request checksum fails');
  const net = NETWORKS.find((n) => hrp.startsWith(n.prefix));
  if (net === undefined) return problem('InvoiceMalformed', 'unknown BOLT11 prefix');
  const amount = parseAmount(hrp.slice(net.prefix.length));
  if (!amount.ok) return amount;
  const data = words.slice(0, -6);
  if (data.length < SIGNATURE_GROUPS + TIMESTAMP_GROUPS)
    return problem('InvoiceMalformed', 'BOLT11 too short');
  const body = data.slice(0, -SIGNATURE_GROUPS);
  const fields = readFields(body.slice(TIMESTAMP_GROUPS));
  if (!fields.ok) return fields;
  const f = fields.value;
  if (f.paymentHash === null) return problem('InvoiceMalformed', 'BOLT11 has no payment hash');
  if (f.description !== null && f.descriptionHash !== null)
    return problem('InvoiceAmbiguous', 'BOLT11 has both a description and a description hash');
  if (f.description === null && f.descriptionHash === null)
    return problem('InvoiceMalformed', 'BOLT11 has neither a description nor a description hash');

  const sig = wordsToBytes(data.slice(-SIGNATURE_GROUPS), true) as Uint8Array;
  const recovery = sig[64] as number;
  if (recovery > 3) return problem('InvoiceMalformed', `BOLT11 signature recovery id ${recovery}`);
  const s = BigInt(`0x${toHex(sig.subarray(32, 64))}`);
  if (s > CURVE_N >> 1n) return problem('InvoiceMalformed', 'BOLT11 signature is not in low-S form');
  const digest = sha256(concatBytes(utf8(hrp), wordsToBytes(body, true) as Uint8Array));
  let payee: string;
  try {
    const rec = concatBytes(Uint8Array.of(recovery), sig.subarray(0, 64));
    const pub = secp256k1.recoverPublicKey(rec, digest, { prehash: false });
    payee = toHex(secp256k1.Point.fromBytes(pub).toBytes(true));
  } catch (e) {
    return problem('InvoiceMalformed', `BOLT11 signature does not recover a key: ${(e as Error).message}`);
  }
  if (f.destination !== null && f.destination !== payee) {
    return problem(
      'InvoiceAmbiguous',
      `BOLT11 names payee ${f.destination} but is signed by ${payee}: decoders differ on the destination`,
    );
  }
  if (amount.value === null) return problem('InvoiceMissingAmount', 'BOLT11 has no amount');
  return ok({
    payeePubkey: payee,
    network: net.network,
    amountMsat: amount.value,
    paymentHash: f.paymentHash,
    paymentSecret: f.paymentSecret,
    timestampSec: Number(wordsToBigint(body.slice(0, TIMESTAMP_GROUPS))),
    expirySec: f.expirySec,
    description: f.description ?? '',
    descriptionHash: f.descriptionHash,
    minFinalCltvDelta: f.minFinalCltvDelta,
    featureBits: f.featureBits,
  });
}

/**
 * Checks that the invoice was signed by the expected node.
 * @param invoice decoded invoice
 * @param expectedPubkey hex 33 (the wall's key proven in the handshake)
 * @returns ok or InvoicePayeeMismatch
 */
export function checkPayee(invoice: DecodedInvoice, expectedPubkey: string): Result<true, InvoiceProblem> {
  if (invoice.payeePubkey !== expectedPubkey.toLowerCase()) {
    return problem(
      'InvoicePayeeMismatch',
      `invoice signed by ${invoice.payeePubkey}, expected ${expectedPubkey}`,
    );
  }
  return ok(true);
}

/**
 * Checks the invoice's network.
 * @returns ok or InvoiceNetworkMismatch
 */
export function checkNetwork(invoice: DecodedInvoice, network: Network): Result<true, InvoiceProblem> {
  if (invoice.network !== network) {
    return problem('InvoiceNetworkMismatch', `invoice is for ${invoice.network}, expected ${network}`);
  }
  return ok(true);
}

/**
 * Checks the invoice's amount equals the expected amount exactly.
 * @param amountMsat expected amount, msat
 * @returns ok or InvoiceAmountMismatch
 */
export function checkAmount(invoice: DecodedInvoice, amountMsat: bigint): Result<true, InvoiceProblem> {
  if (invoice.amountMsat !== amountMsat) {
    return problem(
      'InvoiceAmountMismatch',
      `invoice amount ${invoice.amountMsat} msat, expected ${amountMsat}`,
    );
  }
  return ok(true);
}

/**
 * Checks the invoice is still payable at `nowMs` with at least `marginSec` to spare.
 * @param nowMs current time, ms since the Unix epoch (from the caller's event)
 * @param marginSec seconds that must remain before expiry (payment latency)
 * @returns ok or InvoiceExpired
 */
export function checkUnexpired(
  invoice: DecodedInvoice,
  nowMs: number,
  marginSec: number,
): Result<true, InvoiceProblem> {
  const expiresMs = invoiceExpiresAtMs(invoice);
  if (nowMs + marginSec * 1000 >= expiresMs) {
    return problem(
      'InvoiceExpired',
      `invoice expires at ${expiresMs} ms, now ${nowMs} ms, margin ${marginSec} s`,
    );
  }
  return ok(true);
}

/**
 * Time an invoice expires.
 * @returns ms since the Unix epoch
 */
export function invoiceExpiresAtMs(invoice: DecodedInvoice): number {
  return (invoice.timestampSec + invoice.expirySec) * 1000;
}

/** What the paying node says an invoice is (lnd's own decode), for comparison with `decodeInvoice`. */
export interface NodeInvoiceView {
  paymentHash: string;
  amountMsat: bigint;
  payeePubkey: string;
  /** hex 32 or null */
  paymentSecret: string | null;
  /** blocks */
  minFinalCltvDelta: number;
  /** ms since the Unix epoch */
  expiresAtMs: number;
}

/**
 * Compares the buyer's view of an invoice with the paying node's own decoding of the same text.
 * @param mine `decodeInvoice` result
 * @param node the node's decoding
 * @returns ok, or InvoiceAmbiguous naming every field the two readers disagree on
 */
export function compareWithNode(mine: DecodedInvoice, node: NodeInvoiceView): Result<true, InvoiceProblem> {
  const diffs: string[] = [];
  if (node.paymentHash.toLowerCase() !== mine.paymentHash)
    diffs.push(`payment hash ${node.paymentHash} ≠ ${mine.paymentHash}`);
  if (node.amountMsat !== mine.amountMsat) diffs.push(`amount ${node.amountMsat} ≠ ${mine.amountMsat} msat`);
  if (node.payeePubkey.toLowerCase() !== mine.payeePubkey)
    diffs.push(`payee ${node.payeePubkey} ≠ ${mine.payeePubkey}`);
  if ((node.paymentSecret?.toLowerCase() ?? null) !== mine.paymentSecret)
    diffs.push(`payment secret ${node.paymentSecret ?? 'none'} ≠ ${mine.paymentSecret ?? 'none'}`);
  if (node.minFinalCltvDelta !== mine.minFinalCltvDelta)
    diffs.push(`final CLTV delta ${node.minFinalCltvDelta} ≠ ${mine.minFinalCltvDelta}`);
  if (node.expiresAtMs !== invoiceExpiresAtMs(mine))
    diffs.push(`expiry ${node.expiresAtMs} ≠ ${invoiceExpiresAtMs(mine)} ms`);
  if (diffs.length > 0)
    return problem('InvoiceAmbiguous', `the paying node reads the invoice differently: ${diffs.join('; ')}`);
  return ok(true);
}
