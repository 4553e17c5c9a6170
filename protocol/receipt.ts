/**
 * Seller-signed receipts. The wall signs `receiptText(receipt)` with its node key (lnd signmessage format,
 * obtained through the `signWithNodeKey` effect); anyone holding the wall's node key can verify it.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { ByteWriter, toHex } from './bytes.js';
import { fail, ok, type Result } from './errors.js';
import { writeReceiptBody, type ReceiptMessage } from './messages.js';
import { signedForNode, type Delegation } from './delegation.js';

/** A receipt before signing. */
export type UnsignedReceipt = Omit<ReceiptMessage, 'type' | 'signature'>;

/**
 * Text the wall signs for a receipt: "boltcharge/1 receipt " + hex SHA256 of the receipt body encoding
 * (every field but the signature, as on the wire).
 * @param version protocol version of the session
 */
export function receiptText(version: number, receipt: UnsignedReceipt): string {
  return `boltcharge/${version} receipt ${toHex(sha256(writeReceiptBody(new ByteWriter(), receipt).finish()))}`;
}

/** Why a receipt is not acceptable. */
export type ReceiptProblemName =
  'ReceiptBadSignature' | 'ReceiptWrongSession' | 'ReceiptTotalMismatch' | 'ReceiptWrongSeller';

/** A typed receipt problem. */
export interface ReceiptProblem {
  readonly kind: 'ReceiptProblem';
  readonly name: ReceiptProblemName;
  readonly message: string;
}

/**
 * Verifies a receipt: seller key, session id, signature, and total = sum of listed invoice amounts.
 * @param version protocol version of the session
 * @param receipt the receipt message
 * @param expected { sellerPub hex33, sessionId hex16 }
 * @returns ok or a ReceiptProblem
 */
export function verifyReceipt(
  version: number,
  receipt: ReceiptMessage,
  expected: {
    sellerPub: string;
    sessionId: string;
    /** a node-signed delegation the wall announced (version 3), checked at `atMs` (the receiver's clock) */
    delegation?: Delegation;
    atMs?: number;
  },
): Result<true, ReceiptProblem> {
  const bad = (name: ReceiptProblemName, message: string): { ok: false; error: ReceiptProblem } =>
    fail({ kind: 'ReceiptProblem', name, message });
  if (receipt.sellerPub !== expected.sellerPub.toLowerCase())
    return bad('ReceiptWrongSeller', `receipt from ${receipt.sellerPub}`);
  if (receipt.sessionId !== expected.sessionId)
    return bad('ReceiptWrongSession', `receipt for ${receipt.sessionId}`);
  const sum = receipt.invoices.reduce((a, i) => a + i.amountMsat, 0n);
  if (sum !== receipt.totalPaidMsat)
    return bad('ReceiptTotalMismatch', `total ${receipt.totalPaidMsat} ≠ sum ${sum}`);
  const { type: _t, signature, ...unsigned } = receipt;
  const problem = signedForNode(
    receiptText(version, unsigned),
    signature,
    expected.sellerPub,
    expected.delegation ?? null,
    expected.atMs ?? receipt.endMs,
  );
  if (problem !== null) return bad('ReceiptBadSignature', problem);
  return ok(true);
}
