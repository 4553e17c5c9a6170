// Split remittance arithmetic: config validation with named errors, exact integer splits, and an accrual
// ledger that never drops a msat over 10,000 random sessions.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  accrue,
  bookPayout,
  checkSplit,
  payoutPlan,
  percentToPpm,
  splitAmount,
  type Balances,
  type Split,
  type SplitRecipientConfig,
} from '../../payments/split.js';

const operatorKey = '02' + 'ab'.repeat(32);
const split = (config: SplitRecipientConfig[]): Split => {
  const r = checkSplit(config);
  if (!r.ok) throw new Error(r.error.name);
  return r.value;
};
const sum = (b: Balances): bigint => Object.values(b).reduce((a, x) => a + x, 0n);

describe('checkSplit', () => {
  it('accepts a 90/10 host/operator split and a fee off the top', () => {
    const s = split([
      { name: 'host', shares: 90, remainder: true },
      { name: 'operator', shares: 10, destination: 'op@example.com', payeePubkey: operatorKey },
      { name: 'installer', fee: true, percent: '2.5', destination: operatorKey },
      { name: 'landlord', shares: 1, destination: 'lnurlp://landlord.example/pay', payeePubkey: operatorKey },
    ]);
    expect(s.remainderName).toBe('host');
    expect(s.recipients[2]).toMatchObject({ kind: 'fee', ppm: 25_000 });
  });
  it('names every refusal', () => {
    const host = { name: 'host', shares: 1, remainder: true };
    const cases: [SplitRecipientConfig[], string][] = [
      [[], 'SplitEmpty'],
      [[host, { name: 'bad name!', shares: 1 }], 'SplitNameInvalid'],
      [[host, { name: 'host', shares: 1 }], 'SplitNameDuplicate'],
      [[host, { name: 'a', fee: true, percent: '2.12345' }], 'SplitPercentInvalid'],
      [[host, { name: 'a', fee: true, percent: 101 }], 'SplitPercentInvalid'],
      [
        [host, { name: 'a', fee: true, percent: 60 }, { name: 'b', fee: true, percent: 40.0001 }],
        'SplitPercentOverflow',
      ],
      [[host, { name: 'a', shares: -1 }], 'SplitSharesInvalid'],
      [[host, { name: 'a', shares: 1.5 }], 'SplitSharesInvalid'],
      [[host, { name: 'a', fee: true, percent: 1, shares: 2 }], 'SplitSharesInvalid'],
      [[host, { name: 'a' }], 'SplitSharesInvalid'],
      [[{ name: 'a', shares: 1 }], 'SplitRemainderCount'],
      [[host, { name: 'b', shares: 1, remainder: true }], 'SplitRemainderCount'],
      [[host, { name: 'a', shares: 1, destination: 'not a destination' }], 'SplitDestinationInvalid'],
      [[host, { name: 'a', shares: 1, destination: 'op@example.com' }], 'SplitPayeeNotPinned'],
      [
        [host, { name: 'a', shares: 1, destination: 'lnurlw://x.example/w', payeePubkey: operatorKey }],
        'SplitDestinationInvalid',
      ],
      [
        [host, { name: 'a', shares: 1, destination: 'http://x.example/p', payeePubkey: operatorKey }],
        'SplitDestinationInvalid',
      ],
      [
        [host, { name: 'a', shares: 1, destination: operatorKey, payeePubkey: 'zz' }],
        'SplitDestinationInvalid',
      ],
    ];
    for (const [config, name] of cases)
      expect(checkSplit(config)).toMatchObject({ ok: false, error: { name } });
  });
  it('percentages: up to 4 decimals, as numbers or strings', () => {
    expect(percentToPpm(10)).toBe(100_000);
    expect(percentToPpm('0.0001')).toBe(1);
    expect(percentToPpm(12.25)).toBe(122_500);
    expect(percentToPpm('100')).toBe(1_000_000);
    expect(percentToPpm('-1')).toBeNull();
    expect(percentToPpm(Number.NaN)).toBeNull();
    expect(percentToPpm('1e2')).toBeNull();
  });
});

describe('splitAmount', () => {
  it('fee off the top, shares of the rest, remainders to the host', () => {
    const s = split([
      { name: 'host', shares: 2, remainder: true },
      { name: 'op', shares: 1, destination: operatorKey },
      { name: 'fee', fee: true, percent: 10 },
    ]);
    // T = 1001: fee = 100, R = 901, shares 2:1 → host 600, op 300, remainder 1 to host.
    expect(splitAmount(1001n, s)).toEqual({ fee: 100n, host: 601n, op: 300n });
    expect(splitAmount(0n, s)).toEqual({ fee: 0n, host: 0n, op: 0n });
  });
  it('a host with 0 shares gets only the remainders; alone, it gets everything', () => {
    expect(
      splitAmount(
        7n,
        split([
          { name: 'host', remainder: true },
          { name: 'op', shares: 3 },
        ]),
      ),
    ).toEqual({
      host: 0n,
      op: 7n,
    });
    expect(splitAmount(7n, split([{ name: 'host', remainder: true }]))).toEqual({ host: 7n });
  });
});

const splitArb: fc.Arbitrary<Split> = fc
  .record({
    hostShares: fc.integer({ min: 0, max: 100 }),
    others: fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 4 }),
    fees: fc.array(fc.integer({ min: 0, max: 200_000 }), { maxLength: 3 }),
  })
  .map(({ hostShares, others, fees }) =>
    split([
      { name: 'host', shares: hostShares, remainder: true },
      ...others.map((shares, i) => ({ name: `r${i}`, shares })),
      ...fees.map((ppm, i) => ({ name: `f${i}`, fee: true, percent: (ppm / 10_000).toFixed(4) })),
    ]),
  );

describe('accrual ledger', () => {
  it('property: parts of every payment sum to it exactly', () => {
    fc.assert(
      fc.property(splitArb, fc.bigInt({ min: 0n, max: 10n ** 15n }), (s, t) => {
        const parts = splitAmount(t, s);
        expect(sum(parts)).toBe(t);
        for (const v of Object.values(parts)) expect(v >= 0n).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
  it('property: over 10,000 random sessions, Σ paid + carried = Σ T per recipient and in total', () => {
    let sessionCount = 0;
    fc.assert(
      fc.property(
        splitArb,
        fc.array(fc.tuple(fc.bigInt({ min: 0n, max: 50_000_000n }), fc.boolean()), {
          minLength: 40,
          maxLength: 60,
        }),
        fc.bigInt({ min: 0n, max: 20_000_000n }),
        fc.constantFrom(1n, 1000n),
        (s, sessions, thresholdMsat, unitMsat) => {
          let balances: Balances = {};
          const paid: Record<string, bigint> = {};
          const due: Record<string, bigint> = {};
          let total = 0n;
          for (const [t, payoutFails] of sessions) {
            sessionCount++;
            total += t;
            for (const [name, part] of Object.entries(splitAmount(t, s)))
              due[name] = (due[name] ?? 0n) + part;
            balances = accrue(balances, t, s);
            const plan = payoutPlan(balances, {
              thresholdMsat,
              minMsat: 1000n,
              unitMsat,
              keep: [s.remainderName],
            });
            balances = plan.carried;
            for (const p of plan.payouts) {
              expect(p.amountMsat >= 1000n && p.amountMsat % unitMsat === 0n).toBe(true);
              expect(p.name).not.toBe(s.remainderName);
              if (payoutFails) {
                balances = bookPayout(balances, p, { status: 'failed' }, s.remainderName);
              } else {
                paid[p.name] = (paid[p.name] ?? 0n) + p.amountMsat;
              }
            }
          }
          for (const name of Object.keys(due)) {
            expect((paid[name] ?? 0n) + (balances[name] ?? 0n)).toBe(due[name]);
          }
          expect(sum(paid) + sum(balances)).toBe(total);
        },
      ),
      { numRuns: 250 },
    );
    expect(sessionCount).toBeGreaterThanOrEqual(10_000);
  });
  it('a share below the Lightning minimum is carried until it reaches it', () => {
    const s = split([
      { name: 'host', shares: 9, remainder: true },
      { name: 'op', shares: 1, destination: operatorKey },
    ]);
    let b: Balances = {};
    const policy = { thresholdMsat: 0n, minMsat: 1000n, unitMsat: 1000n, keep: ['host'] };
    b = accrue(b, 5_500n, s); // op: 550
    let plan = payoutPlan(b, policy);
    expect(plan.payouts).toEqual([]);
    b = accrue(plan.carried, 5_500n, s); // op: 1100
    plan = payoutPlan(b, policy);
    expect(plan.payouts).toEqual([{ name: 'op', amountMsat: 1000n }]);
    expect(plan.carried).toEqual({ host: 9_900n, op: 100n });
    expect(
      bookPayout(plan.carried, plan.payouts[0]!, { status: 'settled', routingFeeMsat: 3n }, 'host'),
    ).toEqual({
      host: 9_897n,
      op: 100n,
    });
  });
});
