/**
 * The session figures of a demo run: the keys of the demo's JSON line that describe the charging session
 * (scripts/charge-demo.ts and the offline demo, scripts/demo/offline.ts, print the same ones).
 */
import { percentile, type SessionBooks } from './books.js';

/** The session figures of a demo run (the keys of the normal demo's JSON line, without the split). */
export interface SessionFigures {
  energyWhWall: number;
  energyWhVehicle: number;
  invoicesIssued: number;
  invoicesPaid: number;
  paidMsat: string;
  priceMsatPerWh: string;
  maxUnpaidWh: number;
  maxPrepaidUndeliveredWh: number;
  settleLatencyMsP50: number;
  settleLatencyMsP99: number;
  stopReason: string | null;
  receiptValid: boolean;
  invoiceIntervalSec: number;
  speed: number;
  lateInvoices: number;
  durationSec: number;
}

/**
 * The normal demo's session figures from one session's books.
 *
 * @param s the session's books
 * @param run speed (daemon clock ÷ real), promised invoice interval (s), real duration (s)
 * @returns the figures (latencies in real ms)
 */
export function sessionFigures(
  s: SessionBooks,
  run: { speed: number; invoiceIntervalSec: number; durationSec: number },
): SessionFigures {
  const latenciesReal = s.settleLatenciesMs.map((ms) => Math.round(ms / run.speed));
  return {
    energyWhWall: s.wallEnergyWh,
    energyWhVehicle: s.vehicleEnergyWh,
    invoicesIssued: s.invoicesIssued,
    invoicesPaid: s.invoicesSettled,
    paidMsat: s.wallSettledMsat.toString(),
    priceMsatPerWh: (s.priceMsatPerWh ?? 0n).toString(),
    maxUnpaidWh: s.maxUnpaidWh,
    maxPrepaidUndeliveredWh: s.maxPrepaidUndeliveredWh,
    settleLatencyMsP50: percentile(latenciesReal, 50),
    settleLatencyMsP99: percentile(latenciesReal, 99),
    stopReason: s.wallStopReason,
    receiptValid: s.receiptValid,
    invoiceIntervalSec: run.invoiceIntervalSec,
    speed: run.speed,
    lateInvoices: s.settleLatenciesMs.filter((ms) => ms > run.invoiceIntervalSec * 1000).length,
    durationSec: run.durationSec,
  };
}
