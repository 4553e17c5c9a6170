/**
 * The vehicle daemon: wires the pure buyer machine (`protocol/buyer.ts`) to the cable link, the car's meter,
 * the owner's Lightning node, the store, payment notifications and the status page.
 *
 * Every payment is committed to the store (`recorded`) in the same transaction as the machine state that asks
 * for it, before the node is called. Outcomes are decided only by the node: after an error the daemon polls
 * `paymentStatus` until the node says succeeded, failed or never-seen, so a payment is never reported failed
 * while it could still settle. After a restart, every `recorded`/`sent` payment is resolved this way BEFORE the
 * link is opened, i.e. before anything new can be paid.
 *
 * Node outages (lnd stopped, restarting): an unreachable node is not a failed payment. The payment waits, the
 * outage is logged and raised as an alarm once, and when the node answers again its own record decides: a
 * payment it never received is sent then (same invoice, same hash: the node itself refuses to pay a hash twice),
 * as long as the session still wants it and the wall has not issued a later invoice in its place; a payment that
 * found no route while the node's channels were coming back up is tried again for `payment.timeoutMs`.
 *
 * One hash: the buyer machine checks an invoice with the paying node's decoding rules (`protocol/bolt11.ts`);
 * before each attempt the daemon also asks the node how IT reads the request and pays only when the two views
 * agree (hash, amount, payee, secret, CLTV, expiry), and the node is told the hash that was checked. A payment
 * whose outcome is not known stays in doubt (`sent`, counted against every budget and the prepaid bound) until
 * the node's record of that hash decides; after an attempt whose fate is unknown (the call timed out, the
 * payment was in flight), a node answer of "never seen" is asked again after a grace period before it counts.
 *
 * Conflicting ids from a wall are refused, never written: a hash the ledger already holds (any session) is
 * not recorded and the machine is told (`refusedReason` INVOICE_DUPLICATE); a session id the store already
 * holds is refused at the hello; receipts are append-only.
 *
 * Loss bound across sessions: before each wall hello reaches the machine, the daemon feeds it the ledger's
 * figures for that wall (`history`: undelivered energy with this wall and overall in the rolling window, the
 * wall's back-off, whether the session id is known); the machine enforces `limits.maxUndeliveredWhPerWall`,
 * `limits.maxUndeliveredWhTotal` and the back-off. Each session's outcome is stored per wall. The status page
 * shows the same figures (`VehicleStore.wallExposure`) per charger against the caps, with the wall's alias
 * (looked up in the graph once per wall at its hello, kept in the store: `wall-aliases.ts`).
 *
 * Plug detection: the module sits inline with the charge port; a session starts when the wall's hello arrives
 * while the machine is idle or its previous session has ended.
 */
import { randomBytes } from 'node:crypto';
import { SystemClock, type Clock } from '../hardware/clock.js';
import type { EnergyMeter } from '../hardware/meter/energy-meter.js';
import type { CableLink } from '../hardware/link/cable-link.js';
import {
  InsufficientBalance,
  InvoiceExpired,
  InvoiceNotPayable,
  NoRoute,
  NodeUnreachable,
  PaymentInFlight,
} from '../lightning/errors.js';
import type { LightningNode, PaymentStatus } from '../lightning/lightning-node.js';
import {
  buyerEndReason,
  buyerPeer,
  buyerStep,
  compareWithNode,
  decodeInvoice,
  createBuyer,
  parseFrame,
  Reason,
  reasonName,
  type BuyerEvent,
  type BuyerState,
  type Effect,
  type Network,
  type ReasonCode,
} from '../protocol/index.js';
import { persistBuyerState, restoreBuyerState } from '../protocol/serialize.js';
import { budgetDayStartMs, type BuyerConfig } from '../protocol/config.js';
import type { PaymentFailureKind } from '../protocol/effects.js';
import type { FailSafe, MachineBinding, MachineRunner } from '../daemon/machine-runner.js';
import { DaemonShell, writeCommonRows } from '../daemon/daemon-shell.js';
import type { Logger } from '../daemon/logger.js';
import { protocolNetwork } from '../daemon/network-name.js';
import type { StatusRoute, StatusSnapshot, StatusSource } from '../daemon/status-server.js';
import { storeStatusSource } from '../daemon/status-source.js';
import { buyerConfigOf, type VehicleConfig } from './config.js';
import { Notifier } from './notifier.js';
import type { ExposureWindow, PaymentRow, VehicleStore } from './store.js';
import { WallAliases } from './wall-aliases.js';
import { PromisePayer, type PromiseAttempt } from './promise-payer.js';
import type { CarPromiseRow } from './promise-book.js';

/** Everything the vehicle daemon runs on. */
export interface VehicleParts {
  config: VehicleConfig;
  clock: Clock;
  log: Logger;
  store: VehicleStore;
  node: LightningNode;
  link: CableLink;
  meter: EnergyMeter;
  /** extra routes on the status server (e.g. `/metrics`) */
  routes?: StatusRoute[];
  /** called when the session loop processed a tick (it is alive), daemon clock ms */
  onLoopTick?(atMs: number): void;
  /**
   * The Lightning node's time (real time: the node does not run on the daemon's possibly accelerated clock):
   * outage lengths and the grace before asking again about an attempt whose fate is unknown. Default: the
   * system clock; tests pass their manual clock.
   */
  nodeClock?: Clock;
}

/** Final outcome of one payment, as the node reports it (or: refused before the node was asked to pay). */
type Outcome =
  | { ok: true; preimage: string; feeMsat: bigint }
  | { ok: false; error: string; refusedReason?: ReasonCode; failure?: PaymentFailureKind };

/** The `pay` effect. */
type PayEffect = Extract<Effect, { type: 'pay' }>;

/** What the node finally said about a payment (never `in_flight`), or that the daemon is stopping. */
type FinalStatus = Exclude<PaymentStatus['state'], 'in_flight'> | 'stopping';

/**
 * The kind of a failed attempt for the buyer's retry rule (protocol/effects.ts `PaymentFailureKind`).
 *
 * @param error what the attempt threw
 * @param state the node's final record of the hash after the attempt
 * @param outage the node was unreachable during the attempt
 * @returns `outage` (never left the node, which was away), `noRoute` (no route or balance: the machine retries it
 *   only while the node's channels come back), else `final`
 */
function failureKind(error: Error, state: 'failed' | 'unknown', outage: boolean): PaymentFailureKind {
  if (error instanceof InvoiceExpired || error instanceof InvoiceNotPayable) return 'final';
  if (state === 'unknown' && outage) return 'outage';
  if (state === 'failed' && (error instanceof NoRoute || error instanceof InsufficientBalance))
    return 'noRoute';
  return 'final';
}

/** Whether a failed attempt may still have reached the node (its outcome is not known from the error). */
function uncertainAttempt(error: Error): boolean {
  return error instanceof NodeUnreachable || error instanceof PaymentInFlight;
}

/** Percent (number) → parts per million (integer). */

/** The running vehicle daemon. */
export class VehicleDaemon {
  /** runner, link, meter, alarms, status server and stop order, shared with the wall daemon */
  private readonly shell: DaemonShell<BuyerState, BuyerEvent>;
  private readonly notifier: Notifier;
  private readonly aliases: WallAliases;
  private readonly paying = new Set<string>();
  /** real-time ms since the node stopped answering (null while it answers) */
  private nodeDownSinceMs: number | null = null;
  /** node-clock ms at which the node answered again after an outage */
  private nodeBackAtMs: number | null = null;
  /** the node's time (see `VehicleParts.nodeClock`) */
  private readonly nodeClock: Clock;
  /** payments whose ledger row is final (succeeded or failed): the write-ahead need not look at them again */
  private readonly finalRows = new Set<string>();
  /** pays the promises to pay (offline case 3) once the node is back */
  private readonly promisePayer: PromisePayer;

  private constructor(
    private readonly parts: VehicleParts,
    network: Network,
    nodePubkey: string,
  ) {
    const { config, clock, log, store } = parts;
    this.nodeClock = parts.nodeClock ?? new SystemClock();
    const l = config.limits;
    const bc = buyerConfigOf(config, {
      network,
      nodePubkey,
      spentTodayMsat: store.spentTodayMsat(budgetDayStartMs(clock.now(), l.budgetDayUtcOffsetMin)),
    });
    if (!bc.ok) throw new Error(`buyer configuration: ${bc.error.message}`);
    this.shell = new DaemonShell(parts, this.binding(bc.value), createBuyer(bc.value), (ev) => ev);
    if (this.runner.state.phase === 'idle' || this.runner.state.phase === 'ended')
      this.runner.state = { ...this.runner.state, config: bc.value };
    this.notifier = new Notifier(config.notifications, store, clock, log);
    this.aliases = new WallAliases(store, parts.node, log);
    this.promisePayer = new PromisePayer({
      store,
      clock,
      nodeClock: this.nodeClock,
      log,
      payOnce: (p) => this.payPromised(p),
      decided: (p, outcome) => {
        const row = store.findPayment(p.paymentHash);
        if (row) this.notifyOutcome(row, outcome);
        if (!outcome.ok)
          this.alarm(
            `promise to pay invoice ${p.seq} of session ${p.sessionId.slice(0, 8)} lapsed: ${outcome.error}`,
          );
      },
    });
  }

  /** One attempt to pay a promised invoice (never two at once for one hash). */
  private async payPromised(p: CarPromiseRow): Promise<PromiseAttempt> {
    if (this.paying.has(p.paymentHash)) return { ok: false, error: 'being paid', failure: 'outage' };
    this.paying.add(p.paymentHash);
    try {
      const outcome = await this.payOnce(p.paymentHash, p.bolt11, p.maxFeeMsat);
      if (outcome.ok) return outcome;
      return { ok: false, error: outcome.error, ...(outcome.failure ? { failure: outcome.failure } : {}) };
    } finally {
      this.paying.delete(p.paymentHash);
    }
  }

  /** A promise pass that throws (a store write failed) fails the daemon safe, like any step. */
  private guardPromises(pass: Promise<void>): void {
    pass.catch((err: unknown) => {
      this.parts.log.error('paying promises failed', {
        error: err instanceof Error ? err.message : String(err),
      });
      void this.runner.fail(err);
    });
  }

  /** The loss bound's rolling window and back-off base, ms (from `limits`). */
  private exposureWindow(): ExposureWindow {
    const l = this.parts.config.limits;
    return { windowMs: l.undeliveredWindowSec * 1000, backoffMs: l.wallBackoffSec * 1000 };
  }

  /**
   * Starts the daemon: resolves in-flight payments with the node first, then opens the link.
   *
   * @param parts config, clock, logger, store, node, link and meter
   * @returns the running daemon
   */
  static async start(parts: VehicleParts): Promise<VehicleDaemon> {
    const identity = await parts.node.getIdentity();
    const d = new VehicleDaemon(parts, protocolNetwork(identity.network), identity.pubkey);
    await d.boot();
    return d;
  }

  /** The machine's fail-safe (stops paying): `failed` resolves once it ran; the CLI then exits non-zero. */
  get failSafe(): FailSafe {
    return this.runner;
  }

  /** The status page URL, if enabled. */
  get statusUrl(): string | null {
    return this.shell.statusUrl;
  }

  private get runner(): MachineRunner<BuyerState, BuyerEvent> {
    return this.shell.runner;
  }

  private get stopping(): boolean {
    return this.shell.stopping;
  }

  /** Current machine state. */
  get state(): BuyerState {
    return this.runner.state;
  }

  private dispatch(ev: BuyerEvent): void {
    this.runner.dispatch(ev);
  }

  private async boot(): Promise<void> {
    const { log, store } = this.parts;
    store.appendEvent(null, 'daemon.started', { role: 'vehicle', phase: this.runner.state.phase });
    log.info('vehicle daemon starting', {
      phase: this.runner.state.phase,
      sessionId: this.runner.state.sessionId,
    });
    // keys under a former name still work; the operator is told what to write instead
    for (const w of this.parts.config.warnings) log.warn('configuration', { key: w.key, warning: w.reason });

    // restart recovery: nothing new is paid until every payment in flight is resolved by the node
    const inflight = store.inFlight();
    if (inflight.length > 0)
      log.info('resolving payments in flight before anything else', { count: inflight.length });
    for (const p of inflight) {
      const outcome = await this.resolve(p.paymentHash, 'daemon restarted');
      this.finish(p, outcome);
    }

    this.notifier.start();
    await this.shell.openLink((bytes: Uint8Array) => this.onFrame(bytes));
    // a sample belongs to a session the store already holds (its row is written with the handshake)
    this.shell.startMeter((s) =>
      s.sessionId && s.phase !== 'ended' && s.phase !== 'idle' && store.findSession(s.sessionId)
        ? s.sessionId
        : null,
    );
    this.shell.startTicks();
    await this.shell.startStatus(this.statusSource());
  }

  /** A wall hello while idle or after a finished session means a (new) plug-in. */
  private onFrame(bytes: Uint8Array): void {
    const atMs = this.parts.clock.now();
    const phase = this.runner.state.phase;
    if (phase === 'idle' || phase === 'ended') {
      const p = parseFrame(bytes);
      if (
        p.ok &&
        p.value.kind === 'clear' &&
        p.value.message.type === 'hello' &&
        p.value.message.role === 'wall'
      ) {
        this.dispatch({ type: 'plug', entropyHex: randomBytes(32).toString('hex'), atMs });
        const { identityPub, sessionId } = p.value.message;
        const history = this.parts.store.history(identityPub.toLowerCase(), sessionId, this.exposureWindow());
        // the daily budget counts what earlier sessions spent in this budget day (the machine starts a new day
        // by itself at midnight)
        const dayStartMs = budgetDayStartMs(atMs, this.parts.config.limits.budgetDayUtcOffsetMin);
        const spentTodayMsat = this.parts.store.spentTodayMsat(dayStartMs);
        const promisedOutstandingMsat = this.parts.store.promises.owedMsat();
        this.dispatch({
          type: 'history',
          atMs,
          wallPub: identityPub,
          sessionId,
          ...history,
          spentTodayMsat,
          promisedOutstandingMsat,
        });
        void this.aliases.lookup(identityPub);
      }
    }
    this.dispatch({ type: 'frame', bytes, atMs });
  }

  private alarm(message: string): void {
    this.shell.alarm(message);
  }

  private binding(current: BuyerConfig): MachineBinding<BuyerState, BuyerEvent> {
    const { store } = this.parts;
    return {
      step: buyerStep,
      serialize: (s) => persistBuyerState(s),
      // versioned and validated (protocol/serialize.ts): an older format is migrated, a damaged one refused
      deserialize: (text) => {
        const r = restoreBuyerState(text, current);
        if (!r.ok) throw r.error;
        return r.value;
      },
      writeAhead: (s, effects) => {
        this.closeGivenUpPayments(s);
        const sid = s.sessionId;
        writeCommonRows(
          store,
          {
            sessionId: sid,
            peer: buyerPeer(s),
            energyWh: s.ownEnergyWh,
            priceMsatPerWh: s.schedule[s.schedule.length - 1]?.priceMsatPerWh,
          },
          effects,
          (ended) => ended.reason !== Reason.RECEIPT_INVALID,
        );
        for (const e of effects) {
          if (e.type === 'record' && e.kind === 'paymentPromised' && sid) {
            const d = e.data;
            store.promises.record({
              paymentHash: String(d['paymentHash']),
              sessionId: sid,
              seq: Number(d['seq']),
              wallPub: String(d['wallPub']),
              bolt11: String(d['bolt11']),
              amountMsat: BigInt(String(d['amountMsat'])),
              maxFeeMsat: BigInt(String(d['maxFeeMsat'])),
              blockWh: Number(d['blockWh']),
              expiresAtMs: Number(d['expiresAtMs']),
              promisedAtMs: this.parts.clock.now(),
            });
            store.appendEvent(sid, 'promise.made', {
              seq: Number(d['seq']),
              paymentHash: String(d['paymentHash']),
            });
          } else if (e.type === 'record' && e.kind === 'promiseRefused' && sid) {
            // the wall did not accept it: not owed (the row is closed as failed with the machine's payment)
            store.promises.decide(String(e.data['paymentHash']), 'refused', this.parts.clock.now());
          } else if (e.type === 'record' && e.kind === 'sessionOutcome' && sid) {
            const d = e.data as {
              wallPub: string;
              paidWh: number;
              deliveredWh: number;
              undeliveredWh: number;
            };
            store.recordOutcome({ sessionId: sid, ...d, strike: e.data.strike === true });
          } else if (e.type === 'sessionEnded' && e.receipt && e.delegation && sid) {
            // beside the receipt (stored above): signed by the wall's delegate key, it verifies only with it
            store.saveReceiptDelegation(sid, e.receipt.signature, e.delegation);
          } else if (e.type === 'pay' && sid) {
            const p = s.payments.find((x) => x.paymentHash === e.paymentHash);
            const blockWh = p?.blockWh ?? 0;
            const priorWh = s.payments
              .filter((x) => x.seq < e.seq && x.status !== 'failed')
              .reduce((a, x) => a + x.blockWh, 0);
            // a conflict (hash already in the ledger) is not written; `pay` finds no row and refuses it
            const conflict = store.recordPayment({
              sessionId: sid,
              seq: e.seq,
              paymentHash: e.paymentHash,
              bolt11: e.bolt11,
              amountMsat: e.amountMsat,
              fromWh: priorWh,
              toWh: priorWh + blockWh,
              payee: buyerPeer(s) ?? '',
            });
            if (conflict !== null)
              store.appendEvent(sid, 'payment.conflict', {
                seq: e.seq,
                paymentHash: e.paymentHash,
                conflict,
              });
          }
        }
      },
      execute: (e, s) => this.execute(e, s),
      afterStep: (_s, ev) => {
        this.shell.publish();
        if (ev.type !== 'tick') return;
        this.parts.onLoopTick?.(ev.atMs);
        if (!this.stopping) this.guardPromises(this.promisePayer.tick(ev.atMs));
      },
    };
  }

  private async execute(e: Effect, s: BuyerState): Promise<void> {
    const { log, node, clock } = this.parts;
    switch (e.type) {
      case 'send':
        this.shell.sendQueue.push(e.frame, e.message.type);
        return;
      case 'pay':
        void this.pay(e, s.sessionId);
        return;
      case 'signWithNodeKey':
        void node
          .signMessage(e.text)
          .then((signature) =>
            this.dispatch({ type: 'nodeSignature', text: e.text, signature, atMs: clock.now() }),
          )
          .catch((err: Error) => this.alarm(`node signMessage failed: ${err.message}`));
        return;
      case 'alarm':
        this.alarm(`${reasonName(e.reason)}: ${e.message}`);
        return;
      case 'sessionEnded':
        log.info('session ended', {
          sessionId: s.sessionId,
          reason: e.reasonName,
          energyWh: e.summary.energyWh,
          paidMsat: e.summary.paidMsat,
          feesMsat: e.summary.feesMsat,
          receipt: e.receipt !== undefined,
          error: e.error,
        });
        return;
      case 'record':
        log.debug(`machine: ${e.kind}`, e.data);
        return;
      default:
        log.warn('effect not handled by the vehicle', { effect: e.type });
    }
  }

  /**
   * Pays one recorded invoice and reports the node's final outcome to the machine. A `pay` whose row is not
   * this session's (the wall reused a hash the ledger already holds) is refused without touching the node.
   */
  private async pay(e: PayEffect, sessionId: string | null): Promise<void> {
    const { store, clock } = this.parts;
    const paymentHash = e.paymentHash;
    const row = sessionId === null ? undefined : store.paymentAt(sessionId, e.seq);
    if (row === undefined || row.paymentHash !== paymentHash) {
      const earlier = store.findPayment(paymentHash);
      const error = earlier
        ? `payment hash already in the ledger (session ${earlier.sessionId}, invoice ${earlier.seq}, ${earlier.state})`
        : 'payment not in the ledger';
      this.alarm(`invoice ${e.seq} refused: ${error}`);
      this.dispatch({
        type: 'paymentResult',
        paymentHash,
        ok: false,
        error,
        refusedReason: Reason.INVOICE_DUPLICATE,
        atMs: clock.now(),
      });
      return;
    }
    if (this.paying.has(paymentHash)) return;
    this.paying.add(paymentHash);
    try {
      // `recorded`: the first attempt; `sent`: the machine pays again after a retryable failure (same hash: safe,
      // the node has no successful or pending attempt for it); anything else was decided (restart recovery)
      if (row.state === 'recorded') store.markSent(paymentHash);
      else if (row.state !== 'sent') return;
      const outcome = await this.payOnce(paymentHash, e.bolt11, e.maxFeeMsat);
      if (!this.stopping) this.finish(store.livePayment(paymentHash), outcome);
    } finally {
      this.paying.delete(paymentHash);
    }
  }

  /**
   * Asks the node how it reads the request and compares that with the buyer's view.
   *
   * @returns null when they agree, or the refusal (the node is then never asked to pay)
   * @throws whatever the node's decode throws (unreachable, starting up, cannot read it): the attempt then
   *   ends like a payment that never reached the node, decided by the node's record and the retry rules
   */
  private async crossCheck(bolt11: string): Promise<{ reason: ReasonCode; error: string } | null> {
    const mine = decodeInvoice(bolt11);
    if (!mine.ok) return { reason: Reason.INVOICE_MALFORMED, error: mine.error.message };
    const seen = await this.parts.node.decodePaymentRequest(bolt11);
    const same = compareWithNode(mine.value, seen);
    return same.ok ? null : { reason: Reason.INVOICE_AMBIGUOUS, error: same.error.message };
  }

  /**
   * ONE attempt to pay (the machine decides whether and when to pay again, from the failure's kind). No status
   * lookup before paying: the node refuses a hash it paid or is paying. After an error the node's record decides:
   * succeeded → paid; otherwise the failure is classified (`failureKind`).
   */
  private async payOnce(paymentHash: string, bolt11: string, maxFeeMsat: bigint): Promise<Outcome> {
    const { node, config } = this.parts;
    const startedAtMs = this.nodeClock.now();
    let error: Error;
    let payCalled = false;
    try {
      const refusal = await this.crossCheck(bolt11);
      if (refusal !== null) {
        this.nodeAnswered();
        return { ok: false, error: refusal.error, refusedReason: refusal.reason };
      }
      payCalled = true;
      const r = await node.pay(bolt11, { maxFeeMsat, timeoutMs: config.payment.timeoutMs, paymentHash });
      this.nodeAnswered();
      return { ok: true, preimage: r.preimage, feeMsat: r.feeMsat };
    } catch (err) {
      error = err as Error;
    }
    const st = await this.decidedStatus(paymentHash, payCalled && uncertainAttempt(error));
    if (st.state === 'succeeded') return { ok: true, preimage: st.preimage ?? '', feeMsat: st.feeMsat ?? 0n };
    if (st.state === 'stopping') return { ok: false, error: 'daemon stopping' };
    // the node was down during this attempt (the error says so, or it came back while we asked it)
    const outage =
      error instanceof NodeUnreachable || (this.nodeBackAtMs !== null && this.nodeBackAtMs >= startedAtMs);
    const failure = failureKind(error, st.state, outage);
    return {
      ok: false,
      error: st.state === 'unknown' ? `never reached the node (${error.message})` : error.message,
      failure,
    };
  }

  /**
   * Marks the ledger rows of payments the machine gave up (failed after retryable failures, or superseded by a
   * newer invoice) failed, inside the step's write-ahead: certainly unpaid, no longer in doubt.
   */
  private closeGivenUpPayments(s: BuyerState): void {
    for (const p of s.payments) {
      if (p.status !== 'failed' || this.finalRows.has(p.paymentHash)) continue;
      const row = this.parts.store.findPayment(p.paymentHash);
      if (row?.state === 'sent') {
        const error = `given up after ${p.lastFailure ?? 'failed'} failures (the machine pays it no more)`;
        this.parts.store.markFailed(p.paymentHash, error);
        this.notifyOutcome(row, { ok: false, error });
      }
      this.finalRows.add(p.paymentHash);
    }
  }

  /**
   * Asks the node until it gives a final answer for a payment: succeeded, failed, or never attempted.
   *
   * @param paymentHash hex hash
   * @param why the error that made the outcome uncertain (reported if the node says failed)
   */
  private async resolve(paymentHash: string, why: string): Promise<Outcome> {
    const row = this.parts.store.findPayment(paymentHash);
    const st = await this.decidedStatus(paymentHash, row?.state === 'sent');
    if (st.state === 'succeeded') return { ok: true, preimage: st.preimage ?? '', feeMsat: st.feeMsat ?? 0n };
    if (st.state === 'failed') return { ok: false, error: why };
    if (st.state === 'unknown') return { ok: false, error: `never reached the node (${why})` };
    return { ok: false, error: 'daemon stopping' };
  }

  /**
   * The node's final record of a payment. After an attempt whose fate is unknown (the call timed out, the
   * payment was in flight, the daemon stopped while it was sent), "never seen" is asked again after a grace
   * period (`payment.timeoutMs`, at most 10 s): the request may still have been on its way to the node.
   *
   * @param paymentHash hex hash (the one the node pays)
   * @param uncertain the last attempt may have reached the node
   */
  private async decidedStatus(
    paymentHash: string,
    uncertain: boolean,
  ): Promise<{ state: FinalStatus; preimage?: string; feeMsat?: bigint }> {
    const st = await this.finalStatus(paymentHash);
    if (st.state !== 'unknown' || !uncertain) return st;
    await this.nodeClock.sleep(Math.min(10_000, this.parts.config.payment.timeoutMs));
    return this.finalStatus(paymentHash);
  }

  /**
   * Polls `paymentStatus` until the node answers with a final state (an unreachable node is waited for, never
   * taken as a failure; a pending payment is waited for).
   *
   * @param paymentHash hex hash
   */
  private async finalStatus(
    paymentHash: string,
  ): Promise<{ state: FinalStatus; preimage?: string; feeMsat?: bigint }> {
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        const st = await this.parts.node.paymentStatus(paymentHash);
        this.nodeAnswered();
        if (st.state !== 'in_flight') return { ...st, state: st.state };
      } catch (err) {
        this.nodeUnreachable(err as Error);
        if (attempt % 20 === 0)
          this.parts.log.warn('node unreachable while resolving a payment', {
            paymentHash,
            error: (err as Error).message,
          });
      }
      await this.nodeClock.sleep(500);
    }
    return { state: 'stopping' };
  }

  /** Notes that the node did not answer; the first time in an outage it is logged and raised as an alarm. */
  private nodeUnreachable(err: Error): void {
    if (this.nodeDownSinceMs !== null) return;
    this.nodeDownSinceMs = this.nodeClock.now();
    this.alarm(`Lightning node unreachable, payments wait for it: ${err.message}`);
  }

  /** Notes that the node answered; after an outage it is logged with the outage's length. */
  private nodeAnswered(): void {
    if (this.nodeDownSinceMs === null) return;
    const downMs = this.nodeClock.now() - this.nodeDownSinceMs;
    this.nodeDownSinceMs = null;
    this.nodeBackAtMs = this.nodeClock.now();
    this.parts.log.info('Lightning node reachable again', { downMs });
    this.parts.store.appendEvent(this.runner.state.sessionId, 'node.reachable', { downMs });
    // opens the machine's window in which no-route failures are retried (channels re-establishing)
    this.dispatch({ type: 'nodeReachable', atMs: this.parts.clock.now() });
  }

  /**
   * Tells the owner a payment's final outcome (log and webhook queue).
   *
   * @param p the ledger row
   * @param outcome succeeded (with its fee) or failed (with the error)
   */
  private notifyOutcome(
    p: PaymentRow,
    outcome: { ok: true; feeMsat: bigint } | { ok: false; error: string },
  ): void {
    const { clock } = this.parts;
    const price = p.toWh > p.fromWh ? p.amountMsat / BigInt(p.toWh - p.fromWh) : 0n;
    this.notifier.notify({
      type: 'payment',
      time: new Date(clock.now()).toISOString(),
      sessionId: p.sessionId,
      seq: p.seq,
      outcome: outcome.ok ? 'succeeded' : 'failed',
      amountMsat: p.amountMsat,
      feeMsat: outcome.ok ? outcome.feeMsat : null,
      energyWh: p.toWh - p.fromWh,
      priceMsatPerWh: price,
      seller: p.payee,
      paymentHash: p.paymentHash,
      ...(outcome.ok ? {} : { error: outcome.error }),
    });
  }

  /** Commits a payment outcome, notifies the owner and tells the machine. */
  private finish(p: PaymentRow, outcome: Outcome): void {
    const { store, clock } = this.parts;
    if (p.state === 'succeeded' || p.state === 'failed') return;
    const retryable = !outcome.ok && outcome.failure !== undefined && outcome.failure !== 'final';
    if (retryable) {
      // certainly unpaid but perhaps paid again: the row stays `sent` (in doubt, counted against the budgets)
      // until the machine pays again or gives up (`closeGivenUpPayments`)
      this.parts.log.info('payment attempt failed, the machine decides about a retry', {
        paymentHash: p.paymentHash,
        failure: outcome.failure,
        error: outcome.error,
      });
      this.dispatch({
        type: 'paymentResult',
        paymentHash: p.paymentHash,
        ok: false,
        error: outcome.error,
        failure: outcome.failure,
        atMs: clock.now(),
      });
      return;
    }
    if (outcome.ok)
      store.markSucceeded(p.paymentHash, { preimage: outcome.preimage, feeMsat: outcome.feeMsat });
    else store.markFailed(p.paymentHash, outcome.error);
    this.finalRows.add(p.paymentHash);
    this.notifyOutcome(p, outcome);
    this.dispatch({
      type: 'paymentResult',
      paymentHash: p.paymentHash,
      ok: outcome.ok,
      ...(outcome.ok
        ? { preimage: outcome.preimage, feeMsat: outcome.feeMsat }
        : {
            error: outcome.error,
            ...(outcome.refusedReason !== undefined ? { refusedReason: outcome.refusedReason } : {}),
            ...(outcome.failure !== undefined ? { failure: outcome.failure } : {}),
          }),
      atMs: clock.now(),
    });
  }

  /** The snapshot the status page shows. */
  snapshot(): StatusSnapshot {
    const s = this.runner.state;
    const endReason = buyerEndReason(s);
    const ledger = s.sessionId
      ? this.parts.store.payments(s.sessionId).map((p) => ({
          seq: p.seq,
          state: p.state,
          amountMsat: p.amountMsat,
          fromWh: p.fromWh,
          toWh: p.toWh,
          paymentHash: p.paymentHash,
          latencyMs: p.finishedAtMs !== null ? p.finishedAtMs - p.recordedAtMs : null,
        }))
      : [];
    return {
      role: 'vehicle',
      tMs: this.parts.clock.now(),
      state: s.phase,
      sessionId: s.sessionId,
      peer: buyerPeer(s),
      powerW: this.shell.lastReading?.powerW ?? 0,
      energyWh: s.ownEnergyWh,
      priceMsatPerWh: s.schedule[s.schedule.length - 1]?.priceMsatPerWh ?? null,
      creditWh: s.committedWh - s.ownEnergyWh,
      paidMsat: s.paidMsat,
      stopReason: endReason === null ? null : reasonName(endReason),
      alarms: [...this.shell.alarms],
      ledger,
    };
  }

  private statusSource(): StatusSource {
    const store = this.parts.store;
    const l = this.parts.config.limits;
    return storeStatusSource(store, {
      role: 'vehicle',
      status: () => this.snapshot(),
      ledger: (id) => ({ payments: store.payments(id) }),
      clockSpeed: this.parts.config.clock.speed,
      budgets: {
        dailyMsat: this.parts.config.limits.dailyBudgetMsat,
        sessionMsat: this.parts.config.limits.sessionBudgetMsat,
      },
      lossBound: {
        caps: {
          windowSec: l.undeliveredWindowSec,
          perWallWh: l.maxUndeliveredWhPerWall,
          totalWh: l.maxUndeliveredWhTotal,
        },
        exposure: (wallPub) => store.wallExposure(wallPub, this.exposureWindow()),
        alias: (wallPub) => store.wallAlias(wallPub) ?? null,
      },
      actions: {
        availability: false,
        stopSession: () => this.requestStop(),
        clearAlarms: () => this.shell.alarms.splice(0).length,
      },
    });
  }

  /** Asks the machine to end the session (owner stop). */
  requestStop(): void {
    this.dispatch({ type: 'stopRequest', reason: Reason.USER_STOP, atMs: this.parts.clock.now() });
  }

  /** Resolves when queued events are processed. */
  idle(): Promise<void> {
    return this.runner.idle();
  }

  /** Stops the daemon; payments in flight stay `sent` and are resolved by the next start. */
  async stop(): Promise<void> {
    await this.shell.stop(async () => this.notifier.stop());
  }
}
