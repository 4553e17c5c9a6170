/**
 * OCPP 1.6J payload builders. Pure: events, the transaction's 1.6 transactionId and configuration in,
 * `{action, payload}` out. 1.6 has no charging-state events (those become live StatusNotifications) and no
 * transaction before a paid session starts (StartTransaction needs a meter start).
 */
import type { OutboxEntry, StopReason } from './events.js';
import { settlementMessage } from './web-payment.js';
import { renderLightningReport } from './lightning-report.js';
import { securityEvent, type BuiltMessage, type StationIdentity } from './ocpp201-messages.js';
import type { TransactionRecord } from './transactions.js';
import type { JsonObject } from './types.js';

/** @returns BootNotification.req payload */
export function bootNotification16(id: StationIdentity): JsonObject {
  const payload: JsonObject = { chargePointVendor: id.vendor, chargePointModel: id.model };
  if (id.serialNumber !== undefined) payload.chargePointSerialNumber = id.serialNumber;
  if (id.firmwareVersion !== undefined) payload.firmwareVersion = id.firmwareVersion;
  return payload;
}

/** Connector status as OCPP 1.6 names it. */
export type ConnectorStatus16 =
  | 'Available'
  | 'Preparing'
  | 'Charging'
  | 'SuspendedEVSE'
  | 'SuspendedEV'
  | 'Finishing'
  | 'Reserved'
  | 'Unavailable'
  | 'Faulted';

/** @returns StatusNotification.req payload */
export function statusNotification16(
  connectorId: number,
  status: ConnectorStatus16,
  atMs: number,
): JsonObject {
  return { connectorId, errorCode: 'NoError', status, timestamp: new Date(atMs).toISOString() };
}

const STOP_REASON_16: Record<StopReason, string> = {
  LocalOutOfCredit: 'Other',
  EVDisconnected: 'EVDisconnected',
  Local: 'Local',
  Remote: 'Remote',
  EnergyLimitReached: 'Other',
  TimeLimitReached: 'Other',
  CostLimitReached: 'DeAuthorized',
  PowerLoss: 'PowerLoss',
  Reboot: 'Reboot',
  Other: 'Other',
};

/**
 * Builds the OCPP 1.6 message for an outbox entry.
 *
 * @param entry the outbox entry
 * @param tx its transaction record (for the 1.6 transactionId, resolved now rather than when queued)
 * @param vendorId DataTransfer vendorId
 * @param idTag StartTransaction idTag
 * @returns StartTransaction, MeterValues, StopTransaction or DataTransfer CALL, or why none applies
 */
export function transactionMessage16(
  entry: OutboxEntry,
  tx: TransactionRecord | undefined,
  vendorId: string,
  idTag: string,
): BuiltMessage {
  const ev = entry.event;
  const ts = new Date(ev.atMs).toISOString();
  const txId = tx?.csmsTxId16 ?? null;
  switch (ev.kind) {
    case 'Lightning': {
      const data = renderLightningReport(ev.messageId, ev.fields, {
        transactionId: txId,
        evseId: ev.evseId,
        eventId: entry.messageKey,
        offline: entry.offline,
      });
      return { action: 'DataTransfer', payload: { vendorId, messageId: ev.messageId, data } };
    }
    case 'SecurityEvent':
      return { action: 'SecurityEventNotification', payload: securityEvent(ev) };
    case 'Settlement':
      return settlementMessage(entry, 'ocpp1.6');
    case 'TxUpdated':
      return { notApplicable: '1.6 has no transaction update event' };
    case 'EvPlugged':
      return { notApplicable: '1.6 starts the transaction with the paid session' };
    case 'ChargingSuspended':
    case 'ChargingResumed':
      return { notApplicable: '1.6 reports charging state by StatusNotification' };
    case 'ChargingStarted':
      return {
        action: 'StartTransaction',
        payload: { connectorId: ev.evseId, idTag, meterStart: ev.meterStartWh, timestamp: ts },
      };
    case 'MeterSample': {
      if (tx?.sessionId === null || tx === undefined) return { notApplicable: 'no 1.6 transaction' };
      const payload: JsonObject = {
        connectorId: ev.evseId,
        meterValue: [
          {
            timestamp: ts,
            sampledValue: [
              {
                value: String(ev.energyWh),
                context: 'Sample.Periodic',
                measurand: 'Energy.Active.Import.Register',
                unit: 'Wh',
              },
              {
                value: String(ev.powerW),
                context: 'Sample.Periodic',
                measurand: 'Power.Active.Import',
                unit: 'W',
              },
            ],
          },
        ],
      };
      if (txId !== null) payload.transactionId = txId;
      return { action: 'MeterValues', payload };
    }
    case 'SessionFinished':
    case 'TransactionEnded': {
      if (!ev.hadSession) return { notApplicable: 'no 1.6 transaction (no paid session)' };
      if (txId === null) return { notApplicable: 'StartTransaction was never acknowledged' };
      const meterStop = ev.meterStopWh ?? tx?.lastMeterWh ?? tx?.meterStartWh ?? 0;
      return {
        action: 'StopTransaction',
        payload: { transactionId: txId, meterStop, timestamp: ts, reason: STOP_REASON_16[ev.reason] },
      };
    }
  }
}
