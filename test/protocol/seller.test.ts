import { describe, expect, it } from 'vitest';
import {
  createSeller,
  parseFrame,
  Reason,
  sellerStep,
  type Effect,
  type SellerInvoice,
  buyerKeyed,
  cancelWaitMs,
} from '../../protocol/index.js';
import { injectFromVehicle, Sim, testBuyerConfig, testSellerConfig } from './harness.js';

function kinds(effects: Effect[]): string[] {
  return effects.map((e) =>
    e.type === 'send' ? `send:${e.message.type}` : e.type === 'record' ? `record:${e.kind}` : e.type,
  );
}
function charging(
  over: Parameters<typeof testSellerConfig>[0] = {},
  buyer: Parameters<typeof testBuyerConfig>[0] = {},
): Sim {
  const sim = new Sim(testSellerConfig(over), testBuyerConfig(buyer));
  sim.plug();
  expect(sim.seller.phase).toBe('charging');
  return sim;
}

/** A charging session with payments held after 3 s: its open invoice, unpaid. */
function unpaidInvoice(): { sim: Sim; open: SellerInvoice & { paymentHash: string } } {
  const sim = charging();
  sim.autoPay = false;
  sim.advance(3000);
  const open = sim.seller.invoices.find((i) => i.status === 'open');
  if (open?.paymentHash == null) throw new Error('no open invoice');
  return { sim, open: { ...open, paymentHash: open.paymentHash } };
}

describe('seller: handshake', () => {
  it('idle + plug: sends a clear hello with its node key and a fresh session id', () => {
    const s0 = createSeller(testSellerConfig());
    const { state, effects } = sellerStep(s0, { type: 'plug', atMs: 1, entropyHex: 'aa'.repeat(32) });
    expect(state.phase).toBe('handshake');
    expect(s0.phase).toBe('idle');
    const send = effects.find((e) => e.type === 'send');
    const p = send?.type === 'send' ? parseFrame(send.frame) : undefined;
    expect(p?.ok && p.value.kind === 'clear' && p.value.message).toMatchObject({
      type: 'hello',
      role: 'wall',
      identityPub: s0.config.nodePubkey,
    });
  });

  it('idle + frame or meter: ignored', () => {
    const s0 = createSeller(testSellerConfig());
    expect(sellerStep(s0, { type: 'frame', atMs: 1, bytes: Uint8Array.of(1) }).state.phase).toBe('idle');
    expect(
      sellerStep(s0, { type: 'meter', atMs: 1, energyWh: 5, powerW: 0, voltageV: 0, currentA: 0 }).effects,
    ).toEqual([]);
  });

  it('handshake: resends hello every helloRetryMs, times out after handshakeTimeoutMs', () => {
    let s = sellerStep(createSeller(testSellerConfig()), {
      type: 'plug',
      atMs: 0,
      entropyHex: 'aa'.repeat(32),
    }).state;
    const r1 = sellerStep(s, { type: 'tick', atMs: 1000 });
    expect(kinds(r1.effects)).toEqual(['send:hello']);
    s = r1.state;
    const r2 = sellerStep(s, { type: 'tick', atMs: 30_001 });
    expect(r2.effects.find((e) => e.type === 'sessionEnded')).toMatchObject({
      reason: Reason.HANDSHAKE_TIMEOUT,
      error: expect.any(String),
    });
  });

  it('handshake + vehicle hello: derives keys and asks the node to sign the transcript', () => {
    const sim = new Sim();
    const e = sim.exchangeHellos();
    expect(sim.seller.phase).toBe('authenticating');
    expect(e.find((x) => x.type === 'signWithNodeKey')).toMatchObject({
      text: expect.stringMatching(/^boltcharge\/3 handshake wall [0-9a-f]{64}$/),
    });
  });

  it('ends with LOCAL_FAULT when its node signs with another key', () => {
    const sim = new Sim();
    sim.exchangeHellos();
    const req = sim.sellerQueue.shift();
    if (req?.type !== 'nodeSignature') throw new Error('no sign request');
    const e = sim.stepSeller({ ...req, signature: '1f' + '33'.repeat(64) });
    expect(e.find((x) => x.type === 'sessionEnded')).toMatchObject({ reason: Reason.LOCAL_FAULT });
  });

  it('refuses a vehicle whose auth signature does not match its hello key', () => {
    const sim = new Sim();
    sim.plugBoth();
    sim.deliverToBuyer();
    sim.toSeller.pop(); // drop the genuine auth
    sim.deliverToSeller();
    const buyer = sim.buyer;
    if (buyerKeyed(buyer)) buyer.channel = { ...buyer.channel, sendCounter: 1 };
    const e = injectFromVehicle(sim, { type: 'auth', signature: '1f' + '44'.repeat(64) });
    expect(e.find((x) => x.type === 'sessionEnded')).toMatchObject({ reason: Reason.HANDSHAKE_FAILED });
  });
});

describe('seller: deposit, energy and payment', () => {
  it('offered + accept → deposit; no energy until the deposit is paid, then energize once', () => {
    const sim = new Sim();
    sim.autoPay = false;
    sim.plug();
    expect(sim.seller.phase).toBe('deposit');
    expect(sim.energized).toBe(false);
    expect(sim.ofType(sim.sellerEffects, 'createInvoice')).toHaveLength(1);
    sim.settle(sim.heldPayments.shift()!.hash);
    sim.run();
    expect(sim.energized).toBe(false);
    expect(sim.seller.paidWh).toBe(32);
    sim.settle(sim.heldPayments.shift()!.hash);
    sim.run();
    expect(sim.energized).toBe(true);
    expect(sim.seller.phase).toBe('charging');
    expect(sim.ofType(sim.sellerEffects, 'energize')).toHaveLength(1);
  });

  it('does not energize without a meter reading even when paid', () => {
    const sim = new Sim();
    sim.plugBoth();
    sim.run();
    expect(sim.seller.paidWh).toBe(64);
    expect(sim.energized).toBe(false);
    sim.meters();
    sim.run();
    expect(sim.energized).toBe(true);
  });

  it('keeps the deposit paid ahead with blocks sized to power (16 s cadence)', () => {
    const sim = charging();
    sim.advance(60_000);
    const blocks = sim.seller.invoices.filter((i) => i.status === 'settled').map((i) => i.blockWh);
    expect(blocks.slice(2).every((b) => b === 32)).toBe(true);
    expect(sim.seller.paidWh - sim.seller.deliveredWh).toBeGreaterThanOrEqual(0);
  });

  it('cuts power when paid energy plus grace runs out, and resumes when paid', () => {
    const sim = charging({ graceWh: 5 });
    sim.autoPay = false;
    sim.advance(60_000);
    expect(sim.energized).toBe(false);
    expect(sim.seller.phase).toBe('suspended');
    expect(sim.seller.deliveredWh - sim.seller.paidWh).toBeLessThanOrEqual(5 + 2);
    expect(sim.ofType(sim.sellerEffects, 'cutPower').at(-1)?.reason).toBe(Reason.UNPAID);
    sim.autoPay = true;
    for (const p of sim.heldPayments.splice(0)) sim.settle(p.hash);
    sim.run();
    expect(sim.energized).toBe(true);
    expect(sim.seller.phase).toBe('charging');
  });

  it('ends with UNPAID when resumeWhenPaid is off', () => {
    const sim = charging({ resumeWhenPaid: false });
    sim.autoPay = false;
    sim.advance(60_000);
    const ended = sim.ofType(sim.sellerEffects, 'sessionEnded')[0];
    expect(ended?.reason).toBe(Reason.UNPAID);
    expect(ended?.receipt?.totalPaidMsat).toBe(sim.seller.paidMsat);
  });

  it('reissues after an invoice expires unpaid', () => {
    const { sim, open } = unpaidInvoice();
    const e = sim.stepSeller({ type: 'invoiceExpired', atMs: sim.now, paymentHash: open.paymentHash });
    expect(kinds(e)).toContain('createInvoice');
  });

  it('cancels a declined invoice and ends after maxConsecutiveDeclines', () => {
    const sim = charging();
    sim.failPayments = true;
    sim.advance(20_000);
    expect(sim.ofType(sim.sellerEffects, 'cancelInvoice').length).toBeGreaterThanOrEqual(3);
    expect(['closing', 'ended']).toContain(sim.seller.phase);
  });

  it('alarms and cancels when its node creates an invoice that differs from the request', () => {
    const sim = charging();
    sim.autoPay = false;
    sim.advance(3000);
    const requested = sim.seller.invoices.find((i) => i.status === 'open');
    expect(requested).toBeDefined();
    const seq = sim.seller.invoices.length;
    sim.seller.invoices.push({ ...requested!, seq, status: 'requested', paymentHash: null, bolt11: null });
    const e = sim.stepSeller({
      type: 'invoiceCreated',
      atMs: sim.now,
      seq,
      bolt11: requested!.bolt11!,
      paymentHash: 'ab'.repeat(32),
    });
    expect(kinds(e)).toEqual(expect.arrayContaining(['cancelInvoice', 'alarm']));
  });

  it('ignores settlement of an unknown invoice', () => {
    const sim = charging();
    const paid = sim.seller.paidMsat;
    sim.stepSeller({
      type: 'invoiceSettled',
      atMs: sim.now,
      paymentHash: 'ef'.repeat(32),
      amountMsat: 10n ** 9n,
    });
    expect(sim.seller.paidMsat).toBe(paid);
  });
});

describe('seller: link, heartbeat, stop and receipt', () => {
  it('cuts power on link down and resumes on link up', () => {
    const sim = charging();
    sim.stepSeller({ type: 'linkDown', atMs: sim.now });
    expect(sim.energized).toBe(false);
    expect(sim.seller.phase).toBe('suspended');
    sim.stepSeller({ type: 'linkUp', atMs: sim.now });
    expect(sim.energized).toBe(true);
  });

  it('pings when idle and ends with HEARTBEAT_LOST after silence', () => {
    const sim = charging();
    sim.linkUp = false;
    const e1 = sim.stepSeller({ type: 'tick', atMs: sim.now + 4000 });
    expect(kinds(e1)).toContain('send:ping');
    sim.stepSeller({ type: 'tick', atMs: sim.now + 10_001 });
    sim.run();
    const ended = sim.ofType(sim.sellerEffects, 'sessionEnded')[0];
    expect(ended?.reason).toBe(Reason.HEARTBEAT_LOST);
    expect(ended?.receipt).toBeDefined();
    expect(sim.energized).toBe(false);
  });

  it('records the cable round trip when the car echoes a ping; a stale or future echo is ignored', () => {
    const sim = charging();
    const rtt = (e: Effect[]) =>
      e
        .filter((x) => x.type === 'record' && x.kind === 'cableRoundTrip')
        .map((x) => x.type === 'record' && x.data);
    expect(rtt(injectFromVehicle(sim, { type: 'pong', atMs: sim.now - 120 }))).toEqual([{ rttMs: 120 }]);
    expect(rtt(injectFromVehicle(sim, { type: 'pong', atMs: sim.now + 5 }))).toEqual([]);
    expect(rtt(injectFromVehicle(sim, { type: 'pong', atMs: sim.now - 3_600_000 }))).toEqual([]);
  });

  it('unplug: cuts power and signs a receipt that verifies', () => {
    const sim = charging();
    sim.advance(20_000);
    sim.stepSeller({ type: 'unplug', atMs: sim.now });
    sim.run();
    const ended = sim.ofType(sim.sellerEffects, 'sessionEnded')[0];
    expect(ended?.reason).toBe(Reason.UNPLUGGED);
    expect(ended?.receipt?.energyWh).toBe(sim.seller.deliveredWh);
    expect(sim.energized).toBe(false);
  });

  it('operator stop: sends stop, then the receipt; the buyer verifies it', () => {
    const sim = charging();
    sim.advance(20_000);
    sim.stepSeller({ type: 'stopRequest', atMs: sim.now, reason: Reason.USER_STOP });
    sim.run();
    const s = sim.ofType(sim.sellerEffects, 'sessionEnded')[0];
    const b = sim.ofType(sim.buyerEffects, 'sessionEnded')[0];
    expect(s?.receipt).toEqual(b?.receipt);
    expect(b?.error).toBeUndefined();
    expect(b?.reason).toBe(Reason.USER_STOP);
  });

  it('an invoice paid while the session closes is counted and the receipt re-signed with it', () => {
    const { sim, open } = unpaidInvoice();
    sim.stepSeller({ type: 'stopRequest', atMs: sim.now, reason: Reason.USER_STOP });
    expect(sim.seller.phase).toBe('closing');
    // the node answered the cancel (the receipt is being signed) before the settlement reached the machine
    sim.run(10_000, () => sim.seller.phase === 'closing' && sim.seller.receipt.step === 'signing');
    sim.sellerQueue = sim.sellerQueue.filter((e) => e.type !== 'nodeSignature');
    const e = sim.stepSeller({
      type: 'invoiceSettled',
      atMs: sim.now,
      paymentHash: open.paymentHash,
      amountMsat: open.amountMsat,
    });
    expect(kinds(e)).toContain('signWithNodeKey');
    sim.run();
    const receipt = sim.ofType(sim.sellerEffects, 'sessionEnded')[0]?.receipt;
    expect(receipt?.invoices.map((i) => i.paymentHash)).toContain(open.paymentHash);
    expect(receipt?.totalPaidMsat).toBe(sim.seller.paidMsat);
  });

  it('waits for its node to answer the cancels before signing: a payment racing the close is in the receipt the car accepts', () => {
    const { sim, open } = unpaidInvoice();
    sim.holdCancels = true;
    sim.stepSeller({ type: 'stopRequest', atMs: sim.now, reason: Reason.USER_STOP });
    sim.run();
    // the car's payment of the invoice it holds reaches the node before the cancel does
    expect(sim.seller).toMatchObject({ phase: 'closing', receipt: { step: 'awaitingCancels' } });
    expect(sim.ofType(sim.sellerEffects, 'signWithNodeKey')).toHaveLength(1); // the handshake's only
    expect(sim.heldCancels).toEqual([open.paymentHash]);
    for (const p of sim.heldPayments.splice(0)) sim.settle(p.hash);
    sim.run();
    expect(sim.seller).toMatchObject({ phase: 'closing', receipt: { step: 'awaitingCancels' } });
    sim.answerCancel(sim.heldCancels.shift()!); // refused: the invoice is settled
    sim.run();
    const wall = sim.ofType(sim.sellerEffects, 'sessionEnded')[0];
    const car = sim.ofType(sim.buyerEffects, 'sessionEnded')[0];
    expect(wall?.receipt?.invoices.map((i) => i.paymentHash)).toContain(open.paymentHash);
    expect(car?.receipt).toEqual(wall?.receipt);
    expect(car?.error).toBeUndefined();
    expect(sim.ofType(sim.buyerEffects, 'alarm').map((a) => a.reason)).not.toContain(Reason.RECEIPT_INVALID);
    expect(sim.ofType(sim.buyerEffects, 'pay').map((p) => p.paymentHash)).toContain(open.paymentHash);
  });

  it('signs the receipt anyway when its node does not answer a cancel within half the heartbeat timeout', () => {
    const { sim } = unpaidInvoice();
    sim.holdCancels = true;
    sim.stepSeller({ type: 'stopRequest', atMs: sim.now, reason: Reason.USER_STOP });
    sim.run();
    const closedAt = sim.now;
    const half = cancelWaitMs(sim.seller.config);
    expect(half).toBe(5_000);
    expect(kinds(sim.stepSeller({ type: 'tick', atMs: closedAt + half }))).not.toContain('signWithNodeKey');
    const e = sim.stepSeller({ type: 'tick', atMs: closedAt + half + 1 });
    expect(kinds(e)).toContain('signWithNodeKey');
    sim.run();
    expect(sim.ofType(sim.buyerEffects, 'sessionEnded')[0]).toMatchObject({ reason: Reason.USER_STOP });
    expect(sim.ofType(sim.buyerEffects, 'sessionEnded')[0]?.error).toBeUndefined();
  });

  it('ends at the buyer’s target energy, never invoicing beyond it', () => {
    const sim = charging({}, { targetEnergyWh: 100 });
    sim.advance(120_000);
    expect(sim.seller.paidWh).toBe(100);
    expect(sim.ofType(sim.sellerEffects, 'sessionEnded')[0]?.reason).toBe(Reason.TARGET_REACHED);
  });

  it('answers an unexpected message with an error and keeps the session', () => {
    const sim = charging();
    const e = injectFromVehicle(sim, { type: 'renew', offerSeq: 9, priceMsatPerWh: 1n, effectiveAtWh: 0 });
    expect(kinds(e)).toContain('send:error');
    expect(sim.seller.phase).toBe('charging');
  });

  it('stop during the deposit: no energy, a receipt with what was paid', () => {
    const sim = new Sim();
    sim.autoPay = false;
    sim.plug();
    expect(sim.seller.phase).toBe('deposit');
    sim.stepSeller({ type: 'stopRequest', atMs: sim.now, reason: Reason.EQUIPMENT_FAULT });
    sim.run();
    const ended = sim.ofType(sim.sellerEffects, 'sessionEnded')[0];
    expect(ended).toMatchObject({
      reason: Reason.EQUIPMENT_FAULT,
      receipt: { energyWh: 0, totalPaidMsat: 0n },
    });
    expect(sim.ofType(sim.sellerEffects, 'energize')).toHaveLength(0);
    expect(sim.ofType(sim.sellerEffects, 'cancelInvoice')).toHaveLength(1);
    expect(sim.ofType(sim.buyerEffects, 'sessionEnded')[0]?.reason).toBe(Reason.EQUIPMENT_FAULT);
  });

  it('ends with an explicit error when the node never signs the receipt', () => {
    const sim = charging();
    sim.stepSeller({ type: 'stopRequest', atMs: sim.now, reason: Reason.USER_STOP });
    sim.run(10_000, () => sim.seller.phase === 'closing' && sim.seller.receipt.step === 'signing');
    sim.sellerQueue = [];
    const e = sim.stepSeller({ type: 'tick', atMs: sim.now + 10_001 });
    expect(e.find((x) => x.type === 'sessionEnded')).toMatchObject({
      reason: Reason.USER_STOP,
      error: expect.stringMatching(/sign/),
    });
  });

  it('a new plug after the end starts a fresh session', () => {
    const sim = charging();
    sim.stepSeller({ type: 'unplug', atMs: sim.now });
    sim.run();
    const id = sim.seller.sessionId;
    sim.stepSeller({ type: 'plug', atMs: sim.now, entropyHex: 'ee'.repeat(32) });
    expect(sim.seller.phase).toBe('handshake');
    expect(sim.seller.sessionId).not.toBe(id);
    expect(sim.seller.invoices).toEqual([]);
  });
});
