// Properties of the walk-up machine over random event sequences (driver, meter, clock, node answers delivered
// late or lost, node failures, crashes with restore): no energy without a held deposit, the cut at
// deposit − grace, the deposit settled or cancelled exactly once, cost + refund = deposit on a walk-away, the
// driver never pays more than the metered energy, no step throws, every state round-trips through JSON
// (checked on every step by the harness), and a restart at any step leaves the same books.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { WalkupState } from '../../payments/walkup-state.js';
import { Run, hex32 } from './walkup-harness.js';

type Action =
  | { t: 'deposit'; amountMsat: bigint }
  | { t: 'deliver'; n: number }
  | { t: 'payDeposit'; extraMsat: bigint }
  | { t: 'payFinal' }
  | { t: 'drive'; wh: number }
  | { t: 'tick'; ms: number }
  | { t: 'unplug' }
  | { t: 'driverStop' }
  | { t: 'fault' }
  | { t: 'claim'; kind: 'good' | 'wrongSecret' | 'wrongAmount' }
  | { t: 'payOutcome'; outcome: 'succeeded' | 'failed' | 'inDoubt' }
  | { t: 'failCalls'; n: number }
  | { t: 'crash'; beforeEffects: boolean }
  | { t: 'expireDeposit' }
  | { t: 'cable' };

const action: fc.Arbitrary<Action> = fc.oneof(
  {
    arbitrary: fc.bigInt(50_000n, 1_200_000n).map((amountMsat) => ({ t: 'deposit' as const, amountMsat })),
    weight: 2,
  },
  { arbitrary: fc.integer({ min: 1, max: 3 }).map((n) => ({ t: 'deliver' as const, n })), weight: 6 },
  {
    arbitrary: fc.constantFrom(0n, 1000n).map((extraMsat) => ({ t: 'payDeposit' as const, extraMsat })),
    weight: 2,
  },
  { arbitrary: fc.constant({ t: 'payFinal' as const }), weight: 2 },
  { arbitrary: fc.integer({ min: 0, max: 400 }).map((wh) => ({ t: 'drive' as const, wh })), weight: 6 },
  { arbitrary: fc.integer({ min: 0, max: 200_000 }).map((ms) => ({ t: 'tick' as const, ms })), weight: 4 },
  { arbitrary: fc.constant({ t: 'unplug' as const }), weight: 1 },
  { arbitrary: fc.constant({ t: 'driverStop' as const }), weight: 1 },
  { arbitrary: fc.constant({ t: 'fault' as const }), weight: 1 },
  {
    arbitrary: fc
      .constantFrom('good', 'wrongSecret', 'wrongAmount')
      .map((kind) => ({ t: 'claim' as const, kind })),
    weight: 2,
  },
  {
    arbitrary: fc
      .constantFrom('succeeded', 'failed', 'inDoubt')
      .map((outcome) => ({ t: 'payOutcome' as const, outcome })),
    weight: 1,
  },
  { arbitrary: fc.integer({ min: 1, max: 2 }).map((n) => ({ t: 'failCalls' as const, n })), weight: 1 },
  { arbitrary: fc.boolean().map((beforeEffects) => ({ t: 'crash' as const, beforeEffects })), weight: 1 },
  { arbitrary: fc.constant({ t: 'expireDeposit' as const }), weight: 1 },
  { arbitrary: fc.constant({ t: 'cable' as const }), weight: 1 },
);

function refundOf(s: WalkupState): bigint {
  return s.phase === 'refundOpen' || s.phase === 'refundClaimed' || s.phase === 'ended'
    ? (s.refund?.amountMsat ?? 0n)
    : 0n;
}

let claims = 0;
function perform(run: Run, a: Action): void {
  switch (a.t) {
    case 'deposit':
      run.requestDeposit(a.amountMsat, `r${run.steps}`);
      return;
    case 'deliver':
      return run.deliver(a.n);
    case 'payDeposit':
      return run.payDeposit(a.extraMsat);
    case 'payFinal':
      return run.payFinal();
    case 'drive':
      return run.drive(a.wh);
    case 'tick':
      return run.advance(a.ms);
    case 'unplug':
      run.step({ type: 'unplug', atMs: run.now });
      return;
    case 'driverStop':
      run.step({ type: 'driverStop', atMs: run.now, requestId: 'stop' });
      return;
    case 'fault':
      run.step({ type: 'evseFault', atMs: run.now, message: 'fault' });
      return;
    case 'claim': {
      const amount = refundOf(run.state) + (a.kind === 'wrongAmount' ? 1000n : 0n);
      const secret = a.kind === 'wrongSecret' ? hex32('guess') : run.withdrawSecret;
      run.claim(secret, run.payerInvoice(amount > 0n ? amount : 1000n, `payer${claims++}`), `claim${claims}`);
      return;
    }
    case 'payOutcome':
      run.node.payOutcome = a.outcome;
      return;
    case 'failCalls':
      run.node.failCalls = a.n;
      return;
    case 'crash':
      if (a.beforeEffects) run.crashBeforeEffects = true;
      else run.restart();
      return;
    case 'expireDeposit':
      for (const ev of run.node.expire(run.depositHash, run.now)) run.step(ev);
      return;
    case 'cable': {
      const occupied = run.evseOn;
      const effects = run.step({ type: 'cableSessionRequested', atMs: run.now, requestId: 'cable' });
      if (occupied)
        expect(effects).toContainEqual(
          expect.objectContaining({
            reply: expect.objectContaining({ refusal: expect.objectContaining({ name: 'WalkupActive' }) }),
          }),
        );
      return;
    }
  }
}

/** Lets every deadline pass and every answer arrive (in-doubt payouts resolved by the node). */
function drain(run: Run, claimRefund: boolean): void {
  run.crashBeforeEffects = false;
  run.node.failCalls = 0;
  run.node.payOutcome = 'succeeded';
  for (let i = 0; i < 12; i++) {
    run.deliver();
    run.drive(0);
    run.deliver();
    if (run.state.phase === 'refundOpen' && claimRefund) perform(run, { t: 'claim', kind: 'good' });
    if (run.state.phase === 'refundClaimed' && run.state.refund.claim?.status === 'inDoubt') {
      const hash = run.state.refund.claim.paymentHash;
      const p = run.node.payments.get(hash);
      if (p !== undefined) p.state = 'succeeded';
      run.step({ type: 'payResult', atMs: run.now, paymentHash: hash, outcome: 'succeeded', feeMsat: 5n });
    }
    run.advance(i < 6 ? 400_000 : 24 * 3_600_000);
  }
  run.deliver();
}

/** The money as the node and the wallet see it. */
function books(run: Run) {
  const inv = (h: string) => {
    const i = run.node.invoices.get(h);
    return i === undefined ? null : { state: i.state, heldMsat: i.heldMsat };
  };
  return {
    deposit: inv(run.depositHash),
    final: inv(run.finalHash),
    settledMsat: run.node.settledMsat(),
    refundPaidMsat: run.node.refundPaidMsat(),
    phase: run.state.phase,
    endReason: run.state.phase === 'ended' ? run.state.endReason : null,
  };
}

function checkBooks(run: Run): void {
  expect(run.node.violations).toEqual([]);
  const s = run.state;
  const deposit = run.node.invoices.get(run.depositHash);
  if (deposit !== undefined) expect(['settled', 'cancelled']).toContain(deposit.state);
  const kinds = (k: string, hash: string) =>
    run.records.filter((r) => r.kind === k && r.data.paymentHash === hash).length;
  // exactly once in the ledger, never both
  expect(kinds('invoiceSettled', run.depositHash) + kinds('invoiceCancelled', run.depositHash)).toBe(
    deposit === undefined ? 0 : 1,
  );
  if (s.phase === 'idle' || s.session === null) return;
  const session = s.session;
  const metered = BigInt(session.deliveredWh) * session.priceMsatPerWh;
  expect(session.deliveredWh).toBeLessThanOrEqual(run.registerWh - 1000);
  // what the driver is out of pocket (refund still claimable counts as theirs)
  const claimable = s.phase === 'refundOpen' || s.phase === 'refundClaimed' ? refundOf(s) : 0n;
  const driverPaid = run.node.settledMsat() - run.node.refundPaidMsat() - claimable;
  expect(driverPaid <= metered).toBe(true);
  expect(driverPaid).toBeGreaterThanOrEqual(0n);
  if (deposit?.state === 'settled' && session.costMsat !== null) {
    // walk-away or deposit = cost: cost + refund (+ dust kept) = deposit
    expect(
      session.costMsat +
        refundOf(s) +
        (s.phase === 'ended' && s.endReason === 'REFUND_EXPIRED' ? 0n : session.forfeitedMsat),
    ).toBe(deposit.heldMsat);
  }
  if (s.phase === 'ended') {
    const end = run.effects.filter((e) => e.type === 'endSession');
    expect(end).toHaveLength(1);
    const r = end[0]?.type === 'endSession' ? end[0].receipt : null;
    expect(r?.settledMsat).toBe(run.node.settledMsat());
    expect(r?.refundPaidMsat).toBe(run.node.refundPaidMsat());
  }
}

describe('walk-up properties', () => {
  it('hold for any event sequence (with crashes, node failures and late answers)', () => {
    fc.assert(
      fc.property(
        fc.array(action, { minLength: 1, maxLength: 60 }),
        fc.nat(3),
        fc.boolean(),
        (actions, start, claimRefund) => {
          const run = new Run();
          run.requestDeposit(300_000n, 'r1');
          run.drive(0);
          if (start > 0) {
            run.deliver();
            run.payDeposit();
          }
          for (const a of actions) perform(run, a);
          drain(run, claimRefund);
          checkBooks(run);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a restart at any step (before or after its effects ran) leaves the same books', () => {
    const script = fc.array(
      fc.oneof(
        fc.constant<Action>({ t: 'payDeposit', extraMsat: 0n }),
        fc.constant<Action>({ t: 'payFinal' }),
        fc.integer({ min: 0, max: 800 }).map((wh): Action => ({ t: 'drive', wh })),
        fc.integer({ min: 0, max: 200_000 }).map((ms): Action => ({ t: 'tick', ms })),
        fc.constant<Action>({ t: 'unplug' }),
        fc.constant<Action>({ t: 'claim', kind: 'good' }),
      ),
      { minLength: 1, maxLength: 25 },
    );
    fc.assert(
      fc.property(script, fc.nat(200), fc.boolean(), fc.nat(3), (actions, at, before, start) => {
        const play = (crashAtStep: number | null) => {
          claims = 0;
          const run = new Run();
          run.crashAtStep = crashAtStep;
          run.crashMode = before ? 'beforeEffects' : 'afterEffects';
          run.requestDeposit(300_000n, 'r1');
          run.deliver();
          run.drive(0);
          if (start > 0) run.payDeposit();
          for (const a of actions) {
            perform(run, a);
            run.deliver();
          }
          drain(run, true);
          return run;
        };
        const plain = play(null);
        const total = plain.steps;
        const crashed = play(1 + (at % total));
        expect(crashed.crashes).toBe(1);
        checkBooks(crashed);
        expect(books(crashed)).toEqual(books(plain));
      }),
      { numRuns: 300 },
    );
  });
});

describe('walk-up hostile events', () => {
  const types = [
    'depositRequested',
    'holdInvoiceCreated',
    'holdInvoiceFailed',
    'held',
    'settled',
    'cancelled',
    'nodeCallFailed',
    'meter',
    'unplug',
    'driverStop',
    'remoteStop',
    'evseFault',
    'tick',
    'refundClaim',
    'payResult',
    'cableSessionRequested',
    'restored',
  ];
  const field = fc.oneof(
    fc.anything({ withBigInt: true, withNullPrototype: true, maxDepth: 2 }),
    fc.constantFrom(hex32('deposit'), 'lnbc1', 300_000n, -1n, Number.NaN, 1e300),
  );
  const hostile = fc.record({
    type: fc.constantFrom(...types),
    atMs: fc.oneof(fc.integer(), fc.double()),
    paymentHash: field,
    amountMsat: field,
    energyWh: field,
    requestId: field,
    secretHex: field,
    bolt11: field,
    error: field,
    outcome: field,
    invoices: field,
    payment: field,
    htlcExpiryMs: field,
    sessionId: field,
    depositPreimageHex: field,
    ivHex: field,
  });
  it('never throw, from any reachable phase, and keep the state serialisable', () => {
    fc.assert(
      fc.property(fc.nat(3), fc.array(hostile, { maxLength: 8 }), (where, events) => {
        const run = new Run();
        run.requestDeposit(300_000n, 'r1');
        run.drive(0);
        run.deliver();
        if (where > 0) run.payDeposit();
        if (where > 1) {
          run.drive(100);
          run.step({ type: 'unplug', atMs: run.now });
          run.drive(0);
          run.deliver();
        }
        if (where > 2) {
          run.advance(300_000);
          run.deliver();
        }
        for (const ev of events) run.step(ev as never);
      }),
      { numRuns: 300 },
    );
  });
});
