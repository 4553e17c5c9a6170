/**
 * `candump -L` compatible capture logs (can-utils log format, replayable with `canplayer` and readable by
 * `log2asc`, Wireshark and python-can's `CanutilsLogReader`):
 *
 *   (1700000000.123456) can0 7CD#0102030405060708      classic, 11-bit id (3 hex digits)
 *   (1700000000.123456) can0 1ABCDEF0#01               classic, 29-bit id (8 hex digits)
 *   (1700000000.123456) can0 123#R / 123#R3            remote frame, optional length digit
 *   (1700000000.123456) can0 7CD##1<data>              CAN FD; the digit after ## is the flags (1 = BRS)
 */
import type { Writable } from 'node:stream';
import type { CanBus } from './bus.js';
import type { CanFrame } from './frame.js';
import { SystemClock, type Clock } from '../clock.js';

/**
 * One log line (without newline).
 *
 * @param frame the frame
 * @param timeMs capture time, ms since the Unix epoch (fractions kept to the microsecond)
 * @param iface interface name written in the line, e.g. `can0`
 */
export function formatCandumpLine(frame: CanFrame, timeMs: number, iface: string): string {
  const us = Math.round(timeMs * 1000);
  const stamp = `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}`;
  const id = frame.id
    .toString(16)
    .toUpperCase()
    .padStart(frame.extended ? 8 : 3, '0');
  const data = Buffer.from(frame.data).toString('hex').toUpperCase();
  let body: string;
  if (frame.rtr) body = `${id}#R${frame.rtrLength > 0 ? frame.rtrLength.toString(16).toUpperCase() : ''}`;
  else if (frame.fd) body = `${id}##${frame.brs ? 1 : 0}${data}`;
  else body = `${id}#${data}`;
  return `(${stamp}) ${iface} ${body}`;
}

/** Options of {@link CandumpLogWriter}. */
export interface CandumpLogWriterOptions {
  /** Interface name written in each line; default `can0`. */
  iface?: string;
  /** Time source for timestamps; default SystemClock. */
  clock?: Clock;
}

/**
 * Writes frames to a stream in `candump -L` format. `attach(bus)` logs every frame the bus receives;
 * `record(frame)` logs one explicitly (e.g. our own transmissions).
 */
export class CandumpLogWriter {
  private readonly iface: string;
  private readonly clock: Clock;
  private readonly detachers: (() => void)[] = [];

  /** @param out destination (file stream, stdout); @param options interface name and clock */
  constructor(
    private readonly out: Writable,
    options: CandumpLogWriterOptions = {},
  ) {
    this.iface = options.iface ?? 'can0';
    this.clock = options.clock ?? new SystemClock();
  }

  /** Logs one frame now. */
  record(frame: CanFrame): void {
    this.out.write(`${formatCandumpLine(frame, this.clock.now(), this.iface)}\n`);
  }

  /** Logs every frame received by `bus` until `detach()`. */
  attach(bus: CanBus): void {
    const on = (frame: CanFrame): void => this.record(frame);
    bus.on('frame', on);
    this.detachers.push(() => bus.off('frame', on));
  }

  /** Stops logging attached buses (does not end the stream). */
  detach(): void {
    for (const d of this.detachers.splice(0)) d();
  }
}
