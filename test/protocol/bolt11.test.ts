import { describe, expect, it } from 'vitest';
import {
  checkAmount,
  checkNetwork,
  checkPayee,
  checkUnexpired,
  compareWithNode,
  decodeInvoice,
  publicKeyOf,
} from '../../protocol/index.js';
import { amountText, keySigner, rawInvoice, tag, type RawTag } from './bolt11-raw.js';
import { makeInvoice, OTHER_KEY, sha256hex, WALL_KEY, WALL_PUB } from './harness.js';

const hash = sha256hex('p');
const base = {
  key: WALL_KEY,
  amountMsat: 12_345n,
  paymentHash: hash,
  timestampSec: 1_760_000_000,
  expirySec: 600,
};

describe('BOLT11 decoding and checks', () => {
  it('decodes a real signed regtest invoice', () => {
    const d = decodeInvoice(makeInvoice({ ...base, description: 'hi' }));
    expect(d).toEqual({
      ok: true,
      value: {
        payeePubkey: WALL_PUB,
        network: 'regtest',
        amountMsat: 12_345n,
        paymentHash: hash,
        timestampSec: 1_760_000_000,
        expirySec: 600,
        description: 'hi',
        descriptionHash: null,
        paymentSecret: sha256hex(hash),
        minFinalCltvDelta: 9,
        featureBits: [9, 15],
      },
    });
  });

  it('recognises networks by prefix', () => {
    for (const network of ['bitcoin', 'testnet', 'signet', 'regtest'] as const) {
      const d = decodeInvoice(makeInvoice({ ...base, network }));
      expect(d.ok && d.value.network).toBe(network);
      if (d.ok) expect(checkNetwork(d.value, network).ok).toBe(true);
    }
  });

  it('finds the payee of an invoice signed by another node', () => {
    const d = decodeInvoice(makeInvoice({ ...base, key: OTHER_KEY }));
    if (!d.ok) throw new Error('decode');
    expect(d.value.payeePubkey).toBe(publicKeyOf(OTHER_KEY));
    expect(checkPayee(d.value, WALL_PUB)).toMatchObject({
      ok: false,
      error: { name: 'InvoicePayeeMismatch' },
    });
  });

  it('checks amount and expiry with a margin', () => {
    const d = decodeInvoice(makeInvoice(base));
    if (!d.ok) throw new Error('decode');
    expect(checkAmount(d.value, 12_345n).ok).toBe(true);
    expect(checkAmount(d.value, 12_344n)).toMatchObject({
      ok: false,
      error: { name: 'InvoiceAmountMismatch' },
    });
    expect(checkUnexpired(d.value, 1_760_000_000_000, 10).ok).toBe(true);
    expect(checkUnexpired(d.value, 1_760_000_595_000, 10)).toMatchObject({
      ok: false,
      error: { name: 'InvoiceExpired' },
    });
  });

  it('returns typed problems for garbage and tampering', () => {
    expect(decodeInvoice('lnbcrt1garbage')).toMatchObject({ ok: false, error: { name: 'InvoiceMalformed' } });
    expect(decodeInvoice('hello')).toMatchObject({ ok: false, error: { name: 'InvoiceMalformed' } });
    const inv = makeInvoice(base);
    const tampered = inv.slice(0, 20) + (inv[20] === 'q' ? 'p' : 'q') + inv.slice(21);
    expect(decodeInvoice(tampered).ok).toBe(false);
  });
});

describe('one view with the paying node: ambiguous invoices are refused', () => {
  const hashA = sha256hex('A');
  const hashB = sha256hex('B');
  const ts = 1_760_000_000;
  const honest = (): RawTag[] => [
    tag.hash('p', hashA),
    tag.hash('s', sha256hex('secret')),
    tag.description('block 1'),
    tag.expiry(600),
    tag.cltv(40),
    tag.features([8, 14, 17]),
  ];
  const make = (tags: RawTag[], o: { hrp?: string; key?: string } = {}) =>
    rawInvoice({
      hrp: o.hrp ?? `lnbcrt${amountText(20_000n)}`,
      timestampSec: ts,
      tags,
      sign: keySigner(o.key ?? WALL_KEY),
    });
  const problemOf = async (tags: RawTag[], o: { hrp?: string; key?: string } = {}) => {
    const d = decodeInvoice(await make(tags, o));
    return d.ok ? 'ok' : d.error.name;
  };

  it('reads an honest raw invoice exactly as written', async () => {
    const d = decodeInvoice(await make(honest()));
    expect(d).toMatchObject({
      ok: true,
      value: {
        paymentHash: hashA,
        amountMsat: 20_000n,
        payeePubkey: WALL_PUB,
        expirySec: 600,
        minFinalCltvDelta: 40,
        featureBits: [8, 14, 17],
      },
    });
  });

  it('refuses two payment hashes in either order (lnd pays the first, the bolt11 package read the last)', async () => {
    expect(await problemOf([...honest(), tag.hash('p', hashB)])).toBe('InvoiceAmbiguous');
    expect(await problemOf([tag.hash('p', hashB), ...honest()])).toBe('InvoiceAmbiguous');
  });

  it('refuses every repeated single-valued tag', async () => {
    const repeats: RawTag[] = [
      tag.hash('s', sha256hex('other secret')),
      tag.description('other'),
      tag.expiry(60),
      tag.cltv(18),
      tag.features([8, 14]),
    ];
    for (const r of repeats) expect(await problemOf([...honest(), r]), r.letter).toBe('InvoiceAmbiguous');
    const metadata: RawTag = { letter: 'm', words: [1, 2, 3, 4, 0, 0, 0, 0] };
    expect(await problemOf([...honest(), metadata])).toBe('ok');
    expect(await problemOf([...honest(), metadata, metadata])).toBe('InvoiceAmbiguous');
    const withPayee = [...honest(), tag.payee(WALL_PUB)];
    expect(await problemOf(withPayee)).toBe('ok');
    expect(await problemOf([...withPayee, tag.payee(WALL_PUB)])).toBe('InvoiceAmbiguous');
  });

  it('refuses a wrong-length hash field that lnd would skip and another reader would take', async () => {
    const short: RawTag = { letter: 'p', words: tag.hash('p', hashB).words.slice(0, 51) };
    expect(await problemOf([short, ...honest()])).toBe('InvoiceAmbiguous');
    const long: RawTag = { letter: 'h', words: [...tag.hash('h', hashB).words, 0] };
    expect(await problemOf([...honest(), long])).toBe('InvoiceAmbiguous');
  });

  it('refuses both d and h, neither, a payee field that is not the signer, and mixed case', async () => {
    expect(await problemOf([...honest(), tag.hash('h', hashB)])).toBe('InvoiceAmbiguous');
    expect(await problemOf(honest().filter((t) => t.letter !== 'd'))).toBe('InvoiceMalformed');
    expect(await problemOf([...honest(), tag.payee(publicKeyOf(OTHER_KEY))])).toBe('InvoiceAmbiguous');
    const inv = await make(honest());
    expect(decodeInvoice(inv.toUpperCase()).ok).toBe(true);
    const mixed = inv.slice(0, 30) + inv.slice(30).toUpperCase();
    expect(decodeInvoice(mixed)).toMatchObject({ ok: false, error: { name: 'InvoiceAmbiguous' } });
  });

  it('refuses unknown compulsory features and blinded paths; unknown optional ones are fine', async () => {
    const noFeatures = honest().filter((t) => t.letter !== '9');
    expect(await problemOf([...noFeatures, tag.features([8, 14, 30])])).toBe('InvoiceUnsupported');
    expect(await problemOf([...noFeatures, tag.features([8, 14, 100])])).toBe('InvoiceUnsupported');
    expect(await problemOf([...noFeatures, tag.features([8, 14, 101])])).toBe('ok');
    expect(await problemOf([...honest(), { letter: '5', words: [0, 0, 0] }])).toBe('InvoiceUnsupported');
    expect(await problemOf([...honest(), { letter: 'v', words: [1, 2, 3] }])).toBe('ok');
  });

  it('refuses amounts lnd refuses or would compute differently', async () => {
    expect(await problemOf(honest(), { hrp: 'lnbcrt15p' })).toBe('InvoiceMalformed');
    expect(await problemOf(honest(), { hrp: 'lnbcrt010n' })).toBe('InvoiceMalformed');
    expect(await problemOf(honest(), { hrp: 'lnbcrt200000000000m' })).toBe('InvoiceMalformed');
    expect(await problemOf(honest(), { hrp: 'lnbcrt' })).toBe('InvoiceMissingAmount');
    expect(await problemOf(honest(), { hrp: 'lnbcrt2500u' })).toBe('ok');
  });

  it('refuses a high-S signature and a broken padding', async () => {
    const highS = await rawInvoice({
      hrp: `lnbcrt${amountText(20_000n)}`,
      timestampSec: ts,
      tags: honest(),
      sign: async (digest, preimage) => {
        const r = await keySigner(WALL_KEY)(digest, preimage);
        const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
        const s = BigInt(`0x${Buffer.from(r.rs.subarray(32)).toString('hex')}`);
        const rs = Buffer.concat([
          r.rs.subarray(0, 32),
          Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex'),
        ]);
        return { rs, recovery: r.recovery ^ 1 };
      },
    });
    expect(decodeInvoice(highS)).toMatchObject({ ok: false, error: { name: 'InvoiceMalformed' } });
    const badPad: RawTag = { letter: 'p', words: [...tag.hash('p', hashA).words.slice(0, 51), 1] };
    expect(await problemOf([badPad, ...honest().slice(1)])).toBe('InvoiceMalformed');
  });

  it('compares with the paying node field by field', async () => {
    const d = decodeInvoice(await make(honest()));
    if (!d.ok) throw new Error('decode');
    const node = {
      paymentHash: hashA,
      amountMsat: 20_000n,
      payeePubkey: WALL_PUB,
      paymentSecret: sha256hex('secret'),
      minFinalCltvDelta: 40,
      expiresAtMs: (ts + 600) * 1000,
    };
    expect(compareWithNode(d.value, node).ok).toBe(true);
    expect(compareWithNode(d.value, { ...node, paymentHash: hashB })).toMatchObject({
      ok: false,
      error: { name: 'InvoiceAmbiguous' },
    });
    expect(compareWithNode(d.value, { ...node, amountMsat: 1n }).ok).toBe(false);
  });
});
