/**
 * The payout engine (issue 14): the shell around the pure payout machine (payments/payout.ts). It feeds the
 * wall's settled payments and ended sessions to the machine, stores the machine's state with the ledger rows in
 * one transaction (write-ahead: an attempt is `in_flight` with its payment hash before the payment is sent), runs
 * the effects (LNURL-pay fetch or keysend preimage, payment, node lookup, alarm, statement), and feeds their
 * results back as events. After a restart, every attempt that was in flight is looked up at the node before
 * anything else is done. Nothing here is awaited by charging: the engine runs beside the connectors.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { PayoutNode } from '../../lightning/lnd-payouts.js';
import {
  payoutStep,
  pruneSettled,
  type PayoutConfig,
  type PayoutEffect,
  type PayoutEvent,
} from '../../payments/payout.js';
import {
  canonicalStatementText,
  describeSplit,
  STATEMENT_VERSION,
  type SettlementStatement,
  type SignedStatement,
} from '../../payments/payout-statement.js';
import { splitAmount } from '../../payments/split.js';
import type { Network } from '../../protocol/messages.js';
import { fetchPayoutInvoice, type LnurlFetchOptions } from './lnurl-fetch.js';
import type { PayoutLedger, SettledPayment } from './payout-ledger.js';

const PUBKEY = /^(02|03)[0-9a-f]{64}$/;
const FEED_BATCH = 200;

/** Where the engine reports. */
export interface PayoutEngineEvents {
  /** a recipient is unreachable (raised once until a payout to it succeeds) */
  alarm?(recipient: string, reason: string, failures: number): void;
  alarmCleared?(recipient: string): void;
  /** a payout settled and its statement is signed (e.g. DataTransfer `SplitSettled` to the CSMS) */
  statement?(payoutId: string, signed: SignedStatement): void;
  /** engine trouble that stopped nothing (node down, refusal); for the log */
  warn?(message: string, fields: Record<string, unknown>): void;
}

/** Options of `new PayoutEngine(...)`. */
export interface PayoutEngineOptions {
  ledger: PayoutLedger;
  node: PayoutNode;
  config: PayoutConfig;
  /** the wall's network (LNURL invoices must be on it) */
  network: Network;
  /** clock, ms since epoch */
  now: () => number;
  /** LNURL fetch limits and trust */
  lnurl?: LnurlFetchOptions;
  /** path-finding timeout of a payout, ms (default 60000) */
  payTimeoutMs?: number;
  /** 32 random bytes as hex (keysend preimages); default crypto.randomBytes */
  randomPreimage?: () => string;
  events?: PayoutEngineEvents;
}

/** Runs the payout machine against the ledger and a node. */
export class PayoutEngine {
  private readonly o: PayoutEngineOptions;
  private readonly running = new Set<Promise<void>>();
  private wallPubkey: string | undefined;
  private stopped = false;

  constructor(opts: PayoutEngineOptions) {
    this.o = opts;
  }

  /**
   * Starts after a (re)start: in-flight attempts are looked up at the node first, pending statements signed,
   * then the feed is read.
   */
  async start(): Promise<void> {
    this.step({ kind: 'restarted', atMs: this.o.now() });
    for (const id of this.o.ledger.unsignedSettled()) this.track(this.signStatement(id));
    this.poll();
  }

  /**
   * One round: new settled payments and ended sessions from the wall store, then a tick (due attempts, daily
   * batch). Synchronous; effects run in the background (see {@link idle}).
   */
  poll(): void {
    if (this.stopped) return;
    const nowMs = this.o.now();
    const effects = this.o.ledger.tx(() => {
      const out: PayoutEffect[] = [];
      for (const p of this.o.ledger.unaccruedPayments(FEED_BATCH)) out.push(...this.accrue(p, nowMs));
      // walk-up sessions: what the wall kept is split like a cable payment, and the session's end is announced
      for (const w of this.o.ledger.unfedWalkups(FEED_BATCH)) {
        if (w.paymentHash !== null) out.push(...this.accrue({ ...w, paymentHash: w.paymentHash }, nowMs));
        this.o.ledger.recordSessionEnd(w.sessionId, nowMs);
        out.push(...this.stepInTx({ kind: 'sessionEnded', sessionId: w.sessionId, atMs: nowMs }));
      }
      for (const s of this.o.ledger.unannouncedSessionEnds(FEED_BATCH)) {
        this.o.ledger.recordSessionEnd(s.sessionId, nowMs);
        out.push(...this.stepInTx({ kind: 'sessionEnded', sessionId: s.sessionId, atMs: nowMs }));
      }
      out.push(...this.stepInTx({ kind: 'tick', atMs: nowMs }));
      return out;
    });
    this.runAll(effects);
  }

  /** Records a settled payment as an accrual and feeds it to the machine (inside the poll's transaction). */
  private accrue(p: SettledPayment, nowMs: number): PayoutEffect[] {
    this.o.ledger.recordAccrual(p, nowMs);
    return this.stepInTx({
      kind: 'accrual',
      accrualId: p.paymentHash,
      sessionId: p.sessionId,
      totalMsat: p.receivedMsat,
      atMs: nowMs,
    });
  }

  /** Resolves when no effect is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** Stops starting effects; running ones finish (their results are stored). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.idle();
  }

  private step(event: PayoutEvent, inTx?: () => void): void {
    const effects = this.o.ledger.tx(() => {
      inTx?.();
      return this.stepInTx(event);
    });
    this.runAll(effects);
  }

  private stepInTx(event: PayoutEvent): PayoutEffect[] {
    const nowMs = event.atMs;
    const state = this.o.ledger.loadState(nowMs);
    const r = payoutStep(state, event, this.o.config);
    this.o.ledger.project(r.state, r.effects, nowMs);
    this.o.ledger.saveState(pruneSettled(r.state), nowMs);
    return r.effects;
  }

  private runAll(effects: PayoutEffect[]): void {
    for (const e of effects) this.track(this.run(e));
  }

  private track(p: Promise<void>): void {
    const wrapped = p.catch((err: unknown) => this.warn('payout effect failed', { err: String(err) }));
    this.running.add(wrapped);
    void wrapped.finally(() => this.running.delete(wrapped));
  }

  private warn(message: string, fields: Record<string, unknown>): void {
    this.o.events?.warn?.(message, fields);
  }

  private async run(e: PayoutEffect): Promise<void> {
    switch (e.kind) {
      case 'prepare':
        return this.prepare(e);
      case 'pay':
        return this.pay(e);
      case 'lookup':
        return this.resolve(e.payoutId, e.paymentHash, 'restart lookup');
      case 'alarm':
        this.o.events?.alarm?.(e.recipient, e.reason, e.failures);
        return;
      case 'alarmCleared':
        this.o.events?.alarmCleared?.(e.recipient);
        return;
      case 'settled':
        return this.signStatement(e.payoutId);
    }
  }

  private recipient(name: string): { destination?: string; payeePubkey?: string } {
    return this.o.config.split.recipients.find((r) => r.name === name) ?? {};
  }

  private async prepare(e: Extract<PayoutEffect, { kind: 'prepare' }>): Promise<void> {
    const r = this.recipient(e.recipient);
    const failWith = (reason: string): void =>
      this.step({ kind: 'prepareFailed', payoutId: e.payoutId, reason, atMs: this.o.now() });
    if (!r.destination) return failWith('SplitNoDestination: the recipient has no destination');
    if (PUBKEY.test(r.destination)) {
      const preimage = (this.o.randomPreimage ?? (() => randomBytes(32).toString('hex')))();
      const paymentHash = createHash('sha256').update(Buffer.from(preimage, 'hex')).digest('hex');
      this.step({
        kind: 'prepared',
        payoutId: e.payoutId,
        attempt: { kind: 'keysend', paymentHash, bolt11: null, preimage },
        atMs: this.o.now(),
      });
      return;
    }
    if (!r.payeePubkey) return failWith('SplitPayeeNotPinned: an LNURL destination needs payeePubkey');
    const invoice = await fetchPayoutInvoice(
      {
        destination: r.destination,
        amountMsat: e.amountMsat,
        comment: e.memo,
        payeePubkey: r.payeePubkey,
        network: this.o.network,
      },
      this.o.lnurl,
    );
    if (!invoice.ok) {
      this.warn('payout refused the LNURL answer', { payoutId: e.payoutId, reason: invoice.error.name });
      return failWith(`${invoice.error.name}: ${invoice.error.message}`);
    }
    this.step({
      kind: 'prepared',
      payoutId: e.payoutId,
      attempt: {
        kind: 'invoice',
        paymentHash: invoice.value.paymentHash,
        bolt11: invoice.value.bolt11,
        preimage: null,
      },
      atMs: this.o.now(),
    });
  }

  private async pay(e: Extract<PayoutEffect, { kind: 'pay' }>): Promise<void> {
    const timeoutMs = this.o.payTimeoutMs ?? 60_000;
    const hash = e.attempt.paymentHash;
    try {
      const paid =
        e.attempt.kind === 'invoice'
          ? await this.o.node.payInvoice({ bolt11: e.attempt.bolt11!, maxFeeMsat: e.maxFeeMsat, timeoutMs })
          : await this.o.node.keysend({
              destination: this.recipient(e.recipient).destination!,
              amountMsat: e.amountMsat,
              preimage: e.attempt.preimage!,
              maxFeeMsat: e.maxFeeMsat,
              timeoutMs,
            });
      this.settle(e.payoutId, hash, paid.preimage, paid.feeMsat);
    } catch (err) {
      // Whatever the error says, the node's record decides whether anything left.
      await this.resolve(
        e.payoutId,
        hash,
        err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      );
    }
  }

  /** Asks the node what became of an attempt and feeds the answer to the machine. */
  private async resolve(payoutId: string, paymentHash: string, reason: string): Promise<void> {
    let record;
    try {
      record = await this.o.node.lookupPayment(paymentHash);
    } catch (err) {
      this.warn('payout lookup failed; asking again later', { payoutId, err: String(err) });
      this.step({ kind: 'payPending', payoutId, atMs: this.o.now() });
      return;
    }
    if (record.state === 'succeeded') {
      this.settle(payoutId, paymentHash, record.preimage ?? '', record.feeMsat ?? 0n);
    } else if (record.state === 'in_flight') {
      this.step({ kind: 'payPending', payoutId, atMs: this.o.now() });
    } else {
      const nowMs = this.o.now();
      this.step({ kind: 'payFailed', payoutId, paymentHash, reason, atMs: nowMs }, () =>
        this.o.ledger.endAttempt(paymentHash, 'failed', reason, nowMs),
      );
    }
  }

  private settle(payoutId: string, paymentHash: string, preimage: string, feeMsat: bigint): void {
    const nowMs = this.o.now();
    this.step({ kind: 'paid', payoutId, paymentHash, preimage, feeMsat, atMs: nowMs }, () =>
      this.o.ledger.endAttempt(paymentHash, 'settled', null, nowMs),
    );
  }

  /**
   * Builds the settlement statement of a settled payout from the ledger.
   * @param payoutId the payout
   * @param wallPubkey the key that signs it
   * @returns the statement body
   */
  buildStatement(payoutId: string, wallPubkey: string): SettlementStatement {
    const row = this.o.ledger.payout(payoutId);
    if (!row || row.status !== 'settled' || !row.paymentHash || !row.preimage || row.feeMsat === null) {
      throw new Error(`payout ${payoutId} is not settled`);
    }
    const split = this.o.config.split;
    const r = this.recipient(row.recipient);
    return {
      type: 'boltcharge.split-statement',
      version: STATEMENT_VERSION,
      payoutId,
      wallPubkey,
      recipient: {
        name: row.recipient,
        destination: r.destination ?? null,
        payeePubkey: r.payeePubkey ?? null,
      },
      split: describeSplit(split),
      covered: this.o.ledger.accruals(row.accrualIds).map((a) => ({
        sessionId: a.sessionId,
        paymentHash: a.paymentHash,
        totalMsat: a.totalMsat.toString(),
        partMsat: (splitAmount(a.totalMsat, split)[row.recipient] ?? 0n).toString(),
      })),
      carriedInMsat: row.carriedInMsat.toString(),
      carriedOutMsat: row.carriedOutMsat.toString(),
      amountMsat: row.amountMsat.toString(),
      shares: [
        {
          kind: row.kind ?? 'invoice',
          bolt11: row.bolt11,
          paymentHash: row.paymentHash,
          preimage: row.preimage,
          amountMsat: row.amountMsat.toString(),
          feeMsat: row.feeMsat.toString(),
        },
      ],
      settledAtMs: row.settledAtMs ?? 0,
    };
  }

  private async signStatement(payoutId: string): Promise<void> {
    this.wallPubkey ??= await this.o.node.getPubkey();
    const statement = this.buildStatement(payoutId, this.wallPubkey);
    const text = canonicalStatementText(statement);
    const signature = await this.o.node.signMessage(text);
    const signed: SignedStatement = { statement, text, signature };
    this.o.ledger.saveStatement(payoutId, signed, this.o.now());
    this.o.events?.statement?.(payoutId, signed);
  }
}
