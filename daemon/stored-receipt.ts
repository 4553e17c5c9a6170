/**
 * Verifying a receipt again from a store (the books check, an audit): the stored seller-signed body and signature,
 * with the node-signed delegation it was received under (protocol version 3: the wall's delegate key may have
 * signed it; the vehicle store keeps that delegation beside the receipt). A delegation is checked at the
 * receipt's end time (`endMs`), the time the wall signed it: a delegation that is missing, not signed by the
 * wall's node key or expired by then leaves a delegate-signed receipt refused, by the name `verifyReceipt` gives.
 */
import { SUPPORTED_VERSIONS } from '../protocol/handshake.js';
import type { ReceiptMessage } from '../protocol/messages.js';
import { verifyReceipt, type ReceiptProblem } from '../protocol/receipt.js';
import { deserializeState } from '../protocol/serialize.js';
import { fail, ok, type Result } from '../protocol/errors.js';
import type { ReceiptRow } from './session-store.js';

/** A stored receipt that does not verify: `verifyReceipt`'s problem, or its body does not read as a receipt. */
export type StoredReceiptProblem =
  | ReceiptProblem
  | { readonly kind: 'StoredReceiptProblem'; readonly name: 'ReceiptUnreadable'; readonly message: string };

/**
 * Verifies a stored receipt against the wall's node key and the session, under its stored delegation if any.
 * The store does not keep the session's protocol version (it is in the signed text): every supported version is
 * tried, highest first.
 *
 * @param row the stored receipt (`delegation`: as the vehicle store keeps it; absent or null = none)
 * @param expected the wall's node key (hex33) and the session id (hex16)
 * @returns the receipt when it verifies under some version, else the highest version's problem (or
 *   `ReceiptUnreadable` when the body is not a receipt)
 */
export function verifyStoredReceipt(
  row: Pick<ReceiptRow, 'bodyJson' | 'delegation'>,
  expected: { sellerPub: string; sessionId: string },
): Result<ReceiptMessage, StoredReceiptProblem> {
  const receipt = deserializeState<ReceiptMessage>(row.bodyJson);
  if (!receipt.ok)
    return fail({ kind: 'StoredReceiptProblem', name: 'ReceiptUnreadable', message: receipt.error.message });
  const delegation = row.delegation ?? undefined;
  const checks = [...SUPPORTED_VERSIONS]
    .reverse()
    .map((version) =>
      verifyReceipt(version, receipt.value, { ...expected, ...(delegation ? { delegation } : {}) }),
    );
  if (checks.some((c) => c.ok)) return ok(receipt.value);
  const highest = checks[0]!; // SUPPORTED_VERSIONS is never empty
  return highest.ok ? ok(receipt.value) : fail(highest.error);
}
