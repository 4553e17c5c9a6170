import { describe, expect, it } from 'vitest';
import {
  normaliseSignature,
  publicKeyOf,
  recoverNodeKey,
  signedMessageDigest,
  signNodeMessage,
  toHex,
  verifyNodeSignature,
  zbase32Decode,
  zbase32Encode,
} from '../../protocol/index.js';
import { sha256hex } from './harness.js';

const KEY = '11'.repeat(32);

describe('node signatures (lnd signmessage format)', () => {
  it('digest is double SHA-256 of the prefixed text', () => {
    const once = sha256hex('Lightning Signed Message:hello');
    expect(toHex(signedMessageDigest('hello'))).toBe(sha256hex(Buffer.from(once, 'hex')));
  });

  it('signs as lnd does: 65 bytes, header 31 + recovery id, zbase32 text; recovers the signer', () => {
    const s = signNodeMessage('boltcharge/1 handshake wall 00', KEY);
    const bytes = zbase32Decode(s.zbase32);
    expect(bytes?.length).toBe(65);
    expect([31, 32]).toContain(bytes?.[0]);
    expect(toHex(bytes as Uint8Array)).toBe(s.signatureHex);
    expect(recoverNodeKey('boltcharge/1 handshake wall 00', s.zbase32)).toEqual({
      ok: true,
      value: publicKeyOf(KEY),
    });
    expect(verifyNodeSignature('boltcharge/1 handshake wall 00', s.signatureHex, publicKeyOf(KEY)).ok).toBe(
      true,
    );
  });

  it('rejects another text, another key, and garbage', () => {
    const s = signNodeMessage('a', KEY);
    expect(verifyNodeSignature('b', s.zbase32, publicKeyOf(KEY))).toMatchObject({
      ok: false,
      error: { name: 'BadSignature' },
    });
    expect(verifyNodeSignature('a', s.zbase32, publicKeyOf('22'.repeat(32))).ok).toBe(false);
    expect(normaliseSignature('not-zbase32!').ok).toBe(false);
    expect(recoverNodeKey('a', '00'.repeat(65)).ok).toBe(false);
  });

  it('zbase32 round-trips', () => {
    const b = Uint8Array.from({ length: 65 }, (_, i) => (i * 37) & 0xff);
    expect(zbase32Decode(zbase32Encode(b))).toEqual(b);
  });
});
