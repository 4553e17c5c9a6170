/**
 * How long a frame occupies the bus. One function serves the in-memory bus, the SLCAN emulator's pacing and
 * the link benchmark's "bus-limited minimum", so all three agree.
 *
 * Classic frames: 47 fixed bits for an 11-bit identifier (SOF, id, RTR, IDE, r0, DLC, CRC, delimiters, ACK,
 * EOF, 3-bit interframe space), 67 for a 29-bit one, plus 8 per data byte, plus the worst-case stuff bits
 * ⌊(g + 8n − 1) / 4⌋ where g = 34 (11-bit) or 54 (29-bit) is the stuffable header (Davis et al. 2007).
 *
 * CAN FD frames: the arbitration phase (and the ACK/EOF/IFS tail) at the nominal bitrate, the data phase
 * (DLC, data, stuff count, CRC 17/21 with fixed stuff bits) at the data bitrate when BRS is set.
 */
import type { CanFrame } from './frame.js';

/** Bits on the wire for a classic frame with `dataBytes` bytes, worst-case stuffing, including interframe space. */
export function classicFrameBits(dataBytes: number, extended = false): number {
  const fixed = extended ? 67 : 47;
  const stuffable = (extended ? 54 : 34) + 8 * dataBytes;
  return fixed + 8 * dataBytes + Math.floor((stuffable - 1) / 4);
}

/** Bitrates of a bus: nominal (arbitration) and, for CAN FD with BRS, the data phase. */
export interface BusBitrates {
  /** bit/s */
  bitrate: number;
  /** bit/s in the CAN FD data phase (default: `bitrate`) */
  dataBitrate?: number;
}

/**
 * Time a frame occupies the bus.
 *
 * @param frame the frame (RTR frames carry no data; FD frames use their padded length)
 * @param rates nominal and data-phase bitrates in bit/s
 * @returns duration in milliseconds (fractional)
 */
export function frameDurationMs(frame: CanFrame, rates: BusBitrates): number {
  const n = frame.data.length;
  if (!frame.fd) return (classicFrameBits(n, frame.extended) * 1000) / rates.bitrate;
  // arbitration: SOF, id (11 or 11+IDE/SRR+18), RRS, IDE, FDF, res, BRS; tail: CRC delim, ACK, EOF, IFS
  const arbitration = (frame.extended ? 32 : 13) + 5;
  const tail = 1 + 2 + 7 + 3;
  const crcBits = n > 16 ? 21 : 17;
  const dataPhase =
    1 /* ESI */ + 4 /* DLC */ + 8 * n + 4 /* stuff count */ + crcBits + Math.ceil(crcBits / 4);
  const stuffing = Math.floor((arbitration + 5 + 8 * n - 1) / 4);
  const dataRate = frame.brs ? (rates.dataBitrate ?? rates.bitrate) : rates.bitrate;
  const stuffRate = dataRate;
  return (
    ((arbitration + tail) * 1000) / rates.bitrate +
    (dataPhase * 1000) / dataRate +
    (stuffing * 1000) / stuffRate
  );
}
