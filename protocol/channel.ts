/**
 * Secure channel: seals and opens frames with ChaCha20-Poly1305, one key per direction, nonce = 4 zero bytes
 * followed by the 64-bit big-endian frame counter, associated data = the 28-byte sealed header (magic,
 * version, type, session id, counter). Counters start at 0 and increase by one per frame sent. A receiver
 * accepts a counter only if it is greater than every counter it accepted before (replays and reordered
 * frames are rejected; a gap, i.e. lost frames, is accepted and reported). The state is JSON-serialisable.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { concatBytes, fromHex } from './bytes.js';
import { fail, ok, protocolError, type Result } from './errors.js';
import { parseFrame, sealedHeader, TAG_BYTES, MAX_FRAME_BYTES } from './frame.js';
import { decodeBody, encodeBody, isClearType, type SealedMessage } from './messages.js';

/** One side's channel state (keys hex, counters as safe integers). */
export interface ChannelState {
  /** Negotiated protocol version, 1..255. */
  version: number;
  /** Hex of the 16-byte session id. */
  sessionId: string;
  /** 32-byte key for frames this side sends, hex. */
  sendKey: string;
  /** 32-byte key for frames this side receives, hex. */
  recvKey: string;
  /** Counter of the next frame to send. */
  sendCounter: number;
  /** Smallest counter acceptable next. */
  recvNext: number;
}

function nonce(counter: bigint): Uint8Array {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setBigUint64(4, counter, false);
  return n;
}

/**
 * Seals a message into a frame.
 * @param channel this side's channel state
 * @param message a sealed-type message
 * @returns the new channel state (counter advanced) and the frame bytes, or MalformedMessage / FrameTooLong
 */
export function sealMessage(
  channel: ChannelState,
  message: SealedMessage,
): Result<{ channel: ChannelState; frame: Uint8Array }> {
  if (isClearType(message.type))
    return fail(protocolError('UnexpectedMessage', `${message.type} is a clear message`));
  const body = encodeBody(message);
  if (!body.ok) return body;
  const counter = BigInt(channel.sendCounter);
  const header = sealedHeader(channel.version, message.type, channel.sessionId, counter);
  const cipher = createCipheriv('chacha20-poly1305', fromHex(channel.sendKey), nonce(counter), {
    authTagLength: TAG_BYTES,
  });
  cipher.setAAD(header, { plaintextLength: body.value.length });
  const ct = concatBytes(cipher.update(body.value), cipher.final(), cipher.getAuthTag());
  const frame = concatBytes(header, ct);
  if (frame.length > MAX_FRAME_BYTES)
    return fail(protocolError('FrameTooLong', `${message.type} frame too long`));
  return ok({ channel: { ...channel, sendCounter: channel.sendCounter + 1 }, frame });
}

/**
 * Opens a sealed frame.
 * @param channel this side's channel state
 * @param frame bytes received
 * @returns the new channel state, the message and `gap` (frames skipped, 0 normally), or a ProtocolError:
 *   UnsupportedVersion (version byte differs), ForeignSession (other session id), ReplayedFrame (counter not
 *   above the last accepted: replay or reorder), DecryptionFailed (tampered, wrong key), UnexpectedMessage
 *   (clear frame), and the parse/decode errors of `parseFrame`/`decodeBody`.
 */
export function openFrame(
  channel: ChannelState,
  frame: Uint8Array,
): Result<{ channel: ChannelState; message: SealedMessage; gap: number }> {
  const parsed = parseFrame(frame);
  if (!parsed.ok) return parsed;
  const p = parsed.value;
  if (p.kind === 'clear') {
    return fail(protocolError('UnexpectedMessage', `clear ${p.message.type} inside the secure channel`));
  }
  if (p.version !== channel.version) {
    return fail(
      protocolError('UnsupportedVersion', `frame version ${p.version}, session uses ${channel.version}`),
    );
  }
  if (p.sessionId !== channel.sessionId) {
    return fail(protocolError('ForeignSession', `frame for session ${p.sessionId}`));
  }
  if (p.counter < BigInt(channel.recvNext)) {
    return fail(protocolError('ReplayedFrame', `counter ${p.counter} below expected ${channel.recvNext}`));
  }
  if (p.counter >= BigInt(Number.MAX_SAFE_INTEGER)) {
    return fail(protocolError('ReplayedFrame', `counter ${p.counter} out of range`));
  }
  const ctLen = p.sealed.length - TAG_BYTES;
  let body: Uint8Array;
  try {
    const d = createDecipheriv('chacha20-poly1305', fromHex(channel.recvKey), nonce(p.counter), {
      authTagLength: TAG_BYTES,
    });
    d.setAAD(p.header, { plaintextLength: ctLen });
    d.setAuthTag(p.sealed.subarray(ctLen));
    body = concatBytes(d.update(p.sealed.subarray(0, ctLen)), d.final());
  } catch {
    return fail(protocolError('DecryptionFailed', `${p.type} frame ${p.counter} failed authentication`));
  }
  const m = decodeBody(p.type, body);
  if (!m.ok) return m;
  const counter = Number(p.counter);
  return ok({
    channel: { ...channel, recvNext: counter + 1 },
    message: m.value as SealedMessage,
    gap: counter - channel.recvNext,
  });
}
