/**
 * The payer's checks of an LNURL-pay exchange for a split payout (issue 14), pure: the shell fetches, these
 * functions judge. A payout pays an invoice only when it is for exactly the amount asked, signed by the
 * recipient's pinned node key (an LNURL server must not redirect the money), on the wall's network, and its
 * description hash is sha256 of the payRequest's metadata (LUD-06).
 */
import { checkNetwork, decodeInvoice } from '../protocol/bolt11.js';
import type { Network } from '../protocol/messages.js';
import { fail, ok, type Result } from '../protocol/errors.js';
import {
  checkPayAmount,
  checkPayInvoice,
  parsePayCallbackResponse,
  parsePayRequest,
  payCallbackUrl,
  type LnurlErrorName,
  type PayRequest,
  type UrlPolicy,
} from './lnurl.js';

/** Why a payout refuses an LNURL server's answer (LNURL failures keep their names). */
export type PayoutRefusalName =
  | LnurlErrorName
  | 'LnurlTimeout'
  | 'LnurlFetchFailed'
  | 'LnurlInvoiceInvalid'
  | 'LnurlPayeeMismatch'
  | 'LnurlNetworkMismatch';

/** A named refusal with a human message. */
export interface PayoutRefusal {
  name: PayoutRefusalName;
  message: string;
}

const refuse = (name: PayoutRefusalName, message: string): { ok: false; error: PayoutRefusal } =>
  fail({ name, message });

/**
 * Reads the payRequest document and builds the callback URL for a payout.
 * @param text the LNURL-pay document (hostile)
 * @param amountMsat the payout, msat
 * @param comment LUD-12 comment (the sessions paid), cut to what the server allows
 * @param policy URL policy
 * @returns the request and the callback URL, or the LNURL refusal (`LnurlAmountOutOfRange`, …)
 */
export function payoutCallback(
  text: string,
  amountMsat: bigint,
  comment: string,
  policy: UrlPolicy = {},
): Result<{ request: PayRequest; url: string }, PayoutRefusal> {
  const request = parsePayRequest(text, policy);
  if (!request.ok) return refuse(request.error.name, request.error.message);
  const inRange = checkPayAmount(request.value, amountMsat);
  if (!inRange.ok) return refuse(inRange.error.name, inRange.error.message);
  const url = payCallbackUrl(request.value, amountMsat, comment);
  if (!url.ok) return refuse(url.error.name, url.error.message);
  return ok({ request: request.value, url: url.value });
}

/**
 * Checks the callback's answer: the invoice must be for `amountMsat`, signed by `payeePubkey`, on `network`,
 * with the description hash of the request's metadata.
 * @param text the callback response (hostile)
 * @param request the payRequest the callback belongs to
 * @param amountMsat the amount asked for, msat
 * @param payeePubkey the recipient's pinned node key (66 hex)
 * @param network the wall's network
 * @returns the invoice and its payment hash, or `LnurlInvoiceInvalid`, `LnurlAmountMismatch`,
 *   `LnurlPayeeMismatch`, `LnurlNetworkMismatch`, `LnurlDescriptionHashMismatch` or a parse refusal
 */
export function checkPayoutInvoice(
  text: string,
  request: PayRequest,
  amountMsat: bigint,
  payeePubkey: string,
  network: Network,
): Result<{ bolt11: string; paymentHash: string }, PayoutRefusal> {
  const response = parsePayCallbackResponse(text);
  if (!response.ok) return refuse(response.error.name, response.error.message);
  const inv = decodeInvoice(response.value.pr);
  if (!inv.ok) return refuse('LnurlInvoiceInvalid', inv.error.message);
  const onNetwork = checkNetwork(inv.value, network);
  if (!onNetwork.ok) return refuse('LnurlNetworkMismatch', onNetwork.error.message);
  const lud06 = checkPayInvoice(
    { amountMsat: inv.value.amountMsat, descriptionHashHex: inv.value.descriptionHash ?? undefined },
    request,
    amountMsat,
  );
  if (!lud06.ok) return refuse(lud06.error.name, lud06.error.message);
  if (inv.value.payeePubkey !== payeePubkey.toLowerCase()) {
    return refuse(
      'LnurlPayeeMismatch',
      `invoice is signed by ${inv.value.payeePubkey}, pinned ${payeePubkey}`,
    );
  }
  return ok({ bolt11: response.value.pr, paymentHash: inv.value.paymentHash });
}
