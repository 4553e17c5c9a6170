/**
 * OCPP 2.0.1 (and 2.1, whose station-side messages used here are identical) payload builders. Pure: events
 * and configuration in, `{action, payload}` out.
 */
import type { OutboxEntry, StopReason } from './events.js';
import { renderLightningReport } from './lightning-report.js';
import { settlementMessage } from './web-payment.js';
import type { JsonObject } from './types.js';

/** An OCPP CALL to send, or the reason the event has no message in this version. */
export type BuiltMessage = { action: string; payload: JsonObject } | { notApplicable: string };

export interface StationIdentity {
  model: string;
  vendor: string;
  serialNumber?: string;
  firmwareVersion?: string;
}

/**
 * @param id station identity
 * @param reason `PowerUp` at start, `Triggered` when the CSMS asked for it
 * @returns BootNotificationRequest payload
 */
export function bootNotification201(
  id: StationIdentity,
  reason: 'PowerUp' | 'Triggered' = 'PowerUp',
): JsonObject {
  const chargingStation: JsonObject = { model: id.model, vendorName: id.vendor };
  if (id.serialNumber !== undefined) chargingStation.serialNumber = id.serialNumber;
  if (id.firmwareVersion !== undefined) chargingStation.firmwareVersion = id.firmwareVersion;
  return { reason, chargingStation };
}

/** Connector status as OCPP 2.x names it. */
export type ConnectorStatus201 = 'Available' | 'Occupied' | 'Reserved' | 'Unavailable' | 'Faulted';

/** @returns StatusNotificationRequest payload */
export function statusNotification201(
  evseId: number,
  connectorId: number,
  status: ConnectorStatus201,
  atMs: number,
): JsonObject {
  return { timestamp: iso(atMs), connectorStatus: status, evseId, connectorId };
}

/**
 * @param ev a security event
 * @returns SecurityEventNotificationRequest payload (the same in 1.6's security extension, 2.0.1 and 2.1)
 */
export function securityEvent(ev: { type: string; atMs: number; techInfo?: string }): JsonObject {
  const payload: JsonObject = { type: ev.type, timestamp: iso(ev.atMs) };
  if (ev.techInfo !== undefined) payload.techInfo = ev.techInfo.slice(0, 255);
  return payload;
}

/**
 * The idToken of a paid session: 2.1 `DirectPayment` with the first paid invoice's payment hash; 2.0.1 `Local`
 * with the first 36 characters of the car's key (the full key follows in DataTransfer `VehicleNodeKey`), or
 * `NoAuthorization` when neither is known.
 */
function idTokenOf(ev: { payerKey?: string; paymentHash?: string }, version: string): JsonObject {
  if (version === 'ocpp2.1' && ev.paymentHash !== undefined)
    return { idToken: ev.paymentHash, type: 'DirectPayment' };
  if (ev.payerKey !== undefined) return { idToken: ev.payerKey.slice(0, 36), type: 'Local' };
  return { idToken: '', type: 'NoAuthorization' };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function energy(valueWh: number, context: string): JsonObject {
  return {
    value: valueWh,
    measurand: 'Energy.Active.Import.Register',
    context,
    unitOfMeasure: { unit: 'Wh' },
  };
}

function meter(atMs: number, sampled: JsonObject[]): JsonObject[] {
  return [{ timestamp: iso(atMs), sampledValue: sampled }];
}

const TRIGGER_ON_STOP: Record<StopReason, string> = {
  LocalOutOfCredit: 'Deauthorized',
  EVDisconnected: 'EVCommunicationLost',
  Local: 'StopAuthorized',
  Remote: 'RemoteStop',
  EnergyLimitReached: 'EnergyLimitReached',
  TimeLimitReached: 'TimeLimitReached',
  CostLimitReached: 'CostLimitReached',
  PowerLoss: 'AbnormalCondition',
  Reboot: 'ResetCommand',
  Other: 'AbnormalCondition',
};

/** The trigger of a stop: 2.0.1 has no `CostLimitReached` trigger (a cost limit is a de-authorisation there). */
function triggerOnStop(reason: StopReason, version: string): string {
  return reason === 'CostLimitReached' && version !== 'ocpp2.1' ? 'Deauthorized' : TRIGGER_ON_STOP[reason];
}

/** The 2.x `stoppedReason` of a stop: a cost limit is `LocalOutOfCredit` (the enum has no cost reason). */
function stoppedReason(reason: StopReason): string {
  return reason === 'CostLimitReached' ? 'LocalOutOfCredit' : reason;
}

/**
 * Builds the OCPP 2.x message for an outbox entry.
 *
 * @param entry the outbox entry (event, seqNo, offline flag, idempotent key)
 * @param vendorId DataTransfer vendorId
 * @param version negotiated version (the idToken differs: 2.1 has `DirectPayment`)
 * @returns TransactionEvent, SecurityEventNotification or DataTransfer CALL
 */
export function transactionMessage201(
  entry: OutboxEntry,
  vendorId: string,
  version: 'ocpp2.0.1' | 'ocpp2.1' = 'ocpp2.0.1',
): BuiltMessage {
  const ev = entry.event;
  if (ev.kind === 'SecurityEvent') return { action: 'SecurityEventNotification', payload: securityEvent(ev) };
  if (ev.kind === 'Lightning') {
    const data = renderLightningReport(ev.messageId, ev.fields, {
      transactionId: ev.txKey,
      evseId: ev.evseId,
      eventId: entry.messageKey,
      offline: entry.offline,
    });
    return { action: 'DataTransfer', payload: { vendorId, messageId: ev.messageId, data } };
  }
  const base = (eventType: 'Started' | 'Updated' | 'Ended', triggerReason: string, info: JsonObject) => {
    const payload: JsonObject = {
      eventType,
      timestamp: iso(ev.atMs),
      triggerReason,
      seqNo: entry.seqNo,
      transactionInfo: { transactionId: ev.txKey, ...info },
      evse: { id: ev.evseId, connectorId: ev.connectorId },
    };
    if (entry.offline) payload.offline = true;
    return payload;
  };
  switch (ev.kind) {
    case 'EvPlugged': {
      const info: JsonObject = { chargingState: 'EVConnected' };
      if (ev.remoteStartId !== undefined) info.remoteStartId = ev.remoteStartId;
      const payload = base('Started', 'CablePluggedIn', info);
      if (ev.meterWh !== undefined)
        payload.meterValue = meter(ev.atMs, [energy(ev.meterWh, 'Transaction.Begin')]);
      return { action: 'TransactionEvent', payload };
    }
    case 'ChargingStarted': {
      const info: JsonObject = { chargingState: 'Charging' };
      if (ev.remoteStartId !== undefined) info.remoteStartId = ev.remoteStartId;
      const payload = ev.newTransaction
        ? base('Started', 'Authorized', info)
        : base('Updated', 'ChargingStateChanged', info);
      payload.idToken = idTokenOf(ev, version);
      payload.meterValue = meter(ev.atMs, [energy(ev.meterStartWh, 'Transaction.Begin')]);
      return { action: 'TransactionEvent', payload };
    }
    case 'TxUpdated': {
      const info: JsonObject = { chargingState: ev.chargingState };
      if (ev.remoteStartId !== undefined) info.remoteStartId = ev.remoteStartId;
      const payload = base('Updated', ev.triggerReason, info);
      if (ev.energyWh !== null) payload.meterValue = meter(ev.atMs, [energy(ev.energyWh, 'Trigger')]);
      return { action: 'TransactionEvent', payload };
    }
    case 'MeterSample': {
      const payload = base('Updated', 'MeterValuePeriodic', {});
      payload.meterValue = meter(ev.atMs, [
        energy(ev.energyWh, 'Sample.Periodic'),
        {
          value: ev.powerW,
          measurand: 'Power.Active.Import',
          context: 'Sample.Periodic',
          unitOfMeasure: { unit: 'W' },
        },
      ]);
      return { action: 'TransactionEvent', payload };
    }
    case 'ChargingSuspended': {
      const payload = base('Updated', 'ChargingStateChanged', { chargingState: 'SuspendedEVSE' });
      if (ev.energyWh !== null)
        payload.meterValue = meter(ev.atMs, [energy(ev.energyWh, 'Interruption.Begin')]);
      return { action: 'TransactionEvent', payload };
    }
    case 'ChargingResumed': {
      const payload = base('Updated', 'ChargingStateChanged', { chargingState: 'Charging' });
      if (ev.energyWh !== null)
        payload.meterValue = meter(ev.atMs, [energy(ev.energyWh, 'Interruption.End')]);
      return { action: 'TransactionEvent', payload };
    }
    case 'SessionFinished': {
      const limit = ['EnergyLimitReached', 'TimeLimitReached', 'CostLimitReached'].includes(ev.reason);
      const payload = base('Updated', limit ? triggerOnStop(ev.reason, version) : 'ChargingStateChanged', {
        chargingState: 'EVConnected',
      });
      payload.meterValue = meter(ev.atMs, [energy(ev.meterStopWh, 'Other')]);
      return { action: 'TransactionEvent', payload };
    }
    case 'Settlement':
      return settlementMessage(entry, version);
    case 'TransactionEnded': {
      const gone = ev.cableGone === true || ev.reason === 'EVDisconnected';
      const payload = base('Ended', gone ? 'EVCommunicationLost' : triggerOnStop(ev.reason, version), {
        chargingState: gone ? 'Idle' : 'EVConnected',
        stoppedReason: stoppedReason(ev.reason),
      });
      if (ev.meterStopWh !== null)
        payload.meterValue = meter(ev.atMs, [energy(ev.meterStopWh, 'Transaction.End')]);
      return { action: 'TransactionEvent', payload };
    }
  }
}
