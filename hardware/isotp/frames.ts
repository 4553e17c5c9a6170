/**
 * ISO 15765-2 protocol control information, pure: encoding and parsing of Single, First, Consecutive and Flow
 * Control frames for normal addressing, classic CAN (TX_DL 8) and CAN FD (TX_DL 12..64), STmin conversions and
 * padding. No state, no I/O.
 */
import { fdLengthFor } from '../can/frame.js';
import { IsoTpMalformedFrame } from './errors.js';

/** Flow status of a Flow Control frame. */
export const FlowStatus = { ContinueToSend: 0, Wait: 1, Overflow: 2 } as const;

/** A parsed ISO-TP frame. `payload` of a CF holds everything after the PCI byte (padding included). */
export type IsoTpPdu =
  | { type: 'single'; payload: Uint8Array }
  | { type: 'first'; length: number; payload: Uint8Array }
  | { type: 'consecutive'; sequence: number; payload: Uint8Array }
  | { type: 'flow'; status: number; blockSize: number; stMinRaw: number };

/** Valid TX_DL values: 8 for classic CAN, the FD lengths above 8 for CAN FD. */
export const VALID_TX_DL: readonly number[] = [8, 12, 16, 20, 24, 32, 48, 64];

/** Largest length a First Frame can announce (32-bit escape). */
export const MAX_ISOTP_LENGTH = 0xffff_ffff;

/**
 * Parses the data of a CAN frame as ISO-TP.
 *
 * @param data frame payload (1..64 bytes)
 * @returns the typed PDU
 * @throws IsoTpMalformedFrame for an empty frame, an unknown PCI type, or length fields the frame cannot hold
 */
export function parseIsoTpPdu(data: Uint8Array): IsoTpPdu {
  const b0 = data[0];
  if (b0 === undefined) throw new IsoTpMalformedFrame('empty frame');
  const type = b0 >> 4;
  const low = b0 & 0x0f;
  switch (type) {
    case 0: {
      if (low !== 0) {
        if (low > 7 || data.length < 1 + low)
          throw new IsoTpMalformedFrame(`single frame length ${low} in a ${data.length}-byte frame`);
        return { type: 'single', payload: data.slice(1, 1 + low) };
      }
      // CAN FD escape: 00 LL, only valid in frames longer than 8 bytes and for LL > 7
      const len = data[1];
      if (data.length <= 8 || len === undefined || len < 8 || data.length < 2 + len)
        throw new IsoTpMalformedFrame(`invalid single frame length in a ${data.length}-byte frame`);
      return { type: 'single', payload: data.slice(2, 2 + len) };
    }
    case 1: {
      if (data.length < 8) throw new IsoTpMalformedFrame(`first frame of ${data.length} bytes (min 8)`);
      const len12 = (low << 8) | (data[1] as number);
      if (len12 !== 0) {
        const minLen = data.length === 8 ? 8 : data.length - 1;
        if (len12 < minLen) throw new IsoTpMalformedFrame(`first frame announces only ${len12} bytes`);
        return { type: 'first', length: len12, payload: data.slice(2) };
      }
      const len32 = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(2);
      if (len32 <= 4095) throw new IsoTpMalformedFrame(`escaped first frame announces only ${len32} bytes`);
      return { type: 'first', length: len32, payload: data.slice(6) };
    }
    case 2:
      return { type: 'consecutive', sequence: low, payload: data.slice(1) };
    case 3:
      if (data.length < 3) throw new IsoTpMalformedFrame(`flow control of ${data.length} bytes (min 3)`);
      return { type: 'flow', status: low, blockSize: data[1] as number, stMinRaw: data[2] as number };
    default:
      throw new IsoTpMalformedFrame(`unknown PCI type ${type}`);
  }
}

/**
 * Separation time for an STmin byte.
 *
 * @param raw STmin byte from a Flow Control frame
 * @returns microseconds: 0..127 000 for 0x00..0x7F, 100..900 for 0xF1..0xF9, 127 000 for reserved values
 */
export function stMinToUs(raw: number): number {
  if (raw >= 0 && raw <= 0x7f) return raw * 1000;
  if (raw >= 0xf1 && raw <= 0xf9) return (raw - 0xf0) * 100;
  return 127_000;
}

/**
 * STmin byte for a wanted separation time, rounding up so the peer never sends faster than asked.
 *
 * @param us microseconds, >= 0 (capped at 127 ms)
 * @returns STmin byte
 */
export function usToStMin(us: number): number {
  if (us <= 0) return 0;
  if (us < 1000) return 0xf0 + Math.min(9, Math.ceil(us / 100));
  return Math.min(0x7f, Math.ceil(us / 1000));
}

/** Bytes of payload a Single Frame can carry at this TX_DL. */
export function singleFrameCapacity(txDl: number): number {
  return txDl === 8 ? 7 : txDl - 2;
}

/** Bytes of payload the First Frame carries for a message of `length` bytes at this TX_DL. */
export function firstFrameCapacity(length: number, txDl: number): number {
  return length > 4095 ? txDl - 6 : txDl - 2;
}

/**
 * Number of CAN frames (SF, or FF + CFs) a message of `length` bytes needs; no flow control frames counted.
 *
 * @param length message bytes
 * @param txDl 8 or a CAN FD length
 */
export function dataFrameCount(length: number, txDl = 8): number {
  if (length <= singleFrameCapacity(txDl)) return 1;
  return 1 + Math.ceil((length - firstFrameCapacity(length, txDl)) / (txDl - 1));
}

/** Encodes a Single Frame (unpadded). `payload` must fit {@link singleFrameCapacity}. */
export function encodeSingleFrame(payload: Uint8Array): Uint8Array {
  if (payload.length <= 7) return Uint8Array.of(payload.length, ...payload);
  const out = new Uint8Array(2 + payload.length);
  out[1] = payload.length;
  out.set(payload, 2);
  return out;
}

/** Encodes a First Frame announcing `length` bytes and carrying `chunk` (the first bytes of the message). */
export function encodeFirstFrame(length: number, chunk: Uint8Array): Uint8Array {
  if (length <= 4095) return Uint8Array.of(0x10 | (length >> 8), length & 0xff, ...chunk);
  const out = new Uint8Array(6 + chunk.length);
  out[0] = 0x10;
  new DataView(out.buffer).setUint32(2, length);
  out.set(chunk, 6);
  return out;
}

/** Encodes a Consecutive Frame with sequence number `sequence` (taken mod 16). */
export function encodeConsecutiveFrame(sequence: number, chunk: Uint8Array): Uint8Array {
  return Uint8Array.of(0x20 | (sequence & 0x0f), ...chunk);
}

/** Encodes a Flow Control frame (3 bytes, unpadded). */
export function encodeFlowControl(status: number, blockSize: number, stMinRaw: number): Uint8Array {
  return Uint8Array.of(0x30 | (status & 0x0f), blockSize & 0xff, stMinRaw & 0xff);
}

/**
 * Pads a frame for transmission.
 *
 * @param data encoded frame
 * @param txDl 8 (classic) or a CAN FD length
 * @param padding byte to pad with, or null for no padding. Classic frames are padded to 8 bytes when a byte is
 *   given; CAN FD frames are always padded up to the next valid FD length (with `padding`, or 0xCC when null),
 *   and short FD frames to at least 8 when a byte is given.
 * @returns the padded frame data (a new array when padding happened)
 */
export function padFrame(data: Uint8Array, txDl: number, padding: number | null): Uint8Array {
  let target = data.length;
  if (txDl === 8) target = padding === null ? data.length : 8;
  else target = fdLengthFor(padding === null ? data.length : Math.max(8, data.length));
  if (target === data.length) return data;
  const out = new Uint8Array(target).fill(padding ?? 0xcc);
  out.set(data);
  return out;
}
