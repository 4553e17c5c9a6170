/**
 * OCPP 2.1 use case C25 ("ad hoc payment via a dynamic QR code") one-time codes. Pure: the time comes in as an
 * argument (unix seconds), nothing here reads a clock.
 *
 * C25's TOTP is NOT RFC 6238 (a CSMS that used RFC 6238 failed the official conformance tests):
 *   counter = floor(unixSeconds / validityTimeSec)
 *   h       = HMAC-SHA256(key = UTF-8(sharedSecret), message = counter as an unsigned 64-bit big-endian integer)
 *   off     = h[31] & 0x0F
 *   char i  = B62[h[(off + i) mod 32] mod 62]   for i = 0 … length-1, with B62 = "0-9a-zA-Z"
 * A station shows the code of the current interval; a verifier accepts the previous, current and next interval
 * (clock skew and the time the driver needs to scan), and nothing older.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { fail, ok, type Result } from '../protocol/errors.js';

/** The base-62 alphabet of C25 codes: digits, then lower case, then upper case. */
export const TOTP_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Shortest `WebPaymentsCtrlr.ValidityTime` the OCPP 2.1 device model allows, seconds. */
export const VALIDITY_TIME_MIN_SEC = 6;
/** Longest `WebPaymentsCtrlr.ValidityTime` the OCPP 2.1 device model allows, seconds. */
export const VALIDITY_TIME_MAX_SEC = 3600;

/** Longest code this module produces; the HMAC has 32 bytes and index i wraps modulo 32, so longer codes would
 * only repeat, but OCPP's `Length` variable is an integer we bound to keep URLs short. */
export const TOTP_MAX_LENGTH = 64;

/** Parameters of one EVSE's C25 codes (the `WebPaymentsCtrlr` variables). */
export interface TotpParams {
  /** `SharedSecret`: the HMAC key, used as its UTF-8 bytes. */
  sharedSecret: string;
  /** `ValidityTime`: interval length, seconds (6–3600). */
  validityTimeSec: number;
  /** `Length`: number of characters of the code (1–64). */
  length: number;
}

/** Why a set of TOTP parameters is refused. */
export type TotpParamsInvalid =
  | { name: 'TotpSecretEmpty' }
  | { name: 'TotpValidityOutOfRange'; validityTimeSec: number }
  | { name: 'TotpLengthOutOfRange'; length: number }
  | { name: 'TotpTimeInvalid'; unixSeconds: number };

/**
 * Checks C25 parameters.
 * @param params shared secret, interval (s), code length (characters)
 * @returns ok, or the first rule broken (`TotpSecretEmpty`, `TotpValidityOutOfRange`, `TotpLengthOutOfRange`)
 */
export function checkTotpParams(params: TotpParams): Result<TotpParams, TotpParamsInvalid> {
  if (params.sharedSecret.length === 0) return fail({ name: 'TotpSecretEmpty' });
  const v = params.validityTimeSec;
  if (!Number.isInteger(v) || v < VALIDITY_TIME_MIN_SEC || v > VALIDITY_TIME_MAX_SEC) {
    return fail({ name: 'TotpValidityOutOfRange', validityTimeSec: v });
  }
  const n = params.length;
  if (!Number.isInteger(n) || n < 1 || n > TOTP_MAX_LENGTH)
    return fail({ name: 'TotpLengthOutOfRange', length: n });
  return ok(params);
}

/**
 * The interval number a moment falls in.
 * @param unixSeconds the moment, seconds since 1970-01-01T00:00:00Z (fractions allowed, must be ≥ 0)
 * @param validityTimeSec interval length, s
 * @returns floor(unixSeconds / validityTimeSec)
 */
export function totpCounter(unixSeconds: number, validityTimeSec: number): number {
  return Math.floor(unixSeconds / validityTimeSec);
}

/**
 * The C25 code of one interval number (the core of every other function here).
 * @param sharedSecret HMAC key (its UTF-8 bytes are used)
 * @param counter interval number, a non-negative integer below 2^53
 * @param length code length, characters
 * @returns the code: `length` characters of {@link TOTP_ALPHABET}
 * @throws RangeError for a negative counter (a time before 1970: a caller bug, never outside input)
 */
export function totpForCounter(sharedSecret: string, counter: number, length: number): string {
  const message = new Uint8Array(8);
  new DataView(message.buffer).setBigUint64(0, BigInt(counter), false);
  const h = hmac(sha256, new TextEncoder().encode(sharedSecret), message);
  const offset = h[31]! & 0x0f;
  let code = '';
  for (let i = 0; i < length; i++) code += TOTP_ALPHABET[h[(offset + i) % 32]! % 62];
  return code;
}

/**
 * The TOTP shared secret of one connector of a site whose walk-up is configured with ONE secret
 * (`walkup.totpSecret`): connector 1 uses the configured secret itself (what a single-connector wall always
 * used); connector n ≥ 2 uses
 *   hex(HMAC-SHA256(key = UTF-8(siteSecret), message = UTF-8("connector:" + n)))
 * (64 lowercase hex characters, used like any shared secret: as its UTF-8 bytes). A code shown on one connector's
 * display is therefore refused by every other connector's endpoints, and a display (or a CSMS) that knows the
 * site secret can compute every connector's codes.
 *
 * @param siteSecret the configured secret (non-empty)
 * @param connectorId 1-based connector id (a positive integer)
 * @returns the connector's shared secret
 * @throws RangeError for a connector id that is not a positive integer (a caller bug)
 */
export function connectorTotpSecret(siteSecret: string, connectorId: number): string {
  if (!Number.isInteger(connectorId) || connectorId < 1)
    throw new RangeError(`connector id must be a positive integer, got ${connectorId}`);
  if (connectorId === 1) return siteSecret;
  const enc = new TextEncoder();
  return bytesToHex(hmac(sha256, enc.encode(siteSecret), enc.encode(`connector:${connectorId}`)));
}

/**
 * The code a station shows at a moment.
 * @param params shared secret, interval (s), length (characters); assumed checked with {@link checkTotpParams}
 * @param unixSeconds the moment, seconds since the epoch
 * @returns the code of the interval containing `unixSeconds`
 */
export function totpAt(params: TotpParams, unixSeconds: number): string {
  return totpForCounter(params.sharedSecret, totpCounter(unixSeconds, params.validityTimeSec), params.length);
}

/**
 * Seconds until the code shown at `unixSeconds` changes (for a display that re-renders the QR in time).
 * @param validityTimeSec interval length, s
 * @param unixSeconds the moment, s
 * @returns seconds in (0, validityTimeSec]
 */
export function totpSecondsLeft(validityTimeSec: number, unixSeconds: number): number {
  return (totpCounter(unixSeconds, validityTimeSec) + 1) * validityTimeSec - unixSeconds;
}

/** Outcome of checking a presented code. Accepted codes say which interval they belong to. */
export type TotpVerdict =
  | { name: 'TotpCurrent'; counter: number }
  | { name: 'TotpPrevious'; counter: number }
  | { name: 'TotpNext'; counter: number }
  /** The code matches the interval before the previous one (or older, up to `lookBehind`): a replayed photo. */
  | { name: 'TotpStale'; intervalsAgo: number }
  /** The code matches no interval near now: another charger's code, a forged or mistyped one. */
  | { name: 'TotpUnknown' }
  /** The presented text cannot be a code of these parameters (wrong length or characters, too long). */
  | { name: 'TotpMalformed' };

/** True for the verdicts that let a payment start. */
export function totpAccepted(v: TotpVerdict): v is Extract<TotpVerdict, { counter: number }> {
  return v.name === 'TotpCurrent' || v.name === 'TotpPrevious' || v.name === 'TotpNext';
}

/**
 * Checks a code presented by a payment page (or carried back in a pay request) against the current interval
 * and its two neighbours; older codes are named as stale so a replay can be logged as such.
 * Comparison runs over every candidate without early exit on the first differing character.
 * @param params shared secret, interval (s), length (characters)
 * @param presented the code as received (hostile input; longer than {@link TOTP_MAX_LENGTH} is refused unread)
 * @param unixSeconds the verifier's present time, seconds since the epoch
 * @param lookBehind how many intervals before the previous one to recognise as `TotpStale` (default 8)
 * @returns `TotpCurrent` / `TotpPrevious` / `TotpNext` (accepted), `TotpStale`, `TotpUnknown` or `TotpMalformed`
 */
export function verifyTotp(
  params: TotpParams,
  presented: string,
  unixSeconds: number,
  lookBehind = 8,
): TotpVerdict {
  if (presented.length !== params.length || presented.length > TOTP_MAX_LENGTH)
    return { name: 'TotpMalformed' };
  for (const ch of presented) if (!TOTP_ALPHABET.includes(ch)) return { name: 'TotpMalformed' };
  const now = totpCounter(unixSeconds, params.validityTimeSec);
  const matches = (counter: number): boolean =>
    counter >= 0 && equalConstantTime(totpForCounter(params.sharedSecret, counter, params.length), presented);
  if (matches(now)) return { name: 'TotpCurrent', counter: now };
  if (matches(now - 1)) return { name: 'TotpPrevious', counter: now - 1 };
  if (matches(now + 1)) return { name: 'TotpNext', counter: now + 1 };
  for (let back = 2; back <= lookBehind + 1; back++) {
    if (matches(now - back)) return { name: 'TotpStale', intervalsAgo: back };
  }
  return { name: 'TotpUnknown' };
}

/** Compares two equal-length strings without stopping at the first difference. */
function equalConstantTime(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** Values that fill a C25 `URLTemplate`. */
export interface UrlTemplateValues {
  chargingStationId: string;
  /** EVSE id (1-based as in OCPP). */
  evse: number;
  totp: string;
  /** `TOTPVersion` of the station. */
  version: string;
  /** Optional limits offered on the page: Wh, seconds, and the cost in the CSMS's currency units. */
  maxEnergy?: number;
  maxTime?: number;
  maxCost?: number;
}

/** Why a URL template cannot be filled. */
export type UrlTemplateInvalid =
  | { name: 'UrlTemplateUnknownVariable'; variable: string }
  | { name: 'UrlTemplateMissingValue'; variable: string }
  | { name: 'UrlTemplateNoTotp' }
  | { name: 'UrlTemplateTooLong'; length: number };

/** Longest URL produced (QR codes for a kiosk screen stay readable well below this). */
export const URL_TEMPLATE_MAX_LENGTH = 2048;

const TEMPLATE_VARIABLES = [
  'chargingStationId',
  'evse',
  'totp',
  'version',
  'maxEnergy',
  'maxTime',
  'maxCost',
];

/**
 * Fills a C25 `URLTemplate`: each `{variable}` is replaced by its value, percent-encoded as a URI component
 * (a station id with `/` or spaces cannot break the URL). The template must contain `{totp}` (a QR code without
 * it would be static and could be photographed and reused).
 * @param template e.g. `https://pay.example/{chargingStationId}/{evse}?t={totp}&v={version}`
 * @param values the variables' values; optional limits must be present when the template names them
 * @returns the URL, or `UrlTemplateUnknownVariable`, `UrlTemplateMissingValue`, `UrlTemplateNoTotp`,
 *   `UrlTemplateTooLong`
 */
export function fillUrlTemplate(
  template: string,
  values: UrlTemplateValues,
): Result<string, UrlTemplateInvalid> {
  if (!template.includes('{totp}')) return fail({ name: 'UrlTemplateNoTotp' });
  let error: UrlTemplateInvalid | null = null;
  const url = template.replace(/\{([^{}]*)\}/g, (_all, variable: string) => {
    if (!TEMPLATE_VARIABLES.includes(variable)) {
      error ??= { name: 'UrlTemplateUnknownVariable', variable };
      return '';
    }
    const value = values[variable as keyof UrlTemplateValues];
    if (value === undefined) {
      error ??= { name: 'UrlTemplateMissingValue', variable };
      return '';
    }
    return encodeURIComponent(String(value));
  });
  if (error) return fail(error);
  if (url.length > URL_TEMPLATE_MAX_LENGTH) return fail({ name: 'UrlTemplateTooLong', length: url.length });
  return ok(url);
}
