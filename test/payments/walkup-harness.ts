// Test harness for the walk-up machine: an in-process fake Lightning node (hold invoices by hash, settle/cancel
// exactly as lnd allows them, refund payments), an EVSE with a meter register, and a driver. Unit tests of the
// machine's logic only; the real node is proven in the regtest tests of the daemon.
import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { deserializeState, serializeState } from '../../protocol/serialize.js';
import { decryptAesSuccessAction } from '../../payments/lnurl.js';
import { walkupConfig, type WalkupConfig } from '../../payments/walkup-config.js';
import { checkWalkupState, createWalkup, walkupStep } from '../../payments/walkup.js';
import type {
  WalkupEffect,
  WalkupEvent,
  WalkupRecord,
  WalkupReply,
  WalkupState,
} from '../../payments/walkup-state.js';
import { makeInvoice, T0, WALL_KEY, OTHER_KEY } from '../protocol/harness.js';

export { T0 };

export const PRICE = 100n;

/** The test configuration: 100 msat/Wh, deposits 100 000..1 000 000 msat, 2 Wh grace. */
export function testConfig(over: Partial<WalkupConfig> = {}): WalkupConfig {
  const r = walkupConfig({
    network: 'regtest',
    priceMsatPerWh: PRICE,
    minDepositMsat: 100_000n,
    maxDepositMsat: 1_000_000n,
    settleMarginMs: 600_000,
    ...over,
  });
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

export function hex32(seed: string): string {
  return createHash('sha256').update(seed).digest('hex');
}
export function sha256OfHex(hex: string): string {
  return createHash('sha256').update(Buffer.from(hex, 'hex')).digest('hex');
}

interface NodeInvoice {
  state: 'open' | 'held' | 'settled' | 'cancelled';
  amountMsat: bigint;
  heldMsat: bigint;
  purpose: 'deposit' | 'final';
  settleCalls: number;
  cancelCalls: number;
  htlcExpiryMs: number;
}

/** A fake lnd: hold invoices keyed by hash and the wall's outgoing refund payments. */
export class FakeNode {
  invoices = new Map<string, NodeInvoice>();
  payments = new Map<string, { state: 'succeeded' | 'failed' | 'inFlight'; amountMsat: bigint }>();
  /** Violations: settle of a non-held or already settled invoice, cancel after settle, double payout. */
  violations: string[] = [];
  /** Next refund payment outcome. */
  payOutcome: 'succeeded' | 'failed' | 'inDoubt' = 'succeeded';
  /** Fail the next node calls (count). */
  failCalls = 0;
  htlcLifetimeMs = 3_600_000;

  execute(e: WalkupEffect, atMs: number): WalkupEvent[] {
    switch (e.type) {
      case 'createHoldInvoice': {
        if (this.failCalls > 0) {
          this.failCalls--;
          return [{ type: 'holdInvoiceFailed', atMs, paymentHash: e.paymentHash, error: 'node unreachable' }];
        }
        if (!this.invoices.has(e.paymentHash))
          this.invoices.set(e.paymentHash, {
            state: 'open',
            amountMsat: e.amountMsat,
            heldMsat: 0n,
            purpose: e.purpose,
            settleCalls: 0,
            cancelCalls: 0,
            htlcExpiryMs: 0,
          });
        return [
          {
            type: 'holdInvoiceCreated',
            atMs,
            paymentHash: e.paymentHash,
            bolt11: this.bolt11(e.paymentHash, e.amountMsat, atMs),
          },
        ];
      }
      case 'settleHoldInvoice': {
        const inv = this.invoices.get(e.paymentHash);
        const down = this.unavailable(e.paymentHash, 'settle', atMs);
        if (down !== null || inv === undefined)
          return [down ?? this.callFailed(e.paymentHash, 'settle', atMs)];
        inv.settleCalls++;
        if (sha256OfHex(e.preimageHex) !== e.paymentHash)
          this.violations.push('settle with a wrong preimage');
        if (inv.state === 'settled') {
          this.violations.push(`double settle of ${inv.purpose}`);
          return [];
        }
        if (inv.state !== 'held') {
          this.violations.push(`settle of a ${inv.state} ${inv.purpose}`);
          return [
            { type: 'nodeCallFailed', atMs, paymentHash: e.paymentHash, call: 'settle', error: inv.state },
          ];
        }
        if (inv.purpose === 'final') {
          const deposit = [...this.invoices.values()].find((i) => i.purpose === 'deposit');
          if (deposit !== undefined && deposit.state !== 'cancelled')
            this.violations.push('final settled before the deposit was cancelled');
        }
        inv.state = 'settled';
        return [{ type: 'settled', atMs, paymentHash: e.paymentHash, amountMsat: inv.heldMsat }];
      }
      case 'cancelHoldInvoice': {
        const inv = this.invoices.get(e.paymentHash);
        const down = this.unavailable(e.paymentHash, 'cancel', atMs);
        if (down !== null) return [down];
        // the shell's contract: cancelling an invoice the node does not know answers `cancelled`
        if (inv === undefined) return [{ type: 'cancelled', atMs, paymentHash: e.paymentHash }];
        inv.cancelCalls++;
        if (inv.state === 'settled') {
          this.violations.push(`cancel of a settled ${inv.purpose}`);
          return [
            { type: 'nodeCallFailed', atMs, paymentHash: e.paymentHash, call: 'cancel', error: 'settled' },
          ];
        }
        inv.state = 'cancelled';
        return [{ type: 'cancelled', atMs, paymentHash: e.paymentHash }];
      }
      case 'payRefund': {
        const prior = this.payments.get(e.paymentHash);
        if (prior !== undefined && prior.state !== 'failed') {
          // lnd refuses to pay a hash again while it is in flight or paid
          return [];
        }
        const paid = [...this.payments.values()].filter((p) => p.state === 'succeeded').length;
        if (this.payOutcome === 'succeeded' && paid > 0) this.violations.push('refund paid twice');
        const state = this.payOutcome === 'inDoubt' ? 'inFlight' : this.payOutcome;
        this.payments.set(e.paymentHash, { state, amountMsat: e.amountMsat });
        return [
          { type: 'payResult', atMs, paymentHash: e.paymentHash, outcome: this.payOutcome, feeMsat: 5n },
        ];
      }
      default:
        return [];
    }
  }

  /** When calls are made to fail: consumes one failure and returns its answer. */
  private unavailable(paymentHash: string, call: 'settle' | 'cancel', atMs: number): WalkupEvent | null {
    if (this.failCalls <= 0) return null;
    this.failCalls--;
    return this.callFailed(paymentHash, call, atMs);
  }
  private callFailed(paymentHash: string, call: 'settle' | 'cancel', atMs: number): WalkupEvent {
    return { type: 'nodeCallFailed', atMs, paymentHash, call, error: 'unavailable' };
  }

  bolt11(paymentHash: string, amountMsat: bigint, atMs: number): string {
    return makeInvoice({ key: WALL_KEY, amountMsat, paymentHash, timestampSec: Math.floor(atMs / 1000) });
  }

  /** The wallet pays (the node holds the HTLC). @returns the held event, or none if not payable */
  pay(paymentHash: string, atMs: number, extraMsat = 0n): WalkupEvent[] {
    const inv = this.invoices.get(paymentHash);
    if (inv === undefined || inv.state !== 'open') return [];
    inv.state = 'held';
    inv.heldMsat = inv.amountMsat + extraMsat;
    inv.htlcExpiryMs = atMs + this.htlcLifetimeMs;
    return [{ type: 'held', atMs, paymentHash, amountMsat: inv.heldMsat, htlcExpiryMs: inv.htlcExpiryMs }];
  }

  /** lnd cancels a held HTLC on its own near expiry. */
  expire(paymentHash: string, atMs: number): WalkupEvent[] {
    const inv = this.invoices.get(paymentHash);
    if (inv === undefined || (inv.state !== 'held' && inv.state !== 'open')) return [];
    inv.state = 'cancelled';
    return [{ type: 'cancelled', atMs, paymentHash }];
  }

  settledMsat(): bigint {
    let t = 0n;
    for (const i of this.invoices.values()) if (i.state === 'settled') t += i.heldMsat;
    return t;
  }
  refundPaidMsat(): bigint {
    let t = 0n;
    for (const p of this.payments.values()) if (p.state === 'succeeded') t += p.amountMsat;
    return t;
  }
}

/** A walk-up session with its node, EVSE and driver, stepping on a manual timeline. */
export class Run {
  state: WalkupState = createWalkup();
  node = new FakeNode();
  now = T0;
  registerWh = 1000;
  evseOn = false;
  pending: WalkupEvent[] = [];
  effects: WalkupEffect[] = [];
  records: WalkupRecord[] = [];
  replies = new Map<string, WalkupReply>();
  /** When set, the next step's effects are lost (crash after the commit, before the effects ran). */
  crashBeforeEffects = false;
  depositPreimage = hex32('deposit');
  finalPreimage = hex32('final');
  withdrawSecret = hex32('withdraw');
  crashes = 0;
  /** Steps taken; at `crashAtStep` the process dies, before or after that step's effects ran. */
  steps = 0;
  crashAtStep: number | null = null;
  crashMode: 'beforeEffects' | 'afterEffects' = 'afterEffects';

  constructor(public config: WalkupConfig = testConfig()) {}

  get depositHash(): string {
    return sha256OfHex(this.depositPreimage);
  }
  get finalHash(): string {
    return sha256OfHex(this.finalPreimage);
  }

  /** One machine step plus its effects on the node and the EVSE; node answers are queued in `pending`. */
  step(ev: WalkupEvent): WalkupEffect[] {
    const before = serializeState(this.state);
    const r = walkupStep(this.state, ev, this.config);
    expect(serializeState(this.state)).toBe(before); // the input state is not modified
    this.check(r.state);
    this.state = r.state;
    this.records.push(...r.records);
    this.effects.push(...r.effects);
    this.steps++;
    const crashHere = this.steps === this.crashAtStep;
    if (this.crashBeforeEffects || (crashHere && this.crashMode === 'beforeEffects')) {
      this.crashBeforeEffects = false;
      this.restart();
      return r.effects;
    }
    for (const e of r.effects) this.apply(e);
    if (crashHere) this.restart();
    return r.effects;
  }

  private apply(e: WalkupEffect): void {
    if (e.type === 'energize') {
      const d = this.node.invoices.get(this.depositHash);
      if (d?.state !== 'held') throw new Error(`energize without a held deposit (${d?.state})`);
      this.evseOn = true;
    } else if (e.type === 'cutPower') this.evseOn = false;
    else if (e.type === 'reply') this.replies.set(e.requestId, e.reply);
    else this.pending.push(...this.node.execute(e, this.now));
  }

  /** Invariants after every step. */
  private check(s: WalkupState): void {
    const text = serializeState(s);
    const back = deserializeState<unknown>(text);
    expect(back.ok).toBe(true);
    if (back.ok) {
      expect(checkWalkupState(back.value).ok).toBe(true);
      expect(back.value).toEqual(s);
    }
    if (s.phase !== 'idle' && s.session !== null && s.session.energized) {
      const session = s.session;
      expect(s.phase).toBe('charging');
      expect(session.deposit.status).toBe('held');
      const cost = BigInt(session.deliveredWh) * session.priceMsatPerWh;
      expect(cost < (session.deposit.heldMsat ?? 0n) - BigInt(session.graceWh) * session.priceMsatPerWh).toBe(
        true,
      );
    }
  }

  /** Delivers queued node answers (all, or the first n). */
  deliver(n = Infinity): void {
    while (this.pending.length > 0 && n-- > 0) this.step(this.pending.shift() as WalkupEvent);
  }

  advance(ms: number): void {
    this.now += ms;
    this.step({ type: 'tick', atMs: this.now });
  }

  requestDeposit(amountMsat: bigint, requestId = 'r1'): WalkupEffect[] {
    return this.step({
      type: 'depositRequested',
      atMs: this.now,
      requestId,
      amountMsat,
      sessionId: 'walkup-1',
      depositPreimageHex: this.depositPreimage,
      finalPreimageHex: this.finalPreimage,
      withdrawSecretHex: this.withdrawSecret,
      ivHex: '00112233445566778899aabbccddeeff',
    });
  }

  payDeposit(extraMsat = 0n): void {
    for (const ev of this.node.pay(this.depositHash, this.now, extraMsat)) this.step(ev);
  }
  payFinal(): void {
    for (const ev of this.node.pay(this.finalHash, this.now)) this.step(ev);
  }
  /** The EVSE delivers `wh` if it is on, and the meter reports. */
  drive(wh: number): void {
    if (this.evseOn) this.registerWh += wh;
    this.step({ type: 'meter', atMs: this.now, energyWh: this.registerWh });
  }

  /** The decrypted refund code: what the payer's wallet shows after paying the deposit. */
  refundCode(): string {
    const reply = this.replies.get('r1');
    if (reply?.kind !== 'depositInvoice') throw new Error('no deposit invoice');
    const plain = decryptAesSuccessAction(reply.successAction, Buffer.from(this.depositPreimage, 'hex'));
    if (!plain.ok) throw new Error(plain.error.message);
    return plain.value;
  }

  /** A real invoice of the payer's wallet for `amountMsat`. */
  payerInvoice(amountMsat: bigint, seed = 'payer'): string {
    return makeInvoice({
      key: OTHER_KEY,
      amountMsat,
      paymentHash: hex32(seed),
      timestampSec: Math.floor(this.now / 1000),
    });
  }

  claim(secretHex: string, bolt11: string, requestId = 'claim'): WalkupReply | undefined {
    this.step({ type: 'refundClaim', atMs: this.now, requestId, secretHex, bolt11 });
    return this.replies.get(requestId);
  }

  /** kill -9 and restart: pending node answers are lost, the state comes back from its JSON, the node tells. */
  restart(): void {
    this.crashes++;
    this.pending = [];
    this.evseOn = false;
    const back = deserializeState<unknown>(serializeState(this.state));
    if (!back.ok) throw new Error('state does not deserialize');
    const checked = checkWalkupState(back.value);
    if (!checked.ok) throw new Error(checked.error.message);
    this.state = checked.value;
    const invoices = [this.depositHash, this.finalHash].map((paymentHash) => {
      const inv = this.node.invoices.get(paymentHash);
      return inv === undefined
        ? { paymentHash, state: 'unknown' as const }
        : {
            paymentHash,
            state: inv.state,
            amountMsat: inv.state === 'open' ? inv.amountMsat : inv.heldMsat,
            htlcExpiryMs: inv.htlcExpiryMs,
          };
    });
    const claim = this.state.phase === 'refundClaimed' ? this.state.refund.claim : null;
    const p = claim === null ? undefined : this.node.payments.get(claim.paymentHash);
    const payment =
      claim === null
        ? null
        : {
            paymentHash: claim.paymentHash,
            state: p === undefined ? ('unknown' as const) : p.state,
            feeMsat: 5n,
          };
    this.step({ type: 'restored', atMs: this.now, invoices, payment });
  }

  phase(): string {
    return this.state.phase;
  }
  effectTypes(): string[] {
    return this.effects.map((e) => e.type);
  }
}
