// The walk-up machine on a manual timeline: deposit held → charge → stop → final paid (deposit cancelled before
// the final is settled), nothing due, credit exhausted, walk-away with a refund only the payer can claim, named
// refusals, retries, in-doubt payouts, deadlines from the held HTLC, and the cable-session guard.
import { describe, expect, it } from 'vitest';
import { walkupConfig } from '../../payments/walkup-config.js';
import { checkWalkupState, createWalkup, walkupOccupiesEvse, walkupStep } from '../../payments/walkup.js';
import type { WalkupEffect, WalkupReceipt } from '../../payments/walkup-state.js';
import { Run, testConfig, T0 } from './walkup-harness.js';

function receiptOf(run: Run): WalkupReceipt {
  const e = run.effects.filter(
    (x): x is Extract<WalkupEffect, { type: 'endSession' }> => x.type === 'endSession',
  );
  expect(e).toHaveLength(1);
  return (e[0] as Extract<WalkupEffect, { type: 'endSession' }>).receipt;
}

/** A session charging on a held deposit of `depositMsat`. */
function charging(depositMsat = 500_000n): Run {
  const run = new Run();
  run.requestDeposit(depositMsat);
  run.drive(0); // the meter's register before energizing is the session's start
  run.deliver();
  run.payDeposit();
  expect(run.phase()).toBe('charging');
  return run;
}

describe('walkupConfig', () => {
  it('fills defaults and names the field out of range', () => {
    const c = walkupConfig({ network: 'regtest', priceMsatPerWh: 100n });
    expect(c.ok && c.value.validityTimeSec).toBe(60);
    const bad: [object, string][] = [
      [{ priceMsatPerWh: 0n }, 'priceMsatPerWh'],
      [{ validityTimeSec: 5 }, 'validityTimeSec'],
      [{ minDepositMsat: 10n }, 'minDepositMsat'],
      [{ maxDepositMsat: 1n, minDepositMsat: 2000n }, 'maxDepositMsat'],
      [{ settleMarginMs: 1.5 }, 'settleMarginMs'],
      [{ refundDescription: 'x'.repeat(145) }, 'refundDescription'],
      [{ network: 'mainnet' }, 'network'],
      [{ minDepositMsat: 1000n, graceWh: 10 }, 'minDepositMsat'],
    ];
    for (const [over, field] of bad)
      expect(walkupConfig({ network: 'regtest', priceMsatPerWh: 100n, ...over } as never)).toMatchObject({
        ok: false,
        error: { field },
      });
  });
});

describe('walk-up: pay the metered cost', () => {
  it('deposit held → energize → unplug → final held → deposit cancelled → final settled', () => {
    const run = new Run();
    const created = run.requestDeposit(300_000n);
    run.drive(0);
    expect(created.find((e) => e.type === 'createHoldInvoice')).toMatchObject({
      purpose: 'deposit',
      paymentHash: run.depositHash,
      amountMsat: 300_000n,
      expirySec: 120,
    });
    expect(run.phase()).toBe('awaitingDeposit');
    expect(run.evseOn).toBe(false);
    run.deliver();
    expect(run.replies.get('r1')).toMatchObject({ kind: 'depositInvoice', paymentHash: run.depositHash });
    run.payDeposit();
    expect(run.evseOn).toBe(true);
    expect(run.records.map((r) => r.kind)).toContain('depositHeld');
    run.advance(60_000);
    run.drive(700);
    run.drive(534);
    run.step({ type: 'unplug', atMs: run.now });
    expect(run.evseOn).toBe(false);
    expect(run.phase()).toBe('stopping');
    run.drive(0);
    expect(run.phase()).toBe('awaitingFinal');
    const createFinal = run.effects.filter((e) => e.type === 'createHoldInvoice')[1];
    expect(createFinal).toMatchObject({ purpose: 'final', amountMsat: 123_400n, paymentHash: run.finalHash });
    run.deliver();
    expect(run.state.phase === 'awaitingFinal' && run.state.session.final?.bolt11).toMatch(/^lnbcrt/);
    run.payFinal();
    // the deposit is cancelled first; the final is settled only once the node confirmed that
    expect(run.phase()).toBe('closing');
    expect(run.node.invoices.get(run.finalHash)?.state).toBe('held');
    run.deliver();
    expect(run.node.invoices.get(run.depositHash)?.state).toBe('cancelled');
    expect(run.node.invoices.get(run.finalHash)?.state).toBe('settled');
    expect(run.phase()).toBe('ended');
    expect(run.node.violations).toEqual([]);
    const receipt = receiptOf(run);
    expect(receipt).toMatchObject({
      endReason: 'FINAL_PAID',
      stopReason: 'UNPLUGGED',
      energyWh: 1234,
      costMsat: 123_400n,
      settledMsat: 123_400n,
      depositOutcome: 'cancelled',
      finalPreimageHex: run.finalPreimage,
      depositPreimageHex: null,
    });
    const kinds = run.records.map((r) => r.kind);
    for (const k of [
      'depositRequested',
      'depositHeld',
      'finalHeld',
      'invoiceCancelled',
      'invoiceSettled',
      'sessionEnded',
    ])
      expect(kinds).toContain(k);
  });

  it('cuts power when the cost reaches deposit − grace × price (CREDIT_EXHAUSTED)', () => {
    const run = charging(100_000n); // 1000 Wh of credit, cut at 998 Wh
    run.drive(997);
    expect(run.evseOn).toBe(true);
    run.drive(1);
    expect(run.evseOn).toBe(false);
    expect(run.state.phase !== 'idle' && run.state.session?.stopReason).toBe('CREDIT_EXHAUSTED');
    run.drive(0);
    expect(run.effects.filter((e) => e.type === 'createHoldInvoice')[1]).toMatchObject({
      amountMsat: 99_800n,
    });
  });

  it('settles the deposit itself when the meter shows exactly the deposit (cost capped at the deposit)', () => {
    const run = charging(100_000n);
    run.drive(990);
    run.evseOn = true; // energy that flowed before the contactor opened
    run.drive(30);
    run.drive(0);
    expect(run.phase()).toBe('closing');
    run.deliver();
    expect(receiptOf(run)).toMatchObject({
      endReason: 'FINAL_PAID',
      costMsat: 100_000n,
      settledMsat: 100_000n,
      depositOutcome: 'settled',
    });
  });

  it('cancels the deposit when nothing (or less than 1 sat) was delivered', () => {
    const run = charging();
    run.drive(9); // 900 msat < 1000 msat minimum invoice
    run.step({ type: 'driverStop', atMs: run.now, requestId: 'stop' });
    expect(run.replies.get('stop')).toEqual({ kind: 'accepted' });
    run.drive(0);
    run.deliver();
    expect(run.node.invoices.get(run.depositHash)?.state).toBe('cancelled');
    expect(receiptOf(run)).toMatchObject({ endReason: 'NOTHING_DUE', settledMsat: 0n, costMsat: 900n });
  });

  it('ends without charge when the deposit invoice is not paid in time', () => {
    const run = new Run();
    run.requestDeposit(200_000n);
    run.deliver();
    run.advance(119_999);
    expect(run.phase()).toBe('awaitingDeposit');
    run.advance(1);
    run.deliver();
    expect(receiptOf(run)).toMatchObject({ endReason: 'DEPOSIT_NOT_PAID', depositOutcome: 'none' });
    run.payDeposit(); // too late: the node cancelled the invoice
    expect(run.evseOn).toBe(false);
  });

  it('uses the last meter reading when the final one does not come, and a fault stops charging', () => {
    const run = charging();
    run.drive(100);
    run.step({ type: 'evseFault', atMs: run.now, message: 'ground fault' });
    expect(run.evseOn).toBe(false);
    run.advance(10_000);
    expect(run.phase()).toBe('awaitingFinal');
    expect(run.effects.some((e) => e.type === 'alarm')).toBe(true);
  });

  it('a meter that runs backwards or reports garbage cuts power (EQUIPMENT_FAULT)', () => {
    const run = charging();
    run.drive(50);
    run.step({ type: 'meter', atMs: run.now, energyWh: Number.NaN });
    expect(run.evseOn).toBe(false);
    expect(run.state.phase !== 'idle' && run.state.session?.stopReason).toBe('EQUIPMENT_FAULT');
  });
});

describe('walk-up: walk-away and refund', () => {
  function walkedAway(): Run {
    const run = charging(500_000n);
    run.drive(1000); // 100 000 msat
    run.step({ type: 'unplug', atMs: run.now });
    run.drive(0);
    run.deliver();
    run.advance(300_000); // final never paid
    run.deliver();
    return run;
  }

  it('settles the deposit, cancels the final and opens a refund of deposit − cost', () => {
    const run = walkedAway();
    expect(run.node.invoices.get(run.depositHash)?.state).toBe('settled');
    expect(run.node.invoices.get(run.finalHash)?.state).toBe('cancelled');
    expect(run.phase()).toBe('refundOpen');
    expect(run.state.phase === 'refundOpen' && run.state.refund.amountMsat).toBe(400_000n);
    run.payFinal(); // too late: nothing happens
    expect(run.node.invoices.get(run.finalHash)?.state).toBe('cancelled');
    expect(walkupOccupiesEvse(run.state)).toBe(false);
  });

  it('only the payer can claim: the code decrypts with the deposit preimage; single use, exact amount', () => {
    const run = walkedAway();
    const code = run.refundCode();
    expect(code).toBe(run.withdrawSecret);
    const good = run.payerInvoice(400_000n);
    expect(run.claim('00'.repeat(32), good, 'c0')).toMatchObject({ refusal: { name: 'RefundSecretWrong' } });
    expect(run.claim(code, run.payerInvoice(399_000n, 'p2'), 'c1')).toMatchObject({
      refusal: { name: 'RefundAmountWrong' },
    });
    expect(run.claim(code, 'lnbcrt1garbage', 'c2')).toMatchObject({
      refusal: { name: 'RefundInvoiceInvalid' },
    });
    expect(run.node.payments.size).toBe(0);
    expect(run.claim(code, good, 'c3')).toEqual({ kind: 'accepted' });
    expect(run.claim(code, run.payerInvoice(400_000n, 'p3'), 'c4')).toMatchObject({
      refusal: { name: 'RefundAlreadyClaimed' },
    });
    run.deliver();
    expect(run.phase()).toBe('ended');
    expect(run.claim(code, good, 'c5')).toMatchObject({ refusal: { name: 'RefundAlreadyClaimed' } });
    expect(run.node.refundPaidMsat()).toBe(400_000n);
    const r = receiptOf(run);
    expect(r).toMatchObject({
      endReason: 'REFUND_CLAIMED',
      settledMsat: 500_000n,
      refundPaidMsat: 400_000n,
      costMsat: 100_000n,
    });
    expect(r.settledMsat - r.refundPaidMsat).toBe(r.costMsat);
    expect(run.node.violations).toEqual([]);
  });

  it('a failed payout reopens the claim; an in-doubt one stays in doubt until the node decides', () => {
    const run = walkedAway();
    const code = run.refundCode();
    run.node.payOutcome = 'failed';
    run.claim(code, run.payerInvoice(400_000n, 'a'), 'c1');
    run.deliver();
    expect(run.phase()).toBe('refundOpen');
    run.node.payOutcome = 'inDoubt';
    run.claim(code, run.payerInvoice(400_000n, 'b'), 'c2');
    run.deliver();
    expect(run.phase()).toBe('refundClaimed');
    run.advance(8 * 24 * 3_600_000); // past the refund validity: an in-doubt claim does not expire
    expect(run.phase()).toBe('refundClaimed');
    const claim = run.state.phase === 'refundClaimed' ? run.state.refund.claim : null;
    run.step({
      type: 'payResult',
      atMs: run.now,
      paymentHash: claim?.paymentHash ?? '',
      outcome: 'succeeded',
      feeMsat: 7n,
    });
    expect(receiptOf(run)).toMatchObject({
      endReason: 'REFUND_CLAIMED',
      refundPaidMsat: 400_000n,
      refundFeeMsat: 7n,
    });
  });

  it('an unclaimed refund expires; later claims are refused', () => {
    const run = walkedAway();
    run.advance(7 * 24 * 3_600_000);
    expect(receiptOf(run)).toMatchObject({ endReason: 'REFUND_EXPIRED', forfeitedMsat: 400_000n });
    expect(run.claim(run.withdrawSecret, run.payerInvoice(400_000n))).toMatchObject({
      refusal: { name: 'RefundExpired' },
    });
  });

  it('settles the deposit before its HTLC expires, even while still charging', () => {
    const run = new Run();
    run.node.htlcLifetimeMs = 1_200_000; // settle by 600 s (margin 600 s)
    run.requestDeposit(500_000n);
    run.drive(0);
    run.deliver();
    run.payDeposit();
    run.drive(100);
    run.advance(599_999);
    expect(run.evseOn).toBe(true);
    run.advance(1);
    expect(run.evseOn).toBe(false);
    run.advance(10_000); // meter timeout; the deadline has passed, so walk away at once
    run.deliver();
    run.deliver();
    expect(run.node.invoices.get(run.depositHash)?.state).toBe('settled');
    expect(run.phase()).toBe('refundOpen');
  });

  it('refuses a deposit whose HTLC expires within the margin', () => {
    const run = new Run();
    run.node.htlcLifetimeMs = 600_000;
    run.requestDeposit(500_000n);
    run.deliver();
    run.payDeposit();
    expect(run.evseOn).toBe(false);
    run.deliver();
    expect(receiptOf(run)).toMatchObject({ endReason: 'DEPOSIT_REFUSED', settledMsat: 0n });
  });
});

describe('walk-up: requests and node failures', () => {
  it('refuses deposits out of range and bad entropy, naming why', () => {
    const run = new Run();
    run.requestDeposit(99_999n, 'low');
    expect(run.replies.get('low')).toMatchObject({ refusal: { name: 'DepositOutOfRange' } });
    run.step({
      type: 'depositRequested',
      atMs: run.now,
      requestId: 'same',
      amountMsat: 200_000n,
      sessionId: 's',
      depositPreimageHex: run.depositPreimage,
      finalPreimageHex: run.depositPreimage,
      withdrawSecretHex: run.withdrawSecret,
      ivHex: '00'.repeat(16),
    });
    expect(run.replies.get('same')).toMatchObject({ refusal: { name: 'EntropyInvalid' } });
    expect(run.phase()).toBe('idle');
    run.requestDeposit(200_000n, 'ok');
    run.requestDeposit(200_000n, 'second');
    expect(run.replies.get('second')).toMatchObject({ refusal: { name: 'WalkupBusy' } });
  });

  it('a vehicle-module handshake mid-walk-up is refused (WalkupActive)', () => {
    const idle = walkupStep(
      createWalkup(),
      { type: 'cableSessionRequested', atMs: T0, requestId: 'cable' },
      testConfig(),
    );
    expect(idle.effects).toContainEqual({ type: 'reply', requestId: 'cable', reply: { kind: 'accepted' } });
    const run = charging();
    run.step({ type: 'cableSessionRequested', atMs: run.now, requestId: 'cable' });
    expect(run.replies.get('cable')).toMatchObject({ kind: 'refused', refusal: { name: 'WalkupActive' } });
    expect(run.evseOn).toBe(true);
  });

  it('retries failed settle/cancel/create calls after nodeRetryMs', () => {
    const run = charging(500_000n);
    run.drive(200);
    run.step({ type: 'unplug', atMs: run.now });
    run.node.failCalls = 1;
    run.drive(0); // create final fails
    run.deliver();
    expect(run.node.invoices.has(run.finalHash)).toBe(false);
    run.advance(5000);
    run.deliver();
    run.payFinal();
    run.node.failCalls = 1; // cancel of the deposit fails
    run.deliver();
    expect(run.phase()).toBe('closing');
    run.advance(5000);
    run.deliver();
    run.deliver();
    expect(receiptOf(run)).toMatchObject({ endReason: 'FINAL_PAID', settledMsat: 20_000n });
    expect(run.node.violations).toEqual([]);
  });

  it('a deposit cancelled by the node while charging cuts power (DEPOSIT_LOST)', () => {
    const run = charging();
    run.drive(100);
    for (const ev of run.node.expire(run.depositHash, run.now)) run.step(ev);
    expect(run.evseOn).toBe(false);
    expect(run.state.phase !== 'idle' && run.state.session?.stopReason).toBe('DEPOSIT_LOST');
  });

  it('deserialises only states of its schema version', () => {
    expect(checkWalkupState({ schemaVersion: 2, phase: 'idle' })).toMatchObject({
      ok: false,
      error: { name: 'WalkupSchemaUnsupported' },
    });
    expect(checkWalkupState({ schemaVersion: 1, phase: 'charging' })).toMatchObject({
      ok: false,
      error: { name: 'WalkupStateMalformed' },
    });
    expect(checkWalkupState('x')).toMatchObject({ ok: false });
  });
});

describe('walk-up: restart', () => {
  it('a restart while charging re-energizes on the held deposit; one while closing finishes without a double settle', () => {
    const run = charging();
    run.drive(300);
    run.restart();
    expect(run.evseOn).toBe(true);
    run.step({ type: 'unplug', atMs: run.now });
    run.drive(0);
    run.deliver();
    run.payFinal();
    run.deliver(1); // deposit cancelled → settle final issued
    run.restart(); // the settle answer is lost (maybe done, maybe not)
    run.deliver();
    expect(run.phase()).toBe('ended');
    expect(run.node.violations).toEqual([]);
    expect(run.node.settledMsat()).toBe(30_000n);
  });
});

describe('walk-up: LNURL description hash', () => {
  it('commits the deposit invoice to the metadata hash, also when re-created after a crash', () => {
    const run = new Run();
    run.crashBeforeEffects = true;
    const dh = 'ab'.repeat(32);
    run.step({
      type: 'depositRequested',
      atMs: run.now,
      requestId: 'r1',
      amountMsat: 200_000n,
      sessionId: 'walkup-1',
      depositPreimageHex: run.depositPreimage,
      finalPreimageHex: run.finalPreimage,
      withdrawSecretHex: run.withdrawSecret,
      ivHex: '00'.repeat(16),
      descriptionHashHex: dh,
    });
    expect(run.node.invoices.has(run.depositHash)).toBe(true); // re-created by the restore
    const creates = run.effects.filter((e) => e.type === 'createHoldInvoice');
    expect(creates).toHaveLength(2);
    for (const e of creates)
      expect(e).toMatchObject({ descriptionHashHex: dh, paymentHash: run.depositHash });
  });
});

describe('walk-up: overpaid deposit and remote stop', () => {
  it('a deposit held for more than invoiced counts in full: the walk-away refund returns the excess', () => {
    const run = new Run();
    run.requestDeposit(200_000n);
    run.drive(0);
    run.deliver();
    run.payDeposit(5_000n);
    run.drive(500);
    run.step({ type: 'remoteStop', atMs: run.now, reason: 'CSMS RequestStopTransaction' });
    expect(run.records.find((r) => r.kind === 'remoteStop')?.data.reason).toBe('CSMS RequestStopTransaction');
    run.drive(0);
    run.deliver();
    run.advance(300_000);
    run.deliver();
    expect(run.state.phase === 'refundOpen' && run.state.refund.amountMsat).toBe(155_000n);
    run.claim(run.refundCode(), run.payerInvoice(155_000n));
    run.deliver();
    const r = receiptOf(run);
    expect(r).toMatchObject({ stopReason: 'REMOTE_STOP', depositMsat: 205_000n, costMsat: 50_000n });
    expect(r.settledMsat - r.refundPaidMsat).toBe(50_000n);
  });
});

describe('walk-up: an invoice created after it was given up', () => {
  it('is cancelled again when it appears, and again if an HTLC is held on it', () => {
    const c = testConfig();
    const run = new Run(c);
    let s = walkupStep(
      run.state,
      {
        type: 'depositRequested',
        atMs: T0,
        requestId: 'r1',
        amountMsat: 200_000n,
        sessionId: 'late',
        depositPreimageHex: run.depositPreimage,
        finalPreimageHex: run.finalPreimage,
        withdrawSecretHex: run.withdrawSecret,
        ivHex: '00'.repeat(16),
      },
      c,
    ).state;
    // the create call is slow; the quote expires first and the cancel meets no invoice
    let r = walkupStep(s, { type: 'tick', atMs: T0 + 120_000 }, c);
    expect(r.effects).toContainEqual({ type: 'cancelHoldInvoice', paymentHash: run.depositHash });
    r = walkupStep(r.state, { type: 'cancelled', atMs: T0 + 120_001, paymentHash: run.depositHash }, c);
    expect(r.state.phase).toBe('ended');
    s = r.state;
    r = walkupStep(
      s,
      { type: 'holdInvoiceCreated', atMs: T0 + 120_002, paymentHash: run.depositHash, bolt11: 'lnbcrt1x' },
      c,
    );
    expect(r.effects).toContainEqual({ type: 'cancelHoldInvoice', paymentHash: run.depositHash });
    r = walkupStep(
      r.state,
      {
        type: 'held',
        atMs: T0 + 120_003,
        paymentHash: run.depositHash,
        amountMsat: 200_000n,
        htlcExpiryMs: T0 + 9e6,
      },
      c,
    );
    expect(r.effects).toContainEqual({ type: 'cancelHoldInvoice', paymentHash: run.depositHash });
    expect(r.effects.some((e) => e.type === 'energize')).toBe(false);
  });
});

describe('walk-up: the chain decides the deposit deadline', () => {
  it('a later look at the held HTLC brings the settle-by time forward (never back) and stops in time', () => {
    const run = charging(500_000n);
    const before = run.state.phase === 'charging' ? run.state.session.settleByMs : null;
    expect(before).not.toBeNull();
    const c = testConfig();
    // blocks came faster than assumed: the shell re-reads the HTLC expiry, now 1 s after the margin
    const sooner = run.now + c.settleMarginMs + 1000;
    run.step({
      type: 'held',
      atMs: run.now,
      paymentHash: run.depositHash,
      amountMsat: 500_000n,
      htlcExpiryMs: sooner,
    });
    expect(run.state.phase === 'charging' && run.state.session.settleByMs).toBe(run.now + 1000);
    // a later (longer) estimate never moves it back
    run.step({
      type: 'held',
      atMs: run.now,
      paymentHash: run.depositHash,
      amountMsat: 500_000n,
      htlcExpiryMs: sooner + 3_600_000,
    });
    expect(run.state.phase === 'charging' && run.state.session.settleByMs).toBe(run.now + 1000);
    run.advance(1000);
    run.step({ type: 'tick', atMs: run.now });
    expect(run.state.phase === 'charging').toBe(false);
    expect(run.state.phase !== 'idle' && run.state.session?.stopReason).toBe('DEPOSIT_EXPIRING');
  });
});
