/**
 * Walk-up sessions reported to the CSMS as OCPP transactions, through the same `OcppStation` calls the cable
 * session's observer makes (`wall-module/ocpp-observer.ts`): the station turns them into 2.x TransactionEvents /
 * 1.6 Start/Stop/MeterValues with one vocabulary. The walk-up machine's committed steps map to:
 *
 *   deposit asked for (awaitingDeposit)  → sessionStarted (binds the EVSE's transaction; nothing paid yet)
 *   deposit held                          → invoicePaid (paymentMode `walkup-deposit`, its payment hash: the 2.1
 *                                           idToken `DirectPayment`; 2.0.1 `NoAuthorization`)
 *   meter readings while charging/stopping → meterSample with the metered cost (Charging is reported by the
 *                                           station once energy flows after the held deposit, never before)
 *   power cut with the cable in           → powerCut (SuspendedEVSE)
 *   metering final (cost known), or the session over without charging → sessionEnded with the stop reason
 *                                           and the books: energy = delivered Wh, paid = the metered cost
 *
 * OCPP only observes: a station error is logged, never changes the session.
 */
import type { MeterReading } from '../../hardware/meter/energy-meter.js';
import type { Logger } from '../../daemon/logger.js';
import type { WalkupState, WalkupStopReason } from '../../payments/walkup-state.js';
import type { StopReason } from '../ocpp/events.js';
import type { OcppStation } from '../ocpp/station.js';

/** The station calls the report makes. */
export type WalkupReportStation = Pick<
  OcppStation,
  'sessionStarted' | 'invoicePaid' | 'meterSample' | 'powerCut' | 'sessionEnded'
>;

/** The OCPP stop reason of a walk-up stop (null: the session never charged). */
const STOP_REASON: Record<WalkupStopReason, StopReason> = {
  CREDIT_EXHAUSTED: 'LocalOutOfCredit',
  UNPLUGGED: 'EVDisconnected',
  DRIVER_STOPPED: 'Local',
  REMOTE_STOP: 'Remote',
  EQUIPMENT_FAULT: 'Other',
  DEPOSIT_EXPIRING: 'TimeLimitReached',
  DEPOSIT_LOST: 'Other',
};

/**
 * The OCPP stop reason of a walk-up session.
 *
 * @param reason the machine's stop reason (null: stopped before charging, e.g. the deposit was never paid)
 * @returns the station's stop reason
 */
export function walkupStopReason(reason: WalkupStopReason | null): StopReason {
  return reason === null ? 'Other' : STOP_REASON[reason];
}

/** Reports one connector's walk-up sessions to the OCPP station. */
export class WalkupOcppReport {
  /** sessions whose end was reported (the station ignores repeats; this keeps the log quiet) */
  private readonly ended = new Set<string>();
  /** sessions whose start was reported (repeats after a restart are ignored by the station) */
  private readonly started = new Set<string>();
  /** the wall's meter register, Wh (null until the first reading) */
  private lastRegisterWh: number | null = null;

  /**
   * @param p.station the OCPP station
   * @param p.evseId the connector's OCPP EVSE id
   * @param p.log daemon logger (station errors are logged here)
   */
  constructor(private readonly p: { station: WalkupReportStation; evseId: number; log: Logger }) {}

  /**
   * A committed walk-up step (`WalkupRuntime.onStep`).
   *
   * @param sessionId the walk-up session
   * @param before its state before the step
   * @param after its state after the step
   * @param atMs the step's clock time, ms since epoch
   */
  step(sessionId: string, before: WalkupState, after: WalkupState, atMs: number): void {
    if (after.phase === 'idle' || after.session === null) return;
    const s = after.session;
    const { station, evseId } = this.p;
    // the start is reported once the register it starts at is known (the poller reads the meter every second)
    const registerWh = s.startRegisterWh ?? s.lastRegisterWh ?? this.lastRegisterWh;
    if (!this.started.has(sessionId) && registerWh !== null) {
      this.started.add(sessionId);
      this.safe('sessionStarted', () =>
        station.sessionStarted({ evseId, sessionId, atMs: s.startMs, meterStartWh: Math.floor(registerWh) }),
      );
    }
    if (!this.started.has(sessionId)) return;
    const heldMsat = s.deposit.heldMsat;
    // the deposit held and accepted: the machine starts charging on it
    if (
      before.phase !== 'charging' &&
      after.phase === 'charging' &&
      heldMsat !== null &&
      s.priceMsatPerWh > 0n
    ) {
      const fromWh = Math.floor(s.startRegisterWh ?? registerWh ?? 0);
      this.safe('invoicePaid', () =>
        station.invoicePaid({
          sessionId,
          seq: 0,
          paymentHash: s.deposit.paymentHash,
          amountMsat: heldMsat,
          priceMsatPerWh: s.priceMsatPerWh,
          energyFromWh: fromWh,
          energyToWh: fromWh + Number(heldMsat / s.priceMsatPerWh),
          atMs,
          paymentMode: 'walkup-deposit',
        }),
      );
    }
    if (before.phase === 'charging' && after.phase !== 'charging' && s.stopReason !== 'UNPLUGGED')
      this.safe('powerCut', () =>
        station.powerCut({
          sessionId,
          reason: s.stopReason === 'EQUIPMENT_FAULT' ? 'fault' : 'other',
          atMs,
          energyWh: Math.floor(s.lastRegisterWh ?? registerWh ?? 0),
        }),
      );
    const over =
      after.phase !== 'awaitingDeposit' && after.phase !== 'charging' && after.phase !== 'stopping';
    if ((s.costMsat !== null || over) && !this.ended.has(sessionId)) {
      this.ended.add(sessionId);
      const costMsat = s.costMsat ?? 0n;
      this.safe('sessionEnded', () =>
        station.sessionEnded({
          sessionId,
          reason: walkupStopReason(s.stopReason),
          meterStopWh: Math.floor(s.lastRegisterWh ?? registerWh ?? 0),
          atMs,
          receipt: {
            energyWh: s.deliveredWh,
            paidMsat: costMsat,
            invoicesIssued: s.final !== null ? 2 : 1,
            invoicesPaid: heldMsat !== null ? 1 : 0,
            lastSeq: 0,
            priceMsatPerWh: s.priceMsatPerWh,
          },
        }),
      );
    }
  }

  /**
   * A reading of the wall's meter, after the runtime took it (`state` is the walk-up occupying the EVSE, if
   * any): reported with the metered cost while the session charges or waits for its final reading.
   *
   * @param r the reading
   * @param current the walk-up occupying the connector (`WalkupRuntime.current()`), if any
   */
  meter(r: MeterReading, current: { sessionId: string; state: WalkupState } | undefined): void {
    const energyWh = Math.max(0, Math.floor(r.energyImportWh));
    this.lastRegisterWh = energyWh;
    const state = current?.state;
    if (current === undefined || state === undefined) return;
    if (state.phase !== 'charging' && state.phase !== 'stopping') return;
    const s = state.session;
    this.safe('meterSample', () =>
      this.p.station.meterSample({
        sessionId: current.sessionId,
        energyWh,
        powerW: Math.max(0, r.powerW),
        atMs: r.atMs,
        costMsat: BigInt(s.deliveredWh) * s.priceMsatPerWh,
      }),
    );
  }

  private safe(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.p.log.warn(`ocpp walk-up ${what} failed`, { error: (err as Error).message });
    }
  }
}
