// LNURL: LUD-01 vector and round trips, LUD-17 schemes, hostile payRequest / withdrawRequest / callback
// documents refused with named errors, LUD-06 description hash, LUD-10 aes round trip.
import { createDecipheriv, createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildMetadata,
  checkPayAmount,
  checkPayInvoice,
  decodeLnurl,
  decryptAesSuccessAction,
  encodeLnurl,
  encryptAesSuccessAction,
  lightningAddressUrl,
  parsePayCallbackResponse,
  parsePayRequest,
  parseStatusOk,
  parseWithdrawRequest,
  payCallbackUrl,
  toLud17,
  withdrawCallbackUrl,
} from '../../payments/lnurl.js';

// LUD-01's own example.
const LUD01_URL =
  'https://service.com/api?q=3fc3645b439ce8e7f2553a69e5267081d96dcd340693afabe04be7b0ccd178df';
const LUD01_LNURL =
  'LNURL1DP68GURN8GHJ7UM9WFMXJCM99E3K7MF0V9CXJ0M385EKVCENXC6R2C35XVUKXEFCV5MKVV34X5EKZD3EV56NYD3HXQURZEPEXEJXXEPNXSCRVWFNV9NXZCN9XQ6XYEFHVGCXXCMYXYMNSERXFQ5FNS';

describe('LUD-01 bech32', () => {
  it('encodes and decodes the LUD-01 example', () => {
    expect(encodeLnurl(LUD01_URL)).toEqual({ ok: true, value: LUD01_LNURL });
    expect(decodeLnurl(LUD01_LNURL)).toEqual({ ok: true, value: { url: LUD01_URL, kind: 'unknown' } });
    expect(decodeLnurl('lightning:' + LUD01_LNURL.toLowerCase())).toMatchObject({ ok: true });
  });
  it('property: decode(encode(url)) = url for https URLs with any path text', () => {
    fc.assert(
      fc.property(fc.webUrl({ validSchemes: ['https'], withQueryParameters: true }), (url) => {
        const enc = encodeLnurl(url);
        if (!enc.ok) {
          expect(enc.error.name).toBe('LnurlTooLong');
          return;
        }
        expect(decodeLnurl(enc.value)).toEqual({ ok: true, value: { url, kind: 'unknown' } });
      }),
      { numRuns: 500 },
    );
  });
  it('refuses with named errors', () => {
    const flip = LUD01_LNURL.slice(0, 20) + (LUD01_LNURL[20] === 'Q' ? 'P' : 'Q') + LUD01_LNURL.slice(21);
    expect(decodeLnurl(flip)).toMatchObject({ error: { name: 'LnurlMalformed' } });
    expect(decodeLnurl('LNURL1' + LUD01_LNURL.slice(6).toLowerCase())).toMatchObject({
      error: { name: 'LnurlMalformed' },
    });
    expect(decodeLnurl('lnurl1' + 'q'.repeat(5000))).toMatchObject({ error: { name: 'LnurlTooLong' } });
    expect(decodeLnurl('lnurl1bbbbbb')).toMatchObject({ error: { name: 'LnurlMalformed' } });
    expect(encodeLnurl('http://example.com/pay')).toMatchObject({ error: { name: 'LnurlInsecureUrl' } });
    expect(encodeLnurl('http://abcdefghijklmnop.onion/pay')).toMatchObject({ ok: true });
    const http = encodeLnurl('https://x.test/a');
    expect(http.ok).toBe(true);
  });
});

describe('LUD-16', () => {
  it('maps a Lightning address to its well-known URL', () => {
    expect(lightningAddressUrl('Operator@Pay.Example.com')).toEqual({
      ok: true,
      value: 'https://pay.example.com/.well-known/lnurlp/operator',
    });
    expect(lightningAddressUrl('op@abcdefghijklmnop.onion')).toMatchObject({
      value: 'http://abcdefghijklmnop.onion/.well-known/lnurlp/op',
    });
    for (const bad of [
      'nope',
      '@example.com',
      'a b@example.com',
      'op@exa mple.com',
      'x'.repeat(400) + '@e.com',
    ]) {
      expect(lightningAddressUrl(bad)).toMatchObject({ error: { name: 'LnurlMalformed' } });
    }
  });
});

describe('LUD-17', () => {
  it('maps lnurlp/lnurlw/keyauth to https (http for onion) and back', () => {
    expect(decodeLnurl('lnurlp://wall.example/pay/1?x=2')).toEqual({
      ok: true,
      value: { url: 'https://wall.example/pay/1?x=2', kind: 'payRequest' },
    });
    expect(decodeLnurl('LNURLW://wall.example/w')).toMatchObject({ value: { kind: 'withdrawRequest' } });
    expect(decodeLnurl('keyauth://site.onion:8080/l')).toMatchObject({
      value: { url: 'http://site.onion:8080/l', kind: 'login' },
    });
    expect(toLud17('https://wall.example/pay/1', 'payRequest')).toEqual({
      ok: true,
      value: 'lnurlp://wall.example/pay/1',
    });
    expect(decodeLnurl('ftp://x/y')).toMatchObject({ error: { name: 'LnurlMalformed' } });
  });
  it('accepts http on loopback only when the policy says so (tests)', () => {
    expect(decodeLnurl('lnurlp://127.0.0.1:9000/p')).toMatchObject({ ok: true });
    const enc = encodeLnurl('https://127.0.0.1:9000/p');
    expect(enc.ok).toBe(true);
    expect(parsePayRequest(payDoc({ callback: 'http://127.0.0.1:9000/cb' }))).toMatchObject({
      error: { name: 'LnurlInsecureUrl', field: 'callback' },
    });
    expect(parsePayRequest(payDoc({ callback: 'http://127.0.0.1:9000/cb' }), { allowHttp: true }).ok).toBe(
      true,
    );
  });
});

const metadata = buildMetadata('Walk-up charging at wall 1', [['text/identifier', 'wall1@example.com']]);
function payDoc(over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    tag: 'payRequest',
    callback: 'https://wall.example/lnurlp/cb',
    minSendable: 1000,
    maxSendable: '50000000',
    metadata,
    commentAllowed: 32,
    ...over,
  });
}

describe('LUD-06 payRequest', () => {
  it('parses amounts as bigint msat and hashes the metadata', () => {
    const r = parsePayRequest(payDoc());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.minSendableMsat).toBe(1000n);
    expect(r.value.maxSendableMsat).toBe(50_000_000n);
    expect(r.value.description).toBe('Walk-up charging at wall 1');
    expect(r.value.descriptionHashHex).toBe(createHash('sha256').update(metadata, 'utf8').digest('hex'));
    expect(checkPayAmount(r.value, 999n)).toMatchObject({ error: { name: 'LnurlAmountOutOfRange' } });
    const cb = payCallbackUrl(r.value, 21_000n, 'thanks! '.repeat(10));
    expect(cb.ok).toBe(true);
    const cbUrl = new URL(cb.ok ? cb.value : '');
    expect(cbUrl.origin + cbUrl.pathname).toBe('https://wall.example/lnurlp/cb');
    expect(cbUrl.searchParams.get('amount')).toBe('21000');
    expect(cbUrl.searchParams.get('comment')).toBe('thanks! '.repeat(4)); // cut to commentAllowed = 32
    expect(
      checkPayInvoice(
        { amountMsat: 21_000n, descriptionHashHex: r.value.descriptionHashHex },
        r.value,
        21_000n,
      ),
    ).toEqual({
      ok: true,
      value: true,
    });
    expect(
      checkPayInvoice(
        { amountMsat: 21_001n, descriptionHashHex: r.value.descriptionHashHex },
        r.value,
        21_000n,
      ),
    ).toMatchObject({
      error: { name: 'LnurlAmountMismatch' },
    });
    expect(
      checkPayInvoice({ amountMsat: 21_000n, descriptionHashHex: '00'.repeat(32) }, r.value, 21_000n),
    ).toMatchObject({
      error: { name: 'LnurlDescriptionHashMismatch' },
    });
    expect(
      checkPayInvoice({ amountMsat: 21_000n, descriptionHashHex: undefined }, r.value, 21_000n),
    ).toMatchObject({
      error: { name: 'LnurlDescriptionHashMismatch' },
    });
  });
  it('refuses hostile documents with named errors', () => {
    const cases: [string, string, string?][] = [
      ['x'.repeat(70_000), 'LnurlResponseTooLarge'],
      ['not json', 'LnurlNotJson'],
      ['[1,2]', 'LnurlNotJson'],
      [JSON.stringify({ status: 'ERROR', reason: 'no route' }), 'LnurlServiceError', 'reason'],
      [payDoc({ tag: 'withdrawRequest' }), 'LnurlWrongTag', 'tag'],
      [payDoc({ callback: 42 }), 'LnurlFieldInvalid', 'callback'],
      [payDoc({ callback: 'https://' + 'a'.repeat(3000) }), 'LnurlFieldInvalid', 'callback'],
      [payDoc({ minSendable: 1.5 }), 'LnurlFieldInvalid', 'minSendable'],
      [payDoc({ minSendable: -1 }), 'LnurlFieldInvalid', 'minSendable'],
      [payDoc({ maxSendable: '1e9' }), 'LnurlFieldInvalid', 'maxSendable'],
      [payDoc({ maxSendable: 2 ** 60 }), 'LnurlFieldInvalid', 'maxSendable'],
      [payDoc({ minSendable: 0 }), 'LnurlAmountOutOfRange', 'minSendable'],
      [payDoc({ minSendable: 2000, maxSendable: 1000 }), 'LnurlAmountOutOfRange', 'minSendable'],
      [payDoc({ metadata: 'nope' }), 'LnurlMetadataInvalid', 'metadata'],
      [payDoc({ metadata: '[]' }), 'LnurlMetadataInvalid', 'metadata'],
      [
        payDoc({
          metadata: JSON.stringify([
            ['text/plain', 'a'],
            ['text/plain', 'b'],
          ]),
        }),
        'LnurlMetadataInvalid',
        'metadata',
      ],
      [
        payDoc({ metadata: JSON.stringify([['text/plain', 'a'.repeat(9000)]]) }),
        'LnurlFieldInvalid',
        'metadata',
      ],
      [payDoc({ commentAllowed: 'lots' }), 'LnurlFieldInvalid', 'commentAllowed'],
    ];
    for (const [doc, name, field] of cases) {
      const r = parsePayRequest(doc);
      expect(r, doc.slice(0, 80)).toMatchObject({ ok: false, error: { name, ...(field ? { field } : {}) } });
    }
  });
  it('parses callback answers and success actions', () => {
    expect(parsePayCallbackResponse(JSON.stringify({ pr: 'lnbcrt10u1xyz', routes: [] }))).toEqual({
      ok: true,
      value: { pr: 'lnbcrt10u1xyz', successAction: null },
    });
    expect(
      parsePayCallbackResponse(
        JSON.stringify({ pr: 'lnbcrt1', successAction: { tag: 'message', message: 'hi' } }),
      ),
    ).toMatchObject({
      value: { successAction: { tag: 'message', message: 'hi' } },
    });
    expect(parsePayCallbackResponse(JSON.stringify({ pr: 'not an invoice' }))).toMatchObject({
      error: { name: 'LnurlFieldInvalid', field: 'pr' },
    });
    for (const sa of [
      { tag: 'message', message: 'x'.repeat(145) },
      { tag: 'url', description: 'd', url: 'http://evil.example' },
      { tag: 'aes', description: 'd', ciphertext: 'not base64!', iv: 'AAAAAAAAAAAAAAAAAAAAAA==' },
      { tag: 'aes', description: 'd', ciphertext: 'AAAA', iv: 'AAAA' },
      { tag: 'script', code: 'x' },
      'string',
    ]) {
      expect(parsePayCallbackResponse(JSON.stringify({ pr: 'lnbc1', successAction: sa }))).toMatchObject({
        error: { name: 'LnurlSuccessActionInvalid' },
      });
    }
  });
});

describe('LUD-03 withdrawRequest', () => {
  const doc = (over: Record<string, unknown> = {}): string =>
    JSON.stringify({
      tag: 'withdrawRequest',
      callback: 'https://wall.example/lnurlw/cb',
      k1: 'a'.repeat(64),
      minWithdrawable: 12_345,
      maxWithdrawable: 12_345,
      defaultDescription: 'refund',
      ...over,
    });
  it('parses min = max (a refund of exactly the remainder) and builds the callback', () => {
    const r = parseWithdrawRequest(doc());
    expect(r).toMatchObject({
      ok: true,
      value: { minWithdrawableMsat: 12_345n, maxWithdrawableMsat: 12_345n },
    });
    if (!r.ok) return;
    expect(withdrawCallbackUrl(r.value, 'lnbcrt1abc')).toBe(
      `https://wall.example/lnurlw/cb?k1=${'a'.repeat(64)}&pr=lnbcrt1abc`,
    );
    expect(parseStatusOk('{"status":"OK"}')).toEqual({ ok: true, value: true });
    expect(parseStatusOk('{"status":"ERROR","reason":"already claimed"}')).toMatchObject({
      error: { name: 'LnurlServiceError', message: 'already claimed' },
    });
  });
  it('refuses hostile documents', () => {
    expect(parseWithdrawRequest(doc({ tag: 'payRequest' }))).toMatchObject({
      error: { name: 'LnurlWrongTag' },
    });
    expect(parseWithdrawRequest(doc({ k1: '' }))).toMatchObject({
      error: { name: 'LnurlFieldInvalid', field: 'k1' },
    });
    expect(parseWithdrawRequest(doc({ k1: 'k'.repeat(300) }))).toMatchObject({
      error: { name: 'LnurlFieldInvalid' },
    });
    expect(parseWithdrawRequest(doc({ maxWithdrawable: 0, minWithdrawable: 0 }))).toMatchObject({
      error: { name: 'LnurlAmountOutOfRange' },
    });
    expect(parseWithdrawRequest(doc({ minWithdrawable: 2, maxWithdrawable: 1 }))).toMatchObject({
      error: { name: 'LnurlAmountOutOfRange' },
    });
    expect(parseWithdrawRequest(doc({ defaultDescription: 7 }))).toMatchObject({
      error: { name: 'LnurlFieldInvalid' },
    });
  });
});

describe('LUD-10 aes success action', () => {
  const preimage = new Uint8Array(32).map((_, i) => i * 7);
  const iv = new Uint8Array(16).map((_, i) => 255 - i);
  it('round trips through its own parser, and only the preimage opens it', () => {
    const secret = 'lnurlw://wall.example/refund/k1=deadbeef · 返金';
    const action = encryptAesSuccessAction(preimage, iv, secret, 'Your refund link');
    expect(action.ok).toBe(true);
    if (!action.ok) return;
    const parsed = parsePayCallbackResponse(JSON.stringify({ pr: 'lnbcrt1', successAction: action.value }));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok || parsed.value.successAction?.tag !== 'aes') throw new Error('not aes');
    expect(decryptAesSuccessAction(parsed.value.successAction, preimage)).toEqual({
      ok: true,
      value: secret,
    });
    // Cross-check with node's cipher used directly (independent of the helper's encoding steps).
    const d = createDecipheriv('aes-256-cbc', preimage, iv);
    const plain = Buffer.concat([
      d.update(Buffer.from(action.value.ciphertext, 'base64')),
      d.final(),
    ]).toString('utf8');
    expect(plain).toBe(secret);
    const wrong = new Uint8Array(32).fill(9);
    expect(decryptAesSuccessAction(parsed.value.successAction, wrong)).toMatchObject({
      error: { name: 'LnurlDecryptFailed' },
    });
  });
  it('refuses wrong sizes', () => {
    expect(encryptAesSuccessAction(new Uint8Array(31), iv, 'x', 'd')).toMatchObject({
      error: { field: 'preimage' },
    });
    expect(encryptAesSuccessAction(preimage, new Uint8Array(8), 'x', 'd')).toMatchObject({
      error: { field: 'iv' },
    });
    expect(encryptAesSuccessAction(preimage, iv, 'x'.repeat(3001), 'd')).toMatchObject({
      error: { field: 'plaintext' },
    });
    expect(encryptAesSuccessAction(preimage, iv, 'x', 'd'.repeat(145))).toMatchObject({
      error: { field: 'description' },
    });
  });
});
