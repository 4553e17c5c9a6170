/**
 * Message types of the boltcharge cable protocol and their binary body encoding (big-endian, fixed field
 * order, no optional fields). Byte fields are lower-case hex strings so messages are JSON-friendly; amounts
 * are bigint msat. Framing (magic, version, type, session, counter) is in `frame.ts`; see docs/PROTOCOL.md.
 */
import { ByteReader, ByteWriter, DecodeFailure, isHex } from './bytes.js';
import { fail, ok, protocolError, type Result } from './errors.js';
import type { ReasonCode } from './reasons.js';

/** Lightning network that invoices are drawn on. Wire: 1 bitcoin, 2 testnet, 3 signet, 4 regtest. */
export type Network = 'bitcoin' | 'testnet' | 'signet' | 'regtest';
/** Wire codes of networks. */
export const NETWORK_CODES: Record<Network, number> = { bitcoin: 1, testnet: 2, signet: 3, regtest: 4 };

/** Role of a party. Wire: 1 wall (seller), 2 vehicle (buyer). */
export type Role = 'wall' | 'vehicle';

/** Largest BOLT11 string accepted in an `invoice` message, in bytes. */
export const MAX_BOLT11_BYTES = 2048;
/** Largest free-text field, in UTF-8 bytes. */
export const MAX_TEXT_BYTES = 256;
/** Most invoices a receipt can list (keeps a receipt frame under the 65535-byte limit). */
export const MAX_RECEIPT_INVOICES = 1300;
/** Most versions a hello may list. */
export const MAX_VERSIONS = 16;

/** Clear handshake opener, one from each side. Sent before keys exist. */
export interface HelloMessage {
  type: 'hello';
  role: Role;
  /** Protocol versions the sender implements, each 1..255, strictly ascending. */
  versions: number[];
  /** 16-byte session id chosen by the wall; the vehicle echoes it. Hex. */
  sessionId: string;
  /** Sender's 32-byte X25519 ephemeral public key. Hex. */
  ephemeralPub: string;
  /** Sender's 33-byte compressed secp256k1 identity key (wall: Lightning node key). Hex. */
  identityPub: string;
}
/** Clear error, only before keys exist (e.g. no common version). Unauthenticated by nature. */
export interface ClearErrorMessage {
  type: 'clearError';
  reason: ReasonCode;
  /** Versions the sender implements, so the peer can show both lists. */
  versions: number[];
  text: string;
}
/** Proof of the identity key: 65-byte recoverable signature over the handshake text (see nodeSignature). */
export interface AuthMessage {
  type: 'auth';
  /** Hex of header byte (31 + recovery id) followed by r and s. */
  signature: string;
}
/** The wall's terms. */
export interface OfferMessage {
  type: 'offer';
  /** Offer sequence number; the first offer is 0, each renewal increments it. */
  offerSeq: number;
  network: Network;
  /** Price in msat per Wh. */
  priceMsatPerWh: bigint;
  /** Smallest and largest energy block one invoice buys, Wh. */
  minBlockWh: number;
  maxBlockWh: number;
  /** Blocks the buyer keeps paid ahead; the first `depositBlocks` are paid before power flows. */
  depositBlocks: number;
  /** Unpaid energy the wall tolerates before cutting power, Wh. */
  graceWh: number;
  /** Expiry of each invoice, seconds. */
  invoiceExpirySec: number;
  /** Target interval between invoices, seconds. */
  targetIntervalSec: number;
  /** Largest power the wall will deliver, W. */
  maxPowerW: number;
  /** Silence after which either side ends the session, ms. */
  heartbeatTimeoutMs: number;
}
/** The buyer accepts an offer or renewal. */
export interface AcceptMessage {
  type: 'accept';
  offerSeq: number;
  /** Energy the buyer wants in this session, Wh; 0 = no limit. The wall sizes the last block to it. */
  targetEnergyWh: number;
  /** Largest block the buyer will pay, Wh (≥ the offer's minBlockWh); the wall caps its blocks to it. */
  maxBlockWh: number;
}
/** The buyer refuses an offer/renewal or an invoice, with a reason. */
export interface DeclineMessage {
  type: 'decline';
  subject: 'offer' | 'invoice';
  /** offerSeq or invoice seq. */
  ref: number;
  reason: ReasonCode;
  text: string;
}
/** One invoice buying the next block of energy. */
export interface InvoiceMessage {
  type: 'invoice';
  /** Invoice sequence number, 0, 1, 2, ... */
  seq: number;
  /** Cumulative paid energy of the session at which this block starts, Wh. */
  fromWh: number;
  /** Energy this invoice buys, Wh. */
  blockWh: number;
  /** Price the amount was computed with, msat per Wh. */
  priceMsatPerWh: bigint;
  /** Amount, msat; equals the BOLT11 amount and amountMsatForBlock(price, blockWh). */
  amountMsat: bigint;
  bolt11: string;
}
/** The buyer reports a payment (informational; the wall trusts only its node's settlement). */
export interface PaidMessage {
  type: 'paid';
  seq: number;
  paymentHash: string;
  preimage: string;
}
/** A meter reading, sent by both sides. */
export interface MeterMessage {
  type: 'meter';
  /** Energy since the session start as measured by the sender, Wh. */
  energyWh: number;
  /** The sender's cumulative meter register, Wh. */
  registerWh: number;
  powerW: number;
  voltageMv: number;
  currentMa: number;
  /** Time of the reading, ms since the Unix epoch. */
  atMs: number;
}
/** A new price from a stated cumulative session energy on. */
export interface RenewMessage {
  type: 'renew';
  offerSeq: number;
  priceMsatPerWh: bigint;
  /** Cumulative paid energy (Wh) from which the new price applies. */
  effectiveAtWh: number;
}
/** Either side ends the session. */
export interface StopMessage {
  type: 'stop';
  reason: ReasonCode;
  text: string;
}
/** One settled invoice in a receipt. */
export interface ReceiptInvoice {
  seq: number;
  paymentHash: string;
  blockWh: number;
  amountMsat: bigint;
}
/** Seller-signed account of the session. */
export interface ReceiptMessage {
  type: 'receipt';
  sessionId: string;
  /** Wall's node key (hex, 33 bytes). */
  sellerPub: string;
  startRegisterWh: number;
  endRegisterWh: number;
  /** Energy delivered in the session by the wall's meter, Wh. */
  energyWh: number;
  startMs: number;
  endMs: number;
  /** Why the session ended. */
  reason: ReasonCode;
  invoices: ReceiptInvoice[];
  totalPaidMsat: bigint;
  /** 65-byte recoverable signature (hex) over the receipt text; see receipt.ts. */
  signature: string;
}
/** An authenticated error report; the session continues unless followed by `stop`. */
export interface ErrorMessage {
  type: 'error';
  reason: ReasonCode;
  text: string;
}
/** Keep-alive. */
export interface PingMessage {
  type: 'ping';
  atMs: number;
}
/** Keep-alive answer, echoing the ping's `atMs`. */
export interface PongMessage {
  type: 'pong';
  atMs: number;
}

/**
 * Proof of payment of a stocked invoice (offline case 1b, protocol version 2): the wall, without uplink, handed
 * the car an invoice from its stock in an `invoice` message; the car paid it through its own uplink and returns
 * the preimage. The wall checks `sha256(preimage) = paymentHash`, that the hash is from its stock and unused
 * (payments/invoice-stock.ts), and delivers the energy. Sealed like every message after the handshake.
 */
export interface PaymentProofMessage {
  type: 'paymentProof';
  /** the `invoice` message's seq that carried the stocked invoice */
  seq: number;
  /** the stocked invoice's payment hash (32 bytes hex) */
  paymentHash: string;
  /** the payment's preimage (32 bytes hex) */
  preimage: string;
  /** when the car's node saw the payment succeed, ms since epoch by the car's clock (informative) */
  paidAtMs: number;
}

/**
 * The car's signed promise to pay an invoice it cannot pay now (offline case 3, protocol version 3: neither the
 * car's node nor the wall's reaches the Lightning network). The car's identity key (the node key it proved in
 * the handshake) signs `promiseText` (protocol/promise.ts); the wall, within its per-car and site caps, credits
 * the block and keeps the promise as evidence; the car pays the invoice as soon as its node is back online.
 */
export interface PromiseMessage {
  type: 'promise';
  /** the `invoice` message's seq */
  seq: number;
  /** the invoice's payment hash (32 bytes hex) */
  paymentHash: string;
  /** the invoice's amount, msat */
  amountMsat: bigint;
  /** 65-byte recoverable signature (hex) by the car's identity key over `promiseText` */
  signature: string;
}

/**
 * The wall's node delegates signing to a key the wall daemon holds (protocol version 3, protocol/delegation.ts):
 * sent before an `auth` or `receipt` the delegate key signed (the wall's node is unreachable). The car then
 * accepts that key's signatures for this session until `untilMs`.
 */
export interface DelegationMessage {
  type: 'delegation';
  /** the delegate's 33-byte compressed secp256k1 key (hex) */
  delegatePub: string;
  /** end of validity, ms since the Unix epoch */
  untilMs: number;
  /** 65-byte recoverable signature (hex) by the wall's node key over `delegationText` */
  signature: string;
}

/** Protocol version from which a message type exists (absent = every version). A session of an older
  version must treat such a message as unexpected. */
export const MESSAGE_MIN_VERSION: Partial<Record<MessageType, number>> = {
  paymentProof: 2,
  promise: 3,
  delegation: 3,
};

/**
 * Whether a message type exists in a protocol version.
 * @param type message type
 * @param version the session's negotiated protocol version
 * @returns true when the type may be sent and accepted in that version
 */
export function messageInVersion(type: MessageType, version: number): boolean {
  return version >= (MESSAGE_MIN_VERSION[type] ?? 1);
}

/** Messages sent in clear (before keys exist). */
export type ClearMessage = HelloMessage | ClearErrorMessage;
/** Messages sent sealed in the secure channel. */
export type SealedMessage =
  | AuthMessage
  | OfferMessage
  | AcceptMessage
  | DeclineMessage
  | InvoiceMessage
  | PaidMessage
  | MeterMessage
  | RenewMessage
  | StopMessage
  | ReceiptMessage
  | ErrorMessage
  | PingMessage
  | PongMessage
  | PaymentProofMessage
  | PromiseMessage
  | DelegationMessage;
/** Every message. */
export type Message = ClearMessage | SealedMessage;
/** Message type names. */
export type MessageType = Message['type'];

/** Wire type codes. 0x0_ are clear, 0x1_ sealed. */
export const MESSAGE_TYPE_CODES: Record<MessageType, number> = {
  hello: 0x01,
  clearError: 0x02,
  auth: 0x10,
  offer: 0x11,
  accept: 0x12,
  decline: 0x13,
  invoice: 0x14,
  paid: 0x15,
  meter: 0x16,
  renew: 0x17,
  stop: 0x18,
  receipt: 0x19,
  error: 0x1a,
  ping: 0x1b,
  pong: 0x1c,
  paymentProof: 0x1d,
  promise: 0x1e,
  delegation: 0x1f,
};
const typeByCode = new Map<number, MessageType>(
  (Object.entries(MESSAGE_TYPE_CODES) as [MessageType, number][]).map(([t, c]) => [c, t]),
);

/** Message type of a wire code, if known. */
export function messageTypeOf(code: number): MessageType | undefined {
  return typeByCode.get(code);
}
/** True for types sent in clear. */
export function isClearType(type: MessageType): type is ClearMessage['type'] {
  return type === 'hello' || type === 'clearError';
}

const U32 = 0xffffffff;
const U64 = (1n << 64n) - 1n;

function check(cond: boolean, what: string): void {
  if (!cond) throw new DecodeFailure(what);
}
function u32ok(v: number, what: string): void {
  check(Number.isSafeInteger(v) && v >= 0 && v <= U32, `${what} must be an integer 0..2^32-1`);
}
function u16ok(v: number, what: string): void {
  check(Number.isSafeInteger(v) && v >= 0 && v <= 0xffff, `${what} must be an integer 0..65535`);
}
function u8ok(v: number, what: string): void {
  check(Number.isSafeInteger(v) && v >= 0 && v <= 0xff, `${what} must be an integer 0..255`);
}
function u64ok(v: bigint, what: string): void {
  check(typeof v === 'bigint' && v >= 0n && v <= U64, `${what} must be a bigint 0..2^64-1`);
}
function safeOk(v: number, what: string): void {
  check(Number.isSafeInteger(v) && v >= 0, `${what} must be a safe non-negative integer`);
}
function hexOk(h: string, n: number, what: string): void {
  check(typeof h === 'string' && isHex(h, n), `${what} must be ${n} bytes of hex`);
}
function textOk(s: string, max: number, what: string): void {
  check(typeof s === 'string' && Buffer.byteLength(s, 'utf8') <= max, `${what} must be at most ${max} bytes`);
}
function versionsOk(vs: number[]): void {
  check(Array.isArray(vs) && vs.length >= 1 && vs.length <= MAX_VERSIONS, 'versions: 1..16 entries');
  vs.forEach((v, i) => {
    check(Number.isInteger(v) && v >= 1 && v <= 255, 'versions: each 1..255');
    check(i === 0 || v > (vs[i - 1] as number), 'versions: strictly ascending');
  });
}

const networkByCode = new Map<number, Network>(
  (Object.entries(NETWORK_CODES) as [Network, number][]).map(([n, c]) => [c, n]),
);

/** Validates a message's fields (ranges, lengths) before encoding. Throws DecodeFailure (internal). */
function validate(m: Message): void {
  switch (m.type) {
    case 'hello':
      versionsOk(m.versions);
      check(m.role === 'wall' || m.role === 'vehicle', 'role');
      hexOk(m.sessionId, 16, 'sessionId');
      hexOk(m.ephemeralPub, 32, 'ephemeralPub');
      hexOk(m.identityPub, 33, 'identityPub');
      return;
    case 'clearError':
      u16ok(m.reason, 'reason');
      versionsOk(m.versions);
      textOk(m.text, MAX_TEXT_BYTES, 'text');
      return;
    case 'auth':
      hexOk(m.signature, 65, 'signature');
      return;
    case 'offer':
      u32ok(m.offerSeq, 'offerSeq');
      check(m.network in NETWORK_CODES, 'network');
      u64ok(m.priceMsatPerWh, 'priceMsatPerWh');
      u32ok(m.minBlockWh, 'minBlockWh');
      u32ok(m.maxBlockWh, 'maxBlockWh');
      u8ok(m.depositBlocks, 'depositBlocks');
      u32ok(m.graceWh, 'graceWh');
      u32ok(m.invoiceExpirySec, 'invoiceExpirySec');
      u16ok(m.targetIntervalSec, 'targetIntervalSec');
      u32ok(m.maxPowerW, 'maxPowerW');
      u32ok(m.heartbeatTimeoutMs, 'heartbeatTimeoutMs');
      return;
    case 'accept':
      u32ok(m.offerSeq, 'offerSeq');
      u32ok(m.targetEnergyWh, 'targetEnergyWh');
      u32ok(m.maxBlockWh, 'maxBlockWh');
      return;
    case 'decline':
      check(m.subject === 'offer' || m.subject === 'invoice', 'subject');
      u32ok(m.ref, 'ref');
      u16ok(m.reason, 'reason');
      textOk(m.text, MAX_TEXT_BYTES, 'text');
      return;
    case 'invoice':
      u32ok(m.seq, 'seq');
      u32ok(m.fromWh, 'fromWh');
      u32ok(m.blockWh, 'blockWh');
      u64ok(m.priceMsatPerWh, 'priceMsatPerWh');
      u64ok(m.amountMsat, 'amountMsat');
      textOk(m.bolt11, MAX_BOLT11_BYTES, 'bolt11');
      return;
    case 'paid':
      u32ok(m.seq, 'seq');
      hexOk(m.paymentHash, 32, 'paymentHash');
      hexOk(m.preimage, 32, 'preimage');
      return;
    case 'meter':
      u32ok(m.energyWh, 'energyWh');
      safeOk(m.registerWh, 'registerWh');
      u32ok(m.powerW, 'powerW');
      u32ok(m.voltageMv, 'voltageMv');
      u32ok(m.currentMa, 'currentMa');
      safeOk(m.atMs, 'atMs');
      return;
    case 'renew':
      u32ok(m.offerSeq, 'offerSeq');
      u64ok(m.priceMsatPerWh, 'priceMsatPerWh');
      u32ok(m.effectiveAtWh, 'effectiveAtWh');
      return;
    case 'stop':
    case 'error':
      u16ok(m.reason, 'reason');
      textOk(m.text, MAX_TEXT_BYTES, 'text');
      return;
    case 'receipt':
      hexOk(m.sessionId, 16, 'sessionId');
      hexOk(m.sellerPub, 33, 'sellerPub');
      safeOk(m.startRegisterWh, 'startRegisterWh');
      safeOk(m.endRegisterWh, 'endRegisterWh');
      u32ok(m.energyWh, 'energyWh');
      safeOk(m.startMs, 'startMs');
      safeOk(m.endMs, 'endMs');
      u16ok(m.reason, 'reason');
      check(Array.isArray(m.invoices) && m.invoices.length <= MAX_RECEIPT_INVOICES, 'invoices: too many');
      for (const inv of m.invoices) {
        u32ok(inv.seq, 'invoices.seq');
        hexOk(inv.paymentHash, 32, 'invoices.paymentHash');
        u32ok(inv.blockWh, 'invoices.blockWh');
        u64ok(inv.amountMsat, 'invoices.amountMsat');
      }
      u64ok(m.totalPaidMsat, 'totalPaidMsat');
      hexOk(m.signature, 65, 'signature');
      return;
    case 'ping':
    case 'pong':
      safeOk(m.atMs, 'atMs');
      return;
    case 'paymentProof':
      u32ok(m.seq, 'seq');
      hexOk(m.paymentHash, 32, 'paymentHash');
      hexOk(m.preimage, 32, 'preimage');
      safeOk(m.paidAtMs, 'paidAtMs');
      return;
    case 'promise':
      u32ok(m.seq, 'seq');
      hexOk(m.paymentHash, 32, 'paymentHash');
      u64ok(m.amountMsat, 'amountMsat');
      hexOk(m.signature, 65, 'signature');
      return;
    case 'delegation':
      hexOk(m.delegatePub, 33, 'delegatePub');
      safeOk(m.untilMs, 'untilMs');
      hexOk(m.signature, 65, 'signature');
      return;
  }
}

/** Writes the receipt fields that the seller signs (everything but the signature). */
export function writeReceiptBody(w: ByteWriter, m: Omit<ReceiptMessage, 'type' | 'signature'>): ByteWriter {
  w.hex(m.sessionId).hex(m.sellerPub).u64(m.startRegisterWh).u64(m.endRegisterWh).u32(m.energyWh);
  w.u64(m.startMs).u64(m.endMs).u16(m.reason).u16(m.invoices.length);
  for (const inv of m.invoices) w.u32(inv.seq).hex(inv.paymentHash).u32(inv.blockWh).u64(inv.amountMsat);
  return w.u64(m.totalPaidMsat);
}

function writeBody(w: ByteWriter, m: Message): void {
  switch (m.type) {
    case 'hello':
      w.u8(m.role === 'wall' ? 1 : 2).u8(m.versions.length);
      m.versions.forEach((v) => w.u8(v));
      w.hex(m.sessionId).hex(m.ephemeralPub).hex(m.identityPub);
      return;
    case 'clearError':
      w.u16(m.reason).u8(m.versions.length);
      m.versions.forEach((v) => w.u8(v));
      w.str16(m.text);
      return;
    case 'auth':
      w.hex(m.signature);
      return;
    case 'offer':
      w.u32(m.offerSeq)
        .u8(NETWORK_CODES[m.network])
        .u64(m.priceMsatPerWh)
        .u32(m.minBlockWh)
        .u32(m.maxBlockWh);
      w.u8(m.depositBlocks).u32(m.graceWh).u32(m.invoiceExpirySec).u16(m.targetIntervalSec).u32(m.maxPowerW);
      w.u32(m.heartbeatTimeoutMs);
      return;
    case 'accept':
      w.u32(m.offerSeq).u32(m.targetEnergyWh).u32(m.maxBlockWh);
      return;
    case 'decline':
      w.u8(m.subject === 'offer' ? 1 : 2)
        .u32(m.ref)
        .u16(m.reason)
        .str16(m.text);
      return;
    case 'invoice':
      w.u32(m.seq).u32(m.fromWh).u32(m.blockWh).u64(m.priceMsatPerWh).u64(m.amountMsat).str16(m.bolt11);
      return;
    case 'paid':
      w.u32(m.seq).hex(m.paymentHash).hex(m.preimage);
      return;
    case 'meter':
      w.u32(m.energyWh).u64(m.registerWh).u32(m.powerW).u32(m.voltageMv).u32(m.currentMa).u64(m.atMs);
      return;
    case 'renew':
      w.u32(m.offerSeq).u64(m.priceMsatPerWh).u32(m.effectiveAtWh);
      return;
    case 'stop':
    case 'error':
      w.u16(m.reason).str16(m.text);
      return;
    case 'receipt':
      writeReceiptBody(w, m).hex(m.signature);
      return;
    case 'ping':
    case 'pong':
      w.u64(m.atMs);
      return;
    case 'paymentProof':
      w.u32(m.seq).hex(m.paymentHash).hex(m.preimage).u64(m.paidAtMs);
      return;
    case 'promise':
      w.u32(m.seq).hex(m.paymentHash).u64(m.amountMsat).hex(m.signature);
      return;
    case 'delegation':
      w.hex(m.delegatePub).u64(m.untilMs).hex(m.signature);
      return;
  }
}

function readVersions(r: ByteReader): number[] {
  const n = r.u8('versions count');
  const vs: number[] = [];
  for (let i = 0; i < n; i++) vs.push(r.u8('version'));
  return vs;
}

function readBody(type: MessageType, r: ByteReader): Message {
  switch (type) {
    case 'hello': {
      const roleCode = r.u8('role');
      check(roleCode === 1 || roleCode === 2, `unknown role ${roleCode}`);
      return {
        type,
        role: roleCode === 1 ? 'wall' : 'vehicle',
        versions: readVersions(r),
        sessionId: r.hex(16, 'sessionId'),
        ephemeralPub: r.hex(32, 'ephemeralPub'),
        identityPub: r.hex(33, 'identityPub'),
      };
    }
    case 'clearError':
      return { type, reason: r.u16(), versions: readVersions(r), text: r.str16(MAX_TEXT_BYTES, 'text') };
    case 'auth':
      return { type, signature: r.hex(65, 'signature') };
    case 'offer': {
      const offerSeq = r.u32();
      const netCode = r.u8('network');
      const network = networkByCode.get(netCode);
      if (network === undefined) throw new DecodeFailure(`unknown network ${netCode}`);
      return {
        type,
        offerSeq,
        network,
        priceMsatPerWh: r.u64(),
        minBlockWh: r.u32(),
        maxBlockWh: r.u32(),
        depositBlocks: r.u8(),
        graceWh: r.u32(),
        invoiceExpirySec: r.u32(),
        targetIntervalSec: r.u16(),
        maxPowerW: r.u32(),
        heartbeatTimeoutMs: r.u32(),
      };
    }
    case 'accept':
      return { type, offerSeq: r.u32(), targetEnergyWh: r.u32(), maxBlockWh: r.u32() };
    case 'decline': {
      const s = r.u8('subject');
      check(s === 1 || s === 2, `unknown decline subject ${s}`);
      return {
        type,
        subject: s === 1 ? 'offer' : 'invoice',
        ref: r.u32(),
        reason: r.u16(),
        text: r.str16(MAX_TEXT_BYTES, 'text'),
      };
    }
    case 'invoice':
      return {
        type,
        seq: r.u32(),
        fromWh: r.u32(),
        blockWh: r.u32(),
        priceMsatPerWh: r.u64(),
        amountMsat: r.u64(),
        bolt11: r.str16(MAX_BOLT11_BYTES, 'bolt11'),
      };
    case 'paid':
      return { type, seq: r.u32(), paymentHash: r.hex(32), preimage: r.hex(32) };
    case 'meter':
      return {
        type,
        energyWh: r.u32(),
        registerWh: r.u64n('registerWh'),
        powerW: r.u32(),
        voltageMv: r.u32(),
        currentMa: r.u32(),
        atMs: r.u64n('atMs'),
      };
    case 'renew':
      return { type, offerSeq: r.u32(), priceMsatPerWh: r.u64(), effectiveAtWh: r.u32() };
    case 'stop':
    case 'error':
      return { type, reason: r.u16(), text: r.str16(MAX_TEXT_BYTES, 'text') };
    case 'receipt': {
      const head = {
        sessionId: r.hex(16),
        sellerPub: r.hex(33),
        startRegisterWh: r.u64n('startRegisterWh'),
        endRegisterWh: r.u64n('endRegisterWh'),
        energyWh: r.u32(),
        startMs: r.u64n('startMs'),
        endMs: r.u64n('endMs'),
        reason: r.u16(),
      };
      const n = r.u16('invoice count');
      check(n <= MAX_RECEIPT_INVOICES, 'too many receipt invoices');
      const invoices: ReceiptInvoice[] = [];
      for (let i = 0; i < n; i++) {
        invoices.push({ seq: r.u32(), paymentHash: r.hex(32), blockWh: r.u32(), amountMsat: r.u64() });
      }
      return { type, ...head, invoices, totalPaidMsat: r.u64(), signature: r.hex(65) };
    }
    case 'ping':
    case 'pong':
      return { type, atMs: r.u64n('atMs') };
    case 'paymentProof':
      return {
        type,
        seq: r.u32(),
        paymentHash: r.hex(32, 'paymentHash'),
        preimage: r.hex(32, 'preimage'),
        paidAtMs: r.u64n('paidAtMs'),
      };
    case 'promise':
      return {
        type,
        seq: r.u32(),
        paymentHash: r.hex(32, 'paymentHash'),
        amountMsat: r.u64(),
        signature: r.hex(65, 'signature'),
      };
    case 'delegation':
      return {
        type,
        delegatePub: r.hex(33, 'delegatePub'),
        untilMs: r.u64n('untilMs'),
        signature: r.hex(65, 'signature'),
      };
  }
}

/**
 * Encodes a message body (without frame header).
 * @param message any message; fields are validated (ranges, lengths, hex)
 * @returns body bytes, or MalformedMessage if a field is out of range
 */
export function encodeBody(message: Message): Result<Uint8Array> {
  try {
    validate(message);
    const w = new ByteWriter();
    writeBody(w, message);
    return ok(w.finish());
  } catch (e) {
    return fail(protocolError('MalformedMessage', `cannot encode ${message.type}: ${(e as Error).message}`));
  }
}

/**
 * Decodes a message body of a known type. Strict: every field validated, no trailing bytes.
 * @param type message type from the frame header
 * @param body body bytes
 * @returns the message, or MalformedMessage / TrailingBytes
 */
export function decodeBody(type: MessageType, body: Uint8Array): Result<Message> {
  try {
    const r = new ByteReader(body);
    const m = readBody(type, r);
    if (r.remaining() !== 0) {
      return fail(protocolError('TrailingBytes', `${type}: ${r.remaining()} unexpected trailing bytes`));
    }
    validate(m);
    return ok(m);
  } catch (e) {
    return fail(protocolError('MalformedMessage', `${type}: ${(e as Error).message}`));
  }
}
