/**
 * Is this text safe to draw as a payment QR code on the charger? QR payment model 2 has the CSMS (its payment
 * provider) send the code the phone will pay; a station that draws whatever arrives would let a compromised or
 * spoofed CSMS send drivers' money anywhere. Accepted are exactly:
 * - a BOLT11 invoice (optionally `lightning:`-prefixed, any case) on the station's network, unexpired, with an
 *   amount no larger than the policy allows, payable to the pinned payee when one is configured;
 * - an EMV merchant-presented payload valid under the policy's profile (CRC, lengths, order, required fields),
 *   carrying the pinned JPQR store id when one is configured.
 * Pure: the time comes in.
 */
import {
  checkNetwork,
  checkPayee,
  checkUnexpired,
  decodeInvoice,
  type DecodedInvoice,
} from '../../protocol/bolt11.js';
import type { Network } from '../../protocol/messages.js';
import { checkEmv, findJpqrStoreId, type EmvProfile } from './rules.js';
import type { EmvNode } from './tlv.js';

/** What a payment QR must satisfy. */
export interface PaymentQrPolicy {
  /** the station's Lightning network (a mainnet invoice on a regtest station is refused) */
  network: Network;
  /** now, ms since epoch */
  nowMs: number;
  /** seconds an invoice must still be valid for a phone to pay it (default 30) */
  minValiditySec?: number;
  /** largest invoice amount accepted, msat (absent: no limit) */
  maxAmountMsat?: bigint;
  /** node key (hex 33) every invoice must pay (absent: any payee) */
  payee?: string;
  /** EMV profile of accepted EMV payloads (default `emv`) */
  emvProfile?: EmvProfile;
  /** JPQR store id (29 digits) an EMV payload must carry (absent: any) */
  storeId?: string;
  /** largest payload accepted, characters (default 1024: the OCPP 2.1 QRCODE limit) */
  maxChars?: number;
}

/** Why a payload was refused (stable names: they reach the CSMS in a SecurityEventNotification). */
export type PaymentQrRefusal =
  | 'PayloadTooLong'
  | 'UnknownPayload'
  | 'InvoiceInvalid'
  | 'InvoiceNetworkMismatch'
  | 'InvoiceExpired'
  | 'InvoiceAmountTooLarge'
  | 'InvoicePayeeMismatch'
  | 'EmvInvalid'
  | 'EmvStoreIdMismatch';

/** The verdict. */
export type PaymentQrVerdict =
  | { ok: true; kind: 'bolt11'; invoice: DecodedInvoice }
  | { ok: true; kind: 'emv'; nodes: EmvNode[] }
  | { ok: false; refusal: PaymentQrRefusal; detail: string };

const refuse = (refusal: PaymentQrRefusal, detail: string): PaymentQrVerdict => ({
  ok: false,
  refusal,
  detail,
});

/**
 * Checks a payment QR payload before it is drawn.
 *
 * @param payload the text the CSMS sent (hostile input)
 * @param policy network, time, limits and pins
 * @returns ok with the decoded invoice or EMV tree, or the refusal and its detail
 */
export function checkPaymentQr(payload: string, policy: PaymentQrPolicy): PaymentQrVerdict {
  const maxChars = policy.maxChars ?? 1024;
  if ([...payload].length > maxChars) return refuse('PayloadTooLong', `more than ${maxChars} characters`);
  if (payload.startsWith('0002')) return checkEmvPayload(payload, policy);
  const bolt11 = payload.replace(/^lightning:/i, '').toLowerCase();
  if (/^ln(bc|tb|tbs|bcrt)[0-9]*[munp]?1/.test(bolt11)) return checkInvoicePayload(bolt11, policy);
  return refuse('UnknownPayload', 'neither a BOLT11 invoice nor an EMV payload');
}

function checkInvoicePayload(paymentRequest: string, policy: PaymentQrPolicy): PaymentQrVerdict {
  const decoded = decodeInvoice(paymentRequest);
  if (!decoded.ok) return refuse('InvoiceInvalid', decoded.error.message);
  const invoice = decoded.value;
  const network = checkNetwork(invoice, policy.network);
  if (!network.ok) return refuse('InvoiceNetworkMismatch', network.error.message);
  const fresh = checkUnexpired(invoice, policy.nowMs, policy.minValiditySec ?? 30);
  if (!fresh.ok) return refuse('InvoiceExpired', fresh.error.message);
  if (policy.maxAmountMsat !== undefined && invoice.amountMsat > policy.maxAmountMsat)
    return refuse('InvoiceAmountTooLarge', `${invoice.amountMsat} msat > ${policy.maxAmountMsat} msat`);
  if (policy.payee !== undefined) {
    const payee = checkPayee(invoice, policy.payee);
    if (!payee.ok) return refuse('InvoicePayeeMismatch', payee.error.message);
  }
  return { ok: true, kind: 'bolt11', invoice };
}

function checkEmvPayload(payload: string, policy: PaymentQrPolicy): PaymentQrVerdict {
  const verdict = checkEmv(payload, { profile: policy.emvProfile ?? 'emv' });
  if (!verdict.valid || verdict.nodes === null)
    return refuse('EmvInvalid', verdict.failures.map((f) => f.rule).join(',') || 'invalid');
  if (policy.storeId !== undefined) {
    const found = findJpqrStoreId(verdict.nodes);
    if (found?.storeId !== policy.storeId)
      return refuse('EmvStoreIdMismatch', `store id ${found?.storeId ?? 'absent'}`);
  }
  return { ok: true, kind: 'emv', nodes: verdict.nodes };
}
