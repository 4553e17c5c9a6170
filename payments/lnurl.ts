/**
 * LNURL as a pure module: LUD-01 bech32 encoding, LUD-17 schemes, and the parsing of every LNURL document and
 * callback response as hostile input (size-bounded, typed, amounts as bigint msat), with LUD-06's metadata
 * description-hash rule and LUD-10's `aes` success action (AES-256-CBC keyed by the payment preimage).
 *
 * Every failure is a named `LnurlError`; nothing here throws for bad input and nothing does I/O: fetching is
 * the shell's job, which hands the response text to these functions.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { fail, ok, type Result } from '../protocol/errors.js';

/** Names of everything that can be wrong with an LNURL or an LNURL server's answer. */
export type LnurlErrorName =
  | 'LnurlMalformed'
  | 'LnurlTooLong'
  | 'LnurlInsecureUrl'
  | 'LnurlResponseTooLarge'
  | 'LnurlNotJson'
  | 'LnurlWrongTag'
  | 'LnurlFieldInvalid'
  | 'LnurlAmountOutOfRange'
  | 'LnurlMetadataInvalid'
  | 'LnurlDescriptionHashMismatch'
  | 'LnurlAmountMismatch'
  | 'LnurlServiceError'
  | 'LnurlSuccessActionInvalid'
  | 'LnurlDecryptFailed';

/** A typed LNURL failure; `field` names the offending JSON field when there is one. */
export interface LnurlError {
  readonly kind: 'LnurlError';
  readonly name: LnurlErrorName;
  readonly message: string;
  readonly field?: string;
}

function lnurlError(name: LnurlErrorName, message: string, field?: string): { ok: false; error: LnurlError } {
  return fail({ kind: 'LnurlError', name, message, ...(field !== undefined ? { field } : {}) });
}

/** Longest bech32 LNURL accepted, characters. */
export const LNURL_MAX_CHARS = 2048;
/** Longest URL accepted (callback, decoded LNURL), characters. */
export const URL_MAX_CHARS = 2048;
/** Largest LNURL server response parsed, UTF-16 units of the text. */
export const RESPONSE_MAX_CHARS = 64 * 1024;
/** Largest LUD-06 `metadata` string, characters. */
export const METADATA_MAX_CHARS = 8 * 1024;
/** LUD-09: longest success-action message/description, characters. */
export const SUCCESS_TEXT_MAX_CHARS = 144;
/** LUD-10: longest base64 ciphertext, characters (4 KiB). */
export const AES_CIPHERTEXT_MAX_CHARS = 4096;

// ---------------------------------------------------------------------------------------------------------------
// LUD-01: bech32 (not bech32m, no 90-character limit)

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GENERATOR[i]!;
  }
  return chk >>> 0;
}

function hrpExpand(hrp: string): number[] {
  const out: number[] = [];
  for (const c of hrp) out.push(c.charCodeAt(0) >> 5);
  out.push(0);
  for (const c of hrp) out.push(c.charCodeAt(0) & 31);
  return out;
}

function convertBits(data: ArrayLike<number>, from: number, to: number, pad: boolean): number[] | null {
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  const maxv = (1 << to) - 1;
  for (let i = 0; i < data.length; i++) {
    acc = (acc << from) | data[i]!;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >> bits) & maxv);
    }
    acc &= (1 << bits) - 1;
  }
  if (pad) {
    if (bits > 0) out.push((acc << (to - bits)) & maxv);
  } else if (bits >= from || ((acc << (to - bits)) & maxv) !== 0) {
    return null;
  }
  return out;
}

/**
 * Encodes a URL as a LUD-01 LNURL.
 * @param url the https (or onion http) URL
 * @param policy `allowHttp` for loopback tests only
 * @returns `LNURL1…` in upper case (QR alphanumeric mode), or `LnurlTooLong` / `LnurlInsecureUrl`
 */
export function encodeLnurl(url: string, policy: UrlPolicy = {}): Result<string, LnurlError> {
  const checked = checkServiceUrl(url, policy);
  if (!checked.ok) return checked;
  const words = convertBits(new TextEncoder().encode(url), 8, 5, true)!;
  const hrp = 'lnurl';
  const mod = polymod([...hrpExpand(hrp), ...words, 0, 0, 0, 0, 0, 0]) ^ 1;
  const checksum = Array.from({ length: 6 }, (_, i) => (mod >>> (5 * (5 - i))) & 31);
  const text = hrp + '1' + [...words, ...checksum].map((w) => CHARSET[w]).join('');
  if (text.length > LNURL_MAX_CHARS) return lnurlError('LnurlTooLong', `LNURL of ${text.length} characters`);
  return ok(text.toUpperCase());
}

/** Options for accepting service URLs. */
export interface UrlPolicy {
  /** Accept plain http on any host (only for loopback tests; LUD-01 allows http for .onion hosts only). */
  allowHttp?: boolean;
}

/**
 * Checks a service URL as LUD-01 requires: https, or http to an onion host; bounded; no credentials.
 * @param url the URL text
 * @param policy `allowHttp` for tests on loopback
 * @returns the parsed URL, or `LnurlMalformed` / `LnurlTooLong` / `LnurlInsecureUrl`
 */
export function checkServiceUrl(url: string, policy: UrlPolicy): Result<URL, LnurlError> {
  if (typeof url !== 'string') return lnurlError('LnurlMalformed', 'URL is not a string');
  if (url.length > URL_MAX_CHARS) return lnurlError('LnurlTooLong', `URL of ${url.length} characters`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return lnurlError('LnurlMalformed', 'not a URL');
  }
  if (parsed.username !== '' || parsed.password !== '')
    return lnurlError('LnurlMalformed', 'URL has credentials');
  const onion = parsed.hostname.endsWith('.onion');
  if (parsed.protocol === 'https:') return ok(parsed);
  if (parsed.protocol === 'http:' && (onion || policy.allowHttp === true)) return ok(parsed);
  return lnurlError('LnurlInsecureUrl', `${parsed.protocol} URL to ${parsed.hostname}`);
}

/** The LUD-17 schemes and what they mean. */
export type LnurlKind = 'payRequest' | 'withdrawRequest' | 'login' | 'unknown';
const LUD17: readonly [string, LnurlKind][] = [
  ['lnurlp', 'payRequest'],
  ['lnurlw', 'withdrawRequest'],
  ['keyauth', 'login'],
];

/**
 * Reads anything a wallet may scan as an LNURL: `lnurl1…` (either case, optionally `lightning:`-prefixed) or a
 * LUD-17 `lnurlp://`, `lnurlw://`, `keyauth://` link (mapped to https, or http for onion hosts).
 * @param text the scanned text (hostile)
 * @param policy URL policy (see {@link UrlPolicy})
 * @returns the service URL and the kind the scheme announces (`unknown` for bech32, whose kind only the fetched
 *   document's tag says), or `LnurlMalformed` / `LnurlTooLong` / `LnurlInsecureUrl`
 */
export function decodeLnurl(
  text: string,
  policy: UrlPolicy = {},
): Result<{ url: string; kind: LnurlKind }, LnurlError> {
  if (typeof text !== 'string') return lnurlError('LnurlMalformed', 'not a string');
  if (text.length > LNURL_MAX_CHARS + 16) return lnurlError('LnurlTooLong', `${text.length} characters`);
  let t = text.trim();
  if (/^lightning:/i.test(t)) t = t.slice('lightning:'.length);
  const scheme = /^([a-z]+):\/\//i.exec(t)?.[1]?.toLowerCase();
  const lud17 = LUD17.find(([s]) => s === scheme);
  if (lud17) {
    const rest = t.slice(scheme!.length + 3);
    const host = /^[^/?#]*/.exec(rest)![0].replace(/:\d+$/, '');
    const url = (host.endsWith('.onion') ? 'http://' : 'https://') + rest;
    const checked = checkServiceUrl(url, policy);
    return checked.ok ? ok({ url: checked.value.toString(), kind: lud17[1] }) : checked;
  }
  const lower = t.toLowerCase();
  if (t !== lower && t !== t.toUpperCase()) return lnurlError('LnurlMalformed', 'mixed-case bech32');
  if (!lower.startsWith('lnurl1')) return lnurlError('LnurlMalformed', 'neither lnurl1… nor a LUD-17 link');
  const data: number[] = [];
  for (const c of lower.slice(6)) {
    const v = CHARSET.indexOf(c);
    if (v < 0) return lnurlError('LnurlMalformed', `character ${JSON.stringify(c)} is not bech32`);
    data.push(v);
  }
  if (data.length < 6) return lnurlError('LnurlMalformed', 'too short for a checksum');
  if (polymod([...hrpExpand('lnurl'), ...data]) !== 1)
    return lnurlError('LnurlMalformed', 'bech32 checksum fails');
  const bytes = convertBits(data.slice(0, -6), 5, 8, false);
  if (bytes === null) return lnurlError('LnurlMalformed', 'bad bech32 padding');
  let url: string;
  try {
    url = new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes));
  } catch {
    return lnurlError('LnurlMalformed', 'payload is not UTF-8');
  }
  const checked = checkServiceUrl(url, policy);
  return checked.ok ? ok({ url, kind: 'unknown' }) : checked;
}

/**
 * The LUD-17 form of a service URL (e.g. for the `lightning:` link beside a QR code).
 * @param url https (or onion http) URL
 * @param kind what the link leads to
 * @returns `lnurlp://host/path…`, `lnurlw://…` or `keyauth://…`, or the URL's failure
 */
export function toLud17(url: string, kind: Exclude<LnurlKind, 'unknown'>): Result<string, LnurlError> {
  const checked = checkServiceUrl(url, { allowHttp: true });
  if (!checked.ok) return checked;
  const scheme = LUD17.find(([, k]) => k === kind)![0];
  return ok(scheme + '://' + url.replace(/^https?:\/\//i, ''));
}

/**
 * The LNURL-pay URL of a LUD-16 Lightning address (`user@domain` → `https://domain/.well-known/lnurlp/user`,
 * http for an onion domain).
 * @param address the address (hostile; user part `a-z0-9-_.+`, at most 64 characters; domain ≤ 253)
 * @param policy URL policy (see {@link UrlPolicy})
 * @returns the URL, or `LnurlMalformed` / `LnurlTooLong` / `LnurlInsecureUrl`
 */
export function lightningAddressUrl(address: string, policy: UrlPolicy = {}): Result<string, LnurlError> {
  if (typeof address !== 'string' || address.length > 320)
    return lnurlError('LnurlMalformed', 'not an address');
  const m = /^([a-z0-9\-_.+]{1,64})@([a-z0-9.-]{1,253}(?::[0-9]{1,5})?)$/.exec(address.trim().toLowerCase());
  if (!m) return lnurlError('LnurlMalformed', 'not a LUD-16 address user@domain');
  const [, user, domain] = m;
  const scheme = domain!.replace(/:[0-9]+$/, '').endsWith('.onion') ? 'http' : 'https';
  const url = `${scheme}://${domain}/.well-known/lnurlp/${user}`;
  const checked = checkServiceUrl(url, policy);
  return checked.ok ? ok(url) : checked;
}

// ---------------------------------------------------------------------------------------------------------------
// JSON documents

type Json = Record<string, unknown>;

/**
 * Parses an LNURL server's response text: bounded, JSON object, and LUD-01's `{"status":"ERROR","reason"}`
 * turned into `LnurlServiceError`.
 * @param text response body
 * @returns the object, or `LnurlResponseTooLarge` / `LnurlNotJson` / `LnurlServiceError` (reason ≤ 500 chars)
 */
export function parseLnurlJson(text: string): Result<Json, LnurlError> {
  if (typeof text !== 'string') return lnurlError('LnurlNotJson', 'not text');
  if (text.length > RESPONSE_MAX_CHARS)
    return lnurlError('LnurlResponseTooLarge', `${text.length} characters`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return lnurlError('LnurlNotJson', 'response is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return lnurlError('LnurlNotJson', 'response is not a JSON object');
  }
  const obj = value as Json;
  if (typeof obj.status === 'string' && obj.status.toUpperCase() === 'ERROR') {
    const reason = typeof obj.reason === 'string' ? obj.reason.slice(0, 500) : '(no reason)';
    return lnurlError('LnurlServiceError', reason, 'reason');
  }
  return ok(obj);
}

/** Reads a msat amount field: a non-negative safe integer number or a decimal string of digits. */
function msatField(obj: Json, field: string): Result<bigint, LnurlError> {
  const v = obj[field];
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return ok(BigInt(v));
  if (typeof v === 'string' && /^[0-9]{1,18}$/.test(v)) return ok(BigInt(v));
  return lnurlError('LnurlFieldInvalid', `${field} is not a whole number of msat`, field);
}

function stringField(
  obj: Json,
  field: string,
  maxChars: number,
  optional = false,
): Result<string, LnurlError> {
  const v = obj[field];
  if (v === undefined && optional) return ok('');
  if (typeof v !== 'string' || v.length > maxChars) {
    return lnurlError(
      'LnurlFieldInvalid',
      `${field} is not a string of at most ${maxChars} characters`,
      field,
    );
  }
  return ok(v);
}

/** Parses a document, checks its `tag` and its `callback` URL. */
function openTaggedDocument(
  text: string,
  tag: string,
  policy: UrlPolicy,
): Result<{ obj: Json; callback: string }, LnurlError> {
  const json = parseLnurlJson(text);
  if (!json.ok) return json;
  const tagged = tagIs(json.value, tag);
  if (!tagged.ok) return tagged;
  const callback = stringField(json.value, 'callback', URL_MAX_CHARS);
  if (!callback.ok) return callback;
  const url = checkServiceUrl(callback.value, policy);
  if (!url.ok) return lnurlError(url.error.name, `callback: ${url.error.message}`, 'callback');
  return ok({ obj: json.value, callback: callback.value });
}

/** Reads a [min, max] msat pair and checks min ≤ max. */
function msatRange(obj: Json, minField: string, maxField: string): Result<[bigint, bigint], LnurlError> {
  const min = msatField(obj, minField);
  if (!min.ok) return min;
  const max = msatField(obj, maxField);
  if (!max.ok) return max;
  if (min.value > max.value) {
    return lnurlError(
      'LnurlAmountOutOfRange',
      `${minField} ${min.value} > ${maxField} ${max.value}`,
      minField,
    );
  }
  return ok([min.value, max.value]);
}

function tagIs(obj: Json, tag: string): Result<true, LnurlError> {
  return obj.tag === tag
    ? ok(true)
    : lnurlError('LnurlWrongTag', `tag is ${JSON.stringify(obj.tag)}, not ${tag}`, 'tag');
}

/** A LUD-06 payRequest, checked. */
export interface PayRequest {
  callback: string;
  minSendableMsat: bigint;
  maxSendableMsat: bigint;
  /** The metadata string exactly as served (its sha256 is the invoice's description hash). */
  metadata: string;
  /** Hex sha256 of the UTF-8 metadata string. */
  descriptionHashHex: string;
  /** The `text/plain` entry. */
  description: string;
  /** LUD-12: longest comment accepted, characters (0 = none). */
  commentAllowed: number;
}

/**
 * Parses a LUD-06 payRequest document.
 * @param text response body of the LNURL-pay URL (hostile)
 * @param policy URL policy for the callback
 * @returns the request, or `LnurlWrongTag`, `LnurlFieldInvalid` (callback, amounts, commentAllowed),
 *   `LnurlAmountOutOfRange` (min < 1 msat or min > max), `LnurlMetadataInvalid` (not a JSON array of
 *   [type, content] pairs with exactly one `text/plain`), or a {@link parseLnurlJson} failure
 */
export function parsePayRequest(text: string, policy: UrlPolicy = {}): Result<PayRequest, LnurlError> {
  const doc = openTaggedDocument(text, 'payRequest', policy);
  if (!doc.ok) return doc;
  const { obj, callback } = doc.value;
  const range = msatRange(obj, 'minSendable', 'maxSendable');
  if (!range.ok) return range;
  const [min, max] = range.value;
  if (min < 1n) return lnurlError('LnurlAmountOutOfRange', `minSendable ${min}`, 'minSendable');
  const metadata = stringField(obj, 'metadata', METADATA_MAX_CHARS);
  if (!metadata.ok) return metadata;
  const description = metadataDescription(metadata.value);
  if (!description.ok) return description;
  const comment = obj.commentAllowed;
  if (
    comment !== undefined &&
    !(typeof comment === 'number' && Number.isSafeInteger(comment) && comment >= 0)
  ) {
    return lnurlError('LnurlFieldInvalid', 'commentAllowed is not a whole number', 'commentAllowed');
  }
  return ok({
    callback,
    minSendableMsat: min,
    maxSendableMsat: max,
    metadata: metadata.value,
    descriptionHashHex: metadataHashHex(metadata.value),
    description: description.value,
    commentAllowed: typeof comment === 'number' ? Math.min(comment, 2000) : 0,
  });
}

/**
 * The LUD-06 description hash of a metadata string.
 * @param metadata the metadata string as served
 * @returns hex sha256 of its UTF-8 bytes
 */
export function metadataHashHex(metadata: string): string {
  return Array.from(sha256(new TextEncoder().encode(metadata)), (b) => b.toString(16).padStart(2, '0')).join(
    '',
  );
}

/**
 * Builds a LUD-06 metadata string (for a pay endpoint this project serves).
 * @param description the `text/plain` entry
 * @param extra further [type, content] entries (e.g. `['text/identifier', 'walkup@host']`)
 * @returns the JSON text to serve as `metadata` and hash into the invoice
 */
export function buildMetadata(description: string, extra: [string, string][] = []): string {
  return JSON.stringify([['text/plain', description], ...extra]);
}

function metadataDescription(metadata: string): Result<string, LnurlError> {
  let entries: unknown;
  try {
    entries = JSON.parse(metadata);
  } catch {
    return lnurlError('LnurlMetadataInvalid', 'metadata is not JSON', 'metadata');
  }
  if (!Array.isArray(entries))
    return lnurlError('LnurlMetadataInvalid', 'metadata is not an array', 'metadata');
  let plain: string | undefined;
  let plainCount = 0;
  for (const e of entries) {
    if (!Array.isArray(e) || e.length < 2 || typeof e[0] !== 'string') {
      return lnurlError('LnurlMetadataInvalid', 'metadata entry is not [type, content]', 'metadata');
    }
    if (e[0] === 'text/plain') {
      if (typeof e[1] !== 'string')
        return lnurlError('LnurlMetadataInvalid', 'text/plain is not text', 'metadata');
      plain = e[1];
      plainCount++;
    }
  }
  if (plainCount !== 1 || plain === undefined) {
    return lnurlError('LnurlMetadataInvalid', 'metadata needs exactly one text/plain entry', 'metadata');
  }
  return ok(plain);
}

/**
 * Checks that an amount may be sent to a payRequest (before asking its callback for an invoice).
 * @param request the parsed payRequest
 * @param amountMsat the amount the payer wants to send, msat
 * @returns ok, or `LnurlAmountOutOfRange`
 */
export function checkPayAmount(request: PayRequest, amountMsat: bigint): Result<true, LnurlError> {
  if (amountMsat < request.minSendableMsat || amountMsat > request.maxSendableMsat) {
    return lnurlError(
      'LnurlAmountOutOfRange',
      `${amountMsat} msat is outside ${request.minSendableMsat}–${request.maxSendableMsat}`,
      'amount',
    );
  }
  return ok(true);
}

/**
 * The callback URL for an amount (and an optional LUD-12 comment), as LUD-06 builds it.
 * @param request the parsed payRequest
 * @param amountMsat amount, msat (checked against min/max)
 * @param comment optional comment, cut to `commentAllowed`
 * @returns the URL to fetch, or `LnurlAmountOutOfRange`
 */
export function payCallbackUrl(
  request: PayRequest,
  amountMsat: bigint,
  comment?: string,
): Result<string, LnurlError> {
  const inRange = checkPayAmount(request, amountMsat);
  if (!inRange.ok) return inRange;
  const url = new URL(request.callback);
  url.searchParams.set('amount', amountMsat.toString());
  if (comment !== undefined && request.commentAllowed > 0) {
    url.searchParams.set('comment', Array.from(comment).slice(0, request.commentAllowed).join(''));
  }
  return ok(url.toString());
}

/** LUD-09/10 success actions. */
export type SuccessAction =
  | { tag: 'message'; message: string }
  | { tag: 'url'; description: string; url: string }
  | { tag: 'aes'; description: string; ciphertext: string; iv: string };

/** A checked LUD-06 callback answer. */
export interface PayCallbackResponse {
  /** The BOLT11 invoice (to be decoded and checked with {@link checkPayInvoice}). */
  pr: string;
  successAction: SuccessAction | null;
}

/**
 * Parses the answer of a payRequest callback.
 * @param text response body (hostile)
 * @param policy URL policy for a `url` success action
 * @returns `pr` and an optional success action, or `LnurlFieldInvalid` (pr), `LnurlSuccessActionInvalid`, or a
 *   {@link parseLnurlJson} failure (including the server's own `LnurlServiceError`)
 */
export function parsePayCallbackResponse(
  text: string,
  policy: UrlPolicy = {},
): Result<PayCallbackResponse, LnurlError> {
  const json = parseLnurlJson(text);
  if (!json.ok) return json;
  const pr = stringField(json.value, 'pr', 4096);
  if (!pr.ok) return pr;
  if (!/^ln[a-z0-9]+$/i.test(pr.value))
    return lnurlError('LnurlFieldInvalid', 'pr is not a BOLT11 invoice', 'pr');
  const sa = json.value.successAction;
  if (sa === undefined || sa === null) return ok({ pr: pr.value, successAction: null });
  const action = parseSuccessAction(sa, policy);
  return action.ok ? ok({ pr: pr.value, successAction: action.value }) : action;
}

function parseSuccessAction(sa: unknown, policy: UrlPolicy): Result<SuccessAction, LnurlError> {
  const bad = (why: string): { ok: false; error: LnurlError } =>
    lnurlError('LnurlSuccessActionInvalid', why, 'successAction');
  if (typeof sa !== 'object' || sa === null || Array.isArray(sa)) return bad('not an object');
  const o = sa as Json;
  const text = (field: string, max: number): string | null =>
    typeof o[field] === 'string' && (o[field] as string).length <= max ? (o[field] as string) : null;
  switch (o.tag) {
    case 'message': {
      const message = text('message', SUCCESS_TEXT_MAX_CHARS);
      return message === null ? bad('message') : ok({ tag: 'message', message });
    }
    case 'url': {
      const description = text('description', SUCCESS_TEXT_MAX_CHARS);
      const url = text('url', URL_MAX_CHARS);
      if (description === null || url === null || !checkServiceUrl(url, policy).ok) return bad('url action');
      return ok({ tag: 'url', description, url });
    }
    case 'aes': {
      const description = text('description', SUCCESS_TEXT_MAX_CHARS);
      const ciphertext = text('ciphertext', AES_CIPHERTEXT_MAX_CHARS);
      const iv = text('iv', 24);
      if (description === null || ciphertext === null || iv === null) return bad('aes action');
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(ciphertext) || ciphertext.length % 4 !== 0) return bad('ciphertext');
      if (!/^[A-Za-z0-9+/]{22}==$/.test(iv)) return bad('iv is not 16 bytes of base64');
      return ok({ tag: 'aes', description, ciphertext, iv });
    }
    default:
      return bad(`unknown tag ${JSON.stringify(o.tag)}`);
  }
}

/** The invoice fields LUD-06 requires a wallet to check (from the decoded BOLT11). */
export interface InvoiceForLnurl {
  amountMsat: bigint;
  /** Hex of the invoice's `h` tag (description hash), or undefined when it has none. */
  descriptionHashHex: string | undefined;
}

/**
 * Checks the invoice a payRequest callback returned (LUD-06): its amount is the one asked for and its description
 * hash is sha256 of the metadata.
 * @param invoice amount and description hash of the decoded invoice
 * @param request the payRequest
 * @param amountMsat the amount asked for, msat
 * @returns ok, or `LnurlAmountMismatch` / `LnurlDescriptionHashMismatch`
 */
export function checkPayInvoice(
  invoice: InvoiceForLnurl,
  request: PayRequest,
  amountMsat: bigint,
): Result<true, LnurlError> {
  if (invoice.amountMsat !== amountMsat) {
    return lnurlError(
      'LnurlAmountMismatch',
      `invoice is for ${invoice.amountMsat} msat, asked ${amountMsat}`,
      'pr',
    );
  }
  if (invoice.descriptionHashHex?.toLowerCase() !== request.descriptionHashHex) {
    return lnurlError(
      'LnurlDescriptionHashMismatch',
      'invoice description hash is not sha256(metadata)',
      'pr',
    );
  }
  return ok(true);
}

/** A LUD-03 withdrawRequest, checked. */
export interface WithdrawRequest {
  callback: string;
  k1: string;
  minWithdrawableMsat: bigint;
  maxWithdrawableMsat: bigint;
  defaultDescription: string;
}

/**
 * Parses a LUD-03 withdrawRequest document.
 * @param text response body (hostile)
 * @param policy URL policy for the callback
 * @returns the request, or `LnurlWrongTag`, `LnurlFieldInvalid` (callback, k1 ≤ 256, amounts, description ≤ 639),
 *   `LnurlAmountOutOfRange` (min > max or max = 0), or a {@link parseLnurlJson} failure
 */
export function parseWithdrawRequest(
  text: string,
  policy: UrlPolicy = {},
): Result<WithdrawRequest, LnurlError> {
  const doc = openTaggedDocument(text, 'withdrawRequest', policy);
  if (!doc.ok) return doc;
  const { obj, callback } = doc.value;
  const k1 = stringField(obj, 'k1', 256);
  if (!k1.ok) return k1;
  if (k1.value.length === 0) return lnurlError('LnurlFieldInvalid', 'k1 is empty', 'k1');
  const range = msatRange(obj, 'minWithdrawable', 'maxWithdrawable');
  if (!range.ok) return range;
  const [min, max] = range.value;
  if (max === 0n) return lnurlError('LnurlAmountOutOfRange', 'maxWithdrawable is 0', 'maxWithdrawable');
  const description = stringField(obj, 'defaultDescription', 639, true);
  if (!description.ok) return description;
  return ok({
    callback,
    k1: k1.value,
    minWithdrawableMsat: min,
    maxWithdrawableMsat: max,
    defaultDescription: description.value,
  });
}

/**
 * The LUD-03 callback URL a wallet calls with its invoice.
 * @param request the withdrawRequest
 * @param paymentRequest the wallet's BOLT11 invoice
 * @returns the URL with `k1` and `pr` set
 */
export function withdrawCallbackUrl(request: WithdrawRequest, paymentRequest: string): string {
  const url = new URL(request.callback);
  url.searchParams.set('k1', request.k1);
  url.searchParams.set('pr', paymentRequest);
  return url.toString();
}

/**
 * Parses a plain `{"status":"OK"}` answer (LUD-03 withdraw callback and others).
 * @param text response body
 * @returns ok, or `LnurlServiceError` with the server's reason, `LnurlFieldInvalid` when status is not OK, or a
 *   {@link parseLnurlJson} failure
 */
export function parseStatusOk(text: string): Result<true, LnurlError> {
  const json = parseLnurlJson(text);
  if (!json.ok) return json;
  return json.value.status === 'OK'
    ? ok(true)
    : lnurlError('LnurlFieldInvalid', 'status is not OK', 'status');
}

// ---------------------------------------------------------------------------------------------------------------
// LUD-10 aes success action: AES-256-CBC, PKCS#7 padding, key = the 32-byte payment preimage

/** Longest plaintext an `aes` action may carry, UTF-8 bytes (keeps the base64 ciphertext ≤ 4 KiB). */
export const AES_PLAINTEXT_MAX_BYTES = 3000;

function base64ToBytes(b64: string): Uint8Array {
  return new Uint8Array(Buffer.from(b64, 'base64'));
}

/**
 * Encrypts a secret for a LUD-10 `aes` success action (e.g. a refund's withdraw link for the walk-up payer).
 * @param preimage the payment preimage, 32 bytes (only the payer learns it by paying)
 * @param iv 16 random bytes chosen by the caller (randomness comes in; never reuse one)
 * @param plaintext the secret, at most {@link AES_PLAINTEXT_MAX_BYTES} UTF-8 bytes
 * @param description shown by the wallet, at most 144 characters
 * @returns the success action, or `LnurlFieldInvalid` for a wrong key/iv size or oversized text
 */
export function encryptAesSuccessAction(
  preimage: Uint8Array,
  iv: Uint8Array,
  plaintext: string,
  description: string,
): Result<Extract<SuccessAction, { tag: 'aes' }>, LnurlError> {
  if (preimage.length !== 32) return lnurlError('LnurlFieldInvalid', 'preimage is not 32 bytes', 'preimage');
  if (iv.length !== 16) return lnurlError('LnurlFieldInvalid', 'iv is not 16 bytes', 'iv');
  const data = new TextEncoder().encode(plaintext);
  if (data.length > AES_PLAINTEXT_MAX_BYTES)
    return lnurlError('LnurlFieldInvalid', 'plaintext too long', 'plaintext');
  if (description.length > SUCCESS_TEXT_MAX_CHARS) {
    return lnurlError('LnurlFieldInvalid', 'description too long', 'description');
  }
  const cipher = createCipheriv('aes-256-cbc', preimage, iv);
  const ciphertext = Buffer.concat([cipher.update(data), cipher.final()]).toString('base64');
  return ok({ tag: 'aes', description, ciphertext, iv: Buffer.from(iv).toString('base64') });
}

/**
 * Decrypts a LUD-10 `aes` success action with the preimage the payment revealed.
 * @param action the parsed action
 * @param preimage the payment preimage, 32 bytes
 * @returns the plaintext, or `LnurlDecryptFailed` (wrong key, bad padding, not UTF-8)
 */
export function decryptAesSuccessAction(
  action: Extract<SuccessAction, { tag: 'aes' }>,
  preimage: Uint8Array,
): Result<string, LnurlError> {
  if (preimage.length !== 32) return lnurlError('LnurlDecryptFailed', 'preimage is not 32 bytes');
  try {
    const decipher = createDecipheriv('aes-256-cbc', preimage, base64ToBytes(action.iv));
    const plain = Buffer.concat([decipher.update(base64ToBytes(action.ciphertext)), decipher.final()]);
    return ok(new TextDecoder('utf-8', { fatal: true }).decode(plain));
  } catch {
    return lnurlError('LnurlDecryptFailed', 'ciphertext does not decrypt with this preimage');
  }
}
