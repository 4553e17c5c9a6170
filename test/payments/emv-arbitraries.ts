// fast-check generators of EMV MPM trees: valid payloads with Latin, kana, Thai and emoji text, shared by the
// codec's property tests and the cross-check against the independent decoder.
import fc from 'fast-check';
import type { EmvNode } from '../../payments/emv/tlv.js';

const range = (from: number, to: number): fc.Arbitrary<string> =>
  fc.integer({ min: from, max: to }).map((cp) => String.fromCodePoint(cp));

/** One character: printable ASCII, hiragana/katakana, Thai, or an emoji (outside the BMP). */
export const anyChar: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: range(0x20, 0x7e) },
  { weight: 2, arbitrary: range(0x3041, 0x30ff) },
  { weight: 2, arbitrary: range(0x0e01, 0x0e3a) },
  { weight: 1, arbitrary: range(0x1f300, 0x1f64f) },
);

/** Text of 1…max characters (code points). */
export const text = (max: number): fc.Arbitrary<string> =>
  fc.string({ unit: anyChar, minLength: 1, maxLength: max });
const digits = (n: number): fc.Arbitrary<string> =>
  fc.string({ unit: range(0x30, 0x39), minLength: n, maxLength: n });
const id = (from: number, to: number): fc.Arbitrary<string> =>
  fc.integer({ min: from, max: to }).map((n) => String(n).padStart(2, '0'));

/** Sub-objects with distinct IDs. */
const subs = (
  ids: [number, number],
  maxCount: number,
  value: fc.Arbitrary<string>,
): fc.Arbitrary<EmvNode[]> =>
  fc
    .uniqueArray(id(ids[0], ids[1]), { maxLength: maxCount })
    .chain((ids2) => fc.tuple(...ids2.map((i) => value.map((v) => ({ id: i, value: v })))));

/** A merchant account / unreserved template with a GUI and 0–2 network-specific objects. */
const guiTemplate = (templateId: string): fc.Arbitrary<EmvNode> =>
  fc
    .tuple(text(20), subs([1, 99], 2, text(12)))
    .map(([gui, rest]) => ({ id: templateId, children: [{ id: '00', value: gui }, ...rest] }));

const amount = fc
  .tuple(fc.integer({ min: 1, max: 999_999 }), fc.option(digits(2), { nil: undefined }))
  .map(([whole, cents]) => (cents === undefined ? String(whole) : `${whole}.${cents}`));

/**
 * A valid `emv`-profile tree (without its 63 checksum; encode it with `withEmvCrc`), fields in a random order
 * after the leading 00. Callers filter out the rare trees whose payload exceeds 512 characters.
 */
export const validTree: fc.Arbitrary<EmvNode[]> = fc
  .record({
    poi: fc.option(fc.constantFrom('11', '12'), { nil: undefined }),
    accountIds: fc.uniqueArray(id(26, 51), { minLength: 1, maxLength: 2 }),
    primitiveAccount: fc.option(fc.tuple(id(2, 25), digits(8)), { nil: undefined }),
    mcc: digits(4),
    currency: digits(3),
    amount: fc.option(amount, { nil: undefined }),
    country: fc.constantFrom('JP', 'TH', 'CN', 'DE', 'jp'),
    name: text(25),
    city: text(15),
    postal: fc.option(text(10), { nil: undefined }),
    additional: fc.option(subs([1, 8], 3, text(25)), { nil: undefined }),
    language: fc.option(fc.tuple(fc.constantFrom('JA', 'TH', 'ZH'), text(25)), { nil: undefined }),
    unreserved: fc.option(id(80, 99), { nil: undefined }),
  })
  .chain((r) =>
    fc
      .tuple(
        fc.tuple(...r.accountIds.map(guiTemplate)),
        r.unreserved === undefined ? fc.constant(undefined) : guiTemplate(r.unreserved),
      )
      .chain(([accounts, unreserved]) => {
        const body: EmvNode[] = [
          ...(r.poi !== undefined ? [{ id: '01', value: r.poi }] : []),
          ...accounts,
          ...(r.primitiveAccount ? [{ id: r.primitiveAccount[0], value: r.primitiveAccount[1] }] : []),
          { id: '52', value: r.mcc },
          { id: '53', value: r.currency },
          ...(r.amount !== undefined ? [{ id: '54', value: r.amount }] : []),
          { id: '58', value: r.country },
          { id: '59', value: r.name },
          { id: '60', value: r.city },
          ...(r.postal !== undefined ? [{ id: '61', value: r.postal }] : []),
          ...(r.additional !== undefined && r.additional.length > 0
            ? [{ id: '62', children: r.additional }]
            : []),
          ...(r.language !== undefined
            ? [
                {
                  id: '64',
                  children: [
                    { id: '00', value: r.language[0] },
                    { id: '01', value: r.language[1] },
                  ],
                },
              ]
            : []),
          ...(unreserved !== undefined ? [unreserved] : []),
        ];
        return fc.shuffledSubarray(body, { minLength: body.length, maxLength: body.length });
      })
      .map((body): EmvNode[] => [{ id: '00', value: '01' }, ...body]),
  );
