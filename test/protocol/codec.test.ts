import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeBody,
  encodeBody,
  encodeClearFrame,
  MAX_FRAME_BYTES,
  parseFrame,
  type Message,
} from '../../protocol/index.js';
import { sampleMessages } from '../vectors/build.js';

const samples = sampleMessages('00112233445566778899aabbccddeeff');

describe('message codec', () => {
  it('round-trips every message type', () => {
    for (const m of samples) {
      const body = encodeBody(m);
      if (!body.ok) throw new Error(body.error.message);
      expect(decodeBody(m.type, body.value)).toEqual({ ok: true, value: m });
    }
  });

  it('every truncation of every body is a MalformedMessage value, never an exception', () => {
    for (const m of samples) {
      const body = encodeBody(m);
      if (!body.ok) throw new Error('encode');
      for (let n = 0; n < body.value.length; n++) {
        const r = decodeBody(m.type, body.value.subarray(0, n));
        expect(r.ok, `${m.type} truncated to ${n}`).toBe(false);
        if (!r.ok) expect(r.error.name).toBe('MalformedMessage');
      }
    }
  });

  it('rejects trailing bytes', () => {
    const body = encodeBody({ type: 'ping', atMs: 5 });
    if (!body.ok) throw new Error('encode');
    const r = decodeBody('ping', Uint8Array.from([...body.value, 0]));
    expect(r.ok || r.error.name).toBe('TrailingBytes');
  });

  it('refuses to encode out-of-range fields', () => {
    const bad: Message[] = [
      { type: 'ping', atMs: -1 },
      { type: 'accept', offerSeq: 2 ** 32, targetEnergyWh: 0, maxBlockWh: 1 },
      { type: 'auth', signature: 'zz' },
      { type: 'stop', reason: 70000, text: '' },
      { type: 'stop', reason: 1, text: 'x'.repeat(300) },
      {
        type: 'hello',
        role: 'wall',
        versions: [2, 1],
        sessionId: '00'.repeat(16),
        ephemeralPub: '00'.repeat(32),
        identityPub: '02'.repeat(33),
      },
      { type: 'renew', offerSeq: 1, priceMsatPerWh: -1n, effectiveAtWh: 0 },
    ];
    for (const m of bad)
      expect(
        encodeBody(m).ok,
        JSON.stringify(m, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}` : v)),
      ).toBe(false);
  });

  it('rejects invalid UTF-8, unknown enums and unknown types', () => {
    expect(decodeBody('stop', Uint8Array.of(0, 1, 0, 2, 0xc3, 0x28)).ok).toBe(false);
    expect(decodeBody('decline', Uint8Array.of(9, 0, 0, 0, 0, 0, 1, 0, 0)).ok).toBe(false);
    const r = parseFrame(Uint8Array.of(0x42, 0x43, 0, 0x7f));
    expect(r.ok || r.error.name).toBe('UnknownMessageType');
  });

  it('checks magic, size limit and version byte of clear frames', () => {
    const hello = encodeClearFrame(samples[0] as Extract<Message, { type: 'hello' }>);
    if (!hello.ok) throw new Error('encode');
    const badMagic = Uint8Array.from(hello.value);
    badMagic[0] = 0x41;
    expect(parseFrame(badMagic)).toMatchObject({ ok: false, error: { name: 'BadMagic' } });
    const badVersion = Uint8Array.from(hello.value);
    badVersion[2] = 1;
    expect(parseFrame(badVersion)).toMatchObject({ ok: false, error: { name: 'UnsupportedVersion' } });
    expect(parseFrame(new Uint8Array(MAX_FRAME_BYTES + 1))).toMatchObject({
      ok: false,
      error: { name: 'FrameTooLong' },
    });
    expect(parseFrame(Uint8Array.of(0x42))).toMatchObject({ ok: false, error: { name: 'FrameTooShort' } });
  });

  it('never throws on arbitrary bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, withMagic) => {
        const frame = withMagic ? Uint8Array.from([0x42, 0x43, ...bytes]) : bytes;
        const r = parseFrame(frame);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 500 },
    );
  });
});
