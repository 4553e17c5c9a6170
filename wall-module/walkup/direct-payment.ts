/**
 * QR payment model 1 (OCPP 2.1 C25) sessions: a driver scanned the charger's C25 QR, paid on the CSMS's payment
 * page, and the CSMS sent RequestStartTransaction with a `DirectPayment` idToken. When the CSMS delegated the
 * payment to the wall's own Lightning node (the node is the PSP), the idToken is the payment hash of an invoice
 * of that node: this runner checks it is settled (the credit), claims the connector as a walk-up (no vehicle
 * module), energises it, meters the energy at the wall's price, and ends the session when the credit or a
 * transactionLimit (checked by the station) is used up, when the CSMS stops it, or at unplug. At the end the
 * station reports NotifySettlement with the amount the books charged.
 *
 * Books (table `direct_payment_sessions`, in the wall store's database, one row per payment reference, written
 * before the connector is energised): credit = what the node received; cost = metered Wh × price; settled =
 * min(cost, credit) (the driver never pays more than the payment covered; energy that flowed between the last
 * reading and the power cut beyond the credit is the host's, bounded by `stopMargin`); the CSMS refunds
 * credit − settled to the driver (it holds the driver's payment, the wall holds no payer invoice).
 * A payment reference starts at most one session (the row's UNIQUE key): a replayed RequestStartTransaction is
 * refused.
 */
import { randomUUID } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import type { Clock, TimerHandle } from '../../hardware/clock.js';
import type { Evse, EvseStatus } from '../../hardware/evse/evse.js';
import type { EnergyMeter, MeterReading } from '../../hardware/meter/energy-meter.js';
import type { Logger } from '../../daemon/logger.js';
import { InvoiceNotFound } from '../../lightning/errors.js';
import type { LightningNode } from '../../lightning/lightning-node.js';
import type { ConnectorArbiter } from '../connector-arbiter.js';
import type { StopReason } from '../ocpp/events.js';
import type { DirectPaymentRunner, OcppStation } from '../ocpp/station.js';

/** What the runner reports to (the part of `OcppStation` it uses). */
export type DirectPaymentStation = Pick<
  OcppStation,
  'sessionStarted' | 'invoicePaid' | 'meterSample' | 'sessionEnded' | 'settlement'
>;

/** Everything a runner works with. */
export interface DirectPaymentParts {
  /** OCPP EVSE id of the connector this runner sells on */
  evseId: number;
  evse: Evse;
  /** the wall's meter (read once at the start; then readings come through `meter()`) */
  meter: Pick<EnergyMeter, 'read'>;
  /** the wall's node (only `lookupInvoice` is used: an invoice macaroon suffices) */
  node: Pick<LightningNode, 'lookupInvoice'>;
  station: DirectPaymentStation;
  arbiter: ConnectorArbiter;
  /** the wall store's database (the runner's table is created in it) */
  db: Database;
  clock: Clock;
  log: Logger;
  /** price, msat per Wh */
  priceMsatPerWh: bigint;
  /** current limit while charging, A */
  maxCurrentA: number;
  /**
   * how long energy keeps flowing after the reading that decides a stop: the meter's poll interval plus the
   * EVSE's reaction, ms (the stop comes this much early, at the power of the last reading). Default 2000.
   */
  stopLeadMs?: number;
  /** how long to wait for the reading after the power cut before ending with the last one, ms (default 5000) */
  finalReadingTimeoutMs?: number;
}

/** One DirectPayment session's row. */
export interface DirectPaymentRow {
  sessionId: string;
  pspRef: string;
  evseId: number;
  creditMsat: bigint;
  priceMsatPerWh: bigint;
  meterStartWh: number;
  /** null while running */
  meterStopWh: number | null;
  energyWh: number | null;
  costMsat: bigint | null;
  settledMsat: bigint | null;
  /** the runner's end reason (the station may report a limit's own reason instead) */
  reason: string | null;
  startedAtMs: number;
  endedAtMs: number | null;
}

/** Why a DirectPayment start is refused (the station logs it and answers Rejected). */
export type DirectPaymentRefusal =
  | 'PspRefNotAPaymentHash'
  | 'PaymentAlreadyUsed'
  | 'PaymentUnknown'
  | 'PaymentNotSettled'
  | 'NodeUnreachable'
  | 'MeterUnreadable'
  | 'CONNECTOR_BUSY'
  | 'CONNECTOR_INOPERATIVE'
  | 'CONNECTOR_FAULTED';

interface Running {
  sessionId: string;
  pspRef: string;
  creditMsat: bigint;
  meterStartWh: number;
  startedAtMs: number;
  lastWh: number;
  lastPowerW: number;
  stopping: { reason: StopReason; timer: TimerHandle | null; cutAtMs: number } | null;
}

/**
 * Creates the runner's table if missing.
 * @param db the wall store's database
 */
export function migrateDirectPaymentTable(db: Database): void {
  db.exec(`CREATE TABLE IF NOT EXISTS direct_payment_sessions (
    session_id TEXT PRIMARY KEY,
    psp_ref TEXT NOT NULL UNIQUE,
    evse_id INTEGER NOT NULL,
    credit_msat TEXT NOT NULL,
    price_msat_per_wh TEXT NOT NULL,
    meter_start_wh REAL NOT NULL,
    meter_stop_wh REAL,
    energy_wh INTEGER,
    cost_msat TEXT,
    settled_msat TEXT,
    reason TEXT,
    started_at_ms INTEGER NOT NULL,
    ended_at_ms INTEGER
  )`);
}

/** The runner of one connector. */
export class DirectPaymentSessions implements DirectPaymentRunner {
  private running: Running | null = null;
  private readonly onStatus = (s: EvseStatus): void => {
    if (!s.plugged) this.stop('EVDisconnected');
    else if (s.fault !== null) this.stop('Other');
  };

  constructor(private readonly p: DirectPaymentParts) {
    migrateDirectPaymentTable(p.db);
  }

  /**
   * Ends the sessions of this runner's EVSE a restart interrupted (the wall paused the EVSE at boot): each is
   * booked with its last persisted reading, reported ended (`Reboot`) and settled, so no payment stays unsettled;
   * then listens to the EVSE (unplug and faults end a running session). Another EVSE's sessions are its runner's.
   */
  attach(): void {
    const open = this.p.db
      .prepare('SELECT * FROM direct_payment_sessions WHERE ended_at_ms IS NULL AND evse_id = ?')
      .all(this.p.evseId) as Record<string, string | number | null>[];
    for (const r of open) {
      const row = toRow(r);
      this.running = {
        sessionId: row.sessionId,
        pspRef: row.pspRef,
        creditMsat: row.creditMsat,
        meterStartWh: row.meterStartWh,
        startedAtMs: row.startedAtMs,
        lastWh: row.meterStopWh ?? row.meterStartWh,
        lastPowerW: 0,
        stopping: { reason: 'Reboot', timer: null, cutAtMs: this.p.clock.now() },
      };
      this.p.log.warn('direct payment: session interrupted by a restart, booked with its last reading', {
        sessionId: row.sessionId,
      });
      this.end();
    }
    this.p.evse.on('status', this.onStatus);
  }

  /** Stops listening (a running session's row stays for recovery). */
  detach(): void {
    this.p.evse.off('status', this.onStatus);
  }

  /** @returns the session's books row, if any */
  row(sessionId: string): DirectPaymentRow | undefined {
    const r = this.p.db
      .prepare('SELECT * FROM direct_payment_sessions WHERE session_id = ?')
      .get(sessionId) as Record<string, string | number | null> | undefined;
    return r === undefined ? undefined : toRow(r);
  }

  owns(sessionId: string): boolean {
    return this.running?.sessionId === sessionId;
  }

  async start(request: {
    evseId: number;
    remoteStartId: number;
    pspRef: string;
  }): Promise<{ ok: true; sessionId: string } | { ok: false; reason: DirectPaymentRefusal }> {
    const { node, arbiter, db, log } = this.p;
    const pspRef = request.pspRef.toLowerCase();
    if (request.evseId !== this.p.evseId) return { ok: false, reason: 'CONNECTOR_BUSY' };
    if (!/^[0-9a-f]{64}$/.test(pspRef)) return { ok: false, reason: 'PspRefNotAPaymentHash' };
    if (this.used(pspRef)) return { ok: false, reason: 'PaymentAlreadyUsed' };
    let creditMsat: bigint;
    try {
      const inv = await node.lookupInvoice(pspRef);
      if (inv.state !== 'settled') return { ok: false, reason: 'PaymentNotSettled' };
      creditMsat = inv.receivedMsat;
    } catch (err) {
      return { ok: false, reason: err instanceof InvoiceNotFound ? 'PaymentUnknown' : 'NodeUnreachable' };
    }
    if (this.used(pspRef)) return { ok: false, reason: 'PaymentAlreadyUsed' }; // raced while asking the node
    const sessionId = `dp-${randomUUID()}`;
    const claim = arbiter.claim('walkup', sessionId);
    if (!claim.ok) return { ok: false, reason: claim.refusal };
    let meterStartWh: number;
    try {
      meterStartWh = (await this.p.meter.read()).energyImportWh;
    } catch {
      arbiter.release(sessionId);
      return { ok: false, reason: 'MeterUnreadable' };
    }
    const atMs = this.p.clock.now();
    // write-ahead: the row (and its UNIQUE payment reference) is on disk before the connector is energised
    try {
      db.prepare(
        `INSERT INTO direct_payment_sessions (session_id, psp_ref, evse_id, credit_msat, price_msat_per_wh,
           meter_start_wh, started_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        sessionId,
        pspRef,
        this.p.evseId,
        creditMsat.toString(),
        this.p.priceMsatPerWh.toString(),
        meterStartWh,
        atMs,
      );
    } catch (err) {
      arbiter.release(sessionId);
      if (this.used(pspRef)) return { ok: false, reason: 'PaymentAlreadyUsed' };
      throw err;
    }
    this.running = {
      sessionId,
      pspRef,
      creditMsat,
      meterStartWh,
      startedAtMs: atMs,
      lastWh: meterStartWh,
      lastPowerW: 0,
      stopping: null,
    };
    const startWh = Math.floor(meterStartWh);
    const station = this.p.station;
    station.sessionStarted({ evseId: this.p.evseId, sessionId, atMs, meterStartWh: startWh });
    // the payment is the session's one paid block: it covers credit / price Wh (the 2.1 idToken is its hash)
    station.invoicePaid({
      sessionId,
      seq: 0,
      paymentHash: pspRef,
      amountMsat: creditMsat,
      priceMsatPerWh: this.p.priceMsatPerWh,
      energyFromWh: startWh,
      energyToWh: startWh + Number(creditMsat / this.p.priceMsatPerWh),
      atMs,
      paymentMode: 'direct-payment',
    });
    log.info('direct payment: session started', { sessionId, pspRef, creditMsat: creditMsat.toString() });
    try {
      await this.p.evse.setCurrentLimitA(this.p.maxCurrentA);
      await this.p.evse.enable();
    } catch (err) {
      log.error('direct payment: EVSE enable failed', { sessionId, error: (err as Error).message });
      this.stop('Other');
    }
    return { ok: true, sessionId };
  }

  requestStop(sessionId: string): boolean {
    if (!this.owns(sessionId) || this.running?.stopping) return false;
    this.stop('Local');
    return true;
  }

  /**
   * A reading of the wall's meter (the daemon's poller feeds it). Reports the energy and cost to the station
   * (which checks the CSMS's limits) and stops before the credit is used up.
   */
  meter(r: MeterReading): void {
    const s = this.running;
    if (s === null) return;
    s.lastWh = Math.max(s.lastWh, r.energyImportWh);
    s.lastPowerW = r.powerW;
    // the last reading is on disk: a restart books the session with it
    this.p.db
      .prepare('UPDATE direct_payment_sessions SET meter_stop_wh = ? WHERE session_id = ?')
      .run(s.lastWh, s.sessionId);
    if (s.stopping) {
      if (r.atMs >= s.stopping.cutAtMs) this.end();
      return;
    }
    const energyWh = Math.floor(s.lastWh - s.meterStartWh);
    const costMsat = BigInt(energyWh) * this.p.priceMsatPerWh;
    const leadMsat = this.leadMsat(r.powerW);
    this.p.station.meterSample({
      sessionId: s.sessionId,
      energyWh: Math.floor(s.lastWh),
      powerW: Math.max(0, r.powerW),
      atMs: r.atMs,
      costMsat,
      costLeadMsat: leadMsat,
    });
    if (this.running === s && !s.stopping && costMsat + leadMsat >= s.creditMsat)
      this.stop('LocalOutOfCredit');
  }

  /** Cost of the energy that flows at `powerW` before a stop takes effect, msat (rounded up to whole Wh). */
  private leadMsat(powerW: number): bigint {
    const leadMs = this.p.stopLeadMs ?? 2000;
    const wh = Math.ceil((Math.max(0, powerW) * leadMs) / 3_600_000);
    return BigInt(wh) * this.p.priceMsatPerWh;
  }

  private used(pspRef: string): boolean {
    return (
      this.p.db.prepare('SELECT 1 FROM direct_payment_sessions WHERE psp_ref = ?').get(pspRef) !== undefined
    );
  }

  /** Cuts the power; the session ends with the first reading taken after the cut (or its timeout). */
  private stop(reason: StopReason): void {
    const s = this.running;
    if (s === null || s.stopping) return;
    const cutAtMs = this.p.clock.now();
    s.stopping = { reason, timer: null, cutAtMs };
    this.p.log.info('direct payment: stopping', { sessionId: s.sessionId, reason });
    void this.p.evse
      .pause()
      .catch((err: Error) =>
        this.p.log.error('direct payment: EVSE pause failed', { sessionId: s.sessionId, error: err.message }),
      );
    s.stopping.timer = this.p.clock.setTimer(this.p.finalReadingTimeoutMs ?? 5000, () => this.end());
  }

  /** Books the session, reports its end and the settlement, releases the connector. */
  private end(): void {
    const s = this.running;
    if (s === null || s.stopping === null) return;
    this.running = null;
    s.stopping.timer?.cancel();
    const atMs = this.p.clock.now();
    const energyWh = Math.floor(s.lastWh - s.meterStartWh);
    const costMsat = BigInt(energyWh) * this.p.priceMsatPerWh;
    const settledMsat = costMsat < s.creditMsat ? costMsat : s.creditMsat;
    const meterStopWh = Math.floor(s.lastWh);
    this.p.db
      .prepare(
        `UPDATE direct_payment_sessions SET meter_stop_wh = ?, energy_wh = ?, cost_msat = ?, settled_msat = ?,
           reason = ?, ended_at_ms = ? WHERE session_id = ?`,
      )
      .run(
        s.lastWh,
        energyWh,
        costMsat.toString(),
        settledMsat.toString(),
        s.stopping.reason,
        atMs,
        s.sessionId,
      );
    this.p.station.sessionEnded({
      sessionId: s.sessionId,
      reason: s.stopping.reason,
      meterStopWh,
      atMs,
      receipt: {
        energyWh,
        paidMsat: settledMsat,
        invoicesIssued: 1,
        invoicesPaid: 1,
        lastSeq: 0,
        priceMsatPerWh: this.p.priceMsatPerWh,
      },
    });
    this.p.station.settlement({
      pspRef: s.pspRef,
      status: 'Settled',
      amountMsat: settledMsat,
      atMs,
      sessionId: s.sessionId,
      statusInfo: `${energyWh} Wh at ${this.p.priceMsatPerWh} msat/Wh; credit ${s.creditMsat} msat`,
      receiptId: s.sessionId.slice(0, 50),
    });
    this.p.arbiter.release(s.sessionId);
    this.p.log.info('direct payment: session ended', {
      sessionId: s.sessionId,
      reason: s.stopping.reason,
      energyWh,
      settledMsat: settledMsat.toString(),
    });
  }
}

function toRow(r: Record<string, string | number | null>): DirectPaymentRow {
  const big = (v: string | number | null): bigint | null => (v === null ? null : BigInt(v));
  const num = (v: string | number | null): number | null => (v === null ? null : Number(v));
  return {
    sessionId: String(r.session_id),
    pspRef: String(r.psp_ref),
    evseId: Number(r.evse_id),
    creditMsat: BigInt(r.credit_msat!),
    priceMsatPerWh: BigInt(r.price_msat_per_wh!),
    meterStartWh: Number(r.meter_start_wh),
    meterStopWh: num(r.meter_stop_wh ?? null),
    energyWh: num(r.energy_wh ?? null),
    costMsat: big(r.cost_msat ?? null),
    settledMsat: big(r.settled_msat ?? null),
    reason: r.reason === null || r.reason === undefined ? null : String(r.reason),
    startedAtMs: Number(r.started_at_ms),
    endedAtMs: num(r.ended_at_ms ?? null),
  };
}
