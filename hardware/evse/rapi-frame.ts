/**
 * OpenEVSE RAPI line framing: pure encode/decode of one `\r`-terminated line, no I/O.
 *
 * Wire format (firmware `rapi_proc.h`):
 * - XOR checksum (recommended): `$cc pp pp ...^xk\r`, xk = XOR of every byte before `^`, two hex digits.
 * - Sum checksum (legacy): `$cc pp pp ...*ck\r`, ck = 8-bit sum of every byte before `*`.
 * - Sequence id (v3.0.0+): `$cc pp pp :ss^xk\r`, ss = 01..FF in hex; the reply echoes it.
 * - Replies `$OK [params] [:ss]^xk` / `$NK [params] [:ss]^xk`; async `$AT`, `$ST`, `$AB`, `$WF`, `$AN`.
 */

/** Which checksum a line carries. `none` is accepted on input from very old firmware only. */
export type RapiChecksumKind = 'xor' | 'sum' | 'none';

/** A decoded RAPI line. */
export interface RapiLine {
  /** Two-letter command or reply code, e.g. `GS`, `OK`, `NK`, `AT`. */
  code: string;
  /** Space-separated parameters after the code (sequence id removed). */
  params: string[];
  /** Sequence id 1..255 if the line carried `:ss`, else null. */
  seq: number | null;
  checksum: RapiChecksumKind;
}

/** A received line whose checksum does not match its content. */
export class RapiChecksumMismatch extends Error {
  override readonly name = 'RapiChecksumMismatch';
  /**
   * @param line the offending line, without `\r`
   * @param expected checksum computed over the content, two hex digits
   * @param received checksum the line carried
   */
  constructor(
    readonly line: string,
    readonly expected: string,
    readonly received: string,
  ) {
    super(`RAPI checksum mismatch in ${JSON.stringify(line)}: computed ${expected}, line says ${received}`);
  }
}

/** A received line that is not RAPI at all (no `$`, no two-letter code, bad sequence id). */
export class RapiMalformedLine extends Error {
  override readonly name = 'RapiMalformedLine';
  /** @param line the offending line, without `\r`; @param reason what is wrong */
  constructor(
    readonly line: string,
    reason: string,
  ) {
    super(`malformed RAPI line ${JSON.stringify(line)}: ${reason}`);
  }
}

/**
 * XOR checksum of a string's bytes (latin1), as two upper-case hex digits.
 *
 * @param text every character before `^`, including the leading `$`
 * @returns e.g. `"30"` for `"$GS"`
 */
export function rapiXorChecksum(text: string): string {
  let x = 0;
  for (let i = 0; i < text.length; i++) x ^= text.charCodeAt(i) & 0xff;
  return hex2(x);
}

/**
 * Legacy additive checksum (8-bit sum), as two upper-case hex digits.
 *
 * @param text every character before `*`, including the leading `$`
 * @returns e.g. `"AE"` for `"$FD"`
 */
export function rapiSumChecksum(text: string): string {
  let s = 0;
  for (let i = 0; i < text.length; i++) s = (s + (text.charCodeAt(i) & 0xff)) & 0xff;
  return hex2(s);
}

/**
 * Encodes one RAPI line, including the trailing `\r`.
 *
 * @param code two-letter command (`GS`) or reply code (`OK`)
 * @param params parameters, joined with single spaces; none may contain space, `^`, `*`, `:` or `\r`
 * @param opts.seq sequence id 1..255 to append as ` :ss`, or null/undefined for none
 * @param opts.checksum `xor` (default) or `sum` (legacy) or `none`
 * @returns the line, e.g. `"$SC 16 V :0A^5E\r"`
 */
export function encodeRapiLine(
  code: string,
  params: readonly (string | number)[] = [],
  opts: { seq?: number | null; checksum?: RapiChecksumKind } = {},
): string {
  if (!/^[A-Z0-9]{2}$/.test(code)) throw new RangeError(`RAPI code must be two characters, got ${code}`);
  const parts = params.map(String);
  for (const p of parts) {
    if (p === '' || /[\s^*:$]/.test(p))
      throw new RangeError(`RAPI parameter ${JSON.stringify(p)} not encodable`);
  }
  let body = `$${code}` + parts.map((p) => ` ${p}`).join('');
  if (opts.seq !== undefined && opts.seq !== null) {
    if (!Number.isInteger(opts.seq) || opts.seq < 1 || opts.seq > 255)
      throw new RangeError(`RAPI sequence id must be 1..255, got ${opts.seq}`);
    body += ` :${hex2(opts.seq)}`;
  }
  const kind = opts.checksum ?? 'xor';
  if (kind === 'xor') return `${body}^${rapiXorChecksum(body)}\r`;
  if (kind === 'sum') return `${body}*${rapiSumChecksum(body)}\r`;
  return `${body}\r`;
}

/**
 * Decodes one RAPI line (without its `\r`; surrounding whitespace is ignored).
 *
 * @param raw the line as received
 * @returns the decoded line
 * @throws RapiChecksumMismatch when a `^xk` / `*ck` checksum does not match
 * @throws RapiMalformedLine when the line is not RAPI
 */
export function decodeRapiLine(raw: string): RapiLine {
  const line = raw.trim();
  const start = line.indexOf('$');
  if (start < 0) throw new RapiMalformedLine(line, 'no "$"');
  const text = line.slice(start);
  let body = text;
  let checksum: RapiChecksumKind = 'none';
  const m = /^(.*)([\^*])([0-9A-Fa-f]{2})$/.exec(text);
  if (m) {
    body = m[1] as string;
    const sep = m[2] as string;
    const received = (m[3] as string).toUpperCase();
    checksum = sep === '^' ? 'xor' : 'sum';
    const expected = checksum === 'xor' ? rapiXorChecksum(body) : rapiSumChecksum(body);
    if (expected !== received) throw new RapiChecksumMismatch(text, expected, received);
  } else if (/[\^*]/.test(text)) {
    throw new RapiMalformedLine(text, 'checksum marker without two hex digits');
  }
  const tokens = body
    .slice(1)
    .split(/\s+/)
    .filter((t) => t.length > 0);
  const code = tokens.shift();
  if (code === undefined || !/^[A-Z0-9]{2}$/i.test(code))
    throw new RapiMalformedLine(text, 'no two-letter code');
  let seq: number | null = null;
  const last = tokens[tokens.length - 1];
  if (last !== undefined && last.startsWith(':')) {
    tokens.pop();
    if (!/^:[0-9A-Fa-f]{2}$/.test(last)) throw new RapiMalformedLine(text, `bad sequence id ${last}`);
    seq = parseInt(last.slice(1), 16);
  }
  return { code: code.toUpperCase(), params: tokens, seq, checksum };
}

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}
