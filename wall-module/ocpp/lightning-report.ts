/**
 * The Lightning side of a session as DataTransfer `data`: JSON text (a string in every OCPP version, because
 * 1.6 requires a string), versioned by `schemaVersion`, with amounts and prices in msat as decimal strings.
 */
import type { LightningMessageId, LightningReportFields } from './events.js';

/** Version of the `data` JSON layout; bump on any incompatible change. */
export const LIGHTNING_REPORT_SCHEMA_VERSION = 2;

/** The parsed `data` of a Lightning DataTransfer (what a CSMS receives). */
export interface LightningReportData {
  schemaVersion: number;
  messageId: LightningMessageId;
  /** idempotent id of this report: a CSMS deduplicates on it */
  eventId: string;
  /** OCPP transactionId: string (2.x) or integer (1.6); null if 1.6 never got one */
  transactionId: string | number | null;
  evseId: number;
  sessionId: string;
  seq: number | null;
  paymentHash: string | null;
  amountMsat: string | null;
  /** msat per Wh, decimal string (schema 2; schema 1 had a number) */
  priceMsatPerWh: string | null;
  energyFromWh: number | null;
  energyToWh: number | null;
  /** ISO 8601 UTC time of the reported fact */
  timestamp: string;
  /** produced while the CSMS link was down */
  offline: boolean;
  [extra: string]: unknown;
}

/**
 * Renders a Lightning report as DataTransfer `data` text.
 *
 * @param messageId DataTransfer messageId
 * @param fields report fields
 * @param context transaction id for the negotiated version, EVSE id, idempotent id, offline flag
 * @returns JSON text
 */
export function renderLightningReport(
  messageId: LightningMessageId,
  fields: LightningReportFields,
  context: { transactionId: string | number | null; evseId: number; eventId: string; offline: boolean },
): string {
  const data: LightningReportData = {
    schemaVersion: LIGHTNING_REPORT_SCHEMA_VERSION,
    messageId,
    eventId: context.eventId,
    transactionId: context.transactionId,
    evseId: context.evseId,
    sessionId: fields.sessionId,
    seq: fields.seq,
    paymentHash: fields.paymentHash,
    amountMsat: fields.amountMsat,
    priceMsatPerWh: fields.priceMsatPerWh,
    energyFromWh: fields.energyFromWh,
    energyToWh: fields.energyToWh,
    timestamp: new Date(fields.atMs).toISOString(),
    offline: context.offline,
  };
  for (const [name, ms] of Object.entries(fields.times))
    data[name.replace(/Ms$/, '')] = new Date(ms).toISOString();
  for (const [name, value] of Object.entries(fields.extra)) data[name] = value;
  return JSON.stringify(data);
}
