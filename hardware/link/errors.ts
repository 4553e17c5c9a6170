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

/**
 * The wall refused a TCP connection because the connector's car connection is live and healthy: a second
 * connection never displaces it (it is refused, not queued).
 */
export class LinkConnectionRefused extends LinkError {
  override name = 'LinkConnectionRefused';
  /** @param remote `[address]:port` of the refused peer */
  constructor(readonly remote: string) {
    super(`refused a second connection from ${remote}: the car's connection is live`);
  }
}
