/** Typed errors of the ISO-TP layer (ISO 15765-2). Every one extends {@link IsoTpError}. */

export class IsoTpError extends Error {
  override name = 'IsoTpError';
}

/** Which ISO-TP timer elapsed: N_As (our frame not sent), N_Bs (no flow control), N_Cr (no next CF). */
export type IsoTpTimer = 'N_As' | 'N_Bs' | 'N_Cr';

/** An ISO-TP timer elapsed; the transfer was aborted. */
export class IsoTpTimeout extends IsoTpError {
  override name = 'IsoTpTimeout';
  /** @param timer the timer; @param timeoutMs its value in ms */
  constructor(
    readonly timer: IsoTpTimer,
    readonly timeoutMs: number,
  ) {
    super(`ISO-TP ${timer} timeout after ${timeoutMs} ms`);
  }
}

/** A consecutive frame arrived with the wrong sequence number; the reception was aborted. */
export class IsoTpWrongSequence extends IsoTpError {
  override name = 'IsoTpWrongSequence';
  constructor(
    readonly expected: number,
    readonly received: number,
  ) {
    super(`ISO-TP consecutive frame sequence ${received}, expected ${expected}: reception aborted`);
  }
}

/** The receiver answered our First Frame with flow status OVFLW (message too long for it). */
export class IsoTpOverflow extends IsoTpError {
  override name = 'IsoTpOverflow';
}

/** The receiver sent more consecutive WAIT flow controls than WFTmax allows. */
export class IsoTpWaitLimitExceeded extends IsoTpError {
  override name = 'IsoTpWaitLimitExceeded';
}

/** A flow control frame carried a reserved flow status (3..15). */
export class IsoTpInvalidFlowStatus extends IsoTpError {
  override name = 'IsoTpInvalidFlowStatus';
}

/** A received frame is not valid ISO-TP (unknown PCI type, bad length field, truncated). */
export class IsoTpMalformedFrame extends IsoTpError {
  override name = 'IsoTpMalformedFrame';
}

/** An incoming message announces more bytes than the configured maximum; we answered OVFLW. */
export class IsoTpMessageTooLong extends IsoTpError {
  override name = 'IsoTpMessageTooLong';
  /** @param length announced bytes; @param maxBytes configured maximum */
  constructor(
    readonly length: number,
    readonly maxBytes: number,
  ) {
    super(`ISO-TP message of ${length} bytes exceeds the maximum of ${maxBytes}`);
  }
}

/** A message to send is empty or too long (over the configured maximum or 2^32 − 1 bytes). */
export class IsoTpInvalidLength extends IsoTpError {
  override name = 'IsoTpInvalidLength';
}

/** A reception in progress was abandoned because a new Single or First Frame arrived. */
export class IsoTpReceptionInterrupted extends IsoTpError {
  override name = 'IsoTpReceptionInterrupted';
}

/** The ISO-TP endpoint was closed; pending sends fail with this. */
export class IsoTpClosed extends IsoTpError {
  override name = 'IsoTpClosed';
}

/** The CAN bus refused or failed a frame (closed bus, adapter error); `cause` holds the bus error. */
export class IsoTpTransmitFailed extends IsoTpError {
  override name = 'IsoTpTransmitFailed';
}
