/**
 * Connects the wall daemon to its CSMS: a `WallObserver` that forwards what the wall does to the
 * `OcppStation` (wall-module/ocpp). OCPP only observes: every call is caught and logged, so a CSMS problem never
 * changes what the car is charged or delivered.
 */
import { readFileSync } from 'node:fs';
import type { Clock } from '../hardware/clock.js';
import type { MeterReading } from '../hardware/meter/energy-meter.js';
import type { Logger } from '../daemon/logger.js';
import type { OcppConfig } from './config.js';
import { OcppConfigInvalid, OcppStation } from './ocpp/index.js';
import type { SplitSettledReport } from './ocpp/station.js';
import type { TariffVariables } from './ocpp/device-model-defs.js';
import type { StationControl } from './ocpp/station-control.js';
import type { InvoiceRow, WallStore } from './store.js';
import type { WallObserver } from './wall-daemon.js';

/** The OCPP observer, plus the late attachment of the daemon's control (the daemon is built after it). */
export interface OcppObserver extends WallObserver {
  /** the station itself (the walk-up's DirectPayment runner attaches to it) */
  readonly station: OcppStation;
  /** Lets CSMS commands (remote stop, availability, reset) reach the daemon. */
  attachControl(control: StationControl): void;
  /** the connector's owner changed (the WallDaemon hook): StatusNotification Available/Unavailable/Faulted */
  availabilityChanged(): void;
  /**
   * The cable link saw tampering (a forged or replayed frame, a failed authentication): SecurityEventNotification
   * `TamperDetectionActivated` (a WallObserver hook the daemon calls; see the issue 13 report).
   *
   * @param detail what was seen (≤ 255 characters are sent)
   */
  tamperDetected(detail: string): void;
  /**
   * QR payment model 2 for the display page's "pay by phone" button: asks the CSMS for a payment QR (the QR it
   * sends back is checked before it is drawn, with `qrPayment` in the station config).
   *
   * @returns the CSMS's answer (`Accepted`, `Rejected`, ...) or `Offline`
   */
  startQrPayment(): Promise<string>;
  /** QR payment model 1: ms the EVSE stays reserved by a NotifyWebPaymentStarted (0: not reserved) */
  webPaymentLockMs(): number;
  /** a split payout settled: DataTransfer `SplitSettled` with the signed statement (see OcppStation) */
  splitSettled(args: SplitSettledReport): void;
  /**
   * The hooks of another EVSE of the same station (a site: one observer per connector, one OCPP connection).
   * Station-wide hooks (availability, tampering) are included; closing is the first observer's.
   *
   * @param evseId one of the EVSE ids the station was built with
   */
  forEvse(evseId: number): WallObserver;
}

/**
 * Builds and starts the OCPP station as a wall observer.
 *
 * @param c the `ocpp` section
 * @param store the wall store (the station keeps its outbox in the same database)
 * @param clock daemon clock
 * @param log daemon logger
 * @param tariff the wall's tariff (shown in the device model's vendor component; optional)
 * @param evseIds every EVSE of the station (default: `[c.evseId]`); the observer returned reports the first,
 *   `forEvse` the others
 * @returns the observer
 * @throws OcppConfigInvalid when `caFile` cannot be read
 */
export function ocppObserver(
  c: OcppConfig,
  store: WallStore,
  clock: Clock,
  log: Logger,
  tariff?: TariffVariables,
  evseIds: readonly number[] = [c.evseId],
): OcppObserver {
  const caPem = c.caFile === undefined ? undefined : readCaFile(c.caFile);
  const station = new OcppStation({
    clock,
    db: store.db,
    config: {
      url: c.url,
      identity: c.stationId,
      password: c.password,
      ...(caPem !== undefined ? { caPem } : {}),
      protocols: c.protocols,
      vendorId: c.vendorId,
      meterIntervalSec: c.meterSampleIntervalSec,
      evses: evseIds.map((evseId) => ({ evseId, connectorId: 1 })),
      ...(c.chargePointModel !== undefined ? { chargePointModel: c.chargePointModel } : {}),
      ...(c.chargePointVendor !== undefined ? { chargePointVendor: c.chargePointVendor } : {}),
      ...(c.serialNumber !== undefined ? { serialNumber: c.serialNumber } : {}),
      ...(c.firmwareVersion !== undefined ? { firmwareVersion: c.firmwareVersion } : {}),
      ...(c.remoteStart !== undefined ? { remoteStart: c.remoteStart } : {}),
      ...(tariff !== undefined ? { tariff } : {}),
    },
    logger: {
      debug: (m, f) => log.debug(`ocpp: ${m}`, f),
      info: (m, f) => log.info(`ocpp: ${m}`, f),
      warn: (m, f) => log.warn(`ocpp: ${m}`, f),
      error: (m, f) => log.error(`ocpp: ${m}`, f),
    },
  });
  station.start();
  const safe = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      log.warn(`ocpp ${what} failed`, { error: (err as Error).message });
    }
  };
  let html = '';
  const refreshHtml = (): void => {
    void station.renderDisplayMessagesHtml().then(
      (h) => (html = h),
      () => {},
    );
  };
  const shared = {
    availabilityChanged: () => safe('availabilityChanged', () => station.availabilityChanged()),
    tamperDetected: (detail: string) =>
      safe('tamperDetected', () => station.securityEvent('TamperDetectionActivated', detail)),
  };
  /** The hooks of one EVSE (its meter register and power are its own). */
  const evseHooks = (evseId: number): WallObserver => {
    let lastRegisterWh = 0;
    let lastPowerW = 0;
    return {
      ...shared,
      plugged: () => safe('plugged', () => station.plugged(evseId, clock.now(), lastRegisterWh)),
      unplugged: () => safe('unplugged', () => station.unplugged(evseId, clock.now())),
      sessionStarted: (sessionId) =>
        safe('sessionStarted', () =>
          station.sessionStarted({
            evseId,
            sessionId,
            atMs: clock.now(),
            meterStartWh: lastRegisterWh,
            ...payerKeyOf(store, sessionId),
          }),
        ),
      meterSample: (sessionId: string | null, r: MeterReading) => {
        lastRegisterWh = Math.floor(r.energyImportWh);
        lastPowerW = Math.max(0, Math.round(r.powerW));
        safe('meterReading', () => station.meterReading(evseId, lastRegisterWh, lastPowerW, r.atMs));
        if (sessionId)
          safe('meterSample', () =>
            station.meterSample({
              sessionId,
              energyWh: lastRegisterWh,
              powerW: Math.round(r.powerW),
              atMs: r.atMs,
            }),
          );
        refreshHtml();
      },
      powerCut: (sessionId, reason) =>
        safe('powerCut', () => {
          const unpaid = reason === 'UNPAID' ? oldestUnpaid(store.invoices(sessionId)) : undefined;
          station.powerCut({
            sessionId,
            reason: reason === 'UNPAID' ? 'non-payment' : reason === 'EQUIPMENT_FAULT' ? 'fault' : 'other',
            atMs: clock.now(),
            energyWh: lastRegisterWh,
            ...(unpaid
              ? {
                  unpaidInvoice: {
                    seq: unpaid.seq,
                    paymentHash: unpaid.paymentHash,
                    amountMsat: unpaid.amountMsat,
                    priceMsatPerWh: unpaid.priceMsatPerWh,
                    energyFromWh: unpaid.fromWh,
                    energyToWh: unpaid.toWh,
                    ...(unpaid.issuedAtMs !== null ? { issuedAtMs: unpaid.issuedAtMs } : {}),
                  },
                }
              : {}),
          });
        }),
      resumed: (sessionId) =>
        safe('resumed', () => station.resumed({ sessionId, atMs: clock.now(), energyWh: lastRegisterWh })),
      invoiceIssued: (sessionId, inv) =>
        safe('invoiceIssued', () =>
          station.invoiceIssued({
            sessionId,
            seq: inv.seq,
            paymentHash: inv.paymentHash,
            amountMsat: inv.amountMsat,
            priceMsatPerWh:
              store.invoiceByHash(inv.paymentHash)?.priceMsatPerWh ?? sessionPrice(store, sessionId),
            energyFromWh: inv.fromWh,
            energyToWh: inv.toWh,
            atMs: clock.now(),
          }),
        ),
      invoicePaid: (sessionId, inv) =>
        safe('invoicePaid', () => {
          const row = store.invoiceByHash(inv.paymentHash);
          station.invoicePaid({
            sessionId,
            seq: inv.seq,
            paymentHash: inv.paymentHash,
            amountMsat: inv.amountMsat,
            priceMsatPerWh: row?.priceMsatPerWh ?? sessionPrice(store, sessionId),
            energyFromWh: row?.fromWh ?? 0,
            energyToWh: row?.toWh ?? 0,
            atMs: clock.now(),
            // a block credited on the car's proof while the node was unreachable (offline case 1b)
            paymentMode: row?.paidOffline ? 'stock' : 'online',
            ...(row?.issuedAtMs != null ? { issuedAtMs: row.issuedAtMs } : {}),
          });
        }),
      stockReconciled: (r) =>
        safe('stockReconciled', () => {
          if (r.sessionId === null) return; // never handed to a session: nothing to report
          station.stockReconciled({
            sessionId: r.sessionId,
            paymentHash: r.paymentHash,
            amountMsat: r.amountMsat,
            settled: r.settled,
            atMs: clock.now(),
          });
        }),
      // offline case 3: promises to pay, each reported against its session's transaction
      invoicePromised: (sessionId, p) =>
        safe('invoicePromised', () =>
          station.promiseReport('InvoicePromised', {
            sessionId,
            ...p,
            signature: store.promises.byHash(p.paymentHash)?.signature,
            atMs: clock.now(),
          }),
        ),
      promiseKept: (p, receivedMsat) =>
        safe('promiseKept', () =>
          station.promiseReport('PromisePaid', { ...p, amountMsat: receivedMsat, atMs: clock.now() }),
        ),
      promiseUnpaid: (p) =>
        safe('promiseUnpaid', () => station.promiseReport('PromiseUnpaid', { ...p, atMs: clock.now() })),
      sessionEnded: (sessionId, reason, summary) =>
        safe('sessionEnded', () => {
          const invoices = store.invoices(sessionId);
          const paid = invoices.filter((i) => i.state === 'settled');
          station.sessionEnded({
            sessionId,
            reason:
              reason === 'UNPLUGGED' ? 'EVDisconnected' : reason === 'UNPAID' ? 'LocalOutOfCredit' : 'Local',
            meterStopWh: lastRegisterWh,
            atMs: clock.now(),
            receipt: {
              energyWh: summary.energyWh,
              paidMsat: summary.paidMsat,
              invoicesIssued: invoices.filter((i) => i.state !== 'requested' && i.state !== 'failed').length,
              invoicesPaid: paid.length,
              lastSeq: invoices.length > 0 ? (invoices[invoices.length - 1]?.seq ?? null) : null,
              priceMsatPerWh: store.getSession(sessionId).priceMsatPerWh,
            },
          });
        }),
    };
  };
  const first = evseIds[0] ?? c.evseId;
  return {
    ...evseHooks(first),
    station,
    attachControl: (control) => station.attachControl(control),
    startQrPayment: () => station.startQrPayment(first).catch(() => 'Offline'),
    webPaymentLockMs: () => station.webPaymentLockMs(first),
    splitSettled: (args) => safe('splitSettled', () => station.splitSettled(args)),
    availabilityChanged: shared.availabilityChanged,
    tamperDetected: shared.tamperDetected,
    forEvse: (evseId) => evseHooks(evseId),
    html: () => html,
    close: () => station.stop(),
  };
}

/**
 * The session's agreed price, for an invoice row that is not (yet) in the store.
 *
 * @returns msat per Wh (0 when the session has no price: nothing was agreed)
 */
function sessionPrice(store: WallStore, sessionId: string): bigint {
  return store.findSession(sessionId)?.priceMsatPerWh ?? 0n;
}

/**
 * The car's key of a session (the wall store's `peer`), for the OCPP idToken.
 *
 * @returns `{ payerKey }`, or nothing when the store does not know it
 */
function payerKeyOf(store: WallStore, sessionId: string): { payerKey?: string } {
  const peer = store.findSession(sessionId)?.peer;
  return peer ? { payerKey: peer } : {};
}

/**
 * The invoice a non-payment cut is about: the oldest one issued to the car and not settled.
 *
 * @param invoices the session's invoices in seq order
 * @returns that invoice, or undefined when none is outstanding (the cut then reports null invoice fields)
 */
function oldestUnpaid(invoices: InvoiceRow[]): (InvoiceRow & { paymentHash: string }) | undefined {
  return invoices.find(
    (i): i is InvoiceRow & { paymentHash: string } => i.state === 'open' && i.paymentHash !== null,
  );
}

/**
 * Reads the PEM CA file trusted for `wss://` (security profile 2); the config reader already checked that it
 * holds a certificate.
 *
 * @param file absolute path (the config reader resolves it against the config's folder)
 * @returns the PEM text
 * @throws OcppConfigInvalid when the file cannot be read (e.g. removed since the config was read)
 */
function readCaFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new OcppConfigInvalid(`ocpp.caFile ${file} cannot be read: ${(err as Error).message}`);
  }
}
