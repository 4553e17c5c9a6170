/**
 * BOLT11 decoding and the checks the buyer applies to every invoice. Pure: decoding recovers the payee key
 * from the invoice signature (authenticity = comparing it with the key the wall proved in the handshake).
 * The lightning/ package uses this module too; it does not duplicate it.
 */
import bolt11 from 'bolt11';
import { fail, ok, type Result } from './errors.js';
import type { Network } from './messages.js';

/** BOLT11 default expiry when the invoice has no `x` tag, seconds. */
export const DEFAULT_EXPIRY_SEC = 3600;

/** The fields of a BOLT11 invoice that the protocol relies on. */
export interface DecodedInvoice {
  /** Compressed public key (hex 33) recovered from the invoice signature. */
  payeePubkey: string;
  network: Network;
  /** Amount in msat. */
  amountMsat: bigint;
  /** Hex 32. */
  paymentHash: string;
  /** Creation time, seconds since the Unix epoch. */
  timestampSec: number;
  /** Seconds after `timestampSec` at which the invoice expires. */
  expirySec: number;
  description: string;
}

/** Why an invoice failed decoding or a check. Each name maps to its own wire reason code. */
export type InvoiceProblemName =
  | 'InvoiceMalformed'
  | 'InvoiceMissingAmount'
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

const NETWORKS: { prefix: string; network: Network; bech32: string }[] = [
  { prefix: 'lnbcrt', network: 'regtest', bech32: 'bcrt' },
  { prefix: 'lntbs', network: 'signet', bech32: 'tbs' },
  { prefix: 'lntb', network: 'testnet', bech32: 'tb' },
  { prefix: 'lnbc', network: 'bitcoin', bech32: 'bc' },
];

/**
 * BOLT11 human-readable prefix for a network.
 * @returns e.g. "lnbcrt" for regtest
 */
export function bolt11Prefix(network: Network): string {
  return (NETWORKS.find((n) => n.network === network) as { prefix: string }).prefix;
}

/**
 * Decodes a BOLT11 payment request and recovers its payee.
 * @param paymentRequest BOLT11 text (either case)
 * @returns DecodedInvoice, or InvoiceMalformed (bad bech32, signature, prefix, missing hash) /
 *   InvoiceMissingAmount (zero-amount invoices are never paid by the protocol)
 */
export function decodeInvoice(paymentRequest: string): Result<DecodedInvoice, InvoiceProblem> {
  if (typeof paymentRequest !== 'string' || paymentRequest.length > 4096) {
    return problem('InvoiceMalformed', 'payment request is not a string of at most 4096 characters');
  }
  const lower = paymentRequest.toLowerCase();
  const net = NETWORKS.find((n) => lower.startsWith(n.prefix));
  if (net === undefined) return problem('InvoiceMalformed', 'unknown BOLT11 prefix');
  let d: ReturnType<typeof bolt11.decode>;
  try {
    d = bolt11.decode(lower, {
      bech32: net.bech32,
      pubKeyHash: 0x6f,
      scriptHash: 0xc4,
      validWitnessVersions: [0, 1],
    });
  } catch (e) {
    return problem('InvoiceMalformed', `BOLT11 does not decode: ${(e as Error).message}`);
  }
  const paymentHash = d.tagsObject.payment_hash;
  if (typeof paymentHash !== 'string' || !/^[0-9a-f]{64}$/.test(paymentHash)) {
    return problem('InvoiceMalformed', 'BOLT11 has no payment hash');
  }
  if (typeof d.payeeNodeKey !== 'string' || typeof d.timestamp !== 'number') {
    return problem('InvoiceMalformed', 'BOLT11 has no payee or timestamp');
  }
  if (d.millisatoshis === null || d.millisatoshis === undefined) {
    return problem('InvoiceMissingAmount', 'BOLT11 has no amount');
  }
  let amountMsat: bigint;
  try {
    amountMsat = BigInt(d.millisatoshis);
  } catch {
    return problem('InvoiceMalformed', `BOLT11 amount ${d.millisatoshis} is not an integer`);
  }
  if (amountMsat <= 0n) return problem('InvoiceMissingAmount', 'BOLT11 amount is zero');
  const expiry = d.tagsObject.expire_time;
  return ok({
    payeePubkey: d.payeeNodeKey.toLowerCase(),
    network: net.network,
    amountMsat,
    paymentHash,
    timestampSec: d.timestamp,
    expirySec: typeof expiry === 'number' ? expiry : DEFAULT_EXPIRY_SEC,
    description: typeof d.tagsObject.description === 'string' ? d.tagsObject.description : '',
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
  const expiresMs = (invoice.timestampSec + invoice.expirySec) * 1000;
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
