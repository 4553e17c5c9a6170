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
import { resolveStationConfig, type ResolvedStationConfig } from './station-config.js';
import { TransactionStore, type TransactionRecord } from './transactions.js';
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
  priceMsatPerWh: number;
  /** energy the invoice pays for: meter reading range, Wh */
  energyFromWh: number;
  energyToWh: number;
  /** when it was issued (invoiceIssued) or settled (invoicePaid), ms since epoch */
  atMs: number;
}

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
  priceMsatPerWh: number | null;
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

function nonNegativeInt(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new OcppArgumentInvalid(`${name} must be a non-negative integer, got ${value}`);
}

function nonNegative(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0)
    throw new OcppArgumentInvalid(`${name} must be >= 0, got ${value}`);
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
    this.connection = new OcppConnection(
      this.clock,
      {
        url: this.config.url,
        identity: this.config.identity,
        password: this.config.password,
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
        onConnectFailed: (err) => this.noteError('connect', err),
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
   * CablePluggedIn). Idempotent while the cable stays plugged.
   *
   * @param evseId EVSE id from the configuration
   * @param atMs when, ms since epoch (default: clock now)
   * @throws OcppArgumentInvalid for an unknown EVSE
   */
  plugged(evseId: number, atMs: number = this.clock.now()): void {
    const evse = this.evse(evseId);
    this.db.transaction(() => {
      this.txs.setPlugged(evseId, true, atMs);
      if (this.txs.openOnEvse(evseId)) return;
      const txKey = randomUUID();
      this.txs.open(txKey, evseId, evse.connectorId, atMs, 'EVConnected');
      this.append(`tx:${txKey}:plugged`, {
        kind: 'EvPlugged',
        txKey,
        evseId,
        connectorId: evse.connectorId,
        atMs,
      });
    })();
    this.afterChange();
  }

  /**
   * A paid session started (the first block of energy is about to flow). Binds it to the EVSE's open
   * transaction (2.x Updated, Charging) or opens one (2.x Started); 1.6 StartTransaction. Idempotent per
   * sessionId.
   *
   * @param args.evseId EVSE id
   * @param args.sessionId the daemon's session id
   * @param args.atMs when, ms since epoch
   * @param args.meterStartWh energy register at start, Wh (integer)
   */
  sessionStarted(args: { evseId: number; sessionId: string; atMs: number; meterStartWh: number }): void {
    const evse = this.evse(args.evseId);
    nonNegativeInt('meterStartWh', args.meterStartWh);
    if (args.sessionId.length === 0) throw new OcppArgumentInvalid('sessionId must not be empty');
    this.db.transaction(() => {
      if (this.txs.bySession(args.sessionId)) return;
      let tx = this.txs.openOnEvse(args.evseId);
      if (tx && tx.sessionId !== null) {
        this.logger.warn('ocpp: session started over an unfinished one; ending the old transaction', {
          old: tx.sessionId,
          new: args.sessionId,
        });
        this.endTransaction(tx, 'Other', tx.lastMeterWh, args.atMs);
        tx = undefined;
      }
      const newTransaction = tx === undefined;
      const txKey = tx?.txKey ?? randomUUID();
      if (newTransaction) this.txs.open(txKey, args.evseId, evse.connectorId, args.atMs, 'Charging');
      this.txs.bindSession(txKey, args.sessionId, args.meterStartWh, args.atMs);
      this.append(`session:${args.sessionId}:started`, {
        kind: 'ChargingStarted',
        txKey,
        evseId: args.evseId,
        connectorId: evse.connectorId,
        atMs: args.atMs,
        sessionId: args.sessionId,
        meterStartWh: args.meterStartWh,
        newTransaction,
      });
    })();
    this.afterChange();
  }

  /**
   * A meter reading during a session. Reported (2.x Updated MeterValuePeriodic / 1.6 MeterValues) when at
   * least `meterIntervalSec` passed since the last report; otherwise only remembered for the end reading.
   *
   * @param args.sessionId session id
   * @param args.energyWh energy register, Wh (integer)
   * @param args.powerW active import power, W
   * @param args.atMs when sampled, ms since epoch
   */
  meterSample(args: { sessionId: string; energyWh: number; powerW: number; atMs: number }): void {
    nonNegativeInt('energyWh', args.energyWh);
    nonNegative('powerW', args.powerW);
    this.db.transaction(() => {
      const tx = this.openSessionTx(args.sessionId);
      if (!tx) return;
      const due =
        tx.lastReportAtMs === null || args.atMs - tx.lastReportAtMs >= this.config.meterIntervalSec * 1000;
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
            priceMsatPerWh: inv?.priceMsatPerWh ?? null,
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
    this.db.transaction(() => {
      const tx = this.openSessionTx(args.sessionId);
      if (!tx) return;
      this.appendLightning(tx, 'SessionReceipt', `session:${args.sessionId}:SessionReceipt`, {
        sessionId: args.sessionId,
        seq: args.receipt.lastSeq,
        paymentHash: null,
        amountMsat: args.receipt.paidMsat.toString(),
        priceMsatPerWh: args.receipt.priceMsatPerWh,
        energyFromWh: tx.meterStartWh,
        energyToWh: args.meterStopWh,
        atMs: args.atMs,
        times: { startedAtMs: tx.startedAtMs, endedAtMs: args.atMs },
        extra: {
          stopReason: args.reason,
          energyWh: args.receipt.energyWh,
          invoicesIssued: args.receipt.invoicesIssued,
          invoicesPaid: args.receipt.invoicesPaid,
        },
      });
      this.endTransaction(tx, args.reason, args.meterStopWh, args.atMs);
    })();
    this.afterChange();
  }

  /**
   * The cable was unplugged. Ends a still-open transaction with `EVDisconnected`.
   *
   * @param evseId EVSE id
   * @param atMs when, ms since epoch (default: clock now)
   */
  unplugged(evseId: number, atMs: number = this.clock.now()): void {
    this.evse(evseId);
    this.db.transaction(() => {
      this.txs.setPlugged(evseId, false, atMs);
      const tx = this.txs.openOnEvse(evseId);
      if (tx) this.endTransaction(tx, 'EVDisconnected', tx.lastMeterWh, atMs);
    })();
    this.afterChange();
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
    if (tx.endedAtMs !== null) return undefined; // repeated report of an ended session
    return tx;
  }

  private append(messageKey: string, event: StationEvent): void {
    if (this.outbox.has(messageKey)) return;
    const seqNo = event.kind === 'Lightning' ? 0 : this.txs.takeSeqNo(event.txKey);
    this.outbox.append(messageKey, event, seqNo, this.link === undefined, this.clock.now());
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

  private invoiceReport(
    messageId: 'InvoiceIssued' | 'InvoicePaid',
    inv: InvoiceFacts,
    times: Record<string, number>,
  ): void {
    nonNegativeInt('seq', inv.seq);
    nonNegativeInt('energyFromWh', inv.energyFromWh);
    nonNegativeInt('energyToWh', inv.energyToWh);
    nonNegative('priceMsatPerWh', inv.priceMsatPerWh);
    if (inv.amountMsat < 0n) throw new OcppArgumentInvalid('amountMsat must be >= 0');
    if (!/^[0-9a-f]{64}$/i.test(inv.paymentHash))
      throw new OcppArgumentInvalid('paymentHash must be 64 hex digits');
    this.db.transaction(() => {
      const tx = this.txs.bySession(inv.sessionId);
      if (!tx) {
        this.logger.warn('ocpp: invoice for an unknown session ignored', { sessionId: inv.sessionId });
        return;
      }
      // a late settlement after the session ended is still reported (against the ended transaction)
      this.appendLightning(tx, messageId, `session:${inv.sessionId}:${messageId}:${inv.seq}`, {
        sessionId: inv.sessionId,
        seq: inv.seq,
        paymentHash: inv.paymentHash.toLowerCase(),
        amountMsat: inv.amountMsat.toString(),
        priceMsatPerWh: inv.priceMsatPerWh,
        energyFromWh: inv.energyFromWh,
        energyToWh: inv.energyToWh,
        atMs: inv.atMs,
        times,
        extra: {},
      });
    })();
    this.afterChange();
  }

  private endTransaction(
    tx: TransactionRecord,
    reason: StopReason,
    meterStopWh: number | null,
    atMs: number,
  ): void {
    this.append(`tx:${tx.txKey}:ended`, {
      kind: 'TransactionEnded',
      txKey: tx.txKey,
      evseId: tx.evseId,
      connectorId: tx.connectorId,
      atMs,
      reason,
      meterStopWh,
      hadSession: tx.sessionId !== null,
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
    link.onValidationFailure((f) => {
      this.validationFailures++;
      this.logger.error('ocpp: schema violation', { ...f });
    });
    if (link.protocol !== 'ocpp1.6') {
      link.handle('SetDisplayMessage', (req) => {
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
    if (this.boot === 'Accepted') this.afterAccepted(link);
    else this.background('BootNotification', this.sendBoot(link));
  }

  /**
   * TriggerMessage (1.6 and 2.x): Heartbeat and StatusNotification are sent on request (after the reply);
   * BootNotification only while not yet accepted; anything else is NotImplemented.
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
    if (evseId !== undefined && evseId !== 0 && !this.config.evses.some((e) => e.evseId === evseId))
      return { reply: { status: 'Rejected' } };
    switch (requested) {
      case 'Heartbeat':
        if (this.boot !== 'Accepted') return { reply: { status: 'Rejected' } };
        return {
          reply: { status: 'Accepted' },
          after: () => this.background('Heartbeat', link.call('Heartbeat', {})),
        };
      case 'StatusNotification':
        if (this.boot !== 'Accepted') return { reply: { status: 'Rejected' } };
        return {
          reply: { status: 'Accepted' },
          after: () => {
            if (evseId === undefined || evseId === 0) this.lastStatus.clear();
            else this.lastStatus.delete(evseId);
            this.sendStatusChanges();
          },
        };
      case 'BootNotification':
        if (this.boot === 'Accepted') return { reply: { status: 'Rejected' } };
        return {
          reply: { status: 'Accepted' },
          after: () => {
            this.bootTimer?.cancel();
            this.bootTimer = undefined;
            this.background('BootNotification', this.sendBoot(link, 'Triggered'));
          },
        };
      default:
        return { reply: { status: 'NotImplemented' } };
    }
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

  // ---------------------------------------------------------------- internals: connector status (live)

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
        if (plugged || tx) {
          if (!tx) status = 'Finishing';
          else if (tx.sessionId === null) status = 'Preparing';
          else status = tx.chargingState === 'SuspendedEVSE' ? 'SuspendedEVSE' : 'Charging';
        }
        key = status;
        payload = statusNotification16(evse.evseId, status, now);
      } else {
        const status: ConnectorStatus201 = plugged || tx ? 'Occupied' : 'Available';
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
      link.protocol === 'ocpp1.6'
        ? transactionMessage16(entry, this.txs.byKey(ev.txKey), this.config.vendorId, this.config.idTag16)
        : transactionMessage201(entry, this.config.vendorId);
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
