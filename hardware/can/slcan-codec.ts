/**
 * Lawicel SLCAN ASCII encoding, pure: frames ↔ command lines, adapter output → typed tokens, bitrates → setup
 * commands. Used by {@link SlcanBus} (host side) and the SLCAN emulator (adapter side).
 *
 * Frame commands: `tIIILdd..` (11-bit), `TIIIIIIIILdd..` (29-bit), `rIIIL` / `RIIIIIIIIL` (remote),
 * and the CAN FD extension `dIIIL..` / `DIIIIIIIIL..` (FD) and `bIIIL..` / `BIIIIIIIIL..` (FD + bit-rate switch)
 * where L is the DLC as one hex digit. Received frames may carry a 4-hex-digit millisecond timestamp (0..59999)
 * when the adapter's timestamps are on (`Z1`). Lines end with CR; the adapter signals errors with BEL (0x07).
 */
import { SlcanParseError, UnsupportedBitrate } from './errors.js';
import { canFrame, dlcToLength, lengthToDlc, type CanFrame } from './frame.js';

/** `Sn` codes: index n → bit/s. 33.3 kbit/s is not among them. */
export const SLCAN_BITRATES: readonly number[] = [
  10_000, 20_000, 50_000, 100_000, 125_000, 250_000, 500_000, 800_000, 1_000_000,
];

/**
 * Raw BTR0/BTR1 values (SJA1000 semantics, 16 MHz adapter clock, as CANUSB/Lawicel `s` expects) for rates
 * without an `Sn` code. 33.3 kbit/s single-wire CAN: BTR0 0x0E (SJW 1, BRP 14 → tq = 2×15/16 MHz = 1.875 µs),
 * BTR1 0x1C (TSEG1 13 tq, TSEG2 2 tq, one sample) → 16 tq = 30 µs per bit = 33 333 bit/s, sample point 87.5 %.
 */
export const SLCAN_RAW_TIMING: Readonly<Record<number, string>> = { 33_333: '0E1C' };

/**
 * The setup command selecting a bitrate.
 *
 * @param bitrate bit/s
 * @param rawTiming optional 4-hex-digit BTR0BTR1 value; overrides the built-in tables
 * @returns `Sn` or `sXXXX`
 * @throws UnsupportedBitrate when neither table nor `rawTiming` covers the rate
 */
export function bitrateCommand(bitrate: number, rawTiming?: string): string {
  if (rawTiming !== undefined) {
    if (!/^[0-9A-Fa-f]{4}$/.test(rawTiming)) throw new UnsupportedBitrate(bitrate);
    return `s${rawTiming.toUpperCase()}`;
  }
  const n = SLCAN_BITRATES.indexOf(bitrate);
  if (n >= 0) return `S${n}`;
  const raw = SLCAN_RAW_TIMING[bitrate];
  if (raw) return `s${raw}`;
  throw new UnsupportedBitrate(bitrate);
}

/**
 * The bitrate a setup command selects (emulator side).
 *
 * @param command `Sn` or `sXXXX`
 * @returns bit/s, or undefined when the command is not a known bitrate setting
 */
export function bitrateOfCommand(command: string): number | undefined {
  if (/^S[0-8]$/.test(command)) return SLCAN_BITRATES[Number(command.slice(1))];
  if (/^s[0-9A-Fa-f]{4}$/.test(command)) {
    const hit = Object.entries(SLCAN_RAW_TIMING).find(([, v]) => v === command.slice(1).toUpperCase());
    return hit ? Number(hit[0]) : undefined;
  }
  return undefined;
}

/**
 * Encodes a frame as an SLCAN transmit command (without CR).
 *
 * @param frame frame to send
 * @param timestampMs when given (0..59999), appended as 4 hex digits, as an adapter with `Z1` reports frames
 * @returns the command text
 */
export function encodeSlcanFrame(frame: CanFrame, timestampMs?: number): string {
  let letter: string;
  if (frame.rtr) letter = 'r';
  else if (frame.fd) letter = frame.brs ? 'b' : 'd';
  else letter = 't';
  if (frame.extended) letter = letter.toUpperCase();
  const id = frame.id
    .toString(16)
    .toUpperCase()
    .padStart(frame.extended ? 8 : 3, '0');
  const dlc = frame.rtr ? frame.rtrLength : lengthToDlc(frame.data.length);
  const data = Buffer.from(frame.data).toString('hex').toUpperCase();
  const ts =
    timestampMs === undefined ? '' : (timestampMs % 60_000).toString(16).toUpperCase().padStart(4, '0');
  return `${letter}${id}${dlc.toString(16).toUpperCase()}${data}${ts}`;
}

/** A parsed frame line, with the adapter's timestamp when present. */
export interface SlcanFrameLine {
  frame: CanFrame;
  /** ms within the adapter's 60 s timestamp cycle, when the line carried one */
  timestampMs?: number;
}

const HEX = /^[0-9A-Fa-f]*$/;

/**
 * Whether a line (without CR) is a frame line: starts with t, T, r, R, d, D, b or B.
 */
export function isSlcanFrameLine(line: string): boolean {
  return /^[tTrRdDbB]/.test(line);
}

/**
 * Decodes a frame line (without CR). A line whose length exceeds the frame's by exactly 4 hex digits carries a
 * timestamp.
 *
 * @param line e.g. `t7CD80102030405060708` or `t1230` + `1A2B`
 * @returns the frame and optional timestamp
 * @throws SlcanParseError for anything malformed (never another exception type)
 */
export function decodeSlcanFrame(line: string): SlcanFrameLine {
  const letter = line[0] ?? '';
  const extended = letter === letter.toUpperCase();
  const kind = letter.toLowerCase();
  if (!'trdb'.includes(kind) || kind === '') throw new SlcanParseError(line, 'not a frame command');
  const idLen = extended ? 8 : 3;
  const body = line.slice(1);
  if (!HEX.test(body)) throw new SlcanParseError(line, 'non-hex characters');
  if (body.length < idLen + 1) throw new SlcanParseError(line, 'truncated');
  const id = parseInt(body.slice(0, idLen), 16);
  const dlc = parseInt(body.slice(idLen, idLen + 1), 16);
  const fd = kind === 'd' || kind === 'b';
  const rtr = kind === 'r';
  if (!fd && dlc > 8) throw new SlcanParseError(line, `DLC ${dlc} > 8 in a classic frame`);
  const len = rtr ? 0 : dlcToLength(dlc, fd);
  const rest = body.slice(idLen + 1);
  let timestampMs: number | undefined;
  if (rest.length === len * 2 + 4) timestampMs = parseInt(rest.slice(len * 2), 16);
  else if (rest.length !== len * 2) throw new SlcanParseError(line, `expected ${len} data bytes`);
  try {
    const frame = canFrame({
      id,
      extended,
      rtr,
      fd,
      brs: kind === 'b',
      rtrLength: rtr ? dlc : 0,
      data: Buffer.from(rest.slice(0, len * 2), 'hex'),
    });
    return timestampMs === undefined ? { frame } : { frame, timestampMs };
  } catch (err) {
    throw new SlcanParseError(line, (err as Error).message);
  }
}

/** A token of adapter output: a frame, an OK (CR), a transmit ack (`z`/`Z`), an error (BEL) or another reply. */
export type SlcanToken =
  | { kind: 'frame'; line: string }
  | { kind: 'ok' }
  | { kind: 'txAck'; extended: boolean }
  | { kind: 'error' }
  | { kind: 'reply'; line: string };

/**
 * Splits a byte stream into SLCAN tokens: lines end at CR (LF is ignored), and each BEL is an error token by
 * itself. Keeps the incomplete tail between calls; the tail is capped so garbage without CR cannot grow it
 * without bound.
 */
export class SlcanTokenizer {
  private tail = '';
  /** @param maxLineChars longest line kept (a 64-byte FD frame with timestamp is 143 chars) */
  constructor(private readonly maxLineChars = 256) {}

  /**
   * @param chunk bytes from the serial port
   * @returns the complete tokens in order
   */
  push(chunk: Uint8Array): SlcanToken[] {
    const out: SlcanToken[] = [];
    for (const byte of chunk) {
      if (byte === 0x0d) {
        out.push(classify(this.tail));
        this.tail = '';
      } else if (byte === 0x07) {
        if (this.tail.length > 0) out.push({ kind: 'reply', line: this.tail });
        this.tail = '';
        out.push({ kind: 'error' });
      } else if (byte !== 0x0a) {
        if (this.tail.length < this.maxLineChars) this.tail += String.fromCharCode(byte);
      }
    }
    return out;
  }
}

function classify(line: string): SlcanToken {
  if (line === '') return { kind: 'ok' };
  if (line === 'z' || line === 'Z') return { kind: 'txAck', extended: line === 'Z' };
  if (isSlcanFrameLine(line)) return { kind: 'frame', line };
  return { kind: 'reply', line };
}
