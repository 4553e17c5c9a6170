/**
 * Frame layout. Every frame starts with the magic "BC" (0x42 0x43), a version byte and a type byte.
 * - Clear frame (hello, clearError): magic | version 0x00 | type | body.
 * - Sealed frame: magic | version (negotiated, 1..255) | type | sessionId (16) | counter (u64 BE) |
 *   ChaCha20-Poly1305 ciphertext of the body | 16-byte tag. The 28-byte header is the AEAD's associated data.
 * A frame is one link-layer message (one ISO-TP message, or one u16-length-prefixed record on a stream).
 */
import { ByteWriter, toHex } from './bytes.js';
import { fail, ok, protocolError, type Result } from './errors.js';
import {
  decodeBody,
  encodeBody,
  isClearType,
  MESSAGE_TYPE_CODES,
  messageTypeOf,
  type ClearMessage,
  type MessageType,
} from './messages.js';

/** "BC". */
export const MAGIC = Uint8Array.of(0x42, 0x43);
/** Largest frame, bytes. */
export const MAX_FRAME_BYTES = 65535;
/** Length of a sealed frame's header (magic, version, type, session id, counter). */
export const SEALED_HEADER_BYTES = 28;
/** AEAD tag length. */
export const TAG_BYTES = 16;

/** A parsed frame: a decoded clear message, or a sealed frame still to be opened by the channel. */
export type ParsedFrame =
  | { kind: 'clear'; message: ClearMessage }
  | {
      kind: 'sealed';
      version: number;
      type: MessageType;
      /** Hex of the 16-byte session id. */
      sessionId: string;
      counter: bigint;
      /** The 28 header bytes (associated data). */
      header: Uint8Array;
      /** Ciphertext followed by the tag. */
      sealed: Uint8Array;
    };

/**
 * Encodes a clear message as a frame.
 * @param message hello or clearError
 * @returns frame bytes or MalformedMessage
 */
export function encodeClearFrame(message: ClearMessage): Result<Uint8Array> {
  const body = encodeBody(message);
  if (!body.ok) return body;
  const frame = new ByteWriter()
    .bytes(MAGIC)
    .u8(0)
    .u8(MESSAGE_TYPE_CODES[message.type])
    .bytes(body.value)
    .finish();
  return ok(frame);
}

/**
 * Builds the 28-byte header of a sealed frame.
 * @param version negotiated version 1..255
 * @param type sealed message type
 * @param sessionId hex of 16 bytes
 * @param counter per-direction frame counter
 */
export function sealedHeader(
  version: number,
  type: MessageType,
  sessionId: string,
  counter: bigint,
): Uint8Array {
  return new ByteWriter()
    .bytes(MAGIC)
    .u8(version)
    .u8(MESSAGE_TYPE_CODES[type])
    .hex(sessionId)
    .u64(counter)
    .finish();
}

/**
 * Parses a frame's header. Clear frames are fully decoded; sealed frames are returned for the channel to open.
 * @param frame bytes received from the link
 * @returns ParsedFrame, or FrameTooShort / FrameTooLong / BadMagic / UnknownMessageType / UnsupportedVersion /
 *   MalformedMessage / TrailingBytes
 */
export function parseFrame(frame: Uint8Array): Result<ParsedFrame> {
  if (!(frame instanceof Uint8Array)) return fail(protocolError('MalformedMessage', 'frame is not bytes'));
  if (frame.length > MAX_FRAME_BYTES) {
    return fail(protocolError('FrameTooLong', `frame is ${frame.length} bytes, limit ${MAX_FRAME_BYTES}`));
  }
  if (frame.length < 4) return fail(protocolError('FrameTooShort', `frame is ${frame.length} bytes`));
  if (frame[0] !== MAGIC[0] || frame[1] !== MAGIC[1]) {
    return fail(protocolError('BadMagic', `frame starts ${toHex(frame.subarray(0, 2))}, expected 4243`));
  }
  const version = frame[2] as number;
  const code = frame[3] as number;
  const type = messageTypeOf(code);
  if (type === undefined)
    return fail(protocolError('UnknownMessageType', `unknown message type 0x${code.toString(16)}`));
  if (isClearType(type)) {
    if (version !== 0)
      return fail(protocolError('UnsupportedVersion', `clear frame with version ${version}`));
    const m = decodeBody(type, frame.subarray(4));
    if (!m.ok) return m;
    return ok({ kind: 'clear', message: m.value as ClearMessage });
  }
  if (version === 0) return fail(protocolError('UnsupportedVersion', `sealed ${type} frame with version 0`));
  if (frame.length < SEALED_HEADER_BYTES + TAG_BYTES) {
    return fail(protocolError('FrameTooShort', `sealed frame is ${frame.length} bytes`));
  }
  const header = frame.slice(0, SEALED_HEADER_BYTES);
  let counter = 0n;
  for (let i = 20; i < 28; i++) counter = (counter << 8n) | BigInt(frame[i] as number);
  return ok({
    kind: 'sealed',
    version,
    type,
    sessionId: toHex(frame.subarray(4, 20)),
    counter,
    header,
    sealed: frame.slice(SEALED_HEADER_BYTES),
  });
}
