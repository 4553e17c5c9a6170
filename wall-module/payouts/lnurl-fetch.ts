// LNURL-pay over HTTP for split payouts (issue 14): fetches the payRequest document and the callback's invoice
// with a size limit and a deadline per request, and hands the text to the pure checks of
// payments/lnurl-pay-client.ts. No redirects are followed (a redirect could lead the money elsewhere; the
// payee key is pinned anyway). Failures are named refusals, never exceptions.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import {
  checkServiceUrl,
  decodeLnurl,
  lightningAddressUrl,
  RESPONSE_MAX_CHARS,
  type UrlPolicy,
} from '../../payments/lnurl.js';
import { checkPayoutInvoice, payoutCallback, type PayoutRefusal } from '../../payments/lnurl-pay-client.js';
import { fail, ok, type Result } from '../../protocol/errors.js';
import type { Network } from '../../protocol/messages.js';

/** Options of the fetcher. */
export interface LnurlFetchOptions {
  /** deadline of each HTTP request, ms (default 10000) */
  timeoutMs?: number;
  /** largest response read, bytes (default 64 KiB, the parser's own limit) */
  maxBytes?: number;
  /** extra CA certificate(s) trusted, PEM (a private LNURL server) */
  caPem?: string;
  /** URL policy (`allowHttp` only for loopback tests) */
  policy?: UrlPolicy;
}

/**
 * The https URL of an LNURL-pay destination.
 * @param destination Lightning address, `lnurl1…`, `lnurlp://…` or https URL
 * @param policy URL policy
 * @returns the URL, or a refusal
 */
export function payDestinationUrl(
  destination: string,
  policy: UrlPolicy = {},
): Result<string, PayoutRefusal> {
  if (destination.includes('@')) {
    const url = lightningAddressUrl(destination, policy);
    return url.ok ? url : fail({ name: url.error.name, message: url.error.message });
  }
  if (/^https?:\/\//i.test(destination)) {
    const checked = checkServiceUrl(destination, policy);
    return checked.ok
      ? ok(checked.value.toString())
      : fail({ name: checked.error.name, message: checked.error.message });
  }
  const decoded = decodeLnurl(destination, policy);
  return decoded.ok
    ? ok(decoded.value.url)
    : fail({ name: decoded.error.name, message: decoded.error.message });
}

/**
 * GETs a URL as text, bounded.
 * @param url http(s) URL
 * @param opts limits and trust
 * @returns the body, or `LnurlTimeout`, `LnurlResponseTooLarge`, `LnurlFetchFailed` (status ≠ 200, network)
 */
export function fetchBounded(
  url: string,
  opts: LnurlFetchOptions = {},
): Promise<Result<string, PayoutRefusal>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxBytes = opts.maxBytes ?? RESPONSE_MAX_CHARS;
  return new Promise((resolve) => {
    const u = new URL(url);
    const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
    let done = false;
    const finish = (r: Result<string, PayoutRefusal>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const req = request(
      u,
      { method: 'GET', headers: { accept: 'application/json' }, ...(opts.caPem ? { ca: opts.caPem } : {}) },
      (res) => {
        if (res.statusCode !== 200) {
          finish(fail({ name: 'LnurlFetchFailed', message: `HTTP ${res.statusCode ?? '?'} from ${u.host}` }));
          return;
        }
        const declared = Number(res.headers['content-length'] ?? '0');
        if (declared > maxBytes) {
          finish(
            fail({ name: 'LnurlResponseTooLarge', message: `${declared} bytes declared, limit ${maxBytes}` }),
          );
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) {
            finish(fail({ name: 'LnurlResponseTooLarge', message: `more than ${maxBytes} bytes` }));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => finish(ok(Buffer.concat(chunks).toString('utf8'))));
        res.on('error', (e) => finish(fail({ name: 'LnurlFetchFailed', message: e.message })));
      },
    );
    const timer = setTimeout(
      () =>
        finish(
          fail({ name: 'LnurlTimeout', message: `no complete answer from ${u.host} within ${timeoutMs} ms` }),
        ),
      timeoutMs,
    );
    req.on('error', (e) => finish(fail({ name: 'LnurlFetchFailed', message: e.message })));
    req.end();
  });
}

/**
 * Obtains a payee-signed invoice for a payout from an LNURL-pay destination and checks it.
 * @param args destination, amount (msat), comment (LUD-12, the sessions paid), pinned payee key, network
 * @param opts limits and trust
 * @returns the invoice and its hash, or a named refusal (nothing is paid)
 */
export async function fetchPayoutInvoice(
  args: { destination: string; amountMsat: bigint; comment: string; payeePubkey: string; network: Network },
  opts: LnurlFetchOptions = {},
): Promise<Result<{ bolt11: string; paymentHash: string }, PayoutRefusal>> {
  const policy = opts.policy ?? {};
  const url = payDestinationUrl(args.destination, policy);
  if (!url.ok) return url;
  const doc = await fetchBounded(url.value, opts);
  if (!doc.ok) return doc;
  const callback = payoutCallback(doc.value, args.amountMsat, args.comment, policy);
  if (!callback.ok) return callback;
  const answer = await fetchBounded(callback.value.url, opts);
  if (!answer.ok) return answer;
  return checkPayoutInvoice(
    answer.value,
    callback.value.request,
    args.amountMsat,
    args.payeePubkey,
    args.network,
  );
}
