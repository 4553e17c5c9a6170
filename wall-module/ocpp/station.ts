/**
 * `OcppStation`: the wall module as an OCPP charging station. The daemon reports what happens (plug, session,
 * meter, power cut, invoices, end); every call only writes to SQLite and returns, so the CSMS link never
 * decides whether energy flows. A background pump delivers the outbox in order once BootNotification was
 * accepted; connection, boot, heartbeat, status notifications and display messages are handled here.
 */
import { randomUUID } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import type { Clock, TimerHandle } from '../../hardware/clock.js';
import { backoffDelayMs, OcppConnection } from './connection.js';
import { DisplayMessageStore, toMessageInfo, type DisplayMessage } from './display-messages.js';
import { renderDisplayMessagesHtml, visibleMessages, type StationDisplayState } from './display-render.js';
import {
  OcppArgumentInvalid,
  OcppCallError,
  OcppCallTimeout,
  OcppLinkClosed,
  OcppPayloadInvalid,
  OcppResponseInvalid,
} from './errors.js';
import type {
  LightningMessageId,
  LightningReportFields,
  PowerCutReason,
  SecurityEventType,
  StationEvent,
  StopReason,
} from './events.js';
import {
  bootNotification16,
  statusNotification16,
  transactionMessage16,
  type ConnectorStatus16,
} from './ocpp16-messages.js';
import {
  bootNotification201,
  statusNotification201,
  transactionMessage201,
  type BuiltMessage,
  type ConnectorStatus201,
  type StationIdentity,
} from './ocpp201-messages.js';
import { Outbox, type OutboxOutcome } from './outbox.js';
import type { HandlerReply, RpcLink } from './rpc-link.js';
import { migrateOcppTables } from './schema.js';
import { DeviceModel, type ReportBase, type VariableChange } from './device-model.js';
import { stationVariables, VENDOR_COMPONENT } from './device-model-defs.js';
import {
  changeConfiguration16,
  getConfiguration16,
  getVariables,
  notifyReportParts,
  setVariables,
} from './device-model-requests.js';
import { availabilityOf, type StationControl } from './station-control.js';
import { checkPaymentQr } from '../../payments/emv/payment-qr.js';
import { resolveStationConfig, type ResolvedStationConfig } from './station-config.js';
import { TransactionStore, type TransactionRecord } from './transactions.js';
import {
  WEB_PAYMENT_VENDOR_ID,
  backportData,
  limitFromJson,
  limitReached,
  limitToJson,
  readStartRequest,
  readTransactionLimit,
  settlementMessage,
  stricterLimit,
  webPaymentQrAt,
  type TransactionLimit,
  type WebPaymentQr,
} from './web-payment.js';
import type { SettlementFields } from './events.js';
import {
  silentLogger,
  type JsonObject,
  type OcppLogger,
  type OcppStationConfig,
  type OcppVersion,
} from './types.js';

export interface OcppStationOptions {
  /** time source for heartbeat, boot retry and backoff (timestamps come from the daemon's `atMs`) */
  clock: Clock;
  /** the wall store's better-sqlite3 database; the OCPP tables are created in it if missing */
  db: Database;
  config: OcppStationConfig;
  logger?: OcppLogger;
}

/** One Lightning invoice as the daemon knows it. */
export interface InvoiceFacts {
  sessionId: string;
  /** invoice sequence number within the session (0, 1, ...) */
  seq: number;
  /** hex payment hash */
  paymentHash: string;
  /** invoice amount, msat */
  amountMsat: bigint;
  /** price, msat per Wh */
  priceMsatPerWh: bigint;
  /** energy the invoice pays for: meter reading range, Wh */
  energyFromWh: number;
  energyToWh: number;
  /** when it was issued (invoiceIssued) or settled (invoicePaid), ms since epoch */
  atMs: number;
  /**
   * how the block was paid (offline modes, issue 15): `online` (default), `relay` (the car's node reached the
   * network through the wall's relay), `direct` (over a direct channel on the cable), `stock` (a stocked
   * invoice, proof over the cable), `promise` (both offline, a signed promise), `direct-payment` (QR model 1),
   * `walkup-deposit` (a walk-up's deposit held by the wall's node)
   */
  paymentMode?: PaymentMode;
}

/** How a paid block was paid (see `InvoiceFacts.paymentMode`). */
export type PaymentMode =
  | 'online'
  | 'relay'
  | 'direct'
  | 'stock'
  | 'promise'
  | 'direct-payment'
  /** a walk-up's deposit, held by the wall's node (the driver pays the metered cost out of it) */
  | 'walkup-deposit';

/** The end-of-session receipt. */
export interface SessionReceipt {
  /** energy delivered in the session, Wh */
  energyWh: number;
  /** total paid, msat */
  paidMsat: bigint;
  /** invoices issued and paid */
  invoicesIssued: number;
  invoicesPaid: number;
  /** sequence number of the last invoice, if any */
  lastSeq: number | null;
  /** price, msat per Wh */
  priceMsatPerWh: bigint | null;
}

/** What the status page can show about the CSMS link. */
export interface OcppStationStatus {
  connected: boolean;
  protocol: OcppVersion | null;
  /** last BootNotification outcome in this process */
  boot: 'NotSent' | 'Pending' | 'Accepted' | 'Rejected';
  /** outbox messages not yet delivered */
  outboxPending: number;
  /** schema violations seen on the link (either direction) since start */
  validationFailures: number;
  lastError: string | null;
}

type BootState = OcppStationStatus['boot'];

/** Node's TLS errors for a CSMS certificate that does not verify (self-signed, unknown CA, expired, wrong name). */
const CERTIFICATE_FAILURE =
  /certificate|self[- ]signed|unable to verify|UNABLE_TO_GET_ISSUER|CERT_|ERR_TLS_CERT_ALTNAME_INVALID/i;

/** Variables per NotifyReport message (a GetBaseReport answer comes in parts of this size). */
const REPORT_PART_SIZE = 20;

function nonNegativeInt(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new OcppArgumentInvalid(`${name} must be a non-negative integer, got ${value}`);
}

function nonNegative(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0)
    throw new OcppArgumentInvalid(`${name} must be >= 0, got ${value}`);
}

/**
 * What runs a session paid up front by a DirectPayment (QR payment model 1): the station hands it the CSMS's
 * RequestStartTransaction; it checks the payment, claims the connector, energises it and reports the session
 * to the station like the daemon does (sessionStarted, invoicePaid, meterSample with the cost, sessionEnded,
 * settlement).
 */
export interface DirectPaymentRunner {
  /**
   * Starts a session paid by `pspRef` on an EVSE (resolves once it is accepted and reported with
   * `sessionStarted`; energy follows).
   * @returns the session id, or why it was refused (unknown or unpaid payment, reference used, connector busy)
   */
  start(request: {
    evseId: number;
    remoteStartId: number;
    pspRef: string;
  }): Promise<{ ok: true; sessionId: string } | { ok: false; reason: string }>;
  /** @returns whether this runner runs the session */
  owns(sessionId: string): boolean;
  /**
   * Asks its session to end cleanly (power cut, final reading, settlement). Returns at once.
   * @returns false when it does not run the session (or it already ends)
   */
  requestStop(sessionId: string): boolean;
}

/** A split payout to report (DataTransfer `SplitSettled`). */
export interface SplitSettledReport {
  payoutId: string;
  /** the session it is reported against (the last one the payout covers) */
  sessionId: string;
  /** the payout's amount, msat */
  amountMsat: bigint;
  /** the signed statement as JSON text (checked with `boltcharge verify-statement`) */
  statement: string;
  /** settlement time, ms since epoch */
  atMs: number;
}

export class OcppStation {
  private readonly clock: Clock;
  private readonly db: Database;
  private readonly config: ResolvedStationConfig;
  private readonly logger: OcppLogger;
  private readonly outbox: Outbox;
  private readonly txs: TransactionStore;
  private readonly displays: DisplayMessageStore;
  private readonly connection: OcppConnection;
  private link: RpcLink | undefined;
  private boot: BootState = 'NotSent';
  private heartbeatSec: number;
  private bootTimer: TimerHandle | undefined;
  private heartbeatTimer: TimerHandle | undefined;
  private pumpTimer: TimerHandle | undefined;
  private pumping = false;
  private stopped = true;
  private validationFailures = 0;
  private lastError: string | null = null;
  private readonly lastStatus = new Map<number, string>();
  private readonly model: DeviceModel;
  private meterIntervalSec: number;
  private control: StationControl | undefined;
  /** last meter reading per EVSE (TriggerMessage MeterValues) */
  private readonly lastReading = new Map<number, { energyWh: number; powerW: number; atMs: number }>();
  /** accepted remote starts waiting for a vehicle session, per EVSE */
  private readonly remoteStarts = new Map<number, { remoteStartId: number; expiresAtMs: number }>();
  /** sessions the CSMS asked to stop (their end is reported as `Remote`) */
  private readonly remoteStops = new Set<string>();
  /** the car's key per session (from sessionStarted until Charging is reported) */
  private readonly payerKeys = new Map<string, string>();
  private pendingReset: 'Immediate' | 'OnIdle' | undefined;
  /** sessions stopped because a CSMS transactionLimit was reached, with the stop reason */
  private readonly limitStops = new Map<string, StopReason>();
  /** EVSEs reserved by NotifyWebPaymentStarted until (ms since epoch) */
  private readonly webPaymentLocks = new Map<number, number>();
  /** runs DirectPayment sessions (QR payment model 1) per EVSE id, when the daemon has them */
  private readonly directPayments = new Map<number, DirectPaymentRunner>();
  /** the runner of every EVSE without its own (`attachDirectPayment` without an EVSE id) */
  private directPaymentAnyEvse: DirectPaymentRunner | undefined;
  /** an InvalidCsmsCertificate event was queued since the last successful connection */
  private certificateFailureNoted = false;

  /**
   * @param options clock, wall-store database, configuration (validated here), logger
   * @throws OcppConfigInvalid when the configuration is unusable
   */
  constructor(options: OcppStationOptions) {
    this.clock = options.clock;
    this.db = options.db;
    this.config = resolveStationConfig(options.config);
    this.logger = options.logger ?? silentLogger;
    migrateOcppTables(this.db);
    this.outbox = new Outbox(this.db);
    this.txs = new TransactionStore(this.db);
    this.displays = new DisplayMessageStore(this.db);
    this.heartbeatSec = this.config.heartbeatFallbackSec;
    this.model = new DeviceModel(
      this.db,
      stationVariables(this.config, options.config.tariff, {
        availability: (evseId) => this.availability(evseId),
        heartbeatSec: () => this.heartbeatSec,
        meterIntervalSec: () => this.meterIntervalSec,
      }),
      () => this.clock.now(),
    );
    const storedInterval = this.model.stored({
      component: 'SampledDataCtrlr',
      variable: 'TxUpdatedInterval',
    });
    this.meterIntervalSec =
      storedInterval !== undefined ? Number(storedInterval) : this.config.meterIntervalSec;
    const storedPassword = this.model.stored({ component: 'SecurityCtrlr', variable: 'BasicAuthPassword' });
    this.connection = new OcppConnection(
      this.clock,
      {
        url: this.config.url,
        identity: this.config.identity,
        password: storedPassword ?? this.config.password,
        caPem: this.config.caPem,
        protocols: this.config.protocols,
        callTimeoutMs: this.config.callTimeoutMs,
        pingIntervalSec: this.config.pingIntervalSec,
        handshakeTimeoutMs: this.config.callTimeoutMs,
      },
      this.config.backoff,
      this.logger,
      {
        onOpen: (link) => this.onOpen(link),
        onClose: () => this.onClose(),
        onConnectFailed: (err) => {
          this.noteError('connect', err);
          this.noteCertificateFailure(err);
        },
      },
    );
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Starts connecting to the CSMS (returns at once; connection, boot and delivery run in the background) after
   * pruning outbox messages delivered more than `outboxRetentionDays` ago.
   */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const pruned = this.outbox.prune(this.clock.now() - this.config.outboxRetentionDays * 86_400_000);
    if (pruned > 0) this.logger.info('ocpp: pruned delivered outbox messages', { pruned });
    this.connection.start();
  }

  /** Stops timers and closes the link. Undelivered messages stay in the outbox for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTimers();
    await this.connection.stop();
    this.link = undefined;
  }

  /** @returns link, boot and outbox state for the status page */
  status(): OcppStationStatus {
    return {
      connected: this.link !== undefined,
      protocol: this.link?.protocol ?? null,
      boot: this.boot,
      outboxPending: this.outbox.pendingCount(),
      validationFailures: this.validationFailures,
      lastError: this.lastError,
    };
  }

  // ---------------------------------------------------------------- daemon calls (never block, never wait)

  /**
   * A cable was plugged into an EVSE: opens the OCPP transaction (2.x TransactionEvent Started,
   * CablePluggedIn, EVConnected, with the meter register as Transaction.Begin when known). Idempotent while the
   * cable stays plugged.
   *
   * @param evseId EVSE id from the configuration
   * @param atMs when, ms since epoch (default: clock now)
   * @param meterWh energy register at the plug-in, Wh (optional)
   * @throws OcppArgumentInvalid for an unknown EVSE
   */
  plugged(evseId: number, atMs: number = this.clock.now(), meterWh?: number): void {
    this.evse(evseId);
    if (meterWh !== undefined) nonNegativeInt('meterWh', meterWh);
    this.db.transaction(() => {
      this.txs.setPlugged(evseId, true, atMs);
      if (!this.txs.openOnEvse(evseId)) this.openTransaction(evseId, atMs, meterWh);
    })();
    this.afterChange();
  }

  /**
   * A Lightning session was created on the EVSE (offer accepted; nothing paid yet). Binds it to the EVSE's open
   * transaction, opening one if the plug-in was not reported. No Charging is reported here: that waits for
   * energy to flow after the first paid block (`meterSample`). Idempotent per sessionId.
   *
   * @param args.evseId EVSE id
   * @param args.sessionId the daemon's session id
   * @param args.atMs when, ms since epoch
   * @param args.meterStartWh energy register at start, Wh (integer)
   * @param args.payerKey the car's key (hex), for the 2.0.1 idToken and the `VehicleNodeKey` DataTransfer
   */
  sessionStarted(args: {
    evseId: number;
    sessionId: string;
    atMs: number;
    meterStartWh: number;
    payerKey?: string;
  }): void {
    this.evse(args.evseId);
    nonNegativeInt('meterStartWh', args.meterStartWh);
    if (args.sessionId.length === 0) throw new OcppArgumentInvalid('sessionId must not be empty');
    this.db.transaction(() => {
      if (this.txs.bySession(args.sessionId)) return;
      let tx = this.txs.openOnEvse(args.evseId);
      if (tx && tx.sessionId !== null && this.neverPaid(tx)) {
        // the plug-in's session bought nothing (e.g. the wall greeted a car without a vehicle module, and the
        // driver then paid a walk-up): the new session takes over the plug-in's transaction; the old one's
        // later reports are ignored
        this.logger.info('ocpp: session replaces an unpaid one in the same transaction', {
          old: tx.sessionId,
          new: args.sessionId,
        });
      } else if (tx && tx.sessionId !== null) {
        if (tx.stopReason === null)
          this.logger.warn('ocpp: session started over an unfinished one; ending the old transaction', {
            old: tx.sessionId,
            new: args.sessionId,
          });
        this.endTransaction(tx, tx.stopReason ?? 'Other', tx.lastMeterWh, args.atMs);
        tx = undefined;
      }
      const txKey = tx?.txKey ?? this.openTransaction(args.evseId, args.atMs, args.meterStartWh);
      this.txs.bindSession(txKey, args.sessionId, args.meterStartWh, args.atMs);
      if (args.payerKey !== undefined) this.payerKeys.set(args.sessionId, args.payerKey);
    })();
    this.afterChange();
  }

  /** @returns whether the transaction's session is still open and never had a paid block (nothing to report) */
  private neverPaid(tx: TransactionRecord): boolean {
    return (
      tx.sessionId !== null &&
      tx.stopReason === null &&
      tx.chargingState === 'EVConnected' &&
      this.outbox.firstWithPrefix(`session:${tx.sessionId}:InvoicePaid:`) === undefined
    );
  }

  /** Opens a transaction on an EVSE (2.x Started, CablePluggedIn); carries a pending remote start. */
  private openTransaction(evseId: number, atMs: number, meterWh: number | undefined): string {
    const evse = this.evse(evseId);
    const txKey = randomUUID();
    this.txs.open(txKey, evseId, evse.connectorId, atMs, 'EVConnected');
    const remoteStartId = this.takeRemoteStart(evseId);
    this.append(`tx:${txKey}:plugged`, {
      kind: 'EvPlugged',
      txKey,
      evseId,
      connectorId: evse.connectorId,
      atMs,
      ...(meterWh !== undefined ? { meterWh } : {}),
      ...(remoteStartId !== undefined ? { remoteStartId } : {}),
    });
    return txKey;
  }

  /**
   * Reports Charging (2.x Updated ChargingStateChanged with the idToken; 1.6 StartTransaction) the first time
   * energy flows after a paid block. Runs inside the caller's database transaction.
   */
  private chargingIfFlowing(tx: TransactionRecord, atMs: number, energyWh: number, powerW: number): void {
    if (tx.sessionId === null || tx.chargingState !== 'EVConnected') return;
    const flowing = powerW > 0 || (tx.meterStartWh !== null && energyWh > tx.meterStartWh);
    if (!flowing) return;
    const paid = this.outbox.firstWithPrefix(`session:${tx.sessionId}:InvoicePaid:`);
    if (paid === undefined) return;
    const paymentHash = paid.event.kind === 'Lightning' ? paid.event.fields.paymentHash : null;
    const payerKey = this.payerKeys.get(tx.sessionId);
    this.txs.setState(tx.txKey, 'Charging');
    this.append(`session:${tx.sessionId}:started`, {
      kind: 'ChargingStarted',
      txKey: tx.txKey,
      evseId: tx.evseId,
      connectorId: tx.connectorId,
      atMs,
      sessionId: tx.sessionId,
      meterStartWh: tx.meterStartWh ?? energyWh,
      newTransaction: false,
      ...(payerKey !== undefined ? { payerKey } : {}),
      ...(paymentHash !== null ? { paymentHash } : {}),
    });
    if (payerKey !== undefined)
      this.appendLightning(tx, 'VehicleNodeKey', `session:${tx.sessionId}:VehicleNodeKey`, {
        sessionId: tx.sessionId,
        seq: null,
        paymentHash: null,
        amountMsat: null,
        priceMsatPerWh: null,
        energyFromWh: null,
        energyToWh: null,
        atMs,
        times: {},
        extra: { nodeKey: payerKey, idToken: payerKey.slice(0, 36) },
      });
  }

  /**
   * A meter reading during a session. Reported (2.x Updated MeterValuePeriodic / 1.6 MeterValues) when at
   * least `meterIntervalSec` passed since the last report; otherwise only remembered for the end reading.
   *
   * @param args.sessionId session id
   * @param args.energyWh energy register, Wh (integer)
   * @param args.powerW active import power, W
   * @param args.atMs when sampled, ms since epoch
   * @param args.costMsat what the session cost so far, msat (checked against a transactionLimit `maxCost`;
   *   omitted: no cost limit applies)
   * @param args.costLeadMsat cost of the energy that still flows before a stop takes effect, msat (the limit
   *   stops the session when cost + lead reaches it, so the session never costs more; default 0)
   */
  meterSample(args: {
    sessionId: string;
    energyWh: number;
    powerW: number;
    atMs: number;
    costMsat?: bigint;
    costLeadMsat?: bigint;
  }): void {
    nonNegativeInt('energyWh', args.energyWh);
    nonNegative('powerW', args.powerW);
    this.db.transaction(() => {
      const tx = this.openSessionTx(args.sessionId);
      if (!tx) return;
      this.lastReading.set(tx.evseId, {
        energyWh: args.energyWh,
        powerW: Math.round(args.powerW),
        atMs: args.atMs,
      });
      this.chargingIfFlowing(tx, args.atMs, args.energyWh, args.powerW);
      this.enforceLimit(
        tx,
        args.atMs,
        args.energyWh,
        args.costMsat !== undefined ? args.costMsat + (args.costLeadMsat ?? 0n) : undefined,
      );
      // periodic reports belong to the charging part of the transaction (1.6 has no transaction before it)
      const charged = this.txs.byKey(tx.txKey)?.chargingState !== 'EVConnected';
      const due =
        charged &&
        (tx.lastReportAtMs === null || args.atMs - tx.lastReportAtMs >= this.meterIntervalSec * 1000);
      this.txs.setMeter(tx.txKey, args.energyWh, due ? args.atMs : null);
      if (!due) return;
      this.append(`session:${args.sessionId}:meter:${args.atMs}`, {
        kind: 'MeterSample',
        txKey: tx.txKey,
        evseId: tx.evseId,
        connectorId: tx.connectorId,
        atMs: args.atMs,
        energyWh: args.energyWh,
        powerW: Math.round(args.powerW),
      });
    })();
    this.afterChange();
  }

  /**
   * Power was cut while the cable stays plugged (2.x Updated SuspendedEVSE; 1.6 StatusNotification
   * SuspendedEVSE). For `non-payment`, also DataTransfer `PowerCutNonPayment` with the unpaid invoice.
   *
   * @param args.sessionId session id
   * @param args.reason why
   * @param args.atMs when, ms since epoch
   * @param args.energyWh energy register at the cut, Wh (optional)
   * @param args.unpaidInvoice the invoice that went unpaid (optional)
   */
  powerCut(args: {
    sessionId: string;
    reason: PowerCutReason;
    atMs: number;
    energyWh?: number;
    unpaidInvoice?: Omit<InvoiceFacts, 'sessionId' | 'atMs'> & { issuedAtMs?: number };
  }): void {
    if (args.energyWh !== undefined) nonNegativeInt('energyWh', args.energyWh);
    this.db.transaction(() => {
      const tx = this.openSessionTx(args.sessionId);
      if (!tx) return;
      this.txs.setState(tx.txKey, 'SuspendedEVSE');
      if (args.energyWh !== undefined) this.txs.setMeter(tx.txKey, args.energyWh, null);
      const energyWh = args.energyWh ?? tx.lastMeterWh;
      this.append(`session:${args.sessionId}:cut:${args.atMs}`, {
        kind: 'ChargingSuspended',
        txKey: tx.txKey,
        evseId: tx.evseId,
        connectorId: tx.connectorId,
        atMs: args.atMs,
        reason: args.reason,
        energyWh,
      });
      if (args.reason === 'non-payment') {
        const inv = args.unpaidInvoice;
        this.appendLightning(
          tx,
          'PowerCutNonPayment',
          `session:${args.sessionId}:PowerCutNonPayment:${args.atMs}`,
          {
            sessionId: args.sessionId,
            seq: inv?.seq ?? null,
            paymentHash: inv?.paymentHash ?? null,
            amountMsat: inv ? inv.amountMsat.toString() : null,
            priceMsatPerWh: inv ? inv.priceMsatPerWh.toString() : null,
            energyFromWh: inv?.energyFromWh ?? null,
            energyToWh: inv?.energyToWh ?? null,
            atMs: args.atMs,
            times: inv?.issuedAtMs !== undefined ? { issuedAtMs: inv.issuedAtMs } : {},
            extra: { reason: args.reason, meterWh: energyWh },
          },
        );
      }
    })();
    this.afterChange();
  }

  /**
   * Power was restored in a suspended session (2.x Updated Charging; 1.6 StatusNotification Charging).
   *
   * @param args.sessionId session id
   * @param args.atMs when, ms since epoch
   * @param args.energyWh energy register, Wh (optional)
   */
  resumed(args: { sessionId: string; atMs: number; energyWh?: number }): void {
    if (args.energyWh !== undefined) nonNegativeInt('energyWh', args.energyWh);
    this.db.transaction(() => {
      const tx = this.openSessionTx(args.sessionId);
      if (!tx) return;
      this.txs.setState(tx.txKey, 'Charging');
      if (args.energyWh !== undefined) this.txs.setMeter(tx.txKey, args.energyWh, null);
      this.append(`session:${args.sessionId}:resumed:${args.atMs}`, {
        kind: 'ChargingResumed',
        txKey: tx.txKey,
        evseId: tx.evseId,
        connectorId: tx.connectorId,
        atMs: args.atMs,
        energyWh: args.energyWh ?? tx.lastMeterWh,
      });
    })();
    this.afterChange();
  }

  /**
   * An invoice was issued to the car: DataTransfer `InvoiceIssued`. Idempotent per (sessionId, seq).
   *
   * @param invoice the invoice; `atMs` = issue time
   */
  invoiceIssued(invoice: InvoiceFacts): void {
    this.invoiceReport('InvoiceIssued', invoice, {});
  }

  /**
   * Offline case 1b, back online: a stocked invoice handed out while the wall's node was unreachable was
   * reconciled with the node. DataTransfer `StockReconciled` against the session's transaction (an ended one
   * too), `paymentMode: 'stock'`, `settled` true when the node had it paid (the block was credited on the car's
   * proof), false when it was never paid. Idempotent per payment hash.
   *
   * @param args sessionId, paymentHash (64 hex), amountMsat (the stocked denomination), settled, atMs
   *   (reconciliation time, ms since epoch)
   */
  stockReconciled(args: {
    sessionId: string;
    paymentHash: string;
    amountMsat: bigint;
    settled: boolean;
    atMs: number;
  }): void {
    if (args.amountMsat < 0n) throw new OcppArgumentInvalid('amountMsat must be >= 0');
    if (!/^[0-9a-f]{64}$/i.test(args.paymentHash))
      throw new OcppArgumentInvalid('paymentHash must be 64 hex digits');
    const paymentHash = args.paymentHash.toLowerCase();
    this.db.transaction(() => {
      const tx = this.txOfSession(args.sessionId, 'stock reconciliation');
      if (!tx) return;
      this.appendLightning(
        tx,
        'StockReconciled',
        `stock:${paymentHash}:StockReconciled`,
        amountFields(args.sessionId, paymentHash, args.amountMsat, args.atMs, {
          paymentMode: 'stock',
          settled: args.settled,
        }),
      );
    })();
    this.afterChange();
  }

  /**
   * Offline case 3: a promise to pay, reported against its session's transaction (an ended one too; queued while
   * the CSMS is unreachable): `InvoicePromised` when the block was credited on the car's signed promise,
   * `PromisePaid` when the car paid it once its node was back, `PromiseUnpaid` when it expired unpaid. Each
   * carries `paymentHash`, `amountMsat`, `paymentMode: 'promise'`, the car's key (`vehiclePub`), the block's
   * energy and, for `InvoicePromised` and `PromiseUnpaid`, the signature. Idempotent per (hash, report).
   *
   * @param messageId which report
   * @param args sessionId, seq, paymentHash (64 hex), amountMsat, blockWh, vehiclePub, signature, atMs
   */
  promiseReport(
    messageId: 'InvoicePromised' | 'PromisePaid' | 'PromiseUnpaid',
    args: {
      sessionId: string;
      seq: number;
      paymentHash: string;
      amountMsat: bigint;
      blockWh: number;
      vehiclePub: string;
      signature?: string;
      atMs: number;
    },
  ): void {
    if (args.amountMsat < 0n) throw new OcppArgumentInvalid('amountMsat must be >= 0');
    if (!/^[0-9a-f]{64}$/i.test(args.paymentHash))
      throw new OcppArgumentInvalid('paymentHash must be 64 hex digits');
    const paymentHash = args.paymentHash.toLowerCase();
    this.db.transaction(() => {
      const tx = this.txOfSession(args.sessionId, 'promise report');
      if (!tx) return;
      this.appendLightning(tx, messageId, `promise:${paymentHash}:${messageId}`, {
        ...amountFields(args.sessionId, paymentHash, args.amountMsat, args.atMs, {
          paymentMode: 'promise',
          blockWh: args.blockWh,
          vehiclePub: args.vehiclePub,
          ...(args.signature !== undefined && messageId !== 'PromisePaid'
            ? { signature: args.signature }
            : {}),
        }),
        seq: args.seq,
      });
    })();
    this.afterChange();
  }

  /**
   * A split payout settled: DataTransfer `SplitSettled` carrying the wall-signed settlement statement, reported
   * against the transaction of the last session it covers (a late report of an ended transaction is still sent).
   * Idempotent per payout id.
   *
   * @param args payoutId, the session it is reported against, the paid amount (msat), the statement JSON text
   *   (checked with `boltcharge verify-statement`), settlement time ms
   */
  splitSettled(args: SplitSettledReport): void {
    if (args.amountMsat < 0n) throw new OcppArgumentInvalid('amountMsat must be >= 0');
    this.db.transaction(() => {
      const tx = this.txOfSession(args.sessionId, 'split statement');
      if (!tx) return;
      this.appendLightning(
        tx,
        'SplitSettled',
        `split:${args.payoutId}`,
        amountFields(args.sessionId, null, args.amountMsat, args.atMs, {
          payoutId: args.payoutId,
          statement: args.statement,
        }),
      );
      // OCPP 2.1 also gets the payout as a NotifySettlement (pspRef = the payout id); older versions have the
      // DataTransfer above only
      this.appendSettlement(tx, `split:${args.payoutId}:settlement`, args.atMs, {
        pspRef: `split:${args.payoutId}`,
        status: 'Settled',
        amountMsat: args.amountMsat.toString(),
        transactionId: tx.txKey,
        statusInfo: 'split payout (statement in DataTransfer SplitSettled)',
        receiptId: args.payoutId.slice(0, 50),
        only21: true,
      });
    })();
    this.afterChange();
  }

  /**
   * QR payment model 1: the payment behind a DirectPayment session is settled (or was cancelled, rejected,
   * failed): 2.1 NotifySettlement, 2.0.1/1.6 its DataTransfer backport. Queued like every report (sent when the
   * CSMS is reachable); idempotent per pspRef.
   *
   * @param args.pspRef the payment reference (the DirectPayment idToken)
   * @param args.status Settled, Canceled, Rejected or Failed
   * @param args.amountMsat the settled amount, msat (sent as sat with 3 decimals)
   * @param args.atMs settlement time, ms since epoch
   * @param args.sessionId the session it paid (absent: no transaction began)
   * @param args.statusInfo detail (≤ 500 characters are sent)
   * @param args.receiptId the receipt's id (≤ 50 characters are sent)
   */
  settlement(args: {
    pspRef: string;
    status: SettlementFields['status'];
    amountMsat: bigint;
    atMs: number;
    sessionId?: string;
    statusInfo?: string;
    receiptId?: string;
  }): void {
    if (args.amountMsat < 0n) throw new OcppArgumentInvalid('amountMsat must be >= 0');
    if (args.pspRef.length === 0 || args.pspRef.length > 255)
      throw new OcppArgumentInvalid('pspRef must be 1-255 characters');
    this.db.transaction(() => {
      const tx = args.sessionId !== undefined ? this.txs.bySession(args.sessionId) : undefined;
      this.appendSettlement(tx, `settlement:${args.pspRef}`, args.atMs, {
        pspRef: args.pspRef,
        status: args.status,
        amountMsat: args.amountMsat.toString(),
        ...(tx ? { transactionId: tx.txKey } : {}),
        ...(args.statusInfo !== undefined ? { statusInfo: args.statusInfo } : {}),
        ...(args.receiptId !== undefined ? { receiptId: args.receiptId } : {}),
      });
    })();
    this.afterChange();
  }

  /**
   * Attaches the runner of DirectPayment sessions (QR payment model 1) of one EVSE (each connector of a site has
   * its own), or of every EVSE without its own when `evseId` is absent. Without one, a RequestStartTransaction
   * with a DirectPayment idToken for that EVSE is answered Rejected.
   *
   * @param runner the runner
   * @param evseId the EVSE it runs sessions on (absent: any EVSE without its own runner)
   */
  attachDirectPayment(runner: DirectPaymentRunner, evseId?: number): void {
    if (evseId === undefined) this.directPaymentAnyEvse = runner;
    else this.directPayments.set(evseId, runner);
  }

  /** The DirectPayment runner of an EVSE, if any. */
  private directPaymentOf(evseId: number): DirectPaymentRunner | undefined {
    return this.directPayments.get(evseId) ?? this.directPaymentAnyEvse;
  }

  /**
   * QR payment model 1 (C25): the URL the display shows for an EVSE now, from its `WebPaymentsCtrlr` variables
   * (Enabled, URLTemplate, SharedSecret, ValidityTime, Length) with the TOTP of the current interval.
   *
   * @param evseId EVSE id
   * @param unixSeconds the moment (real time: the CSMS checks the TOTP against its own clock), s
   * @returns the QR content with its validity, or undefined when web payments are off or not configured
   */
  webPaymentQr(evseId: number, unixSeconds: number): WebPaymentQr | undefined {
    this.evse(evseId);
    const v = (variable: string): string | undefined => {
      const found = this.model.lookup({ component: 'WebPaymentsCtrlr', evseId, variable });
      return 'def' in found ? this.model.value(found.def) : undefined;
    };
    return webPaymentQrAt(
      {
        enabled: v('Enabled'),
        urlTemplate: v('URLTemplate'),
        sharedSecret: v('SharedSecret'),
        validityTimeSec: v('ValidityTime'),
        length: v('Length'),
      },
      this.config.identity,
      evseId,
      unixSeconds,
    );
  }

  /**
   * An invoice was settled: DataTransfer `InvoicePaid`. Idempotent per (sessionId, seq).
   *
   * @param invoice the invoice; `atMs` = settlement time
   * @param issuedAtMs optional issue time, ms since epoch
   */
  invoicePaid(invoice: InvoiceFacts & { issuedAtMs?: number }): void {
    this.invoiceReport(
      'InvoicePaid',
      invoice,
      invoice.issuedAtMs !== undefined ? { issuedAtMs: invoice.issuedAtMs } : {},
    );
  }

  /**
   * The session ended: DataTransfer `SessionReceipt`, then 2.x TransactionEvent Ended (`LocalOutOfCredit`,
   * `EVDisconnected`, ...) / 1.6 StopTransaction. Idempotent per sessionId.
   *
   * @param args.sessionId session id
   * @param args.reason stop reason
   * @param args.meterStopWh energy register at the end, Wh (integer)
   * @param args.atMs when, ms since epoch
   * @param args.receipt totals of the session
   */
  sessionEnded(args: {
    sessionId: string;
    reason: StopReason;
    meterStopWh: number;
    atMs: number;
    receipt: SessionReceipt;
  }): void {
    nonNegativeInt('meterStopWh', args.meterStopWh);
    nonNegativeInt('receipt.energyWh', args.receipt.energyWh);
    if (args.receipt.paidMsat < 0n) throw new OcppArgumentInvalid('receipt.paidMsat must be >= 0');
    const limitReason = this.limitStops.get(args.sessionId);
    this.limitStops.delete(args.sessionId);
    const reason: StopReason = this.remoteStops.delete(args.sessionId)
      ? 'Remote'
      : limitReason !== undefined
        ? limitReason
        : this.pendingReset !== undefined && args.reason === 'Local'
          ? 'Reboot'
          : args.reason;
    this.payerKeys.delete(args.sessionId);
    this.db.transaction(() => {
      const tx = this.openSessionTx(args.sessionId);
      if (!tx) return;
      this.appendLightning(tx, 'SessionReceipt', `session:${args.sessionId}:SessionReceipt`, {
        sessionId: args.sessionId,
        seq: args.receipt.lastSeq,
        paymentHash: null,
        amountMsat: args.receipt.paidMsat.toString(),
        priceMsatPerWh: args.receipt.priceMsatPerWh?.toString() ?? null,
        energyFromWh: tx.meterStartWh,
        energyToWh: args.meterStopWh,
        atMs: args.atMs,
        times: { startedAtMs: tx.startedAtMs, endedAtMs: args.atMs },
        extra: {
          stopReason: reason,
          energyWh: args.receipt.energyWh,
          invoicesIssued: args.receipt.invoicesIssued,
          invoicesPaid: args.receipt.invoicesPaid,
          ...this.paidBlocks(args.sessionId),
        },
      });
      // the transaction ends at unplug (TxStopPoint EVConnected), or now when the cable is gone, the CSMS
      // stopped it, or the station restarts
      const endsNow =
        !this.txs.isPlugged(tx.evseId) || ['EVDisconnected', 'Remote', 'Reboot'].includes(reason);
      if (endsNow) {
        this.endTransaction(tx, reason, args.meterStopWh, args.atMs);
        return;
      }
      this.append(`session:${args.sessionId}:finished`, {
        kind: 'SessionFinished',
        txKey: tx.txKey,
        evseId: tx.evseId,
        connectorId: tx.connectorId,
        atMs: args.atMs,
        reason,
        meterStopWh: args.meterStopWh,
        hadSession: this.outbox.has(`session:${args.sessionId}:started`),
      });
      this.txs.finishSession(tx.txKey, reason);
      this.txs.setMeter(tx.txKey, args.meterStopWh, null);
    })();
    this.afterChange();
    this.maybeReset();
  }

  /**
   * The cable was unplugged. Ends a still-open transaction: with its session's stop reason when the session
   * ended before, else `EVDisconnected`.
   *
   * @param evseId EVSE id
   * @param atMs when, ms since epoch (default: clock now)
   */
  unplugged(evseId: number, atMs: number = this.clock.now()): void {
    this.evse(evseId);
    this.db.transaction(() => {
      this.txs.setPlugged(evseId, false, atMs);
      const tx = this.txs.openOnEvse(evseId);
      if (tx) this.endTransaction(tx, tx.stopReason ?? 'EVDisconnected', tx.lastMeterWh, atMs, true);
    })();
    this.afterChange();
  }

  // ---------------------------------------------------------------- daemon control and security events

  /**
   * Attaches the daemon's control surface (remote stop, availability, reset). Until then, commands that need
   * it are answered `Rejected`. Re-applies a persisted Inoperative availability to the arbiters and follows
   * their changes (StatusNotification Available / Unavailable / Faulted).
   *
   * @param control the daemon's control
   */
  attachControl(control: StationControl): void {
    this.control = control;
    for (const e of this.config.evses) {
      const arbiter = control.arbiter(e.evseId);
      if (!arbiter) continue;
      if (this.model.recall(`inoperative:${e.evseId}`) === 'true') arbiter.setAvailability(false, 'ocpp');
      arbiter.onChange(() => this.availabilityChanged());
    }
    this.sendStatusChanges();
  }

  /** The connector's owner changed (inoperative, faulted, back to idle): sends the new connector status. */
  availabilityChanged(): void {
    this.sendStatusChanges();
    this.maybeReset();
  }

  /**
   * A security event (SecurityEventNotification, queued like transaction messages so none is lost offline).
   *
   * @param type the event type (OCPP security event names, e.g. `TamperDetectionActivated`)
   * @param techInfo optional detail (≤ 255 characters are sent)
   * @param atMs when, ms since epoch (default: clock now)
   */
  securityEvent(type: SecurityEventType, techInfo?: string, atMs: number = this.clock.now()): void {
    this.db.transaction(() =>
      this.append(`security:${type}:${atMs}:${randomUUID()}`, {
        kind: 'SecurityEvent',
        txKey: '',
        evseId: 0,
        connectorId: 0,
        atMs,
        type,
        ...(techInfo !== undefined ? { techInfo } : {}),
      }),
    )();
    this.afterChange();
  }

  /**
   * A meter reading, in or out of a session (kept for TriggerMessage MeterValues).
   *
   * @param evseId EVSE id
   * @param energyWh energy register, Wh
   * @param powerW active power, W
   * @param atMs when sampled, ms since epoch
   */
  meterReading(evseId: number, energyWh: number, powerW: number, atMs: number): void {
    this.evse(evseId);
    nonNegativeInt('energyWh', energyWh);
    nonNegative('powerW', powerW);
    this.lastReading.set(evseId, { energyWh, powerW: Math.round(powerW), atMs });
  }

  // ---------------------------------------------------------------- display messages

  /** @returns the CSMS display messages showing now (time window and station state applied), in order */
  displayMessages(): DisplayMessage[] {
    this.displays.expire(this.clock.now());
    return visibleMessages(this.displays.all(), this.clock.now(), this.displayState());
  }

  /**
   * @returns an HTML fragment (`<section class="ocpp-display-messages">`) of the messages showing now, QR
   *   codes as inline SVG `<img>`; for embedding in the status page
   */
  renderDisplayMessagesHtml(): Promise<string> {
    return renderDisplayMessagesHtml(this.displayMessages());
  }

  // ---------------------------------------------------------------- internals: enqueueing

  private evse(evseId: number): { evseId: number; connectorId: number } {
    const evse = this.config.evses.find((e) => e.evseId === evseId);
    if (!evse) throw new OcppArgumentInvalid(`unknown EVSE ${evseId}`);
    return evse;
  }

  private openSessionTx(sessionId: string): TransactionRecord | undefined {
    const tx = this.txs.bySession(sessionId);
    if (!tx) {
      this.logger.warn('ocpp: report for an unknown session ignored', { sessionId });
      return undefined;
    }
    if (tx.endedAtMs !== null || tx.stopReason !== null) return undefined; // repeated report of an ended session
    return tx;
  }

  private append(messageKey: string, event: StationEvent): void {
    if (this.outbox.has(messageKey)) return;
    const seqNo =
      event.kind === 'Lightning' || event.kind === 'SecurityEvent' || event.kind === 'Settlement'
        ? 0
        : this.txs.takeSeqNo(event.txKey);
    this.outbox.append(messageKey, event, seqNo, this.link === undefined, this.clock.now());
  }

  /** The transaction of `sessionId`; undefined (logged: `what` is ignored) for a session the station never saw. */
  private txOfSession(sessionId: string, what: string): TransactionRecord | undefined {
    const tx = this.txs.bySession(sessionId);
    if (!tx) this.logger.warn(`ocpp: ${what} for an unknown session ignored`, { sessionId });
    return tx;
  }

  private appendLightning(
    tx: TransactionRecord,
    messageId: LightningMessageId,
    messageKey: string,
    fields: LightningReportFields,
  ): void {
    this.append(messageKey, {
      kind: 'Lightning',
      txKey: tx.txKey,
      evseId: tx.evseId,
      connectorId: tx.connectorId,
      atMs: fields.atMs,
      messageId,
      fields,
    });
  }

  /**
   * The payment hash and payment mode of every paid block of a session, in order (from its queued InvoicePaid
   * reports): a CSMS that was down during the session gets the full list with the receipt.
   */
  private paidBlocks(sessionId: string): { paymentHashes: string[]; paymentModes: string[] } {
    const hashes: string[] = [];
    const modes: string[] = [];
    for (const e of this.outbox.allWithPrefix(`session:${sessionId}:InvoicePaid:`)) {
      if (e.event.kind !== 'Lightning' || e.event.fields.paymentHash === null) continue;
      hashes.push(e.event.fields.paymentHash);
      const mode = e.event.fields.extra.paymentMode;
      modes.push(typeof mode === 'string' ? mode : 'online');
    }
    return { paymentHashes: hashes, paymentModes: modes };
  }

  private appendSettlement(
    tx: TransactionRecord | undefined,
    messageKey: string,
    atMs: number,
    settlement: SettlementFields,
  ): void {
    this.append(messageKey, {
      kind: 'Settlement',
      txKey: tx?.txKey ?? '',
      evseId: tx?.evseId ?? 0,
      connectorId: tx?.connectorId ?? 0,
      atMs,
      settlement,
    });
  }

  private invoiceReport(
    messageId: 'InvoiceIssued' | 'InvoicePaid',
    inv: InvoiceFacts,
    times: Record<string, number>,
  ): void {
    nonNegativeInt('seq', inv.seq);
    nonNegativeInt('energyFromWh', inv.energyFromWh);
    nonNegativeInt('energyToWh', inv.energyToWh);
    if (inv.priceMsatPerWh < 0n) throw new OcppArgumentInvalid('priceMsatPerWh must be >= 0');
    if (inv.amountMsat < 0n) throw new OcppArgumentInvalid('amountMsat must be >= 0');
    if (!/^[0-9a-f]{64}$/i.test(inv.paymentHash))
      throw new OcppArgumentInvalid('paymentHash must be 64 hex digits');
    this.db.transaction(() => {
      const tx = this.txOfSession(inv.sessionId, 'invoice');
      if (!tx) return;
      // a late settlement after the session ended is still reported (against the ended transaction)
      this.appendLightning(tx, messageId, `session:${inv.sessionId}:${messageId}:${inv.seq}`, {
        sessionId: inv.sessionId,
        seq: inv.seq,
        paymentHash: inv.paymentHash.toLowerCase(),
        amountMsat: inv.amountMsat.toString(),
        priceMsatPerWh: inv.priceMsatPerWh.toString(),
        energyFromWh: inv.energyFromWh,
        energyToWh: inv.energyToWh,
        atMs: inv.atMs,
        times,
        extra: { paymentMode: inv.paymentMode ?? 'online' },
      });
    })();
    this.afterChange();
  }

  private endTransaction(
    tx: TransactionRecord,
    reason: StopReason,
    meterStopWh: number | null,
    atMs: number,
    cableGone = false,
  ): void {
    this.append(`tx:${tx.txKey}:ended`, {
      kind: 'TransactionEnded',
      txKey: tx.txKey,
      evseId: tx.evseId,
      connectorId: tx.connectorId,
      atMs,
      reason,
      meterStopWh,
      // 1.6: StopTransaction only when StartTransaction was sent and the session's end did not stop it yet
      hadSession:
        tx.sessionId !== null && tx.stopReason === null && this.outbox.has(`session:${tx.sessionId}:started`),
      ...(cableGone ? { cableGone } : {}),
    });
    this.txs.close(tx.txKey, atMs);
    this.displays.clearForTransaction(tx.txKey);
  }

  private afterChange(): void {
    this.sendStatusChanges();
    this.background('pump', this.pump());
  }

  // ---------------------------------------------------------------- internals: link, boot, heartbeat

  private onOpen(link: RpcLink): void {
    this.link = link;
    this.certificateFailureNoted = false;
    link.onValidationFailure((f) => {
      this.validationFailures++;
      this.logger.error('ocpp: schema violation', { ...f });
    });
    if (link.protocol !== 'ocpp1.6') {
      link.handle('SetDisplayMessage', (req) => {
        const refused = this.refusedPaymentQr(req);
        if (refused !== undefined) {
          this.securityEvent('InvalidMessages', `payment QR refused: ${refused}`);
          this.logger.warn('ocpp: payment QR refused, not drawn', { reason: refused });
          return { reply: { status: 'Rejected' } };
        }
        const status = this.displays.set(
          req,
          link.protocol,
          (id) => this.txs.byKey(id)?.endedAtMs === null,
          this.clock.now(),
        );
        this.logger.info('ocpp: SetDisplayMessage', { status });
        return { reply: { status } };
      });
      link.handle('GetDisplayMessages', (req) => {
        const matches = this.displays.query(req);
        const requestId = typeof req.requestId === 'number' ? req.requestId : 0;
        if (matches.length === 0) return { reply: { status: 'Unknown' } };
        return {
          reply: { status: 'Accepted' },
          after: () =>
            this.background('NotifyDisplayMessages', this.notifyDisplayMessages(link, requestId, matches)),
        };
      });
      link.handle('ClearDisplayMessage', (req) => {
        const id = typeof req.id === 'number' ? req.id : -1;
        return { reply: { status: this.displays.clear(id) ? 'Accepted' : 'Unknown' } };
      });
    }
    link.handle('TriggerMessage', (req) => this.onTriggerMessage(link, req));
    this.registerCsmsRequests(link);
    if (this.boot === 'Accepted') this.afterAccepted(link);
    else this.background('BootNotification', this.sendBoot(link));
  }

  /**
   * A TLS handshake that failed on the CSMS's certificate is a security event (InvalidCsmsCertificate),
   * queued once per run of failures and delivered when a connection to a valid CSMS succeeds.
   */
  private noteCertificateFailure(err: unknown): void {
    const text = err instanceof Error ? err.message : String(err);
    if (!CERTIFICATE_FAILURE.test(text) || this.certificateFailureNoted) return;
    this.certificateFailureNoted = true;
    this.securityEvent('InvalidCsmsCertificate', text);
  }

  private onClose(): void {
    this.link = undefined;
    this.lastStatus.clear();
    this.cancelTimers();
  }

  private cancelTimers(): void {
    this.bootTimer?.cancel();
    this.heartbeatTimer?.cancel();
    this.pumpTimer?.cancel();
    this.bootTimer = this.heartbeatTimer = this.pumpTimer = undefined;
  }

  private identity(): StationIdentity {
    const id: StationIdentity = {
      model: this.config.chargePointModel,
      vendor: this.config.chargePointVendor,
    };
    if (this.config.serialNumber !== undefined) id.serialNumber = this.config.serialNumber;
    if (this.config.firmwareVersion !== undefined) id.firmwareVersion = this.config.firmwareVersion;
    return id;
  }

  private async sendBoot(link: RpcLink, reason: 'PowerUp' | 'Triggered' = 'PowerUp'): Promise<void> {
    const payload =
      link.protocol === 'ocpp1.6'
        ? bootNotification16(this.identity())
        : bootNotification201(this.identity(), reason);
    let retrySec = this.config.heartbeatFallbackSec;
    try {
      const reply = await link.call('BootNotification', payload);
      const status = reply.status;
      const interval = typeof reply.interval === 'number' && reply.interval > 0 ? reply.interval : 0;
      this.logger.info('ocpp: BootNotification', { status, interval });
      if (status === 'Accepted') {
        this.boot = 'Accepted';
        this.heartbeatSec = interval || this.config.heartbeatFallbackSec;
        if (this.link === link) this.afterAccepted(link);
        return;
      }
      this.boot = status === 'Rejected' ? 'Rejected' : 'Pending';
      retrySec = interval || this.config.heartbeatFallbackSec;
    } catch (err: unknown) {
      this.noteError('BootNotification', err);
    }
    if (this.link !== link || this.stopped) return;
    // Pending/Rejected: no other message (transaction events wait in the outbox) until the interval passed
    this.bootTimer?.cancel();
    this.bootTimer = this.clock.setTimer(retrySec * 1000, () => {
      this.bootTimer = undefined;
      if (this.link === link) this.background('BootNotification', this.sendBoot(link));
    });
  }

  private afterAccepted(link: RpcLink): void {
    this.lastStatus.clear();
    this.sendStatusChanges();
    this.scheduleHeartbeat(link);
    this.background('pump', this.pump());
  }

  private scheduleHeartbeat(link: RpcLink): void {
    this.heartbeatTimer?.cancel();
    this.heartbeatTimer = this.clock.setTimer(this.heartbeatSec * 1000, () => {
      this.heartbeatTimer = undefined;
      if (this.link !== link) return;
      link.call('Heartbeat', {}).catch((err: unknown) => this.noteError('Heartbeat', err));
      this.scheduleHeartbeat(link);
    });
  }

  private async notifyDisplayMessages(
    link: RpcLink,
    requestId: number,
    messages: DisplayMessage[],
  ): Promise<void> {
    const chunk = 10;
    for (let i = 0; i < messages.length; i += chunk) {
      const part = messages.slice(i, i + chunk);
      const payload: JsonObject = { requestId, messageInfo: part.map(toMessageInfo) };
      if (i + chunk < messages.length) payload.tbc = true;
      try {
        await link.call('NotifyDisplayMessages', payload);
      } catch (err: unknown) {
        this.noteError('NotifyDisplayMessages', err);
        return;
      }
    }
  }

  private displayState(): StationDisplayState {
    return this.txs.allOpen().some((t) => t.chargingState === 'Charging') ? 'Charging' : 'Idle';
  }

  // ---------------------------------------------------------------- CSMS requests (device model, remote control)

  private registerCsmsRequests(link: RpcLink): void {
    const v16 = link.protocol === 'ocpp1.6';
    if (v16) {
      link.handle('GetConfiguration', (req) => ({ reply: getConfiguration16(this.model, req) }));
      link.handle('ChangeConfiguration', (req) => {
        const { reply, change } = changeConfiguration16(this.model, req);
        if (change) this.applyChange(change);
        return { reply };
      });
      link.handle('RemoteStartTransaction', (req) => {
        const connectorId = typeof req.connectorId === 'number' ? req.connectorId : undefined;
        const idTag = typeof req.idTag === 'string' ? req.idTag : '';
        return { reply: { status: this.remoteStart(connectorId, 0, idTag).status } };
      });
      link.handle('RemoteStopTransaction', (req) => {
        const tx = this.txs.allOpen().find((t) => t.csmsTxId16 === req.transactionId);
        return { reply: { status: tx ? this.remoteStop(tx) : 'Rejected' } };
      });
      link.handle('ChangeAvailability', (req) => {
        const id = typeof req.connectorId === 'number' ? req.connectorId : -1;
        return {
          reply: { status: this.changeAvailability(id === 0 ? undefined : id, req.type === 'Operative') },
        };
      });
      link.handle('UnlockConnector', (req) => {
        const id = typeof req.connectorId === 'number' ? req.connectorId : -1;
        if (!this.config.evses.some((e) => e.evseId === id)) return { reply: { status: 'UnlockFailed' } };
        // 1.6: an unlock during a transaction stops it first (the socket has no lock while nothing is paid)
        const tx = this.txs.openOnEvse(id);
        if (tx?.sessionId != null) this.remoteStop(tx);
        return { reply: { status: this.control?.unlock?.(id) ?? 'Unlocked' } };
      });
      link.handle('Reset', () => ({
        reply: { status: this.reset('Immediate') },
        after: () => this.maybeReset(),
      }));
    } else {
      link.handle('GetVariables', (req) => ({ reply: getVariables(this.model, req) }));
      if (link.protocol === 'ocpp2.1')
        link.handle('NotifyWebPaymentStarted', (req) => {
          const evseId = typeof req.evseId === 'number' ? req.evseId : -1;
          const timeoutSec = typeof req.timeout === 'number' ? req.timeout : 0;
          if (this.config.evses.some((e) => e.evseId === evseId)) this.lockForWebPayment(evseId, timeoutSec);
          return { reply: {} };
        });
      link.handle('SetVariables', (req) => {
        const { reply, changes } = setVariables(this.model, req);
        return { reply, after: () => changes.forEach((c) => this.applyChange(c)) };
      });
      link.handle('GetBaseReport', (req) => {
        const base = req.reportBase as ReportBase;
        const requestId = typeof req.requestId === 'number' ? req.requestId : 0;
        const parts = notifyReportParts(this.model, requestId, base, this.clock.now(), REPORT_PART_SIZE);
        if (parts.length === 0) return { reply: { status: 'EmptyResultSet' } };
        return {
          reply: { status: 'Accepted' },
          after: () => this.background('NotifyReport', this.sendAll(link, 'NotifyReport', parts)),
        };
      });
      link.handle('RequestStartTransaction', async (req) => {
        const { evseId, remoteStartId, idToken, idTokenType } = readStartRequest(req);
        if (idTokenType === 'DirectPayment')
          return { reply: await this.directPaymentStart(evseId, remoteStartId, idToken, undefined) };
        const { status, tx } = this.remoteStart(evseId, remoteStartId, idToken);
        const reply: JsonObject = { status };
        if (status === 'Accepted' && tx) reply.transactionId = tx.txKey;
        return { reply };
      });
      link.handle('RequestStopTransaction', (req) => {
        const tx = typeof req.transactionId === 'string' ? this.txs.byKey(req.transactionId) : undefined;
        return { reply: { status: tx && tx.endedAtMs === null ? this.remoteStop(tx) : 'Rejected' } };
      });
      link.handle('GetTransactionStatus', (req) => {
        const txKey = typeof req.transactionId === 'string' ? req.transactionId : undefined;
        const reply: JsonObject = { messagesInQueue: this.outbox.pendingCount(txKey) > 0 };
        if (txKey !== undefined) reply.ongoingIndicator = this.txs.byKey(txKey)?.endedAtMs === null;
        return { reply };
      });
      link.handle('ChangeAvailability', (req) => {
        const evse = req.evse;
        const id =
          typeof evse === 'object' && evse !== null && !Array.isArray(evse) && typeof evse.id === 'number'
            ? evse.id
            : undefined;
        const operative = req.operationalStatus === 'Operative';
        return { reply: { status: this.changeAvailability(id === 0 ? undefined : id, operative) } };
      });
      link.handle('UnlockConnector', (req) => {
        const evse = this.config.evses.find(
          (e) => e.evseId === req.evseId && e.connectorId === req.connectorId,
        );
        if (!evse) return { reply: { status: 'UnknownConnector' } };
        if (this.txs.openOnEvse(evse.evseId)?.sessionId != null)
          return { reply: { status: 'OngoingAuthorizedTransaction' } };
        return { reply: { status: this.control?.unlock?.(evse.evseId) ?? 'Unlocked' } };
      });
      link.handle('Reset', (req) => {
        if (req.evseId !== undefined) return { reply: { status: 'Rejected' } }; // one EVSE cannot restart alone
        const status = this.reset(req.type === 'OnIdle' ? 'OnIdle' : 'Immediate');
        return { reply: { status }, after: () => this.maybeReset() };
      });
    }
    // the station keeps no authorization cache (every session is paid over Lightning): clearing it succeeds
    link.handle('ClearCache', () => ({ reply: { status: 'Accepted' } }));
    link.handle('DataTransfer', async (req) => {
      if (req.vendorId === WEB_PAYMENT_VENDOR_ID) return { reply: await this.webPaymentBackport(link, req) };
      return {
        reply: { status: req.vendorId === this.config.vendorId ? 'UnknownMessageId' : 'UnknownVendorId' },
      };
    });
  }

  /**
   * The 2.0.1 / 1.6 DataTransfer backports of the C25 messages (vendorId `WEB_PAYMENT_VENDOR_ID`, messageId =
   * the 2.1 action, data = its payload): `NotifyWebPaymentStarted` and `RequestStartTransaction` (DirectPayment,
   * optionally with a `transactionLimit`). The reply's `data` is the 2.1 reply (JSON text on 1.6).
   */
  private async webPaymentBackport(link: RpcLink, req: JsonObject): Promise<JsonObject> {
    const data = backportData(req.data);
    const wrap = (reply: JsonObject): JsonObject => {
      const status = reply.status === 'Accepted' || reply.status === undefined ? 'Accepted' : 'Rejected';
      return { status, data: link.protocol === 'ocpp1.6' ? JSON.stringify(reply) : reply };
    };
    if (data === undefined) return { status: 'Rejected' };
    if (req.messageId === 'NotifyWebPaymentStarted') {
      const evseId = typeof data.evseId === 'number' ? data.evseId : -1;
      const timeoutSec = typeof data.timeout === 'number' ? data.timeout : 0;
      if (!this.config.evses.some((e) => e.evseId === evseId)) return { status: 'Rejected' };
      this.lockForWebPayment(evseId, timeoutSec);
      return wrap({});
    }
    if (req.messageId === 'RequestStartTransaction') {
      const start = readStartRequest(data);
      if (start.idTokenType !== 'DirectPayment') return { status: 'Rejected' };
      return wrap(
        await this.directPaymentStart(start.evseId, start.remoteStartId, start.idToken, start.limit),
      );
    }
    return { status: 'UnknownMessageId' };
  }

  /**
   * NotifyWebPaymentStarted: reserves an EVSE for `timeoutSec` (≤ 300 s; 0 revokes). Its connector is held
   * (`ConnectorArbiter.reserve`): a car or a walk-up that arrives meanwhile is refused CONNECTOR_BUSY, and the
   * connector reports `Reserved`, until the announced start arrives or the time is up.
   */
  private lockForWebPayment(evseId: number, timeoutSec: number): void {
    if (timeoutSec <= 0) return this.releaseWebPaymentLock(evseId);
    const untilMs = this.clock.now() + Math.min(timeoutSec, 300) * 1000;
    this.webPaymentLocks.set(evseId, untilMs);
    this.control?.arbiter(evseId)?.reserve('a web payment is in progress');
    this.clock.setTimer(untilMs - this.clock.now(), () => {
      if (this.webPaymentLocks.get(evseId) === untilMs) this.releaseWebPaymentLock(evseId);
    });
    setImmediate(() => this.sendStatusChanges());
  }

  /** Ends an EVSE's web-payment reservation (the announced start arrived, was revoked, or timed out). */
  private releaseWebPaymentLock(evseId: number): void {
    if (!this.webPaymentLocks.delete(evseId)) return;
    this.control?.arbiter(evseId)?.unreserve();
    setImmediate(() => this.sendStatusChanges());
  }

  /** Applies an accepted variable change that takes effect at once, and reports security changes. */
  private applyChange(change: VariableChange): void {
    const { def, value } = change;
    if (def.component === 'OCPPCommCtrlr' && def.variable === 'HeartbeatInterval') {
      this.heartbeatSec = Number(value);
      if (this.link && this.boot === 'Accepted') this.scheduleHeartbeat(this.link);
    }
    if (def.component === 'SampledDataCtrlr' && def.variable === 'TxUpdatedInterval')
      this.meterIntervalSec = Number(value);
    if (def.security === true || def.component === VENDOR_COMPONENT)
      this.securityEvent('ReconfigurationOfSecurityParameters', `${def.component}.${def.variable} changed`);
    this.logger.info('ocpp: variable changed by the CSMS', {
      component: def.component,
      variable: def.variable,
      rebootRequired: def.rebootRequired === true,
    });
  }

  /**
   * RequestStartTransaction / RemoteStartTransaction.
   *
   * @returns `Accepted` with the open transaction on the EVSE (if any), or `Rejected`
   */
  private remoteStart(
    evseId: number | undefined,
    remoteStartId: number,
    idToken: string,
  ): { status: 'Accepted' | 'Rejected'; tx?: TransactionRecord } {
    if (this.config.remoteStart === 'off') return { status: 'Rejected' };
    const evse = this.freeEvse(evseId);
    if (!evse) return { status: 'Rejected' };
    this.releaseWebPaymentLock(evse.evseId); // the announced web payment arrived
    const timeoutSec = Number(this.variable('TxCtrlr', 'EVConnectionTimeOut') ?? '120');
    if (this.config.remoteStart === 'walkup') {
      // a walk-up session on the EVSE (its display offers the session's QR); no walk-up there: Rejected
      const started =
        this.control?.remoteStart?.({
          evseId: evse.evseId,
          remoteStartId,
          idToken,
          timeoutMs: timeoutSec * 1000,
        }) ?? false;
      if (!started) return { status: 'Rejected' };
    }
    this.remoteStarts.set(evse.evseId, { remoteStartId, expiresAtMs: this.clock.now() + timeoutSec * 1000 });
    const tx = this.txs.openOnEvse(evse.evseId);
    if (tx) {
      // a cable is already plugged (transaction started at EVConnected): tell the CSMS which request it is
      this.db.transaction(() =>
        this.append(`tx:${tx.txKey}:remote-start:${remoteStartId}`, {
          kind: 'TxUpdated',
          txKey: tx.txKey,
          evseId: tx.evseId,
          connectorId: tx.connectorId,
          atMs: this.clock.now(),
          triggerReason: 'RemoteStart',
          chargingState: tx.chargingState,
          remoteStartId,
          energyWh: tx.lastMeterWh,
        }),
      )();
      this.afterChange();
    }
    return tx ? { status: 'Accepted', tx } : { status: 'Accepted' };
  }

  /** The limits in force for a transaction: the TransactionEventResponse's and the backported start's. */
  private limitOf(tx: TransactionRecord): TransactionLimit | undefined {
    const fromReply = this.model.recall(`limit:${tx.txKey}`);
    const fromStart = tx.sessionId !== null ? this.model.recall(`limit:session:${tx.sessionId}`) : undefined;
    if (fromReply === undefined && fromStart === undefined) return undefined;
    return stricterLimit(
      fromReply !== undefined ? limitFromJson(fromReply) : {},
      fromStart !== undefined ? limitFromJson(fromStart) : {},
    );
  }

  /**
   * OCPP 2.1 transactionLimit (from a TransactionEventResponse, or a backported DirectPayment start): when the
   * session's cost (sat, see `web-payment.ts`), energy or time reaches the CSMS's limit, the session is asked to
   * end cleanly; its end is reported `LocalOutOfCredit` with trigger `CostLimitReached`, `EnergyLimitReached`
   * or `TimeLimitReached`. A cost limit applies to sessions that report their cost (`meterSample.costMsat`).
   */
  private enforceLimit(tx: TransactionRecord, atMs: number, energyWh: number, costMsat?: bigint): void {
    if (tx.sessionId === null || this.limitStops.has(tx.sessionId)) return;
    const limit = this.limitOf(tx);
    if (limit === undefined) return;
    const reason = limitReached(limit, {
      ...(costMsat !== undefined ? { costMsat } : {}),
      energyWh: energyWh - (tx.meterStartWh ?? energyWh),
      elapsedMs: atMs - tx.startedAtMs,
    });
    if (reason === undefined) return;
    const runner = this.directPaymentOf(tx.evseId);
    const asked = runner?.owns(tx.sessionId)
      ? runner.requestStop(tx.sessionId)
      : (this.control?.requestStop(tx.evseId, 'limit') ?? false);
    if (!asked) return;
    this.limitStops.set(tx.sessionId, reason);
    this.logger.info('ocpp: transaction limit reached; stopping the session', { reason });
  }

  /**
   * A DirectPayment start (2.1 RequestStartTransaction, or its backport): the runner checks the payment and
   * starts the session; the reply names the transaction it opened.
   */
  private async directPaymentStart(
    evseId: number | undefined,
    remoteStartId: number,
    pspRef: string,
    limit: TransactionLimit | undefined,
  ): Promise<JsonObject> {
    // without an EVSE named: the first free one that runs DirectPayment sessions
    const evse = this.freeEvse(evseId, (id) => this.directPaymentOf(id) !== undefined);
    const runner = evse ? this.directPaymentOf(evse.evseId) : undefined;
    if (!runner || !evse || pspRef.length === 0) return { status: 'Rejected' };
    this.releaseWebPaymentLock(evse.evseId); // the announced web payment arrived
    const timeoutSec = Number(this.variable('TxCtrlr', 'EVConnectionTimeOut') ?? '120');
    this.remoteStarts.set(evse.evseId, { remoteStartId, expiresAtMs: this.clock.now() + timeoutSec * 1000 });
    const started = await runner.start({ evseId: evse.evseId, remoteStartId, pspRef });
    if (!started.ok) {
      this.remoteStarts.delete(evse.evseId);
      this.logger.warn('ocpp: DirectPayment start refused', { reason: started.reason });
      return {
        status: 'Rejected',
        statusInfo: { reasonCode: 'InvalidValue', additionalInfo: started.reason },
      };
    }
    if (limit !== undefined) this.model.remember(`limit:session:${started.sessionId}`, limitToJson(limit));
    const tx = this.txs.bySession(started.sessionId);
    return tx ? { status: 'Accepted', transactionId: tx.txKey } : { status: 'Accepted' };
  }

  /** The EVSE a remote start may use: the one named (if free), or the first free one that `fits` (default any). */
  private freeEvse(
    evseId: number | undefined,
    fits: (evseId: number) => boolean = () => true,
  ): { evseId: number; connectorId: number } | undefined {
    const free = (id: number): boolean => {
      const owner = this.control?.arbiter(id)?.current();
      // an EVSE held for a web payment the CSMS announced is free for the CSMS's own start
      const held = owner?.kind === 'reserved' && this.webPaymentLocks.has(id);
      if (owner && owner.kind !== 'idle' && !held) return false;
      return this.txs.openOnEvse(id)?.sessionId == null;
    };
    return evseId === undefined
      ? this.config.evses.find((e) => fits(e.evseId) && free(e.evseId))
      : this.config.evses.find((e) => e.evseId === evseId && free(e.evseId));
  }

  /** @returns the pending remote start of an EVSE (consumed), if it has not timed out */
  private takeRemoteStart(evseId: number): number | undefined {
    const pending = this.remoteStarts.get(evseId);
    this.remoteStarts.delete(evseId);
    return pending && pending.expiresAtMs >= this.clock.now() ? pending.remoteStartId : undefined;
  }

  /**
   * RequestStopTransaction / RemoteStopTransaction: a paid session is asked to end cleanly (its end is reported
   * with `Remote`); a transaction without a session (cable plugged, nothing bought) ends at once.
   */
  private remoteStop(tx: TransactionRecord): 'Accepted' | 'Rejected' {
    if (tx.sessionId === null || tx.stopReason !== null) {
      // a walk-up the CSMS started that still waits for its deposit is called off with it
      if (tx.sessionId === null && this.control?.arbiter(tx.evseId)?.current().kind === 'walkup')
        this.control.requestStop(tx.evseId, 'remote');
      this.db.transaction(() => this.endTransaction(tx, 'Remote', tx.lastMeterWh, this.clock.now()))();
      this.afterChange();
      return 'Accepted';
    }
    const runner = this.directPaymentOf(tx.evseId);
    const asked = runner?.owns(tx.sessionId)
      ? runner.requestStop(tx.sessionId)
      : (this.control?.requestStop(tx.evseId, 'remote') ?? false);
    if (!asked) return 'Rejected';
    this.remoteStops.add(tx.sessionId);
    return 'Accepted';
  }

  /**
   * ChangeAvailability through the connector arbiters (persisted, re-applied when a control is attached).
   *
   * @param evseId one EVSE, or undefined for the whole station
   * @param operative Operative or Inoperative
   * @returns `Accepted`, `Scheduled` (after the running session) or `Rejected`
   */
  private changeAvailability(
    evseId: number | undefined,
    operative: boolean,
  ): 'Accepted' | 'Scheduled' | 'Rejected' {
    const evses =
      evseId === undefined ? this.config.evses : this.config.evses.filter((e) => e.evseId === evseId);
    if (evses.length === 0) return 'Rejected';
    const arbiters = evses.map((e) => ({ evseId: e.evseId, arbiter: this.control?.arbiter(e.evseId) }));
    if (arbiters.some((a) => a.arbiter === undefined)) return 'Rejected';
    let status: 'Accepted' | 'Scheduled' | 'Rejected' = 'Accepted';
    for (const a of arbiters) {
      const s = a.arbiter?.setAvailability(operative, 'ocpp') ?? 'Rejected';
      if (s !== 'Rejected') this.model.remember(`inoperative:${a.evseId}`, operative ? null : 'true');
      if (s === 'Rejected') status = 'Rejected';
      else if (s === 'Scheduled' && status === 'Accepted') status = 'Scheduled';
    }
    setImmediate(() => this.sendStatusChanges());
    return status;
  }

  /**
   * Reset: `Immediate` stops running sessions (each ends cleanly with `Reboot`) and restarts once they ended;
   * `OnIdle` waits for them. Without a control there is nothing to restart: `Rejected`.
   */
  private reset(kind: 'Immediate' | 'OnIdle'): 'Accepted' | 'Scheduled' | 'Rejected' {
    const control = this.control;
    if (!control) return 'Rejected';
    const running = this.txs.allOpen().filter((t) => t.sessionId !== null);
    this.pendingReset = kind;
    if (kind === 'OnIdle') return running.length > 0 ? 'Scheduled' : 'Accepted';
    for (const t of running) control.requestStop(t.evseId, 'reset');
    return 'Accepted';
  }

  /** Restarts when a reset is pending and no session runs any more. */
  private maybeReset(): void {
    if (this.pendingReset === undefined || !this.control) return;
    if (this.txs.allOpen().some((t) => t.sessionId !== null)) return;
    this.pendingReset = undefined;
    this.securityEvent('ResetOrReboot', 'Reset requested by the CSMS');
    this.logger.info('ocpp: restarting on CSMS request');
    this.control.reset();
  }

  /**
   * TriggerMessage (1.6 and 2.x): every message the spec lets a CSMS trigger is answered `Accepted` and sent
   * after the reply when the station can send it now, `Rejected` otherwise (e.g. a TransactionEvent with no
   * open transaction, a certificate signing request on a station without security profile 3).
   */
  private onTriggerMessage(link: RpcLink, req: JsonObject): HandlerReply {
    const requested = typeof req.requestedMessage === 'string' ? req.requestedMessage : '';
    const evseObj = req.evse;
    const evseId =
      typeof req.connectorId === 'number'
        ? req.connectorId
        : typeof evseObj === 'object' &&
            evseObj !== null &&
            !Array.isArray(evseObj) &&
            typeof evseObj.id === 'number'
          ? evseObj.id
          : undefined;
    const rejected: HandlerReply = { reply: { status: 'Rejected' } };
    if (evseId !== undefined && evseId !== 0 && !this.config.evses.some((e) => e.evseId === evseId))
      return rejected;
    const accepted = (after: () => void): HandlerReply => ({ reply: { status: 'Accepted' }, after });
    const targets = this.config.evses.filter(
      (e) => evseId === undefined || evseId === 0 || e.evseId === evseId,
    );
    const v16 = link.protocol === 'ocpp1.6';
    if (requested === 'BootNotification') {
      if (this.boot === 'Accepted') return rejected;
      return accepted(() => {
        this.bootTimer?.cancel();
        this.bootTimer = undefined;
        this.background('BootNotification', this.sendBoot(link, 'Triggered'));
      });
    }
    if (this.boot !== 'Accepted') return rejected;
    switch (requested) {
      case 'Heartbeat':
        return accepted(() => this.background('Heartbeat', link.call('Heartbeat', {})));
      case 'StatusNotification':
        return accepted(() => {
          for (const e of targets) this.lastStatus.delete(e.evseId);
          this.sendStatusChanges();
        });
      case 'MeterValues':
        return accepted(() => {
          for (const e of targets) {
            const payload = this.meterValuesNow(link, e.evseId);
            if (payload) this.background('MeterValues', link.call('MeterValues', payload));
          }
        });
      case 'TransactionEvent': {
        const open = targets.map((e) => this.txs.openOnEvse(e.evseId)).filter((t) => t !== undefined);
        if (v16 || open.length === 0) return rejected;
        return accepted(() => {
          const now = this.clock.now();
          this.db.transaction(() => {
            for (const tx of open)
              this.append(`tx:${tx.txKey}:trigger:${now}`, {
                kind: 'TxUpdated',
                txKey: tx.txKey,
                evseId: tx.evseId,
                connectorId: tx.connectorId,
                atMs: now,
                triggerReason: 'Trigger',
                chargingState: tx.chargingState,
                energyWh: tx.lastMeterWh,
              });
          })();
          this.afterChange();
        });
      }
      // no firmware update, log or diagnostics upload runs on this station: each reports Idle
      case 'FirmwareStatusNotification':
      case 'DiagnosticsStatusNotification':
      case 'LogStatusNotification':
      case 'PublishFirmwareStatusNotification':
        return accepted(() => this.background(requested, link.call(requested, { status: 'Idle' })));
      default:
        // certificate signing (SignChargingStationCertificate, SignV2GCertificate, SignCombinedCertificate)
        // needs security profile 3, which this station does not run
        return rejected;
    }
  }

  /** A MeterValues request with the last reading of an EVSE, or undefined when none was seen. */
  private meterValuesNow(link: RpcLink, evseId: number): JsonObject | undefined {
    const r = this.lastReading.get(evseId);
    if (!r) return undefined;
    const ts = new Date(r.atMs).toISOString();
    if (link.protocol === 'ocpp1.6') {
      const payload: JsonObject = {
        connectorId: evseId,
        meterValue: [
          {
            timestamp: ts,
            sampledValue: [
              {
                value: String(r.energyWh),
                context: 'Trigger',
                measurand: 'Energy.Active.Import.Register',
                unit: 'Wh',
              },
              { value: String(r.powerW), context: 'Trigger', measurand: 'Power.Active.Import', unit: 'W' },
            ],
          },
        ],
      };
      const txId = this.txs.openOnEvse(evseId)?.csmsTxId16;
      if (txId != null) payload.transactionId = txId;
      return payload;
    }
    return {
      evseId,
      meterValue: [
        {
          timestamp: ts,
          sampledValue: [
            {
              value: r.energyWh,
              context: 'Trigger',
              measurand: 'Energy.Active.Import.Register',
              unitOfMeasure: { unit: 'Wh' },
            },
            {
              value: r.powerW,
              context: 'Trigger',
              measurand: 'Power.Active.Import',
              unitOfMeasure: { unit: 'W' },
            },
          ],
        },
      ],
    };
  }

  /**
   * QR payment model 2: with `qrPayment` configured, a QR message (format QRCODE, or a message for the
   * `QRCodeDisplay` component) must be a payment code the policy accepts before it is drawn.
   *
   * @returns why it is refused, or undefined when it may be shown (or is no payment QR)
   */
  private refusedPaymentQr(req: JsonObject): string | undefined {
    const policy = this.config.qrPayment;
    if (!policy) return undefined;
    const info = req.message;
    if (typeof info !== 'object' || info === null || Array.isArray(info)) return undefined;
    const content = info.message;
    const display = info.display;
    if (typeof content !== 'object' || content === null || Array.isArray(content)) return undefined;
    const forQrDisplay =
      typeof display === 'object' &&
      display !== null &&
      !Array.isArray(display) &&
      display.name === 'QRCodeDisplay';
    if (content.format !== 'QRCODE' && !forQrDisplay) return undefined;
    const text = typeof content.content === 'string' ? content.content : '';
    const verdict = checkPaymentQr(text, { ...policy, nowMs: this.clock.now() });
    return verdict.ok ? undefined : `${verdict.refusal}: ${verdict.detail}`;
  }

  /**
   * QR payment model 2 ("pay by phone"): asks the CSMS for a payment QR for an EVSE with DataTransfer
   * `org.openchargealliance.qrpayment` / `StartQRPayment`. The CSMS answers with a SetDisplayMessage whose QR is
   * checked before it is drawn (`qrPayment` policy).
   *
   * @param evseId EVSE id
   * @returns the CSMS's DataTransfer status, or `Offline` when no accepted link is up
   */
  async startQrPayment(evseId: number): Promise<string> {
    this.evse(evseId);
    const link = this.link;
    if (!link || this.boot !== 'Accepted') return 'Offline';
    const data = { evseId };
    const reply = await link.call('DataTransfer', {
      vendorId: 'org.openchargealliance.qrpayment',
      messageId: 'StartQRPayment',
      data: link.protocol === 'ocpp1.6' ? JSON.stringify(data) : data,
    });
    return typeof reply.status === 'string' ? reply.status : 'Rejected';
  }

  /**
   * QR payment model 1 (2.1 C25): how long an EVSE stays reserved for a web payment the CSMS announced with
   * NotifyWebPaymentStarted (the display shows "payment in progress"; other starts wait).
   *
   * @param evseId EVSE id
   * @returns remaining ms (0: not locked)
   */
  webPaymentLockMs(evseId: number): number {
    const until = this.webPaymentLocks.get(evseId);
    return until === undefined ? 0 : Math.max(0, until - this.clock.now());
  }

  /** Sends a series of CALLs in order (NotifyReport parts), stopping at the first failure. */
  private async sendAll(link: RpcLink, action: string, payloads: JsonObject[]): Promise<void> {
    for (const p of payloads) {
      if (this.link !== link) return;
      await link.call(action, p);
    }
  }

  private variable(component: string, variable: string): string | undefined {
    const found = this.model.lookup({ component, variable });
    return 'def' in found ? this.model.value(found.def) : undefined;
  }

  // ---------------------------------------------------------------- internals: connector status (live)

  /** 2.x AvailabilityState of an EVSE (0: the station: Faulted/Unavailable only when every EVSE is). */
  private availability(evseId: number): string {
    if (evseId === 0) {
      const all = this.config.evses.map((e) => this.availability(e.evseId));
      return all.every((a) => a === all[0]) ? (all[0] ?? 'Available') : 'Available';
    }
    const occupied = this.txs.isPlugged(evseId) || this.txs.openOnEvse(evseId) !== undefined;
    return availabilityOf(this.control?.arbiter(evseId)?.current(), occupied);
  }

  private sendStatusChanges(): void {
    const link = this.link;
    if (!link || this.boot !== 'Accepted') return;
    const now = this.clock.now();
    for (const evse of this.config.evses) {
      const plugged = this.txs.isPlugged(evse.evseId);
      const tx = this.txs.openOnEvse(evse.evseId);
      let payload: JsonObject;
      let key: string;
      if (link.protocol === 'ocpp1.6') {
        let status: ConnectorStatus16 = 'Available';
        const availability = this.availability(evse.evseId);
        if (availability === 'Faulted' || availability === 'Unavailable' || availability === 'Reserved')
          status = availability;
        else if (plugged || tx) {
          if (!tx || tx.stopReason !== null) status = 'Finishing';
          else if (tx.sessionId === null || tx.chargingState === 'EVConnected') status = 'Preparing';
          else status = tx.chargingState === 'SuspendedEVSE' ? 'SuspendedEVSE' : 'Charging';
        }
        key = status;
        payload = statusNotification16(evse.evseId, status, now);
      } else {
        const status = this.availability(evse.evseId) as ConnectorStatus201;
        key = status;
        payload = statusNotification201(evse.evseId, evse.connectorId, status, now);
      }
      if (this.lastStatus.get(evse.evseId) === key) continue;
      this.lastStatus.set(evse.evseId, key);
      link.call('StatusNotification', payload).catch((err: unknown) => {
        this.lastStatus.delete(evse.evseId);
        this.noteError('StatusNotification', err);
      });
    }
  }

  // ---------------------------------------------------------------- internals: outbox delivery

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        const link = this.link;
        if (!link || this.boot !== 'Accepted' || this.stopped) return;
        const entry = this.outbox.head();
        if (!entry) return;
        const done = await this.deliver(link, entry.id);
        if (!done) return;
      }
    } finally {
      this.pumping = false;
    }
  }

  /** @returns true when the head message is finished (delivered or dropped), false to wait */
  private async deliver(link: RpcLink, id: number): Promise<boolean> {
    const entry = this.outbox.head();
    if (!entry || entry.id !== id) return true;
    const ev = entry.event;
    const built: BuiltMessage =
      ev.kind === 'Settlement'
        ? ev.settlement.only21 === true && link.protocol !== 'ocpp2.1'
          ? { notApplicable: 'reported as DataTransfer SplitSettled before 2.1' }
          : settlementMessage(entry, link.protocol)
        : link.protocol === 'ocpp1.6'
          ? transactionMessage16(entry, this.txs.byKey(ev.txKey), this.config.vendorId, this.config.idTag16)
          : transactionMessage201(entry, this.config.vendorId, link.protocol);
    if ('notApplicable' in built) {
      this.outbox.finish(entry.id, `not-applicable:${built.notApplicable}`, this.clock.now());
      return true;
    }
    try {
      const reply = await link.call(built.action, built.payload);
      this.outbox.finish(entry.id, this.interpretReply(built.action, ev, reply), this.clock.now());
      return true;
    } catch (err: unknown) {
      this.noteError(built.action, err);
      if (err instanceof OcppLinkClosed) return false; // resumes on reconnect
      if (err instanceof OcppPayloadInvalid) {
        this.outbox.finish(
          entry.id,
          `dropped:${err.message}`.slice(0, 500) as OutboxOutcome,
          this.clock.now(),
        );
        return true;
      }
      const retryable =
        err instanceof OcppCallError || err instanceof OcppCallTimeout || err instanceof OcppResponseInvalid;
      const attempts = this.outbox.recordAttempt(entry.id, err instanceof Error ? err.message : String(err));
      if (!retryable || attempts >= this.config.maxAttempts) {
        this.logger.error('ocpp: message dropped after failed attempts', { action: built.action, attempts });
        this.outbox.finish(entry.id, `dropped:${attempts} attempts`, this.clock.now());
        return true;
      }
      this.pumpTimer?.cancel();
      this.pumpTimer = this.clock.setTimer(backoffDelayMs(this.config.backoff, attempts - 1), () => {
        this.pumpTimer = undefined;
        this.background('pump', this.pump());
      });
      return false;
    }
  }

  private interpretReply(action: string, ev: StationEvent, reply: JsonObject): OutboxOutcome {
    const limit = action === 'TransactionEvent' ? readTransactionLimit(reply.transactionLimit) : undefined;
    if (limit !== undefined) {
      this.model.remember(`limit:${ev.txKey}`, limitToJson(limit));
      this.logger.info('ocpp: transaction limit set by the CSMS', { limit: limitToJson(limit) });
    }
    if (action === 'StartTransaction') {
      const txId = reply.transactionId;
      const info = reply.idTagInfo;
      const status =
        typeof info === 'object' && info !== null && !Array.isArray(info) ? info.status : undefined;
      if (typeof txId === 'number') this.txs.setCsmsTxId16(ev.txKey, txId);
      if (status !== 'Accepted')
        this.logger.warn('ocpp: CSMS did not accept the idTag; charging continues (paid over Lightning)', {
          status,
        });
      return 'delivered';
    }
    if (action === 'DataTransfer') {
      const status = typeof reply.status === 'string' ? reply.status : '?';
      if (status !== 'Accepted') {
        this.logger.warn('ocpp: DataTransfer not accepted; not retried', {
          messageId: ev.kind === 'Lightning' ? ev.messageId : '?',
          status,
        });
        return `rejected:${status}`;
      }
    }
    return 'delivered';
  }

  /** Runs background work so that no failure (even a closed database) becomes an unhandled rejection. */
  private background(what: string, work: Promise<unknown>): void {
    work.catch((err: unknown) => {
      this.noteError(what, err);
      this.logger.error('ocpp: background task failed', { task: what, error: String(err) });
    });
  }

  private noteError(action: string, err: unknown): void {
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    this.lastError = `${action}: ${message}`;
    this.logger.warn('ocpp: call failed', { action, error: message });
  }
}

/**
 * Report fields of an amount that buys no block of its own (a split payout, a reconciled stocked invoice): no
 * sequence number, price or energy range.
 *
 * @returns the fields, amount as a decimal string of msat
 */
function amountFields(
  sessionId: string,
  paymentHash: string | null,
  amountMsat: bigint,
  atMs: number,
  extra: LightningReportFields['extra'],
): LightningReportFields {
  return {
    sessionId,
    seq: null,
    paymentHash,
    amountMsat: amountMsat.toString(),
    priceMsatPerWh: null,
    energyFromWh: null,
    energyToWh: null,
    atMs,
    times: {},
    extra,
  };
}
