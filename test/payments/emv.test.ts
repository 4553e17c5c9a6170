// EMV MPM / JPQR codec: public vectors byte for byte, every rule named, property tests with kana, Thai and emoji
// text, and every single-character mutation of a valid payload rejected.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc16CcittFalse, emvCrcHex } from '../../payments/emv/crc.js';
import { checkEmv, type EmvProfile } from '../../payments/emv/rules.js';
import { jpqrPayload } from '../../payments/emv/sticker.js';
import { charCount, decodeEmv, encodeEmv, withEmvCrc, type EmvNode } from '../../payments/emv/tlv.js';
import { anyChar, validTree } from './emv-arbitraries.js';
import { EMVCO_SAMPLE, JPQR_MERCARI, PROMPTPAY } from './emv-vectors.js';

const rules = (payload: string, profile: EmvProfile = 'emv', storeId?: string): string[] =>
  checkEmv(payload, { profile, ...(storeId !== undefined ? { storeId } : {}) }).failures.map((f) => f.rule);

/** Re-encodes a tree with a fresh checksum (for building invalid-but-checksummed payloads). */
const build = (nodes: EmvNode[]): string => {
  const r = withEmvCrc(nodes);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
};
const tree = (payload: string): EmvNode[] => {
  const r = decodeEmv(payload);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
};

describe('CRC-16/CCITT-FALSE', () => {
  it('check value and the UTF-8 rule', () => {
    expect(crc16CcittFalse(new TextEncoder().encode('123456789'))).toBe(0x29b1);
    expect(emvCrcHex('123456789')).toBe('29B1');
    // Over bytes, not UTF-16 units: a naive charCodeAt & 0xff CRC of the EMVCo sample would differ.
    expect(EMVCO_SAMPLE.endsWith(emvCrcHex(EMVCO_SAMPLE.slice(0, -4)))).toBe(true);
  });
});

describe('public vectors', () => {
  it('EMVCo sample: 248 characters, 260 bytes, valid, round trips byte for byte', () => {
    expect(charCount(EMVCO_SAMPLE)).toBe(248);
    expect(new TextEncoder().encode(EMVCO_SAMPLE).length).toBe(260);
    const v = checkEmv(EMVCO_SAMPLE);
    expect(v.failures).toEqual([]);
    expect(encodeEmv(v.nodes!)).toEqual({ ok: true, value: EMVCO_SAMPLE });
    expect(v.nodes!.find((n) => n.id === '64')).toEqual({
      id: '64',
      children: [
        { id: '00', value: 'ZH' },
        { id: '01', value: '最佳运输' },
        { id: '02', value: '北京' },
      ],
    });
    expect(v.nodes!.map((n) => n.id)).toEqual('00 01 29 31 52 58 59 60 64 54 53 55 62 91 63'.split(' '));
  });
  it('JPQR example of go-emv-code: valid as emv and jpqr-static, store id read, round trips', () => {
    expect(rules(JPQR_MERCARI)).toEqual([]);
    expect(rules(JPQR_MERCARI, 'jpqr-static')).toEqual([]);
    expect(rules(JPQR_MERCARI, 'jpqr-static', '00000000000010001000001000001')).toEqual([]);
    expect(rules(JPQR_MERCARI, 'jpqr-static', '00000000000010001000001000002')).toEqual(['StoreIdMismatch']);
    expect(rules(JPQR_MERCARI, 'jpqr-dynamic')).toEqual(['JpqrPointOfInitiation', 'JpqrAmountMissing']);
    const nodes = tree(JPQR_MERCARI);
    expect(encodeEmv(nodes)).toEqual({ ok: true, value: JPQR_MERCARI });
    expect(nodes.find((n) => n.id === '64')).toEqual({
      id: '64',
      children: [
        { id: '00', value: 'JA' },
        { id: '01', value: 'メルペイ カフェ' },
      ],
    });
  });
  it('PromptPay: round trips; its CRC is right; generic EMV names the fields the national scheme omits', () => {
    expect(encodeEmv(tree(PROMPTPAY))).toEqual({ ok: true, value: PROMPTPAY });
    expect(rules(PROMPTPAY)).toEqual(['FieldMissing', 'FieldMissing', 'FieldMissing']);
    expect(checkEmv(PROMPTPAY).failures.map((f) => f.path.join('/'))).toEqual(['52', '59', '60']);
  });
  it('02–25 are primitive even when their value looks like TLV', () => {
    const p = build([
      { id: '00', value: '01' },
      { id: '15', value: '0004abcd' },
      ...tree(JPQR_MERCARI).slice(1),
    ]);
    expect(tree(p)[1]).toEqual({ id: '15', value: '0004abcd' });
  });
});

describe('each rule has a name', () => {
  const base = tree(EMVCO_SAMPLE);
  const without = (id: string): EmvNode[] => base.filter((n) => n.id !== id);
  const replace = (id: string, node: EmvNode): EmvNode[] => base.map((n) => (n.id === id ? node : n));
  const cases: [string, string, string[]][] = [
    ['empty', '', ['PayloadEmpty']],
    ['ID not digits', 'A0020101', ['IdNotDigits']],
    ['length not digits', '00A201', ['LengthNotDigits']],
    ['truncated value', '000501', ['ValueTruncated']],
    [
      'template value not TLV',
      build([base[0]!, { id: '29', value: 'hello' } as EmvNode, ...base.slice(2)]),
      ['TemplateNotTlv'],
    ],
    ['00 not first', build([base[1]!, base[0]!, ...base.slice(2)]), ['FormatIndicatorNotFirst']],
    ['00 not 01', build(replace('00', { id: '00', value: '02' })), ['FormatIndicatorValue']],
    ['CRC missing', EMVCO_SAMPLE.slice(0, -8), ['CrcMissing']],
    ['CRC not last', EMVCO_SAMPLE + '6101X', ['CrcNotLast']],
    ['CRC lower case', EMVCO_SAMPLE.slice(0, -4) + 'a13a', ['CrcFormat']],
    ['CRC wrong', EMVCO_SAMPLE.slice(0, -4) + 'A13B', ['CrcMismatch']],
    ['duplicate top-level ID', build([...base.slice(0, -1), { id: '59', value: 'TWICE' }]), ['DuplicateId']],
    [
      'duplicate ID in a template',
      build(
        replace('62', {
          id: '62',
          children: [
            { id: '05', value: 'a' },
            { id: '05', value: 'b' },
          ],
        }),
      ),
      ['DuplicateId'],
    ],
    ['empty value', build([...base.slice(0, -1), { id: '61', value: '' }]), ['ValueEmpty']],
    ['reserved ID', build([...base.slice(0, -1), { id: '70', value: 'x' }]), ['ReservedId']],
    ['mandatory field missing', build(without('59')), ['FieldMissing']],
    ['name longer than 25', build(replace('59', { id: '59', value: 'N'.repeat(26) })), ['FieldTooLong']],
    [
      'city longer than 15 (code points, not bytes)',
      build(replace('60', { id: '60', value: '北'.repeat(16) })),
      ['FieldTooLong'],
    ],
    ['bad point of initiation', build(replace('01', { id: '01', value: '13' })), ['PointOfInitiationValue']],
    [
      'no merchant account',
      build(base.filter((n) => n.id !== '29' && n.id !== '31')),
      ['MerchantAccountMissing'],
    ],
    [
      'template without GUI',
      build(replace('29', { id: '29', children: [{ id: '05', value: 'x' }] })),
      ['TemplateGuiMissing'],
    ],
    ['MCC', build(replace('52', { id: '52', value: '41a1' })), ['MccFormat']],
    ['currency', build(replace('53', { id: '53', value: 'JPY' })), ['CurrencyFormat']],
    ['country', build(replace('58', { id: '58', value: 'C1' })), ['CountryFormat']],
    ['amount', build(replace('54', { id: '54', value: '1,000' })), ['AmountFormat']],
    ['zero amount', build(replace('54', { id: '54', value: '0.00' })), ['AmountZero']],
    ['tip indicator', build(replace('55', { id: '55', value: '04' })), ['TipIndicatorValue']],
    ['tip fee missing', build(replace('55', { id: '55', value: '02' })), ['TipFeeMissing']],
    ['tip percent missing', build(replace('55', { id: '55', value: '03' })), ['TipPercentMissing']],
    [
      'fee without indicator 02',
      build([...base.slice(0, -1), { id: '56', value: '1.00' }]),
      ['TipFeeUnexpected'],
    ],
    [
      'percent without indicator 03',
      build([...base.slice(0, -1), { id: '57', value: '10.00' }]),
      ['TipPercentUnexpected'],
    ],
    [
      'consumer data request',
      build(replace('62', { id: '62', children: [{ id: '09', value: 'AX' }] })),
      ['ConsumerDataRequestFormat'],
    ],
    [
      'merchant channel',
      build(replace('62', { id: '62', children: [{ id: '11', value: '12' }] })),
      ['MerchantChannelLength'],
    ],
    [
      'language without 00',
      build(replace('64', { id: '64', children: [{ id: '01', value: '最佳运输' }] })),
      ['LanguagePreferenceMissing'],
    ],
    [
      'language not letters',
      build(
        replace('64', {
          id: '64',
          children: [
            { id: '00', value: 'Z1' },
            { id: '01', value: 'n' },
          ],
        }),
      ),
      ['LanguagePreferenceFormat'],
    ],
    [
      'language without name',
      build(replace('64', { id: '64', children: [{ id: '00', value: 'ZH' }] })),
      ['LanguageNameMissing'],
    ],
  ];
  for (const [what, payload, expected] of cases) {
    it(what, () => {
      expect(rules(payload)).toEqual(expected);
    });
  }
  it('over 512 characters is refused before parsing', () => {
    const long = '0002010102' + '12'.repeat(260);
    expect(rules(long)).toEqual(['PayloadTooLong']);
    expect(rules('x'.repeat(1_000_000))).toEqual(['PayloadTooLong']);
    expect(
      withEmvCrc([
        { id: '00', value: '01' },
        ...Array.from({ length: 6 }, (_, i) => ({ id: String(80 + i), value: 'v'.repeat(99) })),
      ]),
    ).toMatchObject({ error: { rule: 'PayloadTooLong' } });
  });
  it('encode refuses a value over 99 characters and a bad ID', () => {
    expect(encodeEmv([{ id: '59', value: 'x'.repeat(100) }])).toMatchObject({
      error: { rule: 'ValueTooLong', path: ['59'] },
    });
    expect(encodeEmv([{ id: '5', value: 'x' }])).toMatchObject({ error: { rule: 'IdNotDigits' } });
  });
  it('JPQR rules', () => {
    const j = tree(JPQR_MERCARI);
    const jreplace = (id: string, node: EmvNode): EmvNode[] => j.map((n) => (n.id === id ? node : n));
    expect(rules(build(jreplace('53', { id: '53', value: '840' })), 'jpqr-static')).toEqual(['JpqrCurrency']);
    expect(rules(build(jreplace('58', { id: '58', value: 'US' })), 'jpqr-static')).toEqual(['JpqrCountry']);
    expect(rules(build(j.filter((n) => n.id !== '26')), 'jpqr-static')).toEqual(['JpqrTemplateMissing']);
    expect(
      rules(
        build(
          jreplace('26', {
            id: '26',
            children: [
              { id: '00', value: 'jp.or.paymentsjapan' },
              { id: '01', value: '123' },
            ],
          }),
        ),
        'jpqr-static',
      ),
    ).toEqual(['JpqrStoreIdFormat']);
    expect(rules(EMVCO_SAMPLE, 'jpqr-dynamic')).toEqual([
      'JpqrCurrency',
      'JpqrCountry',
      'JpqrTemplateMissing',
    ]);
  });
});

describe('sticker payloads', () => {
  const storeId = '12345678901230001000042000007';
  it('static JPQR sticker with a Japanese name is valid under jpqr-static and pinned to its store id', () => {
    const r = jpqrPayload({
      storeId,
      name: 'BOLT CHARGE',
      city: 'SHIBUYA',
      nameJa: 'ボルトチャージ 渋谷',
      postalCode: '1500002',
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(rules(r.value, 'jpqr-static', storeId)).toEqual([]);
    expect(rules(r.value, 'jpqr-static', '9'.repeat(29))).toEqual(['StoreIdMismatch']);
    expect(tree(r.value).map((n) => n.id)).toEqual('00 01 26 52 53 58 59 60 61 64 63'.split(' '));
  });
  it('dynamic with an amount; template in the lowest free ID; named refusals', () => {
    const r = jpqrPayload({
      storeId,
      name: 'BC',
      city: 'TOKYO',
      amountYen: 1200n,
      otherAccounts: [{ id: '26', children: [{ id: '00', value: 'com.example' }] }],
    });
    expect(r.ok && rules(r.value, 'jpqr-dynamic', storeId)).toEqual([]);
    expect(r.ok && tree(r.value)[3]!.id).toBe('27');
    expect(jpqrPayload({ storeId: '123', name: 'BC', city: 'TOKYO' })).toMatchObject({
      error: { name: 'StoreIdFormat' },
    });
    const long = jpqrPayload({ storeId, name: 'N'.repeat(30), city: 'TOKYO' });
    expect(long).toMatchObject({ error: { name: 'StickerInvalid' } });
    expect(!long.ok && long.error.name === 'StickerInvalid' && long.error.verdict.failures[0]!.rule).toBe(
      'FieldTooLong',
    );
  });
});

/** Every valid tree whose payload fits. */
const validPayload = validTree
  .map((nodes) => ({ nodes, payload: withEmvCrc(nodes) }))
  .filter((x) => x.payload.ok)
  .map((x) => ({
    nodes: [...x.nodes, { id: '63', value: (x.payload as { value: string }).value.slice(-4) }],
    payload: (x.payload as { value: string }).value,
  }));

describe('properties (kana, Thai, emoji)', () => {
  it('decode(encode(x)) = x, and generated payloads are valid', () => {
    fc.assert(
      fc.property(validPayload, ({ nodes, payload }) => {
        expect(decodeEmv(payload)).toEqual({ ok: true, value: nodes });
        expect(encodeEmv(nodes)).toEqual({ ok: true, value: payload });
        expect(checkEmv(payload).failures).toEqual([]);
      }),
      { numRuns: 1000, seed: 1207 },
    );
  });
  it('a random single-character substitution of a valid payload is always rejected', () => {
    fc.assert(
      fc.property(validPayload, fc.nat(), anyChar, ({ payload }, where, ch) => {
        const chars = Array.from(payload);
        const at = where % chars.length;
        fc.pre(chars[at] !== ch);
        chars[at] = ch;
        expect(checkEmv(chars.join('')).valid).toBe(false);
      }),
      { numRuns: 3000, seed: 1207 },
    );
  });
});

describe('every single-character mutation of the public vectors is rejected', () => {
  // Every printable ASCII character (single-byte changes: the CRC detects all of them), plus multi-byte ones.
  const replacements = [
    ...Array.from({ length: 95 }, (_, i) => String.fromCharCode(0x20 + i)),
    'ア',
    'ก',
    '北',
    '😀',
    '\u00e9',
  ];
  for (const [name, payload, profile] of [
    ['EMVCo sample', EMVCO_SAMPLE, 'emv'],
    ['JPQR example', JPQR_MERCARI, 'jpqr-static'],
  ] as const) {
    it(name, () => {
      const chars = Array.from(payload);
      let mutations = 0;
      for (let at = 0; at < chars.length; at++) {
        for (const ch of replacements) {
          if (ch === chars[at]) continue;
          const mutated = [...chars];
          mutated[at] = ch;
          const v = checkEmv(mutated.join(''), { profile });
          if (v.valid) throw new Error(`mutation at ${at} to ${JSON.stringify(ch)} accepted`);
          mutations++;
        }
      }
      expect(mutations).toBeGreaterThan(chars.length * 90);
    });
  }
});
