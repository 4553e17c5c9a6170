/** Typed errors of cable links. */

export class LinkError extends Error {
  override name = 'LinkError';
}

/** No medium or no peer to send to (adapter gone, TCP not connected, link closed). */
export class LinkDown extends LinkError {
  override name = 'LinkDown';
}

/** A message exceeds the link's maximum size (sent or announced by the peer). */
export class LinkMessageTooLong extends LinkError {
  override name = 'LinkMessageTooLong';
  /** @param length bytes; @param maxBytes the limit */
  constructor(
    readonly length: number,
    readonly maxBytes: number,
  ) {
    super(`message of ${length} bytes exceeds the link maximum of ${maxBytes}`);
  }
}
