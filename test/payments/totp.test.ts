// OCPP 2.1 C25 TOTP: the published vectors (BRIEF §6), the acceptance window, URL templates, and the per-connector
// secrets of a site's walk-up.
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkTotpParams,
  connectorTotpSecret,
  fillUrlTemplate,
  totpAccepted,
  totpAt,
  totpForCounter,
  totpSecondsLeft,
  verifyTotp,
  TOTP_ALPHABET,
} from '../../payments/totp.js';

const secret = 'secure!Charging!';
const at = Date.parse('2024-05-23T00:23:05Z') / 1000;

describe('C25 TOTP vectors', () => {
  it('30 s, length 12: current, previous and next interval', () => {
    const p = { sharedSecret: secret, validityTimeSec: 30, length: 12 };
    expect(totpAt(p, at)).toBe('CN63y502maVh');
    expect(totpAt(p, at - 30)).toBe('MdPU0jCm5tXz');
    expect(totpAt(p, at + 30)).toBe('dI54vnA25m2h');
  });
  it('30 s, length 23', () => {
    expect(totpAt({ sharedSecret: secret, validityTimeSec: 30, length: 23 }, at)).toBe(
      'CN63y502maVhAsv27Sd7JlE',
    );
  });
  it('60 s, length 12', () => {
    expect(totpAt({ sharedSecret: secret, validityTimeSec: 60, length: 12 }, at)).toBe('XJZr0L1DGKn0');
  });
  it('is not RFC 6238: the code uses the base-62 alphabet and changes exactly at interval boundaries', () => {
    const p = { sharedSecret: secret, validityTimeSec: 30, length: 12 };
    const start = Math.floor(at / 30) * 30;
    expect(totpAt(p, start)).toBe(totpAt(p, start + 29.999));
    expect(totpAt(p, start + 30)).not.toBe(totpAt(p, start + 29));
    expect(totpSecondsLeft(30, start + 10)).toBe(20);
    for (const ch of totpForCounter(secret, 12345, 64)) expect(TOTP_ALPHABET).toContain(ch);
  });
});

describe('verifyTotp', () => {
  const p = { sharedSecret: secret, validityTimeSec: 30, length: 12 };
  it('accepts current, previous and next; names the previous-but-one as stale', () => {
    expect(verifyTotp(p, 'CN63y502maVh', at).name).toBe('TotpCurrent');
    expect(verifyTotp(p, 'MdPU0jCm5tXz', at).name).toBe('TotpPrevious');
    expect(verifyTotp(p, 'dI54vnA25m2h', at).name).toBe('TotpNext');
    const older = totpAt(p, at - 60);
    const v = verifyTotp(p, older, at);
    expect(v).toEqual({ name: 'TotpStale', intervalsAgo: 2 });
    expect(totpAccepted(v)).toBe(false);
    expect(verifyTotp(p, totpAt(p, at + 60), at).name).toBe('TotpUnknown');
  });
  it("refuses another charger's code (other secret) and malformed text", () => {
    const foreign = totpAt({ ...p, sharedSecret: 'another charger' }, at);
    expect(verifyTotp(p, foreign, at).name).toBe('TotpUnknown');
    expect(verifyTotp(p, 'CN63y502maV', at).name).toBe('TotpMalformed');
    expect(verifyTotp(p, 'CN63y502maV!', at).name).toBe('TotpMalformed');
    expect(verifyTotp(p, 'x'.repeat(100_000), at).name).toBe('TotpMalformed');
  });
  it('property: a code shown at t is accepted at any t′ within one interval of it, and never two intervals later', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.integer({ min: 6, max: 3600 }),
        fc.integer({ min: 0, max: 4_000_000_000 }),
        (s, validity, t) => {
          const q = { sharedSecret: s, validityTimeSec: validity, length: 12 };
          const code = totpAt(q, t);
          expect(totpAccepted(verifyTotp(q, code, t + validity))).toBe(true);
          expect(totpAccepted(verifyTotp(q, code, t - validity))).toBe(true);
          // A collision of 12 base-62 characters between intervals is ~2^-71: treat as impossible.
          expect(verifyTotp(q, code, t + 2 * validity).name).toBe('TotpStale');
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('parameters and URL templates', () => {
  it('checks the WebPaymentsCtrlr bounds', () => {
    expect(checkTotpParams({ sharedSecret: '', validityTimeSec: 30, length: 12 })).toMatchObject({
      error: { name: 'TotpSecretEmpty' },
    });
    expect(checkTotpParams({ sharedSecret: 's', validityTimeSec: 5, length: 12 })).toMatchObject({
      error: { name: 'TotpValidityOutOfRange' },
    });
    expect(checkTotpParams({ sharedSecret: 's', validityTimeSec: 3601, length: 12 })).toMatchObject({
      error: { name: 'TotpValidityOutOfRange' },
    });
    expect(checkTotpParams({ sharedSecret: 's', validityTimeSec: 30, length: 0 })).toMatchObject({
      error: { name: 'TotpLengthOutOfRange' },
    });
    expect(checkTotpParams({ sharedSecret: 's', validityTimeSec: 6, length: 64 }).ok).toBe(true);
  });
  it('fills the template with encoded values and refuses unsafe templates', () => {
    const values = {
      chargingStationId: 'CS 1/a',
      evse: 2,
      totp: 'CN63y502maVh',
      version: '1',
      maxEnergy: 20000,
    };
    expect(
      fillUrlTemplate(
        'https://pay.example/{chargingStationId}/{evse}?t={totp}&v={version}&e={maxEnergy}',
        values,
      ),
    ).toEqual({
      ok: true,
      value: 'https://pay.example/CS%201%2Fa/2?t=CN63y502maVh&v=1&e=20000',
    });
    expect(fillUrlTemplate('https://pay.example/{evse}', values)).toMatchObject({
      error: { name: 'UrlTemplateNoTotp' },
    });
    expect(fillUrlTemplate('https://x/{totp}/{nope}', values)).toMatchObject({
      error: { name: 'UrlTemplateUnknownVariable', variable: 'nope' },
    });
    expect(fillUrlTemplate('https://x/{totp}/{maxCost}', values)).toMatchObject({
      error: { name: 'UrlTemplateMissingValue', variable: 'maxCost' },
    });
    expect(fillUrlTemplate('https://x/{totp}/' + 'a'.repeat(3000), values)).toMatchObject({
      error: { name: 'UrlTemplateTooLong' },
    });
  });
});

describe('per-connector secrets (walk-up on every connector of a site)', () => {
  it("connector 1 keeps the configured secret; connector n ≥ 2 uses hex(HMAC-SHA256(secret, 'connector:n'))", () => {
    expect(connectorTotpSecret(secret, 1)).toBe(secret);
    for (const n of [2, 3, 500])
      expect(connectorTotpSecret(secret, n)).toBe(
        createHmac('sha256', Buffer.from(secret, 'utf8')).update(`connector:${n}`, 'utf8').digest('hex'),
      );
    expect(connectorTotpSecret(secret, 2)).toMatch(/^[0-9a-f]{64}$/);
    expect(() => connectorTotpSecret(secret, 0)).toThrow(RangeError);
    expect(() => connectorTotpSecret(secret, 1.5)).toThrow(RangeError);
  });

  it("a code of one connector is refused by every other connector's verifier", () => {
    const params = (n: number) => ({
      sharedSecret: connectorTotpSecret(secret, n),
      validityTimeSec: 30,
      length: 12,
    });
    for (const shown of [1, 2, 3])
      for (const verifier of [1, 2, 3]) {
        const v = verifyTotp(params(verifier), totpAt(params(shown), at), at);
        expect(totpAccepted(v), `shown on ${shown}, checked by ${verifier}`).toBe(shown === verifier);
      }
  });
});
