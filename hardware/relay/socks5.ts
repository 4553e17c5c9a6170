/**
 * The SOCKS5 (RFC 1928) subset the blind relay speaks: method negotiation with "no authentication" (0x00; the
 * relay authorises by the cable session, see blind-relay.ts) and the CONNECT command with an IPv4, IPv6 or
 * domain-name destination. BIND and UDP ASSOCIATE are refused. Pure: bytes in, decisions out; every length is
 * bounded by the format itself (a greeting ≤ 257 bytes, a request ≤ 262 bytes).
 */

/** SOCKS protocol version byte. */
export const SOCKS_VERSION = 0x05;
/** Method: no authentication required. */
export const METHOD_NO_AUTH = 0x00;
/** Method reply: no acceptable methods. */
export const METHOD_NONE_ACCEPTABLE = 0xff;

/** Reply codes of RFC 1928 §6 that the relay uses. */
export const Reply = {
  succeeded: 0x00,
  generalFailure: 0x01,
  notAllowed: 0x02,
  networkUnreachable: 0x03,
  hostUnreachable: 0x04,
  connectionRefused: 0x05,
  ttlExpired: 0x06,
  commandNotSupported: 0x07,
  addressTypeNotSupported: 0x08,
} as const;

/** A reply code. */
export type ReplyCode = (typeof Reply)[keyof typeof Reply];

/** Longest greeting: VER, NMETHODS, 255 methods. */
export const MAX_GREETING_BYTES = 2 + 255;
/** Longest CONNECT request: VER CMD RSV ATYP LEN 255-byte name PORT. */
export const MAX_REQUEST_BYTES = 4 + 1 + 255 + 2;

/** Why a client's bytes are not SOCKS5 as the relay speaks it. */
export type Socks5Malformed =
  'NOT_SOCKS5' | 'NO_METHODS' | 'RESERVED_NOT_ZERO' | 'EMPTY_DOMAIN' | 'DOMAIN_NOT_PRINTABLE' | 'PORT_ZERO';

/** Outcome of parsing a greeting. */
export type GreetingParse =
  | { kind: 'incomplete' }
  | { kind: 'malformed'; reason: Socks5Malformed }
  | { kind: 'greeting'; methods: number[]; consumedBytes: number };

/** Parses the client's method-selection message (VER NMETHODS METHODS...).

  @param bytes what the client has sent so far
  @returns incomplete (wait for more), malformed (close), or the offered methods and the bytes they took
*/
export function parseGreeting(bytes: Uint8Array): GreetingParse {
  if (bytes.length < 2) return { kind: 'incomplete' };
  if (bytes[0] !== SOCKS_VERSION) return { kind: 'malformed', reason: 'NOT_SOCKS5' };
  const n = bytes[1]!;
  if (n === 0) return { kind: 'malformed', reason: 'NO_METHODS' };
  if (bytes.length < 2 + n) return { kind: 'incomplete' };
  return { kind: 'greeting', methods: [...bytes.subarray(2, 2 + n)], consumedBytes: 2 + n };
}

/** The method-selection reply.

  @param method the chosen method, or METHOD_NONE_ACCEPTABLE
  @returns the two reply bytes
*/
export function encodeMethodReply(method: number): Uint8Array {
  return Uint8Array.of(SOCKS_VERSION, method);
}

/** A CONNECT destination: an IP literal or a domain name, and a TCP port. */
export interface Destination {
  /** `ipv4` / `ipv6` literal, or a `domain` name (ASCII, printable) */
  addressType: 'ipv4' | 'ipv6' | 'domain';
  host: string;
  /** TCP port, 1..65535 */
  port: number;
}

/** Outcome of parsing a request. */
export type RequestParse =
  | { kind: 'incomplete' }
  | { kind: 'malformed'; reason: Socks5Malformed }
  /** well-formed but not something the relay does: answer with `reply` and close */
  | { kind: 'unsupported'; reply: ReplyCode; what: string }
  | { kind: 'connect'; destination: Destination; consumedBytes: number };

/** Parses the client's request (VER CMD RSV ATYP DST.ADDR DST.PORT); only CONNECT is supported.

  @param bytes what the client has sent after the greeting
  @returns incomplete, malformed, unsupported (with the reply code to send), or the CONNECT destination
*/
export function parseRequest(bytes: Uint8Array): RequestParse {
  if (bytes.length < 4) return { kind: 'incomplete' };
  if (bytes[0] !== SOCKS_VERSION) return { kind: 'malformed', reason: 'NOT_SOCKS5' };
  if (bytes[2] !== 0) return { kind: 'malformed', reason: 'RESERVED_NOT_ZERO' };
  const cmd = bytes[1]!;
  const atyp = bytes[3]!;
  let addrLen: number;
  let addrStart = 4;
  if (atyp === 0x01) addrLen = 4;
  else if (atyp === 0x04) addrLen = 16;
  else if (atyp === 0x03) {
    if (bytes.length < 5) return { kind: 'incomplete' };
    addrLen = bytes[4]!;
    addrStart = 5;
    if (addrLen === 0) return { kind: 'malformed', reason: 'EMPTY_DOMAIN' };
  } else return { kind: 'unsupported', reply: Reply.addressTypeNotSupported, what: `address type ${atyp}` };
  const end = addrStart + addrLen + 2;
  if (bytes.length < end) return { kind: 'incomplete' };
  if (cmd !== 0x01)
    return { kind: 'unsupported', reply: Reply.commandNotSupported, what: `command ${cmd} (only CONNECT)` };
  const addr = bytes.subarray(addrStart, addrStart + addrLen);
  const port = (bytes[end - 2]! << 8) | bytes[end - 1]!;
  if (port === 0) return { kind: 'malformed', reason: 'PORT_ZERO' };
  let destination: Destination;
  if (atyp === 0x01) destination = { addressType: 'ipv4', host: [...addr].join('.'), port };
  else if (atyp === 0x04) destination = { addressType: 'ipv6', host: formatIpv6(addr), port };
  else {
    for (const b of addr)
      if (b < 0x21 || b > 0x7e) return { kind: 'malformed', reason: 'DOMAIN_NOT_PRINTABLE' };
    destination = { addressType: 'domain', host: Buffer.from(addr).toString('ascii'), port };
  }
  return { kind: 'connect', destination, consumedBytes: end };
}

/** The reply to a request (bound address 0.0.0.0:0: the client learns nothing about the wall's uplink).

  @param code reply code
  @returns the ten reply bytes
*/
export function encodeReply(code: ReplyCode): Uint8Array {
  return Uint8Array.of(SOCKS_VERSION, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0);
}

/** Formats 16 bytes as an RFC 5952-ish IPv6 literal (lower case, longest zero run compressed). */
function formatIpv6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
