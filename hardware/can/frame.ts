/**
 * CAN frames as every bus backend, ISO-TP and the log writer see them: classic (0–8 bytes) and CAN FD
 * (0–64 bytes at the valid FD lengths), 11-bit or 29-bit identifiers, remote (RTR) frames.
 */
import { InvalidCanFrame } from './errors.js';

/** A CAN or CAN FD frame. Construct with {@link canFrame} to get validation. */
export interface CanFrame {
  /** Identifier: 0..0x7FF when `extended` is false, 0..0x1FFFFFFF when true. */
  readonly id: number;
  /** 29-bit identifier. */
  readonly extended: boolean;
  /** Remote transmission request (classic CAN only); `data` is empty and `rtrLength` is the requested DLC. */
  readonly rtr: boolean;
  /** CAN FD frame (payload up to 64 bytes at a valid FD length). */
  readonly fd: boolean;
  /** CAN FD bit-rate switch for the data phase. */
  readonly brs: boolean;
  /** Payload bytes (empty for RTR frames). */
  readonly data: Uint8Array;
  /** For RTR frames: the requested data length code, 0..8. */
  readonly rtrLength: number;
}

/** Payload lengths a CAN FD frame may have, ascending; the index is the DLC (0..15). */
export const FD_LENGTHS: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64];

/**
 * Data length code for a payload length.
 *
 * @param length payload bytes: 0..8, or a valid FD length 12..64
 * @returns DLC 0..15
 * @throws InvalidCanFrame when `length` is not a valid CAN / CAN FD length
 */
export function lengthToDlc(length: number): number {
  const dlc = FD_LENGTHS.indexOf(length);
  if (dlc < 0) throw new InvalidCanFrame(`${length} is not a valid CAN FD payload length`);
  return dlc;
}

/**
 * Payload length for a data length code.
 *
 * @param dlc 0..15
 * @param fd whether the frame is CAN FD (classic frames cap DLC 9..15 at 8 bytes)
 * @returns payload bytes
 */
export function dlcToLength(dlc: number, fd: boolean): number {
  if (!Number.isInteger(dlc) || dlc < 0 || dlc > 15)
    throw new InvalidCanFrame(`DLC ${dlc} out of range 0..15`);
  return fd ? (FD_LENGTHS[dlc] as number) : Math.min(dlc, 8);
}

/**
 * Smallest valid CAN FD payload length that holds `length` bytes (frames are padded up to it).
 *
 * @param length bytes, 0..64
 * @returns 0..8, 12, 16, 20, 24, 32, 48 or 64
 */
export function fdLengthFor(length: number): number {
  const found = FD_LENGTHS.find((l) => l >= length);
  if (found === undefined) throw new InvalidCanFrame(`${length} bytes exceed the CAN FD maximum of 64`);
  return found;
}

/** Fields accepted by {@link canFrame}; everything but `id` is optional. */
export interface CanFrameInit {
  id: number;
  data?: Uint8Array | readonly number[];
  extended?: boolean;
  rtr?: boolean;
  fd?: boolean;
  brs?: boolean;
  rtrLength?: number;
}

/**
 * Builds a validated frame.
 *
 * @param init identifier, payload and flags; `extended` defaults to `id > 0x7FF`
 * @returns a frozen-shape frame whose `data` is a copy of the input
 * @throws InvalidCanFrame for an identifier out of range, a payload too long or at an invalid FD length,
 *   an RTR frame with data or FD flag, or BRS without FD
 */
export function canFrame(init: CanFrameInit): CanFrame {
  const extended = init.extended ?? init.id > 0x7ff;
  const max = extended ? 0x1fffffff : 0x7ff;
  if (!Number.isInteger(init.id) || init.id < 0 || init.id > max)
    throw new InvalidCanFrame(
      `identifier 0x${init.id.toString(16)} out of range for ${extended ? 29 : 11}-bit`,
    );
  const data = Uint8Array.from(init.data ?? []);
  const rtr = init.rtr ?? false;
  const fd = init.fd ?? false;
  const brs = init.brs ?? false;
  if (rtr) {
    if (fd) throw new InvalidCanFrame('CAN FD has no remote frames');
    if (data.length > 0) throw new InvalidCanFrame('a remote frame carries no data');
    const rtrLength = init.rtrLength ?? 0;
    if (!Number.isInteger(rtrLength) || rtrLength < 0 || rtrLength > 8)
      throw new InvalidCanFrame(`remote frame length ${rtrLength} out of range 0..8`);
    return { id: init.id, extended, rtr, fd, brs, data, rtrLength };
  }
  if (brs && !fd) throw new InvalidCanFrame('bit-rate switch needs a CAN FD frame');
  if (fd) lengthToDlc(data.length);
  else if (data.length > 8)
    throw new InvalidCanFrame(`classic CAN payload of ${data.length} bytes exceeds 8`);
  return { id: init.id, extended, rtr, fd, brs, data, rtrLength: 0 };
}

/** Human-readable `7CD#0102` form for logs and error messages. */
export function formatFrame(frame: CanFrame): string {
  const id = frame.id
    .toString(16)
    .toUpperCase()
    .padStart(frame.extended ? 8 : 3, '0');
  if (frame.rtr) return `${id}#R${frame.rtrLength}`;
  const hex = Buffer.from(frame.data).toString('hex').toUpperCase();
  return frame.fd ? `${id}##${frame.brs ? 1 : 0}${hex}` : `${id}#${hex}`;
}
