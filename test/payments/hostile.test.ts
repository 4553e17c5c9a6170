// Hostile input never crashes the pure parsers: random text and random JSON always yield a named result.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkEmv } from '../../payments/emv/rules.js';
import {
  decodeLnurl,
  lightningAddressUrl,
  parsePayCallbackResponse,
  parsePayRequest,
  parseStatusOk,
  parseWithdrawRequest,
} from '../../payments/lnurl.js';
import { verifyTotp } from '../../payments/totp.js';

const anyText = fc.oneof(fc.string({ unit: 'binary', maxLength: 600 }), fc.string({ maxLength: 600 }));
const lnurlDoc = fc
  .record(
    {
      tag: fc.constantFrom('payRequest', 'withdrawRequest', 'x'),
      callback: fc.oneof(fc.webUrl(), fc.string()),
      minSendable: fc.oneof(fc.integer(), fc.string(), fc.double()),
      maxSendable: fc.oneof(fc.integer(), fc.string(), fc.double()),
      minWithdrawable: fc.oneof(fc.integer(), fc.string()),
      maxWithdrawable: fc.oneof(fc.integer(), fc.string()),
      metadata: fc.oneof(fc.string(), fc.json()),
      k1: fc.string(),
      pr: fc.string(),
      successAction: fc.anything(),
      status: fc.constantFrom('OK', 'ERROR', 'x'),
      reason: fc.anything(),
    },
    { requiredKeys: [] },
  )
  .map((o) => JSON.stringify(o));

describe('hostile input', () => {
  it('EMV: any text gives a verdict with named failures', () => {
    fc.assert(
      fc.property(anyText, (t) => {
        const v = checkEmv(t, { profile: 'jpqr-dynamic', storeId: '1'.repeat(29) });
        expect(v.valid || v.failures.every((f) => typeof f.rule === 'string')).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
  it('LNURL and TOTP: any text or JSON gives a named result', () => {
    const params = { sharedSecret: 's', validityTimeSec: 30, length: 12 };
    fc.assert(
      fc.property(fc.oneof(anyText, lnurlDoc, fc.json()), (t) => {
        for (const r of [
          decodeLnurl(t),
          lightningAddressUrl(t),
          parsePayRequest(t),
          parseWithdrawRequest(t),
          parsePayCallbackResponse(t),
          parseStatusOk(t),
        ]) {
          expect(r.ok || typeof r.error.name === 'string').toBe(true);
        }
        expect(typeof verifyTotp(params, t, 1_700_000_000).name).toBe('string');
      }),
      { numRuns: 3000 },
    );
  });
});
