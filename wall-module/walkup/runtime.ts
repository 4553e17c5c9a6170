/**
 * The walk-up runtime (issue 12): the shell that runs the pure walk-up machine (`payments/walkup.ts`) on one
 * connector. I/O in → machine events; each step is committed in ONE store transaction (state, ledger records,
 * the single-use refund claim) BEFORE its effects run (write-ahead: the machine's intent statuses `creating`,
 * `settling`, `cancelling`, `paying` are on disk before the node is called); effect results come back as
 * events.
 *
 *   EVSE status (unplug, fault), meter readings, hold-invoice watch events, ticks, HTTP requests
 *     → walkupStep → WalkupStore.commitStep → effects: create/settle/cancel hold invoice, energize/cut,
 *       pay the refund, reply to the HTTP request, sign and store the receipt
 *
 * The connector is claimed through the `ConnectorArbiter` (kind 'walkup') before a deposit is even offered, and
 * released once the machine no longer occupies the EVSE; a busy, faulted or inoperative connector refuses the
 * request with the arbiter's word. Recovery after a restart asks the node first (hold invoice lookup, refund
 * payment status) and feeds its answer as the `restored` event, so nothing settled is settled twice.
 *
 * Steps are synchronous (the machine is pure and better-sqlite3 is synchronous), so concurrent HTTP requests
 * (e.g. ten refund claims racing) are serialised by the event loop: the first accepted claim is on disk before
 * the next request is even looked at.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock, TimerHandle } from '../../hardware/clock.js';
import type { Evse, EvseStatus } from '../../hardware/evse/evse.js';
import type { MeterReading } from '../../hardware/meter/energy-meter.js';
import type { Logger } from '../../daemon/logger.js';
import {
  HoldInvoiceExpired,
  InvoiceAlreadyExists,
  InvoiceAlreadyPaid,
  InvoiceAlreadySettled,
  InvoiceCancelled,
  InvoiceNotFound,
  NodeUnreachable,
  PaymentInFlight,
} from '../../lightning/errors.js';
import type { HoldInvoiceEvent } from '../../lightning/hold-invoice.js';
import type { LightningNode } from '../../lightning/lightning-node.js';
import { holdWindow } from '../../payments/hold-window.js';
import { createWalkup, walkupOccupiesEvse, walkupStep } from '../../payments/walkup.js';
import type { WalkupConfig } from '../../payments/walkup-config.js';
import type {
  NodeInvoiceFact,
  NodePaymentFact,
  WalkupEffect,
  WalkupEvent,
  WalkupReceipt,
  WalkupReply,
  WalkupState,
} from '../../payments/walkup-state.js';
import type { ConnectorArbiter } from '../connector-arbiter.js';
import type { WalkupStore } from './store.js';

/** Distributes an event to the right machine: these carry a payment hash. */
type HashEvent = Extract<WalkupEvent, { paymentHash: string }>;
/** Events for the session that occupies the EVSE. */
type ActiveEvent = Extract<
  WalkupEvent,
  { type: 'meter' | 'unplug' | 'evseFault' | 'driverStop' | 'remoteStop' }
>;
/** An event without its clock stamp (the runtime stamps it). */
type Unstamped<E> = E extends unknown ? Omit<E, 'atMs'> : never;

/** Everything the runtime runs on. */
export interface WalkupRuntimeParts {
  /** 1-based connector this runtime sells on */
  connectorId: number;
  config: WalkupConfig;
  /** HTLC timing: see `payments/hold-window.ts` */
  hold: {
    blockIntervalMs: number;
    marginBlocks: number;
    holdExpiryDeltaBlocks: number;
    cltvDeltaBlocks: number;
  };
  /** the charger's current limit while a walk-up charges, A */
  maxCurrentA: number;
  evse: Evse;
  node: LightningNode;
  store: WalkupStore;
  clock: Clock;
  log: Logger;
  arbiter: ConnectorArbiter;
  /** a step or commit failed: the power is already cut; the daemon should stop (exit non-zero) */
  onFailSafe?: (err: Error) => void;
}

/** The answer to an HTTP request, or a refusal word of the arbiter / the runtime. */
export type RequestOutcome = WalkupReply | { kind: 'refused'; refusal: { name: string; message: string } };

/** What the runtime tells listeners (the page) after each step. */
export type ChangeListener = () => void;

/**
 * What the runtime tells step listeners (the OCPP report) after each committed step: the session, its state
 * before and after, and the step's clock time (ms since epoch).
 */
export type StepListener = (sessionId: string, before: WalkupState, after: WalkupState, atMs: number) => void;

/**
 * A walk-up the CSMS started (OCPP RequestStartTransaction / RemoteStartTransaction with `remoteStart: walkup`):
 * the connector is claimed for the session id minted here, the display offers its QR, and the first deposit
 * request becomes this session; it is called off when no deposit was asked for before `expiresAtMs`.
 */
export interface PendingRemoteStart {
  sessionId: string;
  /** the CSMS's id of the request (1.6: 0) */
  remoteStartId: number;
  /** ms since epoch (daemon clock) */
  expiresAtMs: number;
}

/**
 * Test hook (crash-safety tests only; null in production): called after each step's transaction committed and
 * before its effects run, the write-ahead point a kill -9 must survive.
 */
export const walkupTestHooks: { afterCommit: ((state: WalkupState) => void) | null } = { afterCommit: null };

const REPLY_TIMEOUT_MS = 20_000;
const TICK_MS = 1000;
/** A held deposit's expiry is re-read against the chain every this many ticks. */
const CHAIN_CHECK_TICKS = 15;
const PAY_TIMEOUT_MS = 60_000;

/** The walk-up shell of one connector. */
export class WalkupRuntime {
  private readonly machines = new Map<string, WalkupState>();
  private readonly byHash = new Map<string, string>();
  private readonly watches = new Map<string, () => void>();
  private readonly waiting = new Map<string, (reply: WalkupReply) => void>();
  private readonly listeners = new Set<ChangeListener>();
  private readonly stepListeners = new Set<StepListener>();
  private pending: { start: PendingRemoteStart; timer: TimerHandle } | null = null;
  private tickTimer: TimerHandle | null = null;
  private stopped = false;
  private failed = false;
  private lastReading: MeterReading | null = null;
  private readonly onStatus = (s: EvseStatus): void => this.evseStatus(s);
  private lastPlugged: boolean | null = null;
  private ticks = 0;
  private chainCheckRunning = false;

  constructor(private readonly p: WalkupRuntimeParts) {}

  /**
   * Starts: loads the live sessions, asks the node about each (restart recovery), re-claims the connector for a
   * session still using it, then listens to the EVSE and ticks.
   */
  async start(): Promise<void> {
    const { store, evse } = this.p;
    for (const { sessionId, state } of store.live()) {
      this.machines.set(sessionId, state);
      this.index(sessionId, state);
      if (walkupOccupiesEvse(state)) {
        const claim = this.p.arbiter.claim('walkup', sessionId);
        if (!claim.ok) this.p.log.warn('walk-up: connector not re-claimed', { sessionId, ...claim });
      }
    }
    for (const sessionId of [...this.machines.keys()]) await this.recover(sessionId);
    for (const r of store.unsignedReceipts()) await this.signReceipt(r.sessionId);
    evse.on('status', this.onStatus);
    // a car unplugged while the daemon was down ends its charging now (not at the deposit's expiry)
    try {
      const st = await evse.status();
      this.lastPlugged = st.plugged;
      if (!st.plugged) this.toActive({ type: 'unplug' });
    } catch (err) {
      this.p.log.warn('walk-up: EVSE status unreadable at start', { error: (err as Error).message });
    }
    this.armTick();
  }

  /** Stops ticking, watching and listening (a running session stays on disk for the next start). */
  stop(): void {
    this.stopped = true;
    this.tickTimer?.cancel();
    this.pending?.timer.cancel();
    this.p.evse.off('status', this.onStatus);
    for (const stop of this.watches.values()) stop();
    this.watches.clear();
  }

  /** Subscribes to state changes (the page's live view). @returns unsubscribe */
  onChange(l: ChangeListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Subscribes to committed steps (the OCPP report). @returns unsubscribe */
  onStep(l: StepListener): () => void {
    this.stepListeners.add(l);
    return () => this.stepListeners.delete(l);
  }

  /**
   * A remote start (OCPP, `remoteStart: walkup`): claims the connector for a new walk-up session whose QR the
   * display offers until a wallet asks for its deposit, or until `timeoutMs` passed (then the connector is
   * released).
   *
   * @param args.remoteStartId the CSMS's id of the request (1.6: 0)
   * @param args.timeoutMs how long the driver has to ask for the deposit, ms (> 0)
   * @returns the pending start, or the arbiter's refusal (busy, reserved, inoperative, faulted)
   */
  remoteStart(args: {
    remoteStartId: number;
    timeoutMs: number;
  }): { ok: true; start: PendingRemoteStart } | { ok: false; refusal: string; detail: string } {
    if (this.stopped || this.failed)
      return { ok: false, refusal: 'CONNECTOR_BUSY', detail: 'walk-up is not running' };
    const sessionId = `wu-${randomUUID()}`;
    const claim = this.p.arbiter.claim('walkup', sessionId);
    if (!claim.ok) return { ok: false, refusal: claim.refusal, detail: claim.detail };
    const start: PendingRemoteStart = {
      sessionId,
      remoteStartId: args.remoteStartId,
      expiresAtMs: this.p.clock.now() + Math.max(1, args.timeoutMs),
    };
    const timer = this.p.clock.setTimer(Math.max(1, args.timeoutMs), () => {
      if (this.pending?.start.sessionId !== sessionId) return;
      this.p.log.info('walk-up remote start lapsed: no deposit asked for', { sessionId });
      this.cancelRemoteStart();
    });
    this.pending = { start, timer };
    this.p.log.info('walk-up remote start', { sessionId, remoteStartId: args.remoteStartId });
    for (const l of this.listeners) l();
    return { ok: true, start };
  }

  /** @returns the remote start waiting for its deposit request, if any */
  pendingRemoteStart(): PendingRemoteStart | null {
    return this.pending?.start ?? null;
  }

  /**
   * The CSMS stops the walk-up (OCPP remote stop, or a transactionLimit reached): the session occupying the
   * EVSE ends cleanly (power cut, final invoice, receipt); a remote start still waiting for its deposit is
   * called off.
   *
   * @param reason recorded with the session
   * @returns false when no walk-up occupies the connector
   */
  remoteStop(reason: string): boolean {
    if (this.cancelRemoteStart()) return true;
    for (const [sessionId, state] of [...this.machines])
      if (walkupOccupiesEvse(state)) {
        this.dispatch(sessionId, state, { type: 'remoteStop', reason });
        return true;
      }
    return false;
  }

  /** Calls off a pending remote start (the connector is released). @returns whether one was pending */
  private cancelRemoteStart(): boolean {
    const pending = this.pending;
    if (pending === null) return false;
    this.pending = null;
    pending.timer.cancel();
    const owner = this.p.arbiter.current();
    if (owner.kind === 'walkup' && owner.sessionId === pending.start.sessionId)
      this.p.arbiter.release(pending.start.sessionId);
    for (const l of this.listeners) l();
    return true;
  }

  /** The session occupying the EVSE, else the most recent one (for the page). */
  current(): { sessionId: string; state: WalkupState } | undefined {
    for (const [sessionId, state] of this.machines)
      if (walkupOccupiesEvse(state)) return { sessionId, state };
    return this.p.store.latest();
  }

  /** A live or stored session's state. */
  session(sessionId: string): WalkupState | undefined {
    return this.machines.get(sessionId) ?? this.p.store.get(sessionId);
  }

  /** A meter reading of the wall's meter. */
  meter(r: MeterReading): void {
    this.lastReading = r;
    this.toActive({ type: 'meter', energyWh: r.energyImportWh });
  }

  /**
   * LNURL-pay callback: asks for a deposit hold invoice of `amountMsat`.
   * @param amountMsat what the wallet chose (range checked again by the machine)
   * @param descriptionHashHex sha256 of the LNURL metadata served
   * @returns the deposit invoice reply, or a refusal (arbiter word, or the machine's refusal name)
   */
  async requestDeposit(amountMsat: bigint, descriptionHashHex: string): Promise<RequestOutcome> {
    // a remote start's session (its connector claim stands) takes the first deposit request
    const remote = this.pending;
    if (remote !== null) {
      this.pending = null;
      remote.timer.cancel();
    }
    const sessionId = remote?.start.sessionId ?? `wu-${randomUUID()}`;
    const claim = this.p.arbiter.claim('walkup', sessionId);
    if (!claim.ok) return { kind: 'refused', refusal: { name: claim.refusal, message: claim.detail } };
    const requestId = randomUUID();
    const hex = (n: number): string => randomBytes(n).toString('hex');
    const reply = this.awaitReply(requestId);
    this.dispatch(sessionId, createWalkup(), {
      type: 'depositRequested',
      requestId,
      amountMsat,
      sessionId,
      depositPreimageHex: hex(32),
      finalPreimageHex: hex(32),
      withdrawSecretHex: hex(32),
      ivHex: hex(16),
      descriptionHashHex,
    });
    return reply;
  }

  /**
   * LUD-03 withdraw callback: claims the refund whose secret is `secretHex` with the payer's invoice.
   * @returns accepted (the payout runs next), or a refusal name (RefundSecretWrong, RefundAlreadyClaimed, ...)
   */
  async claimRefund(secretHex: string, bolt11: string): Promise<RequestOutcome> {
    const sessionId = this.p.store.sessionByWithdrawSecret(secretHex);
    const state = sessionId === undefined ? undefined : this.session(sessionId);
    if (sessionId === undefined || state === undefined)
      return {
        kind: 'refused',
        refusal: { name: 'RefundSecretWrong', message: 'no refund with this secret' },
      };
    const requestId = randomUUID();
    const reply = this.awaitReply(requestId);
    this.dispatch(sessionId, state, { type: 'refundClaim', requestId, secretHex, bolt11 });
    return reply;
  }

  /** The driver pressed stop on the page. */
  async driverStop(sessionId: string): Promise<RequestOutcome> {
    const state = this.machines.get(sessionId);
    if (state === undefined || !walkupOccupiesEvse(state))
      return { kind: 'refused', refusal: { name: 'NotCharging', message: 'no running walk-up session' } };
    const requestId = randomUUID();
    const reply = this.awaitReply(requestId);
    this.dispatch(sessionId, state, { type: 'driverStop', requestId });
    return reply;
  }

  // ---- internals -----------------------------------------------------------------------------------------

  private awaitReply(requestId: string): Promise<WalkupReply> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(requestId);
        resolve({
          kind: 'refused',
          refusal: { name: 'WalkupBusy', message: 'the charger did not answer in time' },
        });
      }, REPLY_TIMEOUT_MS);
      timer.unref();
      this.waiting.set(requestId, (r) => {
        clearTimeout(timer);
        this.waiting.delete(requestId);
        resolve(r);
      });
    });
  }

  private index(sessionId: string, state: WalkupState): void {
    if (state.phase === 'idle' || state.session === null) return;
    this.byHash.set(state.session.deposit.paymentHash, sessionId);
    this.byHash.set(state.session.finalPaymentHash, sessionId);
  }

  private armTick(): void {
    if (this.stopped) return;
    this.tickTimer = this.p.clock.setTimer(TICK_MS, () => {
      for (const [sessionId, state] of [...this.machines]) this.dispatch(sessionId, state, { type: 'tick' });
      if (++this.ticks % CHAIN_CHECK_TICKS === 0 && !this.chainCheckRunning) {
        this.chainCheckRunning = true;
        void this.checkChain().finally(() => (this.chainCheckRunning = false));
      }
      this.armTick();
    });
  }

  /**
   * Re-reads every held deposit's HTLC expiry against the chain's height now: blocks may come faster than the
   * pessimistic interval assumed, and the machine brings its settle-by time forward on a fresh `held`.
   */
  private async checkChain(): Promise<void> {
    for (const [sessionId, state] of [...this.machines]) {
      if (state.phase === 'idle' || state.phase === 'ended' || state.session.deposit.status !== 'held')
        continue;
      const st = await this.p.node.lookupHoldInvoice(state.session.deposit.paymentHash).catch(() => null);
      if (st?.phase !== 'held' || st.htlcExpiryHeight === undefined) continue;
      const htlcExpiryMs = this.htlcExpiryMs(st.htlcExpiryHeight, st.currentHeight);
      const now = this.machines.get(sessionId);
      const settleByMs = now !== undefined && now.phase !== 'idle' ? (now.session?.settleByMs ?? null) : null;
      if (
        now !== undefined &&
        settleByMs !== null &&
        htlcExpiryMs - this.p.config.settleMarginMs < settleByMs
      )
        this.dispatch(sessionId, now, {
          type: 'held',
          paymentHash: st.paymentHash,
          amountMsat: st.receivedMsat,
          htlcExpiryMs,
        });
    }
  }

  private toActive(ev: Unstamped<ActiveEvent>): void {
    for (const [sessionId, state] of [...this.machines])
      if (walkupOccupiesEvse(state)) this.dispatch(sessionId, state, ev as Unstamped<WalkupEvent>);
  }

  private toHash(ev: Unstamped<HashEvent>): void {
    const sessionId = this.byHash.get(ev.paymentHash);
    const state = sessionId === undefined ? undefined : this.machines.get(sessionId);
    if (sessionId !== undefined && state !== undefined)
      this.dispatch(sessionId, state, ev as Unstamped<WalkupEvent>);
  }

  private evseStatus(s: EvseStatus): void {
    const was = this.lastPlugged;
    this.lastPlugged = s.plugged;
    if (s.fault !== null) this.toActive({ type: 'evseFault', message: s.fault });
    else if (was === true && !s.plugged) this.toActive({ type: 'unplug' });
  }

  /**
   * One step: pure transition, ONE transaction (write-ahead), then the effects. A failing commit fails safe:
   * power cut through a path that needs no store, the daemon told to stop.
   */
  private dispatch(sessionId: string, state: WalkupState, ev: Unstamped<WalkupEvent>): void {
    if (this.failed) return;
    const atMs = this.p.clock.now();
    const event = { ...ev, atMs } as WalkupEvent;
    let next: ReturnType<typeof walkupStep>;
    try {
      next = walkupStep(state, event, this.p.config);
      if (next.state.phase === 'idle') {
        // a refused deposit request: nothing to keep, but its reply must go out
        this.releaseIfFree(sessionId, next.state);
      } else {
        const ended = next.effects.find((e) => e.type === 'endSession');
        const receipt = ended?.type === 'endSession' ? receiptText(ended.receipt) : null;
        this.p.store.commitStep(sessionId, this.p.connectorId, next.state, next.records, atMs, receipt);
        this.machines.set(sessionId, next.state);
        this.index(sessionId, next.state);
      }
    } catch (err) {
      this.failSafe(err as Error);
      return;
    }
    walkupTestHooks.afterCommit?.(next.state);
    if (next.state.phase === 'ended') this.machines.delete(sessionId);
    this.releaseIfFree(sessionId, next.state);
    for (const e of next.effects) this.execute(sessionId, e);
    for (const l of this.stepListeners) {
      try {
        l(sessionId, state, next.state, atMs);
      } catch (err) {
        this.p.log.warn('walk-up step listener failed', { sessionId, error: (err as Error).message });
      }
    }
    for (const l of this.listeners) l();
  }

  private releaseIfFree(sessionId: string, state: WalkupState): void {
    if (!walkupOccupiesEvse(state)) {
      const owner = this.p.arbiter.current();
      if (owner.kind === 'walkup' && owner.sessionId === sessionId) this.p.arbiter.release(sessionId);
    }
  }

  private failSafe(err: Error): void {
    this.failed = true;
    this.p.log.error('walk-up failed safe: power cut', { error: err.message });
    void this.p.evse.pause().catch(() => undefined);
    this.p.arbiter.fault(`walk-up: ${err.message}`, this.p.clock.now());
    this.p.onFailSafe?.(err);
  }

  /** Runs an async effect; its completion is dispatched as an event to the same session. */
  private later(sessionId: string, work: () => Promise<Unstamped<WalkupEvent> | null>): void {
    void work().then(
      (ev) => {
        const state = this.machines.get(sessionId);
        if (ev !== null && state !== undefined && !this.stopped) this.dispatch(sessionId, state, ev);
      },
      (err: Error) => this.p.log.error('walk-up effect failed', { sessionId, error: err.message }),
    );
  }

  private execute(sessionId: string, e: WalkupEffect): void {
    const { node, evse, log } = this.p;
    switch (e.type) {
      case 'createHoldInvoice':
        return this.later(sessionId, async () => {
          try {
            const created = await node.createHoldInvoice({
              paymentHash: e.paymentHash,
              amountMsat: e.amountMsat,
              expirySec: e.expirySec,
              cltvDeltaBlocks: this.p.hold.cltvDeltaBlocks,
              ...(e.descriptionHashHex !== null
                ? { descriptionHash: e.descriptionHashHex }
                : { description: e.memo }),
            });
            this.watch(created.paymentHash);
            return { type: 'holdInvoiceCreated', paymentHash: e.paymentHash, bolt11: created.bolt11 };
          } catch (err) {
            if (err instanceof InvoiceAlreadyExists) {
              // created before a crash: the node's invoice stands (the machine takes it as created)
              this.watch(e.paymentHash);
              return { type: 'holdInvoiceCreated', paymentHash: e.paymentHash, bolt11: '' };
            }
            return { type: 'holdInvoiceFailed', paymentHash: e.paymentHash, error: (err as Error).message };
          }
        });
      case 'settleHoldInvoice':
        return this.later(sessionId, async () => {
          try {
            await node.settleHoldInvoice(e.preimageHex);
            const st = await node.lookupHoldInvoice(e.paymentHash).catch(() => null);
            return { type: 'settled', paymentHash: e.paymentHash, amountMsat: st?.receivedMsat ?? 0n };
          } catch (err) {
            if (err instanceof InvoiceCancelled || err instanceof HoldInvoiceExpired)
              return { type: 'cancelled', paymentHash: e.paymentHash };
            return nodeCallFailed(e.paymentHash, 'settle', err);
          }
        });
      case 'cancelHoldInvoice':
        return this.later(sessionId, async () => {
          try {
            await node.cancelHoldInvoice(e.paymentHash);
            return { type: 'cancelled', paymentHash: e.paymentHash };
          } catch (err) {
            if (err instanceof InvoiceNotFound) return { type: 'cancelled', paymentHash: e.paymentHash };
            if (err instanceof InvoiceAlreadySettled) {
              const st = await node.lookupHoldInvoice(e.paymentHash).catch(() => null);
              return { type: 'settled', paymentHash: e.paymentHash, amountMsat: st?.receivedMsat ?? 0n };
            }
            return nodeCallFailed(e.paymentHash, 'cancel', err);
          }
        });
      case 'energize':
        return this.later(sessionId, async () => {
          const owner = this.p.arbiter.current();
          if (owner.kind !== 'walkup' || owner.sessionId !== sessionId) {
            log.warn('walk-up: not energizing, the connector is not ours', { sessionId, owner: owner.kind });
            return { type: 'evseFault', message: `connector ${owner.kind}` };
          }
          try {
            await evse.setCurrentLimitA(this.p.maxCurrentA);
            await evse.enable();
            log.info('walk-up energized', { sessionId });
            return null;
          } catch (err) {
            return { type: 'evseFault', message: `EVSE enable failed: ${(err as Error).message}` };
          }
        });
      case 'cutPower':
        return this.later(sessionId, async () => {
          try {
            await evse.pause();
          } catch (err) {
            log.error('walk-up: EVSE pause failed', { sessionId, error: (err as Error).message });
          }
          log.info('walk-up power cut', { sessionId, reason: e.reason });
          return null; // the next meter reading is the final one (the machine waits for it)
        });
      case 'payRefund':
        return this.later(sessionId, async () => {
          try {
            const paid = await node.pay(e.bolt11, {
              maxFeeMsat: e.maxFeeMsat,
              timeoutMs: PAY_TIMEOUT_MS,
              paymentHash: e.paymentHash,
            });
            return {
              type: 'payResult',
              paymentHash: e.paymentHash,
              outcome: 'succeeded',
              feeMsat: paid.feeMsat,
            };
          } catch (err) {
            if (
              err instanceof InvoiceAlreadyPaid ||
              err instanceof PaymentInFlight ||
              err instanceof NodeUnreachable
            ) {
              const st = await node.paymentStatus(e.paymentHash).catch(() => null);
              if (st?.state === 'succeeded')
                return {
                  type: 'payResult',
                  paymentHash: e.paymentHash,
                  outcome: 'succeeded',
                  feeMsat: st.feeMsat ?? 0n,
                };
              if (st?.state === 'failed')
                return {
                  type: 'payResult',
                  paymentHash: e.paymentHash,
                  outcome: 'failed',
                  error: (err as Error).message,
                };
              return {
                type: 'payResult',
                paymentHash: e.paymentHash,
                outcome: 'inDoubt',
                error: (err as Error).message,
              };
            }
            return {
              type: 'payResult',
              paymentHash: e.paymentHash,
              outcome: 'failed',
              error: (err as Error).message,
            };
          }
        });
      case 'reply':
        this.waiting.get(e.requestId)?.(e.reply);
        return;
      case 'display':
        return;
      case 'alarm':
        log.warn('walk-up alarm', { sessionId, message: e.message });
        return;
      case 'endSession':
        for (const h of [e.receipt.depositPaymentHash, e.receipt.finalPaymentHash])
          if (h !== null) this.unwatch(h);
        return this.later(sessionId, async () => {
          await this.signReceipt(sessionId);
          return null;
        });
    }
  }

  /** Signs a stored receipt with the node key (left unsigned when the node is away: retried at the next start). */
  private async signReceipt(sessionId: string): Promise<void> {
    const stored = this.p.store.receipt(sessionId);
    if (stored === undefined || stored.signature !== null) return;
    try {
      const signature = await this.p.node.signMessage(stored.text);
      const { pubkey } = await this.p.node.getIdentity();
      this.p.store.signReceipt(sessionId, signature, pubkey);
    } catch (err) {
      this.p.log.warn('walk-up receipt not signed (node)', { sessionId, error: (err as Error).message });
    }
    for (const l of this.listeners) l();
  }

  private watch(paymentHash: string): void {
    if (this.watches.has(paymentHash) || this.stopped) return;
    const stop = this.p.node.watchHoldInvoice(paymentHash, (ev) => this.onHoldEvent(ev));
    this.watches.set(paymentHash, stop);
  }

  private unwatch(paymentHash: string): void {
    this.watches.get(paymentHash)?.();
    this.watches.delete(paymentHash);
  }

  private onHoldEvent(ev: HoldInvoiceEvent): void {
    if (ev.kind === 'held') {
      this.toHash({
        type: 'held',
        paymentHash: ev.paymentHash,
        amountMsat: ev.amountMsat,
        htlcExpiryMs: this.htlcExpiryMs(ev.htlcExpiryHeight, ev.currentHeight),
      });
    } else if (ev.kind === 'settled') {
      this.toHash({ type: 'settled', paymentHash: ev.paymentHash, amountMsat: ev.amountMsat });
    } else {
      this.toHash({ type: 'cancelled', paymentHash: ev.paymentHash });
    }
  }

  /**
   * A held HTLC's expiry on the daemon clock: the settle-by instant of `holdWindow` (pessimistic block interval)
   * plus the machine's settle margin, so the machine's `htlcExpiryMs − settleMarginMs` is that instant.
   */
  private htlcExpiryMs(htlcExpiryHeight: number, currentHeight: number): number {
    const now = this.p.clock.now();
    const w = holdWindow({ ...this.p.hold, htlcExpiryHeight, currentHeight, nowMs: now });
    return (w.ok ? w.value.settleByMs : now) + this.p.config.settleMarginMs;
  }

  /** Restart recovery of one session: the node's truth first (retried until the node answers). */
  private async recover(sessionId: string): Promise<void> {
    const state = this.machines.get(sessionId);
    if (state === undefined || state.phase === 'idle' || state.phase === 'ended') return;
    const session = state.session;
    const facts: NodeInvoiceFact[] = [];
    for (const hash of [session.deposit.paymentHash, session.final?.paymentHash ?? null]) {
      if (hash === null) continue;
      facts.push(await this.invoiceFact(hash));
    }
    let payment: NodePaymentFact | null = null;
    const claim = state.phase === 'refundClaimed' ? state.refund.claim : null;
    if (claim !== null) {
      const st = await this.untilAnswered(() => this.p.node.paymentStatus(claim.paymentHash));
      payment = {
        paymentHash: claim.paymentHash,
        state: st.state === 'in_flight' ? 'inFlight' : st.state,
        ...(st.feeMsat !== undefined ? { feeMsat: st.feeMsat } : {}),
      };
    }
    for (const f of facts) if (f.state === 'open' || f.state === 'held') this.watch(f.paymentHash);
    const now = this.machines.get(sessionId);
    if (now !== undefined) this.dispatch(sessionId, now, { type: 'restored', invoices: facts, payment });
  }

  private async invoiceFact(paymentHash: string): Promise<NodeInvoiceFact> {
    try {
      const st = await this.untilAnswered(() => this.p.node.lookupHoldInvoice(paymentHash));
      return {
        paymentHash,
        state: st.phase,
        amountMsat: st.phase === 'open' || st.phase === 'cancelled' ? st.amountMsat : st.receivedMsat,
        ...(st.phase === 'held' && st.htlcExpiryHeight !== undefined
          ? { htlcExpiryMs: this.htlcExpiryMs(st.htlcExpiryHeight, st.currentHeight) }
          : {}),
      };
    } catch (err) {
      if (err instanceof InvoiceNotFound) return { paymentHash, state: 'unknown' };
      throw err;
    }
  }

  /** Retries a node query while the node is unreachable (recovery must hear the node before acting). */
  private async untilAnswered<T>(q: () => Promise<T>): Promise<T> {
    for (let delay = 500; ; delay = Math.min(delay * 2, 10_000)) {
      try {
        return await q();
      } catch (err) {
        if (!(err instanceof NodeUnreachable) || this.stopped) throw err;
        this.p.log.warn('walk-up recovery: node unreachable, retrying', { error: err.message });
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
}

function nodeCallFailed(
  paymentHash: string,
  call: 'settle' | 'cancel',
  err: unknown,
): Unstamped<WalkupEvent> {
  return { type: 'nodeCallFailed', paymentHash, call, error: (err as Error).message };
}

/**
 * The canonical text of a receipt (what the node signs): JSON with a fixed key order, bigints as decimal
 * strings, prefixed with a domain tag so a receipt signature cannot be replayed as another kind of message.
 * @param r receipt data from the machine's `endSession`
 * @returns the text to sign and to serve
 */
export function receiptText(r: WalkupReceipt): string {
  const body = JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  return `boltcharge-walkup-receipt:v1:${body}`;
}

/** The receipt data back from its canonical text (bigint fields as decimal strings), or undefined. */
export function parseReceiptText(text: string): Record<string, unknown> | undefined {
  const prefix = 'boltcharge-walkup-receipt:v1:';
  if (!text.startsWith(prefix)) return undefined;
  try {
    return JSON.parse(text.slice(prefix.length)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
