// The pure payout machine (issue 14): books that never lose a msat under random payments and outcomes, one
// payout per accrual, carries below the minimum, fee caps, retries with backoff and one alarm, the daily batch,
// and the node's record deciding after a restart.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  initialPayoutState,
  payoutFeeCap,
  payoutStep,
  retryDelayMs,
  type PayoutConfig,
  type PayoutEffect,
  type PayoutEvent,
  type PayoutState,
} from '../../payments/payout.js';
import { readSplitConfig } from '../../payments/split-config.js';
import { splitAmount } from '../../payments/split.js';

const operatorKey = '02' + 'ab'.repeat(32);
const installerKey = '03' + 'cd'.repeat(32);
const T0 = Date.UTC(2026, 0, 1, 12);

function config(extra: Record<string, unknown> = {}): PayoutConfig {
  const r = readSplitConfig({
    recipients: [
      { name: 'host', remainder: true, shares: 90 },
      { name: 'operator', shares: 10, destination: 'op@pay.example.com', payeePubkey: operatorKey },
      { name: 'installer', fee: true, percent: 2.5, destination: installerKey },
    ],
    thresholdMsat: 20_000,
    ...extra,
  });
  if (!r.ok) throw new Error(r.error.name);
  return r.value;
}

/** Runs events through the machine, collecting effects. */
function run(cfg: PayoutConfig, events: PayoutEvent[], state = initialPayoutState(T0)) {
  const effects: PayoutEffect[] = [];
  for (const e of events) {
    const r = payoutStep(state, e, cfg);
    state = r.state;
    effects.push(...r.effects);
  }
  return { state, effects };
}

const hash = (n: number): string => n.toString(16).padStart(64, '0');
/** The shell obtained invoice `hash(n)` for payout `payoutId`. */
const prepared = (payoutId: string, n: number, atMs: number): PayoutEvent => ({
  kind: 'prepared',
  payoutId,
  attempt: { kind: 'invoice', paymentHash: hash(n), bolt11: `lnbcrt1${n}`, preimage: null },
  atMs,
});
const accrual = (n: number, totalMsat: bigint, atMs = T0): PayoutEvent => ({
  kind: 'accrual',
  accrualId: hash(n),
  sessionId: `s${n}`,
  totalMsat,
  atMs,
});

describe('payout machine', () => {
  it('plans a payout when a balance passes the threshold and pays the invoice the shell prepared', () => {
    const cfg = config();
    let { state, effects } = run(cfg, [accrual(1, 100_000n)]);
    // operator: 10 % of (100000 − 2500) = 9750 < 20000: nothing yet; installer: 2500 < 20000
    expect(effects).toEqual([]);
    ({ state, effects } = run(cfg, [accrual(2, 200_000n)], state));
    const prepare = effects.filter((e) => e.kind === 'prepare');
    expect(prepare).toHaveLength(1);
    expect(prepare[0]).toMatchObject({ recipient: 'operator', amountMsat: 29_000n });
    expect(prepare[0]!.kind === 'prepare' && prepare[0]!.memo).toContain('s1,s2');
    const id = prepare[0]!.kind === 'prepare' ? prepare[0]!.payoutId : '';
    // write-ahead: in_flight with the hash before the pay effect
    ({ state, effects } = run(cfg, [prepared(id, 99, T0)], state));
    expect(state.payouts[id]).toMatchObject({ status: 'in_flight', attempt: { paymentHash: hash(99) } });
    expect(effects).toEqual([
      expect.objectContaining({ kind: 'pay', maxFeeMsat: payoutFeeCap(29_000n, cfg.policy) }),
    ]);
    ({ state, effects } = run(
      cfg,
      [
        {
          kind: 'paid',
          payoutId: id,
          paymentHash: hash(99),
          preimage: 'aa'.repeat(32),
          feeMsat: 3n,
          atMs: T0,
        },
      ],
      state,
    ));
    expect(state.payouts[id]!.status).toBe('settled');
    expect(effects).toContainEqual({ kind: 'settled', payoutId: id });
    // the routing fee is the host's; operator's 25 msat below a whole sat stay carried
    expect(state.balances.operator).toBe(9_750n + 19_500n - 29_000n);
  });

  it('caps routing fees by ppm and by msat', () => {
    expect(payoutFeeCap(1_000_000n, { maxFeePpm: 5_000n, maxFeeMsat: 10_000n })).toBe(5_000n);
    expect(payoutFeeCap(10_000_000n, { maxFeePpm: 5_000n, maxFeeMsat: 10_000n })).toBe(10_000n);
  });

  it('carries a share below the Lightning minimum to the next payout at session end', () => {
    const cfg = config();
    const { state, effects } = run(cfg, [
      accrual(1, 5_000n),
      { kind: 'sessionEnded', sessionId: 's1', atMs: T0 },
    ]);
    // operator part 487 msat, installer 125 msat: both below 1 sat, nothing paid, nothing dropped
    expect(effects).toEqual([]);
    expect(state.balances.operator! + state.balances.installer! + state.balances.host!).toBe(5_000n);
  });

  it('retries with doubling delays and raises one alarm per unreachable recipient, cleared on success', () => {
    const cfg = config({ retryFirstDelaySec: 10, retryMaxDelaySec: 60, alarmAfterFailures: 2 });
    let { state, effects } = run(cfg, [accrual(1, 1_000_000n)]);
    const id = Object.values(state.payouts).find((p) => p.recipient === 'operator')!.id;
    const alarms: PayoutEffect[] = [];
    let t = T0;
    for (let i = 1; i <= 5; i++) {
      ({ state, effects } = run(
        cfg,
        [{ kind: 'prepareFailed', payoutId: id, reason: 'LnurlTimeout: slow', atMs: t }],
        state,
      ));
      alarms.push(...effects.filter((e) => e.kind === 'alarm'));
      expect(state.payouts[id]!.notBeforeMs - t).toBe(retryDelayMs(i, cfg.policy));
      // a tick before the delay does nothing; at the delay the payout is prepared again
      ({ effects } = run(cfg, [{ kind: 'tick', atMs: t + 1 }], state));
      expect(effects.filter((e) => e.kind === 'prepare' && e.payoutId === id)).toEqual([]);
      t = state.payouts[id]!.notBeforeMs;
      ({ state, effects } = run(cfg, [{ kind: 'tick', atMs: t }], state));
      expect(effects.filter((e) => e.kind === 'prepare' && e.payoutId === id)).toHaveLength(1);
    }
    expect([10, 20, 40, 60, 60].map((_, i) => retryDelayMs(i + 1, cfg.policy))).toEqual([
      10_000, 20_000, 40_000, 60_000, 60_000,
    ]);
    expect(alarms).toEqual([expect.objectContaining({ kind: 'alarm', recipient: 'operator', failures: 2 })]);
    ({ state, effects } = run(
      cfg,
      [
        prepared(id, 7, t),
        { kind: 'paid', payoutId: id, paymentHash: hash(7), preimage: 'bb'.repeat(32), feeMsat: 0n, atMs: t },
      ],
      state,
    ));
    expect(effects).toContainEqual({ kind: 'alarmCleared', recipient: 'operator' });
    expect(state.alarmed).toEqual([]);
  });

  it('after a restart asks the node about an in-flight attempt before anything else', () => {
    const cfg = config();
    let { state } = run(cfg, [accrual(1, 1_000_000n)]);
    const id = Object.values(state.payouts).find((p) => p.recipient === 'operator')!.id;
    ({ state } = run(cfg, [prepared(id, 5, T0)], state));
    let effects: PayoutEffect[];
    ({ state, effects } = run(cfg, [{ kind: 'restarted', atMs: T0 + 1 }], state));
    expect(effects.filter((e) => e.kind === 'lookup')).toEqual([
      { kind: 'lookup', payoutId: id, paymentHash: hash(5) },
    ]);
    expect(effects.filter((e) => e.kind === 'pay' || (e.kind === 'prepare' && e.payoutId === id))).toEqual(
      [],
    );
    // the node says it never saw the payment: a new attempt, same payout (same accruals)
    ({ state, effects } = run(
      cfg,
      [{ kind: 'payFailed', payoutId: id, paymentHash: hash(5), reason: 'unknown', atMs: T0 + 2 }],
      state,
    ));
    expect(state.payouts[id]).toMatchObject({ status: 'planned', failures: 1 });
    // a stale result for an old attempt changes nothing
    const before = state;
    ({ state } = run(
      cfg,
      [
        {
          kind: 'paid',
          payoutId: id,
          paymentHash: hash(5),
          preimage: 'cc'.repeat(32),
          feeMsat: 0n,
          atMs: T0 + 3,
        },
      ],
      state,
    ));
    expect(state.payouts[id]).toEqual(before.payouts[id]);
  });

  it('pays what accrued during an open payout once it settles when a session ended meanwhile', () => {
    const cfg = config({ thresholdMsat: 10_000_000 });
    let { state, effects } = run(cfg, [
      accrual(1, 100_000n),
      { kind: 'sessionEnded', sessionId: 's1', atMs: T0 },
    ]);
    const first = effects.find((e) => e.kind === 'prepare' && e.recipient === 'operator');
    const id = first?.kind === 'prepare' ? first.payoutId : '';
    ({ state, effects } = run(
      cfg,
      [prepared(id, 50, T0), accrual(2, 100_000n), { kind: 'sessionEnded', sessionId: 's2', atMs: T0 }],
      state,
    ));
    expect(effects.filter((e) => e.kind === 'prepare' && e.recipient === 'operator')).toEqual([]);
    ({ state, effects } = run(
      cfg,
      [
        {
          kind: 'paid',
          payoutId: id,
          paymentHash: hash(50),
          preimage: 'dd'.repeat(32),
          feeMsat: 0n,
          atMs: T0,
        },
      ],
      state,
    ));
    expect(effects).toContainEqual(
      expect.objectContaining({
        kind: 'prepare',
        recipient: 'operator',
        memo: expect.stringContaining('s2'),
      }),
    );
    // the installer's payout is still open: its flush waits for it
    expect(state.flush).toEqual(['installer']);
  });

  it('runs a daily batch at the configured UTC hour', () => {
    const cfg = config({ dailyAtUtcHour: 3, payAtSessionEnd: false });
    let { state, effects } = run(cfg, [accrual(1, 50_000n)]);
    expect(effects).toEqual([]);
    const nextDay3 = Date.UTC(2026, 0, 2, 3);
    ({ effects } = run(cfg, [{ kind: 'tick', atMs: nextDay3 - 1 }], state));
    expect(effects).toEqual([]);
    ({ state, effects } = run(cfg, [{ kind: 'tick', atMs: nextDay3 }], state));
    expect(effects.map((e) => e.kind === 'prepare' && e.recipient).sort()).toEqual(['installer', 'operator']);
    ({ effects } = run(cfg, [{ kind: 'tick', atMs: nextDay3 + 1000 }], state));
    expect(effects).toEqual([]);
  });

  it('never drops a msat and never assigns an accrual twice, whatever the outcomes (property)', () => {
    const cfg = config({ thresholdMsat: 5_000 });
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            total: fc.bigInt({ min: 0n, max: 5_000_000n }),
            outcome: fc.integer({ min: 0, max: 3 }),
            fee: fc.bigInt({ min: 0n, max: 50n }),
            end: fc.boolean(),
          }),
          { minLength: 1, maxLength: 60 },
        ),
        (steps) => {
          let state: PayoutState = initialPayoutState(T0);
          let t = T0;
          let n = 0;
          const paid: Record<string, bigint> = {};
          let fees = 0n;
          const due: Record<string, bigint> = {};
          const assigned = new Map<string, string>();
          const apply = (e: PayoutEvent): PayoutEffect[] => {
            const r = payoutStep(state, e, cfg);
            state = r.state;
            return r.effects;
          };
          for (const s of steps) {
            t += 1_000_000;
            n += 1;
            for (const [k, v] of Object.entries(splitAmount(s.total, cfg.split))) due[k] = (due[k] ?? 0n) + v;
            const effects = apply({
              kind: 'accrual',
              accrualId: hash(n),
              sessionId: `s${n}`,
              totalMsat: s.total,
              atMs: t,
            });
            if (s.end) effects.push(...apply({ kind: 'sessionEnded', sessionId: `s${n}`, atMs: t }));
            effects.push(...apply({ kind: 'tick', atMs: t }));
            for (const e of effects) {
              if (e.kind !== 'prepare') continue;
              n += 1;
              const h = hash(1_000_000 + n);
              const pay = apply({
                kind: 'prepared',
                payoutId: e.payoutId,
                attempt: { kind: 'keysend', paymentHash: h, bolt11: null, preimage: h },
                atMs: t,
              });
              if (pay.length === 0) continue;
              if (s.outcome === 0)
                apply({
                  kind: 'payFailed',
                  payoutId: e.payoutId,
                  paymentHash: h,
                  reason: 'NoRoute',
                  atMs: t,
                });
              else if (s.outcome === 1) apply({ kind: 'payPending', payoutId: e.payoutId, atMs: t });
              else {
                apply({
                  kind: 'paid',
                  payoutId: e.payoutId,
                  paymentHash: h,
                  preimage: h,
                  feeMsat: s.fee,
                  atMs: t,
                });
                paid[e.recipient] = (paid[e.recipient] ?? 0n) + e.amountMsat;
                fees += s.fee;
              }
            }
            for (const p of Object.values(state.payouts)) {
              for (const a of p.accrualIds) {
                const key = `${p.recipient}:${a}`;
                expect(assigned.get(key) ?? p.id).toBe(p.id);
                assigned.set(key, p.id);
              }
            }
          }
          for (const r of ['operator', 'installer']) {
            const open = Object.values(state.payouts)
              .filter((p) => p.recipient === r && p.status !== 'settled')
              .reduce((a, p) => a + p.amountMsat, 0n);
            expect((paid[r] ?? 0n) + open + (state.balances[r] ?? 0n)).toBe(due[r] ?? 0n);
          }
          expect((state.balances.host ?? 0n) + fees).toBe(due.host ?? 0n);
        },
      ),
      { numRuns: 200 },
    );
  });
});
