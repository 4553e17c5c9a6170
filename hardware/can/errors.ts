/** Typed errors of the CAN layer (frames, buses, SLCAN adapters). */

/** Base class: every CAN-layer error is an instance of this. */
export class CanError extends Error {
  override name = 'CanError';
}

/** A frame violates CAN / CAN FD rules (identifier range, payload length, flag combination). */
export class InvalidCanFrame extends CanError {
  override name = 'InvalidCanFrame';
}

/** An operation needs an open bus but the bus is closed (never opened, closed, or its adapter vanished). */
export class CanBusClosed extends CanError {
  override name = 'CanBusClosed';
}

/** The adapter did not acknowledge a command within the ack timeout. */
export class SlcanAckTimeout extends CanError {
  override name = 'SlcanAckTimeout';
  /** @param command the command sent, without its CR; @param timeoutMs the timeout that elapsed */
  constructor(
    readonly command: string,
    readonly timeoutMs: number,
  ) {
    super(`SLCAN adapter did not acknowledge '${command}' within ${timeoutMs} ms`);
  }
}

/** The adapter answered a command with BEL (0x07): it refused or failed it. */
export class SlcanCommandRejected extends CanError {
  override name = 'SlcanCommandRejected';
  /** @param command the command sent, without its CR */
  constructor(readonly command: string) {
    super(`SLCAN adapter rejected '${command}' (BEL)`);
  }
}

/** A line from the adapter could not be parsed as an SLCAN frame or reply. */
export class SlcanParseError extends CanError {
  override name = 'SlcanParseError';
  /** @param line the offending line, without its CR */
  constructor(
    readonly line: string,
    reason: string,
  ) {
    super(`unparseable SLCAN line '${line}': ${reason}`);
  }
}

/** The requested bitrate has no SLCAN `Sn` code and no raw `s` timing was configured for it. */
export class UnsupportedBitrate extends CanError {
  override name = 'UnsupportedBitrate';
  /** @param bitrate bit/s */
  constructor(readonly bitrate: number) {
    super(`no SLCAN setting for ${bitrate} bit/s: give a raw 's' BTR value`);
  }
}
