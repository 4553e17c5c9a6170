/**
 * Length-prefixed framing for stream links (TCP): each message is a 4-byte big-endian length followed by that
 * many bytes. Pure; the decoder bounds what it buffers by the maximum message length.
 */
import { LinkMessageTooLong } from './errors.js';

/**
 * Frames one message.
 * @param message payload bytes
 * @returns 4-byte big-endian length + payload
 */
export function encodeLengthPrefixed(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + message.length);
  new DataView(out.buffer).setUint32(0, message.length);
  out.set(message, 4);
  return out;
}

/** Incremental decoder: feed stream chunks, get whole messages. */
export class LengthPrefixedDecoder {
  private chunks: Uint8Array[] = [];
  private buffered = 0;

  /** @param maxMessageBytes largest message accepted; a larger announced length is an error */
  constructor(private readonly maxMessageBytes: number) {}

  /**
   * @param chunk bytes from the stream
   * @returns complete messages in order (zero-length frames are skipped: they carry nothing)
   * @throws LinkMessageTooLong when a frame announces more than the maximum (the stream is then unusable)
   */
  push(chunk: Uint8Array): Uint8Array[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Uint8Array[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const head = this.peek(4);
      const length = new DataView(head.buffer, head.byteOffset, 4).getUint32(0);
      if (length > this.maxMessageBytes) throw new LinkMessageTooLong(length, this.maxMessageBytes);
      if (this.buffered < 4 + length) break;
      const frame = this.take(4 + length);
      if (length > 0) out.push(new Uint8Array(frame.subarray(4))); // a plain copy, never a Buffer view
    }
    return out;
  }

  private peek(n: number): Uint8Array {
    const first = this.chunks[0] as Uint8Array;
    if (first.length >= n) return first.subarray(0, n);
    const joined = concat(this.chunks, this.buffered);
    this.chunks = [joined];
    return joined.subarray(0, n);
  }

  private take(n: number): Uint8Array {
    const joined =
      this.chunks.length === 1 ? (this.chunks[0] as Uint8Array) : concat(this.chunks, this.buffered);
    const frame = joined.subarray(0, n);
    const rest = joined.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return frame;
  }
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
