/**
 * Protocol error values. The pure core never lets an exception escape for bad input: every decode, open or
 * check returns a `Result` whose failure carries a `ProtocolError` named for what went wrong.
 */

/** Names of everything that can be wrong with bytes or messages received from the peer. */
export type ProtocolErrorName =
  | 'FrameTooShort'
  | 'FrameTooLong'
  | 'BadMagic'
  | 'UnknownMessageType'
  | 'MalformedMessage'
  | 'TrailingBytes'
  | 'UnsupportedVersion'
  | 'ForeignSession'
  | 'ReplayedFrame'
  | 'DecryptionFailed'
  | 'BadSignature'
  | 'UnexpectedMessage';

/** A protocol error value: `name` is stable and machine-readable, `message` is for humans and logs. */
export interface ProtocolError {
  readonly kind: 'ProtocolError';
  readonly name: ProtocolErrorName;
  readonly message: string;
}

/** Success or a typed failure. */
export type Result<T, E = ProtocolError> = { ok: true; value: T } | { ok: false; error: E };

/** Builds a ProtocolError value. */
export function protocolError(name: ProtocolErrorName, message: string): ProtocolError {
  return { kind: 'ProtocolError', name, message };
}

/** Wraps a value as a successful Result. */
export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

/** Wraps an error as a failed Result. */
export function fail<E>(error: E): { ok: false; error: E } {
  return { ok: false, error };
}
