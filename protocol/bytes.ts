/**
 * Big-endian byte writer and bounds-checked reader used by the codec. The reader throws `DecodeFailure`
 * only inside the codec, which converts it to a `ProtocolError` value; nothing here escapes the core.
 */

/** Thrown by `ByteReader` on malformed input; always caught by the codec. */
export class DecodeFailure extends Error {
  override readonly name = 'DecodeFailure';
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** True when `hex` is lower- or upper-case hex of exactly `byteLength` bytes. */
export function isHex(hex: string, byteLength: number): boolean {
  return hex.length === byteLength * 2 && /^[0-9a-fA-F]*$/.test(hex);
}

/** Bytes of a hex string (caller validates with `isHex`). */
export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

/** Appends big-endian integers, fixed bytes and length-prefixed strings. */
export class ByteWriter {
  private readonly parts: number[] = [];

  /** Unsigned 8-bit integer. */
  u8(v: number): this {
    this.parts.push(v & 0xff);
    return this;
  }
  /** Unsigned 16-bit big-endian integer. */
  u16(v: number): this {
    return this.u8(v >>> 8).u8(v);
  }
  /** Unsigned 32-bit big-endian integer. */
  u32(v: number): this {
    return this.u16(Math.floor(v / 0x10000)).u16(v % 0x10000);
  }
  /** Unsigned 64-bit big-endian integer (bigint or a safe non-negative number). */
  u64(v: bigint | number): this {
    const b = BigInt(v);
    for (let shift = 56n; shift >= 0n; shift -= 8n) this.u8(Number((b >> shift) & 0xffn));
    return this;
  }
  /** Raw bytes. */
  bytes(b: Uint8Array): this {
    for (const x of b) this.parts.push(x);
    return this;
  }
  /** Hex string as raw bytes. */
  hex(h: string): this {
    return this.bytes(fromHex(h));
  }
  /** UTF-8 string with a u16 byte-length prefix. */
  str16(s: string): this {
    const b = utf8(s);
    return this.u16(b.length).bytes(b);
  }
  /** The bytes written so far. */
  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** Bounds-checked big-endian reader. */
export class ByteReader {
  private at = 0;
  constructor(private readonly buf: Uint8Array) {}

  private need(n: number, what: string): void {
    if (this.at + n > this.buf.length) throw new DecodeFailure(`truncated: ${what} needs ${n} more bytes`);
  }
  /** Unsigned 8-bit integer. */
  u8(what = 'u8'): number {
    this.need(1, what);
    return this.buf[this.at++] as number;
  }
  /** Unsigned 16-bit big-endian integer. */
  u16(what = 'u16'): number {
    this.need(2, what);
    return this.u8() * 0x100 + this.u8();
  }
  /** Unsigned 32-bit big-endian integer. */
  u32(what = 'u32'): number {
    this.need(4, what);
    return this.u16() * 0x10000 + this.u16();
  }
  /** Unsigned 64-bit big-endian integer as bigint. */
  u64(what = 'u64'): bigint {
    this.need(8, what);
    let v = 0n;
    for (let i = 0; i < 8; i++) v = (v << 8n) | BigInt(this.u8());
    return v;
  }
  /** Unsigned 64-bit integer that must fit a safe JavaScript number (e.g. ms timestamps, Wh registers). */
  u64n(what = 'u64'): number {
    const v = this.u64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeFailure(`${what} exceeds 2^53-1`);
    return Number(v);
  }
  /** `n` raw bytes. */
  bytes(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const out = this.buf.slice(this.at, this.at + n);
    this.at += n;
    return out;
  }
  /** `n` raw bytes as lower-case hex. */
  hex(n: number, what = 'bytes'): string {
    return toHex(this.bytes(n, what));
  }
  /** UTF-8 string with u16 length prefix; invalid UTF-8 or a length over `max` bytes fails. */
  str16(max: number, what = 'string'): string {
    const len = this.u16(what);
    if (len > max) throw new DecodeFailure(`${what} is ${len} bytes, limit ${max}`);
    const b = this.bytes(len, what);
    try {
      return utf8Decoder.decode(b);
    } catch {
      throw new DecodeFailure(`${what} is not valid UTF-8`);
    }
  }
  /** Bytes not yet read. */
  remaining(): number {
    return this.buf.length - this.at;
  }
  /** The unread tail. */
  rest(): Uint8Array {
    const out = this.buf.slice(this.at);
    this.at = this.buf.length;
    return out;
  }
}
