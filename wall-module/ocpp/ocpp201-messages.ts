/**
 * OCPP 2.0.1 (and 2.1, whose station-side messages used here are identical) payload builders. Pure: events
 * and configuration in, `{action, payload}` out.
 */
import type { OutboxEntry, StopReason } from './events.js';
import { renderLightningReport } from './lightning-report.js';
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
export type ConnectorStatus201 = 'Available' | 'Occupied' | 'Unavailable' | 'Faulted';

/** @returns StatusNotificationRequest payload */
export function statusNotification201(
  evseId: number,
  connectorId: number,
  status: ConnectorStatus201,
  atMs: number,
): JsonObject {
  return { timestamp: iso(atMs), connectorStatus: status, evseId, connectorId };
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
  PowerLoss: 'AbnormalCondition',
  Reboot: 'ResetCommand',
  Other: 'AbnormalCondition',
};

/**
 * Builds the OCPP 2.x message for an outbox entry.
 *
 * @param entry the outbox entry (event, seqNo, offline flag, idempotent key)
 * @param vendorId DataTransfer vendorId
 * @returns TransactionEvent or DataTransfer CALL
 */
export function transactionMessage201(entry: OutboxEntry, vendorId: string): BuiltMessage {
  const ev = entry.event;
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
    case 'EvPlugged':
      return {
        action: 'TransactionEvent',
        payload: base('Started', 'CablePluggedIn', { chargingState: 'EVConnected' }),
      };
    case 'ChargingStarted': {
      const payload = ev.newTransaction
        ? base('Started', 'Authorized', { chargingState: 'Charging' })
        : base('Updated', 'ChargingStateChanged', { chargingState: 'Charging' });
      payload.meterValue = meter(ev.atMs, [energy(ev.meterStartWh, 'Transaction.Begin')]);
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
    case 'TransactionEnded': {
      const payload = base('Ended', TRIGGER_ON_STOP[ev.reason], {
        chargingState: ev.reason === 'EVDisconnected' ? 'Idle' : 'EVConnected',
        stoppedReason: ev.reason,
      });
      if (ev.meterStopWh !== null)
        payload.meterValue = meter(ev.atMs, [energy(ev.meterStopWh, 'Transaction.End')]);
      return { action: 'TransactionEvent', payload };
    }
  }
}
