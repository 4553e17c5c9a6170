/**
 * The wall daemon: wires the pure seller machine (`protocol/seller.ts`) to the cable link, the charger, the
 * meter, the Lightning node, the store and the status page.
 *
 * Inputs → machine events: link messages/up/down, meter readings (MeterPoller), EVSE plug/unplug, the node's
 * settlements, invoice expiry, clock ticks. Effects → actions: send over the link, create/cancel invoices,
 * energize/cut the EVSE (every cut verified by measured current), sign with the node key, record, alarm,
 * end the session (receipt stored). The machine state and the ledger rows a step implies are committed in one
 * transaction before any effect runs (see `daemon/machine-runner.ts`).
 *
 * Restart: the EVSE is paused before anything is written; the machine state is reloaded; invoices the node
 * settled while the daemon was down are looked up and fed in; `requested` invoices the node never returned are
 * failed (the machine issues new ones); once the store has taken the start's writes and the machine has seen a
 * tick, the power is restored if the machine says it is on; an unplug that happened meanwhile ends the session.
 *
 * Fail safe: any step, commit or effect failure, and any store write in an event handler that fails, pauses the
 * EVSE without the store, ends the session in the store if it still can (`FAIL_SAFE`), stops the machine and
 * resolves `failSafe.failed` (the CLI then closes everything and exits non-zero). A session ended that way is
 * not resumed by the next start.
 */
import { settlementCursor } from './settlement-cursor.js';
import { randomBytes } from 'node:crypto';
import { SystemClock, type Clock } from '../hardware/clock.js';
import type { Evse, EvseFault, EvseStatus } from '../hardware/evse/evse.js';
import { PowerCutVerifier } from '../hardware/evse/power-cut-verifier.js';
import { EvseWatchdogKeeper } from '../hardware/evse/watchdog-keeper.js';
import type { EnergyMeter, MeterReading } from '../hardware/meter/energy-meter.js';
import type { CableLink } from '../hardware/link/cable-link.js';
import type { LightningNode } from '../lightning/lightning-node.js';
import {
  createSeller,
  Reason,
  reasonName,
  sellerConfig,
  sellerEndReason,
  sellerGreeting,
  sellerPeer,
  type Effect,
  type Network,
  type SellerEvent,
  type SellerState,
  type Step,
} from '../protocol/index.js';
import { persistSellerState, restoreSellerState } from '../protocol/serialize.js';
import { sellerStepWithStock, stockedBlockWh } from '../protocol/paymentProof.js';
import { NodeUnreachable } from '../lightning/errors.js';
import { ProofRefused, StockKeeper, type StockReconciliation } from './offline/stock-keeper.js';
import type { SellerConfig } from '../protocol/config.js';
import type { FailSafe, MachineBinding, MachineFailure, MachineRunner } from '../daemon/machine-runner.js';
import { DaemonShell, writeCommonRows } from '../daemon/daemon-shell.js';
import type { Logger } from '../daemon/logger.js';
import { connectorAvailable } from '../daemon/status-actions.js';
import type { StatusRoute, StatusSnapshot, StatusSource } from '../daemon/status-server.js';
import { storeStatusSource } from '../daemon/status-source.js';
import type { WallConfig } from './config.js';
import type { WallStore } from './store.js';
import { protocolNetwork } from '../daemon/network-name.js';
import {
  recordConnectorFault,
  recordConnectorFaultCleared,
  storedConnectorFault,
} from '../daemon/connector-fault.js';
import { ConnectorArbiter, type ClaimRefusal, type ConnectorOwner } from './connector-arbiter.js';
import { splitStatementsFor } from './payouts/receipt-split.js'; // split
import type { PromiseRow } from './offline/promise-ledger.js';
import { SigningDelegate } from './offline/signing-delegate.js';

/** Machine-state slot holding the node's committed settle index (where settlement delivery resumes). */

/** Stop reason stored for a session the fail-safe ended (no protocol reason: the machine could not go on). */
export const FAIL_SAFE_REASON = 'FAIL_SAFE';

/** The seller machine refuses the configuration the loader accepted (a configuration error: exit code 2). */
export class SellerConfigRefused extends Error {
  override readonly name = 'SellerConfigRefused';
}

/** Everything the wall daemon runs on (built from the config by `startWallDaemon`, or given by tests). */
export interface WallParts {
  config: WallConfig;
  clock: Clock;
  log: Logger;
  store: WallStore;
  node: LightningNode;
  link: CableLink;
  evse: Evse;
  meter: EnergyMeter;
  /** observer hooks (OCPP reporting) */
  observers?: WallObserver[];
  /** the seller's transition function (default `sellerStep`); fault-injection tests wrap it */
  step?: (state: SellerState, event: SellerEvent) => Step<SellerState>;
  /** extra routes on the status server (e.g. `/metrics`) */
  routes?: StatusRoute[];
  /** who owns the connector (shared with the walk-up and OCPP services; default: a new one owned by this daemon) */
  arbiter?: ConnectorArbiter;
  /**
   * the 1-based connector this daemon drives (default: the store's, 1 for an unscoped store). A site
   * (`wall-module/site/`) runs one WallDaemon per connector on a connector-scoped store
   * (`WallStore.forConnector`), a node view without its own settlement cursor and its status page disabled.
   */
  connectorId?: number;
  /**
   * The Lightning node's time (real time: the node does not run on the daemon's possibly accelerated clock):
   * when an invoice has expired. Default: the system clock; tests pass their manual clock.
   */
  nodeClock?: Clock;
}

/** Something that wants to hear what the wall does (e.g. the OCPP station). All methods optional. */
export interface WallObserver {
  plugged?(): void;
  unplugged?(): void;
  sessionStarted?(sessionId: string): void;
  meterSample?(sessionId: string | null, reading: MeterReading): void;
  powerCut?(sessionId: string, reason: string): void;
  /** power restored after a cut in the same session */
  resumed?(sessionId: string): void;
  invoiceIssued?(
    sessionId: string,
    inv: { seq: number; paymentHash: string; amountMsat: bigint; fromWh: number; toWh: number },
  ): void;
  invoicePaid?(sessionId: string, inv: { seq: number; paymentHash: string; amountMsat: bigint }): void;
  sessionEnded?(sessionId: string, reason: string, summary: { energyWh: number; paidMsat: bigint }): void;
  /** the cable link saw tampering (a forged, replayed or undecodable frame the secure channel refused) */
  tamperDetected?(detail: string): void;
  /** the session loop processed a tick (it is alive): daemon clock ms */
  loopTick?(atMs: number): void;
  /** extra HTML for the status page */
  html?(): string;
  /** the connector's owner changed (a session claimed or released it, it faulted, an operator changed its
   * availability): OCPP reports StatusNotification Charging/Faulted/Unavailable/Available from it */
  availabilityChanged?(owner: ConnectorOwner): void;
  /** offline case 1b: back online, a stocked invoice handed out while the node was unreachable was reconciled
   * with the node (settled or not), `offline: true` */
  stockReconciled?(r: StockReconciliation): void;
  /** offline case 3: a block was credited on the car's signed promise to pay its invoice */
  invoicePromised?(
    sessionId: string,
    p: { seq: number; paymentHash: string; amountMsat: bigint; blockWh: number; vehiclePub: string },
  ): void;
  /** offline case 3: a promised invoice was paid (the car's node came back), possibly after its session */
  promiseKept?(p: PromiseRow, receivedMsat: bigint): void;
  /** offline case 3: a promised invoice expired unpaid: the signed promise is the evidence */
  promiseUnpaid?(p: PromiseRow): void;
  /** called when the daemon stops */
  close?(): Promise<void>;
}

/** The running wall daemon. */
export class WallDaemon {
  /**
   * Who owns the connector: this daemon claims it (`cable`) for each seller session and releases it at the
   * session's end; a walk-up session that owns it keeps the cable side off the EVSE; a fault (an unconfirmed
   * power cut) or Inoperative refuses every new session until cleared.
   */
  readonly arbiter: ConnectorArbiter;
  /** the session whose tampering was reported to the observers ('' = outside a session) */
  private tamperReported: string | null = null;
  /** runner, link, meter, alarms, status server and stop order, shared with the vehicle daemon */
  private readonly shell: DaemonShell<SellerState, SellerEvent>;
  private readonly verifier: PowerCutVerifier;
  private unsubscribeSettled: (() => void) | null = null;
  private lastPlugged: boolean | null = null;
  /** incremented by every energize: a cut verification started before it is void */
  private energizeGeneration = 0;
  /** session whose power was cut (an energize afterwards is a resume) */
  private cutSessionId: string | null = null;
  private expiryTimer: { cancel(): void } | null = null;
  /**
   * real ms (the node's clock) from which an open invoice of this connector may have expired: the expiry check
   * reads the store only from then on (an idle connector has none open; 0 = not known yet, read at the next check)
   */
  private expiryDueMs = 0;
  /** the offline invoice stock (config `offline.stock`; null = off) */
  readonly stock: StockKeeper | null;
  private stockTimer: { cancel(): void } | null = null;
  private readonly observers: WallObserver[];
  /** the restored session was ended by the fail-safe (a still-plugged car waits for a re-plug) */
  private endedByFailSafe = false;
  private watchdog: EvseWatchdogKeeper | null = null;
  /** observer notifications of the step being committed, delivered after its commit (afterStep) */
  private readonly notes: (() => void)[] = [];
  private unsubscribeOwner: (() => void) | null = null;
  private unsubscribeEvse: (() => void) | null = null;
  /** who asked for the next fault clear (recorded with it) */
  private faultClearedBy = 'operator';
  /** the 1-based connector this daemon drives */
  readonly connectorId: number;
  /** the signing delegate (offline case 1b), when the wall sells offline */
  private readonly delegate: SigningDelegate | null;

  private constructor(
    private readonly parts: WallParts,
    nodePubkey: string,
    network: Network,
  ) {
    const { config, clock, log, store } = parts;
    this.observers = parts.observers ?? [];
    this.arbiter = parts.arbiter ?? new ConnectorArbiter();
    this.connectorId = parts.connectorId ?? store.connectorId;
    // one stock per wall database: a site of several connectors sharing one database does not sell offline (two
    // keepers on the same tables could hand out one invoice twice)
    const stockConfig = config.connectors.length === 1 ? config.offline?.stock : undefined;
    if (config.offline?.stock && !stockConfig)
      log.warn('offline.stock ignored: the invoice stock needs a single-connector wall', {});
    this.stock = stockConfig
      ? StockKeeper.open({ db: store.db, node: parts.node, config: stockConfig, clock })
      : null;
    // selling offline: a signing key the node delegates, so that sessions start and end without the node
    this.delegate = stockConfig
      ? new SigningDelegate(store, parts.node, nodePubkey, clock, stockConfig.delegationSec * 1000)
      : null;
    const sc = sellerConfig({
      nodePubkey,
      network,
      priceMsatPerWh: config.tariff.priceMsatPerWh,
      targetInvoiceIntervalSec: config.tariff.invoiceIntervalSec,
      minBlockWh: config.tariff.minBlockWh,
      maxBlockWh: config.tariff.maxBlockWh,
      depositBlocks: config.tariff.depositBlocks,
      graceWh: config.tariff.graceWh,
      maxPowerW: config.evse.maxPowerW,
      heartbeatTimeoutMs: config.session.heartbeatTimeoutMs,
      handshakeTimeoutMs: config.session.handshakeTimeoutMs,
      helloRetryMs: config.session.helloRetryMs,
      resumeWhenPaid: config.tariff.resumeAfterPayment,
      invoiceExpirySec: config.tariff.invoiceExpirySec,
      meterReportIntervalMs: config.session.meterReportIntervalMs,
      maxSuspendSec: config.tariff.maxSuspendSec,
      reissueAfterSec: config.tariff.reissueAfterSec,
      invoiceRetryFirstMs: config.session.invoiceRetryFirstMs,
      invoiceRetryMaxMs: config.session.invoiceRetryMaxMs,
      regreetFirstMs: config.session.regreetFirstMs,
      regreetMaxMs: config.session.regreetMaxMs,
      promiseCapWh: config.tariff.promiseCapWh,
      promiseSiteCapWh: config.tariff.promiseSiteCapWh,
    });
    if (!sc.ok) throw new SellerConfigRefused(`seller configuration: ${sc.error.message}`);
    this.shell = new DaemonShell(parts, this.binding(sc.value), createSeller(sc.value), (ev) => ev);
    const restored = this.runner.state;
    const row = restored.sessionId ? store.findSession(restored.sessionId) : undefined;
    if (row?.status === 'ended' && restored.phase !== 'ended' && restored.phase !== 'idle') {
      // the fail-safe ended this session outside the machine: it is not resumed (a car still plugged in gets a
      // new session only after it is unplugged)
      log.warn('not resuming a session the fail-safe ended', { sessionId: row.id, reason: row.stopReason });
      this.endedByFailSafe = true;
      this.runner.state = createSeller(sc.value);
    }
    // the config may have changed since the state was saved: the restored machine keeps its session's terms,
    // new sessions start from the current config (startSession copies state.config)
    this.runner.state = {
      ...this.runner.state,
      config: this.runner.state.phase === 'idle' ? sc.value : this.runner.state.config,
    };
    this.verifier = new PowerCutVerifier(parts.meter, clock, {
      thresholdA: config.powerCut.maxCurrentA,
      withinMs: config.powerCut.withinMs,
      pollMs: Math.max(50, Math.floor(config.powerCut.withinMs / 20)),
    });
  }

  /**
   * Starts the daemon on already-opened parts.
   *
   * @param parts config, clock, logger, store, node, link, EVSE and meter
   * @returns the running daemon
   */
  static async start(parts: WallParts): Promise<WallDaemon> {
    const identity = await nodeIdentity(parts);
    const d = new WallDaemon(parts, identity.pubkey, protocolNetwork(identity.network));
    try {
      await d.boot();
    } catch (err) {
      // nothing runs the session: power off, close what boot opened, and let the caller exit non-zero
      await parts.evse.pause().catch(() => {});
      await d.stop();
      throw err;
    }
    return d;
  }

  /** The machine's fail-safe: `failed` resolves once it has cut the power and stopped the machine. */
  get failSafe(): FailSafe {
    return this.runner;
  }

  /** The status page URL, if enabled. */
  get statusUrl(): string | null {
    return this.shell.statusUrl;
  }

  private get runner(): MachineRunner<SellerState, SellerEvent> {
    return this.shell.runner;
  }

  private get stopping(): boolean {
    return this.shell.stopping;
  }

  /** Current machine state (tests, status). */
  get state(): SellerState {
    return this.runner.state;
  }

  private dispatch(ev: SellerEvent): void {
    this.runner.dispatch(ev);
  }

  private guard<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
    return this.shell.guard(fn);
  }

  private guardAsync(work: Promise<unknown>): void {
    this.shell.guardAsync(work);
  }

  /**
   * The fail-safe action: pause the EVSE through its driver (no store involved), then check with the meter that
   * the current stopped (logged only: the store may be what failed).
   */
  private async cutPowerWithoutStore(failure: MachineFailure): Promise<void> {
    const { evse, log, clock } = this.parts;
    this.energizeGeneration++;
    await evse.pause();
    const outcome = await this.verifier.verify(clock.now());
    if (outcome.ok) log.warn('fail-safe: power cut verified', { cause: failure.message });
    else log.error('fail-safe: power cut NOT verified', { ...outcome, cause: failure.message });
  }

  private async boot(): Promise<void> {
    const { config, clock, log, store, node, evse } = this.parts;
    // safety first, before any write (a store that cannot be written must not leave the power on): the power
    // is off until the restored machine, having seen the store work and a tick, says it is on
    await evse.pause().catch((e: Error) => log.warn('EVSE pause failed', { error: e.message }));
    store.appendEvent(null, 'daemon.started', {
      role: 'wall',
      phase: this.runner.state.phase,
      connectorId: this.connectorId,
    });
    // the connector's owner: a fault survives restarts, the restored session re-claims it, and every change is
    // recorded (faults) and reported (observers) from here on
    const fault = storedConnectorFault(store, this.connectorId);
    if (fault) {
      this.arbiter.fault(fault.reason, fault.sinceMs);
      this.alarm(`connector faulted (${fault.reason}): no session until an operator clears it`);
    }
    if (!connectorAvailable(store, this.connectorId)) this.arbiter.setAvailability(false, 'operator');
    this.unsubscribeOwner = this.arbiter.onChange(this.guard((o, prev) => this.onOwnerChange(o, prev)));
    this.reconcileOwner(this.runner.state);
    for (const o of this.observers) o.availabilityChanged?.(this.arbiter.current());
    log.info('wall daemon starting', {
      phase: this.runner.state.phase,
      sessionId: this.runner.state.sessionId,
    });

    // the EVSE's own watchdog: report a miss while we were away, then arm it (pets come from the loop's ticks)
    this.watchdog = await EvseWatchdogKeeper.start(evse, {
      intervalSec: config.evse.watchdogIntervalSec,
      fallbackCurrentA: 0,
      allowUnsupervised: config.evse.allowUnsupervised,
      log,
      onMissed: this.guard((when, st) => {
        store.appendEvent(this.runner.state.sessionId, 'evse.watchdogMissed', { when, ...st });
        this.alarm(`EVSE watchdog fired (${when}): no heartbeat for ${st.intervalSec} s, power fell back`);
        // the fallback stopped the EVSE: power goes back on only if the machine says so
        if (this.runner.state.energized)
          void evse.enable().catch((e: Error) => log.warn('EVSE enable failed', { error: e.message }));
      }),
    });
    await evse
      .setCurrentLimitA(config.evse.maxCurrentA)
      .catch((e: Error) => log.warn('EVSE current limit failed', { error: e.message }));

    // settlements: resume the node's stream after the last committed settle index, subscribe, then look up
    // anything issued before this start. A settlement is acknowledged only once the seller's step and its
    // ledger rows committed; a failed commit is retried by the node's delivery (and logged there)
    node.resumeSettlements?.(settlementCursor(store, log));
    this.unsubscribeSettled = node.onSettled((s) => this.onSettled(s.paymentHash, s.amountMsat));
    for (const inv of store.invoicesInState('requested')) {
      store.markAbandoned(inv.sessionId, inv.seq, 'the node never returned it (daemon restarted)');
      this.dispatch({
        type: 'invoiceCreateFailed',
        seq: inv.seq,
        error: 'daemon restarted',
        atMs: clock.now(),
      });
    }
    this.askAgainLostAnswers();
    for (const inv of store.invoicesInState('open')) {
      if (!inv.paymentHash) continue;
      // a proof accepted (written ahead) just before the last process died: its settlement is recorded now
      const stocked = this.stock?.find(inv.paymentHash);
      if (stocked?.phase === 'proven' && stocked.sessionId === inv.sessionId) {
        this.creditProof(inv.paymentHash, stocked.amountMsat, stocked.preimage);
        continue;
      }
      try {
        const st = await node.lookupInvoice(inv.paymentHash);
        if (st.state === 'settled') this.settledByLookup(inv.paymentHash, st.receivedMsat);
        else if (st.state === 'cancelled') {
          store.markClosed(inv.sessionId, inv.seq, 'cancelled');
          this.dispatch({ type: 'invoiceExpired', paymentHash: inv.paymentHash, atMs: clock.now() });
        }
      } catch (err) {
        log.warn('invoice lookup after restart failed', {
          paymentHash: inv.paymentHash,
          error: (err as Error).message,
        });
      }
    }

    await this.shell.openLink((bytes: Uint8Array) =>
      this.dispatch({ type: 'frame', bytes, atMs: clock.now() }),
    );
    this.shell.startMeter(
      // samples belong to a session once its car is authenticated (while a car is greeted the connector may be a
      // walk-up's)
      (s) =>
        s.sessionId && s.phase !== 'idle' && s.phase !== 'ended' && !sellerGreeting(s) ? s.sessionId : null,
      (sessionId, r) => {
        for (const o of this.observers) o.meterSample?.(sessionId, r);
      },
    );

    const onStatus = this.guard((s: EvseStatus) => this.onEvseStatus(s));
    const onFault = this.guard((f: EvseFault) => this.alarm(`EVSE fault: ${f}`));
    const onLink = this.guard((connected: boolean) => this.onEvseLink(connected));
    evse.on('status', onStatus);
    evse.on('fault', onFault);
    evse.on('link', onLink);
    this.unsubscribeEvse = () => {
      evse.off('status', onStatus);
      evse.off('fault', onFault);
      evse.off('link', onLink);
    };
    const initial = await evse.status();
    // a car still plugged in after its session ended (before this restart) gets no new session until it is
    // unplugged and plugged in again
    if (initial.plugged && (this.runner.state.phase === 'ended' || this.endedByFailSafe))
      this.lastPlugged = true;
    this.onEvseStatus(initial);

    // the restored machine judges its session (heartbeat, unplug) before the power comes back on
    this.dispatch({ type: 'tick', atMs: clock.now() });
    await this.runner.idle();
    if (this.runner.hasFailed) throw new Error('the machine failed while starting');
    if (this.runner.state.energized) {
      log.info('restoring power for the resumed session', { sessionId: this.runner.state.sessionId });
      await this.execute({ type: 'energize' }, this.runner.state);
    }

    this.shell.startTicks();
    this.scheduleExpiryCheck();
    this.scheduleStockUpkeep();

    const url = await this.shell.startStatus(this.statusSource());
    // where `boltcharge clear-fault` reaches this daemon's operator actions (a port 0 is resolved here)
    if (url !== null) store.appendEvent(null, 'status.listening', { url });
  }

  private onEvseStatus(s: EvseStatus): void {
    const plugged = s.plugged;
    if (plugged === this.lastPlugged) return;
    this.lastPlugged = plugged;
    const atMs = this.parts.clock.now();
    const phase = this.runner.state.phase;
    this.parts.store.appendEvent(this.runner.state.sessionId, plugged ? 'evse.plugged' : 'evse.unplugged', {
      pilot: s.pilot,
    });
    if (plugged) {
      for (const o of this.observers) o.plugged?.();
      if (phase === 'idle' || phase === 'ended') this.startCableSession(atMs);
    } else {
      for (const o of this.observers) o.unplugged?.();
      if (phase !== 'idle') this.dispatch({ type: 'unplug', atMs });
    }
  }

  /**
   * A plugged-in car gets a session only when the connector may take one: not faulted, not out of service (the
   * dashboard's or the CSMS's availability), not driven by a walk-up session. A refusal is recorded with its
   * reason (`session.refused`); the car gets no hello.
   *
   * @param atMs daemon clock ms
   */
  private startCableSession(atMs: number): void {
    const refusal = this.claimRefusal();
    if (refusal) {
      this.refuse(refusal.refusal, refusal.detail);
      return;
    }
    this.dispatch({ type: 'plug', entropyHex: randomBytes(32).toString('hex'), atMs });
  }

  /** The authenticated session's id (a car that proved its key), or null: what the blind relay lends to. */
  authenticatedSessionId(): string | null {
    return authenticatedSession(this.state);
  }

  /** Why a new cable session may not start now, or null when it may. */
  private claimRefusal(): { refusal: ClaimRefusal; detail: string } | null {
    const o = this.arbiter.current();
    if (o.kind === 'faulted') return { refusal: 'CONNECTOR_FAULTED', detail: o.reason };
    if (o.kind === 'inoperative' || !connectorAvailable(this.parts.store, this.connectorId))
      return { refusal: 'CONNECTOR_INOPERATIVE', detail: o.kind === 'inoperative' ? o.reason : 'operator' };
    if (o.kind === 'walkup') return { refusal: 'CONNECTOR_BUSY', detail: `walk-up session ${o.sessionId}` };
    return null;
  }

  private refuse(refusal: ClaimRefusal, detail: string): void {
    this.parts.store.appendEvent(null, 'session.refused', { connectorId: this.connectorId, refusal, detail });
    this.alarm(`car plugged in: no session (${refusal}: ${detail})`);
    // the car is told why (a clear refusal with the connector's reason) instead of getting no hello
    this.dispatch({
      type: 'connectorRefused',
      reason: Reason[refusal],
      detail,
      atMs: this.parts.clock.now(),
    });
  }

  /**
   * Keeps the arbiter in step with the machine after every committed step: an authenticated seller session (a
   * car with a vehicle module proved its key) owns the connector (`cable`), an ended one releases it. While the
   * wall is only greeting (a car without a module answers nothing) the connector stays free for a walk-up
   * payment. A claim refused meanwhile (a fault, a walk-up session that claimed first) ends the session.
   */
  private reconcileOwner(s: SellerState): void {
    const o = this.arbiter.current();
    const active = authenticatedSession(s) !== null;
    if (active && s.sessionId !== null) {
      if (o.kind === 'cable' && o.sessionId === s.sessionId) return;
      const claim = this.arbiter.claim('cable', s.sessionId);
      if (claim.ok) return;
      if (s.phase === 'closing') return; // already ending
      this.parts.log.warn('connector claim refused: ending the session', {
        ...claim,
        sessionId: s.sessionId,
      });
      this.dispatch({
        type: 'stopRequest',
        reason: claim.refusal === 'CONNECTOR_FAULTED' ? Reason.EQUIPMENT_FAULT : Reason.USER_STOP,
        atMs: this.parts.clock.now(),
      });
    } else if (o.kind === 'cable') this.arbiter.release(o.sessionId);
  }

  /** The connector's owner changed: faults are recorded (they survive restarts) and observers told. */
  private onOwnerChange(owner: ConnectorOwner, previous: ConnectorOwner): void {
    const { store } = this.parts;
    if (owner.kind === 'faulted' && previous.kind !== 'faulted') {
      recordConnectorFault(store, this.connectorId, { reason: owner.reason, sinceMs: owner.sinceMs });
      this.alarm(`connector FAULTED (${owner.reason}): no session until an operator clears it`);
    } else if (previous.kind === 'faulted' && owner.kind !== 'faulted') {
      recordConnectorFaultCleared(store, this.connectorId, this.faultClearedBy);
      this.parts.log.info('connector fault cleared', { by: this.faultClearedBy });
    }
    for (const o of this.observers) o.availabilityChanged?.(owner);
    // the connector came free (a walk-up ended, a fault was cleared, it is operative again) with a car still
    // plugged in and no cable session: greet it (a car with a vehicle module then charges)
    if (owner.kind === 'idle' && previous.kind !== 'cable' && this.lastPlugged === true && !this.stopping) {
      const s = this.runner.state;
      if (s.sessionId === null || s.phase === 'idle' || s.phase === 'ended')
        this.startCableSession(this.parts.clock.now());
    }
  }

  /**
   * Marks the connector faulted (the power is already cut) and ends the running session with
   * `EQUIPMENT_FAULT`; no session starts until an operator clears it (`clearFault`, `boltcharge clear-fault`).
   *
   * @param reason what went wrong (recorded, shown, reported to the CSMS)
   */
  private fault(reason: string): void {
    const now = this.parts.clock.now();
    this.arbiter.fault(reason, now);
    const s = this.runner.state;
    if (s.sessionId !== null && s.phase !== 'idle' && s.phase !== 'ended')
      this.dispatch({ type: 'stopRequest', reason: Reason.EQUIPMENT_FAULT, atMs: now });
  }

  /**
   * The operator's clear-fault action (the dashboard, `boltcharge clear-fault`): clears the page's alarm list and
   * the connector's fault.
   *
   * @param from who asked (recorded with the fault clear)
   * @returns how many alarms were cleared
   */
  clearAlarms(from = 'operator (status action)'): number {
    const n = this.shell.alarms.splice(0).length;
    this.clearFault(from);
    return n;
  }

  /** The connector's current alarms, oldest first (the status page's list). */
  get alarms(): readonly string[] {
    return this.shell.alarms;
  }

  /**
   * Clears the connector's fault (operator action: the dashboard's clear-fault, `boltcharge clear-fault`).
   *
   * @param from who cleared it (recorded)
   * @returns whether a fault was cleared
   */
  clearFault(from = 'operator'): boolean {
    this.faultClearedBy = from;
    return this.arbiter.clearFault();
  }

  /**
   * The EVSE's control link dropped or came back. Lost: the charger can no longer be told to stop, so the session
   * ends (`EVSE_LINK_LOST`, recorded as `evse.linkLost`); the charger's own watchdog falls back to 0 A when our
   * heartbeats stop. Back: recorded; a new plug-in starts a new session.
   */
  private onEvseLink(connected: boolean): void {
    const s = this.runner.state;
    this.parts.store.appendEvent(s.sessionId, connected ? 'evse.linkRestored' : 'evse.linkLost', {});
    if (connected) return;
    this.alarm('EVSE link lost: ending the session');
    if (s.sessionId !== null && s.phase !== 'idle' && s.phase !== 'ended')
      this.dispatch({ type: 'stopRequest', reason: Reason.EVSE_LINK_LOST, atMs: this.parts.clock.now() });
  }

  /**
   * One settlement path for the stream, the lookups after a restart and the suspension supervisor: the seller
   * machine steps first; its state, the ledger row (settled, or settled-but-not-credited when the machine did not
   * accept it) and the observers' notes commit in one transaction (`writeAhead`), and observers hear
   * `invoicePaid` only after that commit (`afterStep`).
   *
   * @param paymentHash hex hash of the settled invoice
   * @param amountMsat what the node received, msat
   * @returns resolves once committed (the node's acknowledgement); rejects with `StepNotCommitted` when the
   *   transaction failed (the node's delivery retries)
   */
  private async onSettled(paymentHash: string, amountMsat: bigint): Promise<void> {
    const before = this.parts.store.invoiceByHash(paymentHash);
    if (!before || before.state === 'settled') return; // not ours, or already counted (replayed on restart)
    await this.runner.dispatchCommitted({
      type: 'invoiceSettled',
      paymentHash,
      amountMsat,
      atMs: this.parts.clock.now(),
    });
  }

  /** A settlement found by a lookup: the same path; a failed commit is left to the node's stream or the next
   * lookup (logged). */
  private settledByLookup(paymentHash: string, amountMsat: bigint): void {
    this.onSettled(paymentHash, amountMsat).catch((err: unknown) =>
      this.parts.log.warn('settlement found by lookup not committed yet', {
        paymentHash,
        error: err instanceof Error ? err.message : String(err),
      }),
    );
  }

  /**
   * The ledger rows of a settlement step, inside its transaction: a settlement the machine credited
   * (`invoiceSettled` record) marks the row settled and queues `invoicePaid` for the observers; one it did not
   * credit (late, wrong state, short) still marks the money received, with an event saying it was not credited.
   */
  private writeSettlement(
    ev: Extract<SellerEvent, { type: 'invoiceSettled' }>,
    effects: readonly Effect[],
  ): void {
    const { store } = this.parts;
    const hash = ev.paymentHash.toLowerCase();
    const credited = effects.some(
      (e) => e.type === 'record' && e.kind === 'invoiceSettled' && e.data['paymentHash'] === hash,
    );
    const row = store.markSettled(hash, ev.amountMsat);
    if (!row) return;
    const promise = store.promises.decide(hash, 'paid', this.parts.clock.now());
    if (promise) {
      // a promised block (credited when the car promised) is paid now: its session may be long over
      store.appendEvent(row.sessionId, 'promise.paid', {
        seq: row.seq,
        paymentHash: hash,
        receivedMsat: ev.amountMsat,
      });
      this.notes.push(() => {
        for (const o of this.observers) o.promiseKept?.(promise, ev.amountMsat);
      });
      return;
    }
    if (credited) {
      this.notes.push(() => {
        for (const o of this.observers)
          o.invoicePaid?.(row.sessionId, { seq: row.seq, paymentHash: hash, amountMsat: ev.amountMsat });
      });
    } else {
      store.appendEvent(row.sessionId, 'invoice.settledNotCredited', {
        seq: row.seq,
        receivedMsat: ev.amountMsat,
      });
    }
  }

  /**
   * Offline case 1b: the node could not be reached for invoice `e.seq`, so a stocked invoice is handed to the
   * session (recorded as handed before it leaves): the largest denomination not above the requested amount that
   * is a whole number of Wh at the block's price. None fits (the stock is out): the creation fails, the machine
   * retries later and, unpaid, cuts the power.
   */
  private issueFromStock(e: Extract<Effect, { type: 'createInvoice' }>, s: SellerState, sid: string): void {
    const { store, log, clock } = this.parts;
    const requested = s.invoices.find((i) => i.seq === e.seq);
    const handed =
      this.stock && requested
        ? this.stock.handOut({
            sessionId: sid,
            minMsat: 0n,
            maxMsat: e.amountMsat,
            stepMsat: requested.priceMsatPerWh,
            // only a denomination the machine's own shrink rule accepts (sellerStepWithStock applies it too)
            fits: (amountMsat) => stockedBlockWh(s, requested, amountMsat) !== null,
          })
        : null;
    // the block the stocked amount buys
    const blockWh = handed && requested ? stockedBlockWh(s, requested, handed.amountMsat) : null;
    if (!handed || !requested || blockWh === null) {
      log.warn('node unreachable and no stocked invoice fits', { seq: e.seq, amountMsat: e.amountMsat });
      this.dispatch({
        type: 'invoiceCreateFailed',
        seq: e.seq,
        error: 'node unreachable and the offline invoice stock is out',
        atMs: clock.now(),
      });
      return;
    }
    store.markIssuedFromStock(sid, e.seq, { ...handed, blockWh });
    this.expiryDueMs = Math.min(this.expiryDueMs, handed.expiresAtMs);
    log.info('invoice served from the offline stock', {
      seq: e.seq,
      paymentHash: handed.paymentHash,
      amountMsat: handed.amountMsat,
    });
    this.dispatch({
      type: 'invoiceCreated',
      seq: e.seq,
      bolt11: handed.bolt11,
      paymentHash: handed.paymentHash,
      stockedAmountMsat: handed.amountMsat,
      atMs: clock.now(),
    });
  }

  /**
   * Offline case 1b: the car proved it paid an invoice of this session. A stocked one is checked by the keeper
   * (recorded as used before it answers) and then settles like a node settlement, the ledger row marked paid
   * offline; a proof for an invoice the node issued for this session is credited the same way (the preimage proves
   * the node settled it; the node's own report of it later is a repeat). A refusal
   * is named in the log, the alarm and the ledger, and buys nothing.
   */
  private verifyProof(e: Extract<Effect, { type: 'verifyPaymentProof' }>, sid: string | null): void {
    const { store, log } = this.parts;
    const stocked = this.stock?.find(e.paymentHash);
    if (!sid) return;
    if (!this.stock) return; // a wall that does not sell offline waits for its node's settlement, as in version 1
    if (!stocked) {
      // an invoice the node issued for this session (the machine checked the hash): the preimage proves the node
      // settled it, so it is credited now, even while the node's settlement stream cannot reach us; the stream's
      // report of it later is a repeat
      const row = store.invoiceByHash(e.paymentHash);
      if (row?.sessionId !== sid || row.state !== 'open') return;
      store.appendEvent(sid, 'invoice.paidByProof', { seq: row.seq, paymentHash: e.paymentHash });
      this.settledByLookup(e.paymentHash, row.amountMsat);
      return;
    }
    try {
      const amountMsat = this.stock.acceptProof({
        sessionId: sid,
        paymentHash: e.paymentHash,
        preimage: e.preimage,
      });
      this.creditProof(e.paymentHash, amountMsat, e.preimage);
    } catch (err) {
      if (!(err instanceof ProofRefused)) throw err;
      // accepted before a restart, not yet credited: the same proof again completes it (never twice: the row)
      const row = store.invoiceByHash(e.paymentHash);
      if (
        err.refusal === 'PROOF_ALREADY_USED' &&
        stocked.phase === 'proven' &&
        stocked.sessionId === sid &&
        row?.state === 'open'
      )
        return this.creditProof(e.paymentHash, stocked.amountMsat, stocked.preimage);
      log.warn('payment proof refused', { seq: e.seq, paymentHash: e.paymentHash, refusal: err.refusal });
      // the machine names it to the car (error message), the ledger (record) and the alarm
      this.dispatch({
        type: 'paymentProofRefused',
        seq: e.seq,
        paymentHash: e.paymentHash,
        refusal: err.refusal,
        atMs: this.parts.clock.now(),
      });
    }
  }

  /** A proof accepted: the ledger row is marked paid offline, then the settlement path runs. */
  private creditProof(paymentHash: string, amountMsat: bigint, preimage: string): void {
    this.parts.store.markPaidOffline(paymentHash, preimage);
    this.settledByLookup(paymentHash, amountMsat);
  }

  /**
   * The stock's upkeep, every `offline.stock.upkeepSec` (first at boot): reconcile every handed or proven
   * invoice with the node (each reconciled one reaches the observers with `offline: true` and the ledger), then
   * top the stock up. An unreachable node skips the round (nothing is lost; the next round asks again).
   */
  private scheduleStockUpkeep(): void {
    const stock = this.stock;
    const cfg = this.parts.config.offline?.stock;
    if (!stock || !cfg) return;
    const { log, store } = this.parts;
    let running = false;
    const upkeep = async (): Promise<void> => {
      if (running || this.stopping) return;
      running = true;
      try {
        if (await this.delegate?.renew()) log.info('signing delegation renewed by the node', {});
      } catch (err) {
        log.debug('signing delegation not renewed: node unreachable', { error: (err as Error).message });
      }
      try {
        const reconciled = await stock.reconcile();
        for (const r of reconciled) {
          store.appendEvent(r.sessionId, 'offline.reconciled', { ...r });
          if (!r.settled) this.alarm(`stocked invoice ${r.paymentHash} handed out offline was never paid`);
          for (const o of this.observers) o.stockReconciled?.(r);
        }
        const created = await stock.replenish(true);
        if (created > 0) log.info('offline invoice stock topped up', { created, ...stock.counts() });
      } catch (err) {
        log.debug('offline stock upkeep skipped: node unreachable', { error: (err as Error).message });
      } finally {
        running = false;
      }
    };
    const arm = (): void => {
      this.stockTimer = this.parts.clock.setTimer(cfg.upkeepSec * 1000, () => {
        if (this.stopping) return;
        this.guardAsync(upkeep().then(arm));
      });
    };
    this.guardAsync(upkeep().then(arm));
  }

  /**
   * At a restart, the node's answers the restored machine still waits for, which died with the process:
   * - an invoice the node created and the ledger recorded (`open`, with its BOLT11) whose `invoiceCreated` step
   *   did not commit is still `requested` in the machine, which would wait for an answer that never comes (no
   *   new invoice, the car never billed: a kill -9 at that moment ended a session UNPAID). Its answer is stepped
   *   again from the ledger; a stocked one with its denomination, as when it was handed out;
   * - the receipt's signature a closing machine asked for is asked for again, so a session restarted while
   *   closing still gets its signed receipt.
   */
  private askAgainLostAnswers(): void {
    const { store, clock, log } = this.parts;
    const s = this.runner.state;
    // (a handshake cut by the restart is not resumed: it times out and the car is greeted again)
    if (s.phase === 'closing' && s.receipt.step === 'signing')
      void this.execute({ type: 'signWithNodeKey', text: s.receipt.pendingSign }, s);
    const sid = s.sessionId;
    if (sid === null) return;
    for (const inv of s.invoices) {
      if (inv.status !== 'requested') continue;
      const row = store.invoice(sid, inv.seq);
      if (row?.state !== 'open' || row.paymentHash === null || row.bolt11 === null) continue;
      const stocked = this.stock?.find(row.paymentHash);
      log.info('invoice issued before the restart answered again', {
        seq: inv.seq,
        paymentHash: row.paymentHash,
      });
      this.dispatch({
        type: 'invoiceCreated',
        seq: inv.seq,
        bolt11: row.bolt11,
        paymentHash: row.paymentHash,
        ...(stocked ? { stockedAmountMsat: row.amountMsat } : {}),
        atMs: clock.now(),
      });
    }
  }

  /**
   * Offline case 3: the seller credited a block on the car's signed promise (its `invoicePromised` record): the
   * promise and its evidence are written in the step's transaction; the observers hear of it after the commit.
   */
  private writePromise(sessionId: string, d: Record<string, unknown>): void {
    const p = {
      paymentHash: String(d['paymentHash']),
      sessionId,
      seq: Number(d['seq']),
      vehiclePub: String(d['vehiclePub']),
      amountMsat: BigInt(String(d['amountMsat'])),
      blockWh: Number(d['blockWh']),
      signature: String(d['signature']),
      promisedAtMs: this.parts.clock.now(),
    };
    this.parts.store.promises.record(p);
    this.notes.push(() => {
      for (const o of this.observers) o.invoicePromised?.(sessionId, p);
    });
  }

  /**
   * Offline case 3: a promised invoice expired unpaid (the node confirmed it is not settled). The promise is
   * recorded unpaid, the operator alarmed, the observers (the CSMS) told; the signature is the evidence.
   */
  private promiseBroken(paymentHash: string): void {
    const { store, clock } = this.parts;
    const p = store.promises.decide(paymentHash, 'unpaid', clock.now());
    if (!p) return;
    store.appendEvent(p.sessionId, 'promise.unpaid', {
      seq: p.seq,
      paymentHash,
      amountMsat: p.amountMsat,
      blockWh: p.blockWh,
      vehiclePub: p.vehiclePub,
    });
    this.alarm(
      `promise unpaid: invoice ${p.seq} of session ${p.sessionId.slice(0, 8)} (${p.blockWh} Wh, ${p.amountMsat} msat) by car ${p.vehiclePub.slice(0, 16)}…`,
    );
    const unpaid = { ...p, state: 'unpaid' as const, decidedAtMs: clock.now() };
    for (const o of this.observers) o.promiseUnpaid?.(unpaid);
  }

  /**
   * Invoice expiry is judged by the node's clock (real time), not the daemon's (possibly accelerated) one. The
   * store is read only once the earliest known expiry is due (`expiryDueMs`): a connector with no open invoice
   * (idle) costs a timer and nothing else.
   */
  private scheduleExpiryCheck(): void {
    const nodeClock = this.parts.nodeClock ?? new SystemClock();
    const check = async (): Promise<void> => {
      const now = nodeClock.now();
      if (now < this.expiryDueMs) return;
      // invoices issued while this check runs lower it again (min): none is missed
      this.expiryDueMs = Infinity;
      let next = Infinity;
      for (const inv of this.parts.store.invoicesInState('open')) {
        if (!inv.paymentHash || inv.expiresAtMs === null) continue;
        if (inv.expiresAtMs > now) {
          next = Math.min(next, inv.expiresAtMs);
          continue;
        }
        try {
          const st = await this.parts.node.lookupInvoice(inv.paymentHash);
          if (st.state === 'settled') {
            this.settledByLookup(inv.paymentHash, st.receivedMsat);
            continue;
          }
        } catch {
          next = now; // node away: decide at the next check
          continue;
        }
        this.parts.store.markClosed(inv.sessionId, inv.seq, 'expired');
        this.promiseBroken(inv.paymentHash);
        this.dispatch({ type: 'invoiceExpired', paymentHash: inv.paymentHash, atMs: this.parts.clock.now() });
      }
      this.expiryDueMs = Math.min(this.expiryDueMs, next);
    };
    const arm = (): void => {
      this.expiryTimer = this.parts.clock.setTimer(5000, () => {
        if (this.stopping) return;
        this.guardAsync(check().then(arm));
      });
    };
    arm();
  }

  private alarm(message: string): void {
    this.shell.alarm(message);
  }

  private binding(current: SellerConfig): MachineBinding<SellerState, SellerEvent> {
    const { store } = this.parts;
    return {
      // an invoice served from the offline stock shrinks its block to the stocked denomination
      step: this.parts.step ?? sellerStepWithStock,
      serialize: (s) => persistSellerState(s),
      // versioned and validated (protocol/serialize.ts): an older format is migrated, a damaged one refused
      deserialize: (text) => {
        const r = restoreSellerState(text, current);
        if (!r.ok) throw r.error;
        return r.value;
      },
      writeAhead: (s, effects, ev) => {
        this.notes.length = 0; // a rolled-back step's notes never reach the observers
        const sid = s.sessionId;
        // the ledger row of a settlement first: its `invoice.settled` precedes what the step did with it (e.g.
        // `machine.energized` after the deposit)
        if (ev.type === 'invoiceSettled') this.writeSettlement(ev, effects);
        const created = writeCommonRows(
          store,
          {
            sessionId: sid,
            peer: sellerPeer(s),
            energyWh: s.deliveredWh,
            priceMsatPerWh: s.schedule[s.schedule.length - 1]?.priceMsatPerWh,
          },
          effects,
          () => null, // the wall signs the receipt; only the car judges it
        );
        if (created && sid)
          this.notes.push(() => {
            for (const o of this.observers) o.sessionStarted?.(sid);
          });
        for (const e of effects) {
          if (e.type === 'record' && e.kind === 'invoicePromised' && sid) this.writePromise(sid, e.data);
          if (e.type === 'createInvoice' && sid) {
            const inv = s.invoices.find((i) => i.seq === e.seq);
            if (!inv) continue;
            store.requestInvoice({
              sessionId: sid,
              seq: e.seq,
              amountMsat: e.amountMsat,
              fromWh: inv.fromWh,
              toWh: inv.fromWh + inv.blockWh,
              priceMsatPerWh: inv.priceMsatPerWh,
            });
          }
        }
        for (const inv of s.invoices) {
          if (!sid || inv.status !== 'failed') continue;
          const row = store.invoice(sid, inv.seq);
          if (row?.state === 'requested') store.markAbandoned(sid, inv.seq, 'the node did not create it');
        }
      },
      execute: (e, s) => this.execute(e, s),
      afterStep: (_s, ev) => {
        // the step committed: the observers hear what it recorded, and the connector follows the session
        for (const note of this.notes.splice(0)) note();
        this.reconcileOwner(_s);
        this.shell.publish();
        if (ev.type !== 'tick') return;
        this.watchdog?.pet();
        for (const o of this.observers) o.loopTick?.(ev.atMs);
      },
      failSafe: (failure) => this.cutPowerWithoutStore(failure),
      recordFailure: (s, failure) => {
        if (!s.sessionId || !store.findSession(s.sessionId)) return;
        store.appendEvent(s.sessionId, 'session.failSafe', { error: failure.message });
        store.endSession(s.sessionId, FAIL_SAFE_REASON);
      },
    };
  }

  private async execute(e: Effect, s: SellerState): Promise<void> {
    const { store, log, node, evse, clock, config } = this.parts;
    const sid = s.sessionId;
    switch (e.type) {
      case 'send':
        this.shell.sendQueue.push(e.frame, e.message.type);
        return;
      case 'createInvoice': {
        const created = node
          .createInvoice({ amountMsat: e.amountMsat, memo: e.memo, expirySec: e.expirySec })
          .then(
            (inv) => {
              if (sid) store.markIssued(sid, e.seq, inv.paymentHash, inv.bolt11, inv.expiresAt);
              this.expiryDueMs = Math.min(this.expiryDueMs, inv.expiresAt);
              const row = sid ? store.invoice(sid, e.seq) : undefined;
              if (sid && row)
                for (const o of this.observers)
                  o.invoiceIssued?.(sid, {
                    seq: e.seq,
                    paymentHash: inv.paymentHash,
                    amountMsat: e.amountMsat,
                    fromWh: row.fromWh,
                    toWh: row.toWh,
                  });
              this.dispatch({
                type: 'invoiceCreated',
                seq: e.seq,
                bolt11: inv.bolt11,
                paymentHash: inv.paymentHash,
                atMs: clock.now(),
              });
            },
            (err: Error) => {
              // the node is unreachable: the invoice comes from the offline stock when there is one
              if (err instanceof NodeUnreachable && this.stock && sid) return this.issueFromStock(e, s, sid);
              log.warn('invoice creation failed', { seq: e.seq, error: err.message });
              this.dispatch({
                type: 'invoiceCreateFailed',
                seq: e.seq,
                error: err.message,
                atMs: clock.now(),
              });
            },
          );
        // a store write after the node answered that fails is an unrecordable state: fail safe
        this.guardAsync(created);
        return;
      }
      case 'cancelInvoice': {
        const row = store.invoiceByHash(e.paymentHash);
        const answered = (): void =>
          this.dispatch({ type: 'cancelAnswered', paymentHash: e.paymentHash, atMs: clock.now() });
        this.guardAsync(
          node.cancelInvoice(e.paymentHash).then(
            () => {
              if (row && row.state === 'open') store.markClosed(row.sessionId, row.seq, 'cancelled');
              answered();
            },
            async (err: Error) => {
              log.warn('invoice cancel failed', { paymentHash: e.paymentHash, error: err.message });
              // paid as it was being cancelled: its settlement is stepped before the answer, so a closing
              // session's receipt has it
              await node
                .lookupInvoice(e.paymentHash)
                .then((st) =>
                  st.state === 'settled' ? this.onSettled(e.paymentHash, st.receivedMsat) : undefined,
                )
                .catch((lookupErr: unknown) =>
                  log.warn('invoice lookup after a failed cancel failed', {
                    paymentHash: e.paymentHash,
                    error: lookupErr instanceof Error ? lookupErr.message : String(lookupErr),
                  }),
                );
              answered();
            },
          ),
        );
        return;
      }
      case 'energize':
        this.energizeGeneration++;
        if (this.arbiter.current().kind !== 'cable') {
          // a faulted connector is never energised; a walk-up session's EVSE is not ours to drive
          log.warn('energize skipped: the connector is not owned by the cable session', {
            owner: this.arbiter.current().kind,
          });
          return;
        }
        try {
          await evse.setCurrentLimitA(config.evse.maxCurrentA);
          if (this.runner.hasFailed) return;
          await evse.enable();
          // the fail-safe may have paused the charger while this enable was on its way: it wins
          if (this.runner.hasFailed) {
            await evse.pause();
            return;
          }
          log.info('energized', { sessionId: sid, paidWh: s.paidWh, deliveredWh: s.deliveredWh });
          if (sid && this.cutSessionId === sid) for (const o of this.observers) o.resumed?.(sid);
          this.cutSessionId = null;
        } catch (err) {
          this.alarm(`EVSE enable failed: ${(err as Error).message}`);
        }
        return;
      case 'cutPower': {
        const reason = reasonName(e.reason);
        if (this.arbiter.current().kind === 'walkup') return; // not ours to drive
        try {
          await evse.pause();
        } catch (err) {
          this.alarm(`EVSE pause failed: ${(err as Error).message}`);
        }
        // a cut that suspends the session (non-payment, link loss) is reported; a cut that ends it is part of
        // the end of the session
        if (sid && s.phase === 'suspended') {
          for (const o of this.observers) o.powerCut?.(sid, reason);
          this.cutSessionId = sid;
        }
        log.info('power cut', { sessionId: sid, reason, deliveredWh: s.deliveredWh, paidWh: s.paidWh });
        this.guardAsync(this.verifyCut(sid, this.energizeGeneration));
        return;
      }
      case 'signWithNodeKey':
        this.guardAsync(
          node.signMessage(e.text).then(
            (signature) =>
              this.dispatch({ type: 'nodeSignature', text: e.text, signature, atMs: clock.now() }),
            (err: Error) => {
              // the node cannot sign (unreachable): the delegate key signs, with the node's delegation
              const delegated = this.delegate?.sign(e.text) ?? null;
              if (delegated === null) return this.alarm(`node signMessage failed: ${err.message}`);
              log.info('signed by the delegate key: the node is unreachable', {
                error: err.message,
                delegatePub: delegated.delegation.delegatePub,
              });
              this.dispatch({ type: 'nodeSignature', text: e.text, ...delegated, atMs: clock.now() });
            },
          ),
        );
        return;
      case 'alarm':
        this.alarm(`${reasonName(e.reason)}: ${e.message}`);
        return;
      case 'sessionEnded':
        log.info('session ended', {
          sessionId: sid,
          reason: e.reasonName,
          energyWh: e.summary.energyWh,
          paidMsat: e.summary.paidMsat,
          receipt: e.receipt !== undefined,
          error: e.error,
        });
        if (sid) for (const o of this.observers) o.sessionEnded?.(sid, e.reasonName, e.summary);
        return;
      case 'greetAgain':
        // the machine's re-greeting schedule came due (a plugged-in car whose module did not answer): a fresh
        // session, if the car is still plugged in and the connector may take one
        if (this.lastPlugged === true && !this.stopping) {
          log.info('greeting the plugged-in car again', {});
          this.startCableSession(clock.now());
        }
        return;
      case 'verifyPaymentProof':
        return this.verifyProof(e, sid);
      case 'lookupPromises': {
        if (!sid) return;
        const unpaid = store.promises.unpaidWh(e.vehiclePub, sid);
        this.dispatch({
          type: 'promisesOutstanding',
          vehiclePub: e.vehiclePub,
          ...unpaid,
          atMs: clock.now(),
        });
        return;
      }
      case 'record':
        log.debug(`machine: ${e.kind}`, e.data);
        // a frame the secure channel refused (forged, replayed, undecodable): the CSMS hears of the tampering
        if (e.kind === 'frameRejected')
          for (const o of this.observers)
            o.tamperDetected?.(`cable frame rejected: ${String(e.data['error'])}`);
        return;
      default:
        log.warn('effect not handled by the wall', { effect: e.type });
    }
  }

  /**
   * Checks with the meter that a cut stopped the current. Not confirmed within the window: the cut is sent
   * again (`powerCut.retries` times), then the connector is marked Faulted (`fault`).
   *
   * @param sid the session whose power was cut
   * @param generation the energize generation at the cut (a later energize makes the check moot)
   */
  private async verifyCut(sid: string | null, generation: number): Promise<void> {
    const { store, clock, evse, config } = this.parts;
    const retries = config.powerCut.retries;
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.verifier.verify(clock.now());
      // re-energized meanwhile (e.g. a late payment): current is expected, the cut is moot
      if (generation !== this.energizeGeneration || this.runner.hasFailed || this.stopping) return;
      store.appendEvent(sid, outcome.ok ? 'powerCut.verified' : 'powerCut.alarm', { ...outcome, attempt });
      if (outcome.ok) return;
      const what = `power cut NOT verified (${outcome.reason}): ${outcome.lastCurrentA} A still flowing`;
      if (attempt >= retries) {
        this.fault(`${what} after ${attempt + 1} cut(s)`);
        return;
      }
      this.alarm(`${what}: cutting again`);
      await evse.pause().catch((e: Error) => this.alarm(`EVSE pause failed: ${e.message}`));
    }
  }

  /** The snapshot the status page shows. */
  snapshot(): StatusSnapshot {
    const s = this.runner.state;
    const endReason = sellerEndReason(s);
    const ledger = s.sessionId
      ? this.parts.store.invoices(s.sessionId).map((i) => ({
          seq: i.seq,
          state: i.state,
          amountMsat: i.amountMsat,
          fromWh: i.fromWh,
          toWh: i.toWh,
          paymentHash: i.paymentHash,
          latencyMs: i.settledAtMs !== null && i.issuedAtMs !== null ? i.settledAtMs - i.issuedAtMs : null,
        }))
      : [];
    return {
      role: 'wall',
      tMs: this.parts.clock.now(),
      state: s.phase,
      sessionId: s.sessionId,
      peer: sellerPeer(s),
      powerW: this.shell.lastReading?.powerW ?? 0,
      energyWh: s.deliveredWh,
      priceMsatPerWh: s.schedule[s.schedule.length - 1]?.priceMsatPerWh ?? null,
      creditWh: s.paidWh - s.deliveredWh,
      paidMsat: s.paidMsat,
      stopReason: endReason === null ? null : reasonName(endReason),
      alarms: [...this.shell.alarms],
      ledger,
    };
  }

  /** The HTML the observers draw on the status page (e.g. the CSMS's display messages), in observer order. */
  displayHtml(): string {
    return this.observers.map((o) => o.html?.() ?? '').join('');
  }

  private statusSource(): StatusSource {
    const store = this.parts.store;
    return storeStatusSource(store, {
      role: 'wall',
      splitStatements: (id) => splitStatementsFor(store.db, id), // split
      status: () => this.snapshot(),
      ledger: (id) => ({ invoices: store.invoices(id) }),
      extraHtml: () => this.displayHtml(),
      clockSpeed: this.parts.config.clock.speed,
      actions: {
        availability: true,
        stopSession: () => this.requestStop(),
        // clear-fault clears the page's alarms and the connector's fault (boltcharge clear-fault posts here)
        clearAlarms: () => this.clearAlarms(),
      },
    });
  }

  /**
   * Ends the current session cleanly (operator stop, OCPP RemoteStopTransaction): the machine cuts the power,
   * tells the car why, settles the books and hands out the final receipt; the session is stored ended with the
   * reason's name. Without a running session nothing happens.
   *
   * @param reason protocol reason code sent to the car and stored (default `Reason.USER_STOP`)
   */
  requestStop(reason: number = Reason.USER_STOP): void {
    this.dispatch({ type: 'stopRequest', reason, atMs: this.parts.clock.now() });
  }

  /** Resolves when queued events are processed (tests). */
  idle(): Promise<void> {
    return this.runner.idle();
  }

  /**
   * Stops the daemon: the machine stops, the power is left as the machine had it (a restart resumes), the
   * link, meter, EVSE, node subscription and status page are closed, and the store is closed last.
   */
  async stop(): Promise<void> {
    await this.shell.stop(async () => {
      this.expiryTimer?.cancel();
      this.stockTimer?.cancel();
      this.unsubscribeSettled?.();
      this.unsubscribeOwner?.();
      this.unsubscribeEvse?.();
      for (const o of this.observers) await o.close?.().catch(() => {});
      await this.parts.evse.close().catch(() => {});
    });
  }
}

/** Store slot of the node's identity, kept for a start while the node is unreachable (offline case 1b). */
const IDENTITY_SLOT = 'node-identity';

/**
 * The wall node's identity: asked of the node (and kept in the store); when the node is unreachable and the wall
 * sells offline (`offline.stock`), the identity kept at the last start, so a wall restarted offline resumes its
 * session (whose keys are in the store); a new session is greeted with the key the node delegated while online
 * (`offline/signing-delegate.ts`).
 *
 * @param parts the daemon's parts
 * @returns the node's public key and network
 * @throws the node's error when it is unreachable and no identity is kept (or the wall does not sell offline)
 */
async function nodeIdentity(parts: WallParts): Promise<{ pubkey: string; network: string }> {
  try {
    const identity = await parts.node.getIdentity();
    parts.store.saveMachineState(
      IDENTITY_SLOT,
      JSON.stringify({ pubkey: identity.pubkey, network: identity.network }),
    );
    return identity;
  } catch (err) {
    const kept = parts.store.loadMachineState(IDENTITY_SLOT);
    if (!(err instanceof NodeUnreachable) || !parts.config.offline?.stock || kept === undefined) throw err;
    const identity = JSON.parse(kept) as { pubkey: string; network: string };
    parts.log.warn('node unreachable at start: using the identity kept at the last start', {
      pubkey: identity.pubkey,
      error: err.message,
    });
    return identity;
  }
}

/** Phases before the car has proved its key: the connector is not claimed for a cable session yet. */
const UNAUTHENTICATED_PHASES: readonly SellerState['phase'][] = [
  'idle',
  'handshake',
  'authenticating',
  'ended',
];

/** The session id of a seller state whose car is authenticated, else null. */
function authenticatedSession(s: SellerState): string | null {
  return s.sessionId !== null && !UNAUTHENTICATED_PHASES.includes(s.phase) ? s.sessionId : null;
}
