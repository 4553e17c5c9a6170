/**
 * A strict CSMS (ocpp-rpc's server with the official 1.6, 2.0.1 and 2.1 schemas, both directions validated)
 * sends every CSMS-initiated message of the Core profile / the device-model, remote-control, availability,
 * reset and trigger blocks to the station, in the states where each applies, and checks the replies: no
 * `NotImplemented`, no CALLERROR, zero schema failures on either side.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { OcppStation } from '../../wall-module/ocpp/station.js';
import { tariffWithCsmsChanges } from '../../wall-module/ocpp/device-model-defs.js';
import type { JsonObject, OcppVersion } from '../../wall-module/ocpp/types.js';
import { DaemonDouble } from './control-double.js';
import { startStationFixture, stopStationFixture, type StationFixture } from './fixtures.js';
import { untilDrained, untilOnline, waitFor } from './harness.js';

const T0 = 1_700_000_100_000;
const ID = 'wall-cmd';
const TARIFF = { priceMsatPerWh: 250n, invoiceIntervalSec: 16, graceWh: 20 };
const CAR_KEY = '02' + 'ab'.repeat(32);

let fx: StationFixture | undefined;
afterEach(async () => {
  if (fx) await stopStationFixture(fx);
  fx = undefined;
});

async function online(protocol: OcppVersion): Promise<{ f: StationFixture; daemon: DaemonDouble }> {
  fx = await startStationFixture(
    { protocols: [protocol], bootIntervalSec: 10 },
    {
      identity: ID,
      protocols: [protocol],
      serialNumber: 'BC-0001',
      firmwareVersion: 'boltcharge 1.2.3',
      tariff: TARIFF,
    },
  );
  const daemon = new DaemonDouble(fx.station);
  fx.station.attachControl(daemon);
  fx.station.start();
  await untilOnline(fx.station, fx.clock);
  return { f: fx, daemon };
}

/** Calls the station and records the reply; a CALLERROR (e.g. NotImplemented) fails the test. */
function caller(f: StationFixture, replies: { action: string; reply: JsonObject }[]) {
  return async (action: string, payload: JsonObject): Promise<JsonObject> => {
    const reply = await f.csms.call(ID, action, payload);
    replies.push({ action, reply });
    return reply;
  };
}

function noFailures(f: StationFixture, replies: { action: string; reply: JsonObject }[]): void {
  expect(JSON.stringify(replies)).not.toContain('NotImplemented');
  expect(f.csms.validationFailures).toEqual([]);
  expect(f.csms.badMessages).toEqual([]);
  expect(f.station.status().validationFailures).toBe(0);
}

function lastStatus(f: StationFixture): unknown {
  const p = f.csms.calls('StatusNotification').at(-1)?.payload;
  return p?.connectorStatus ?? p?.status;
}

describe.each(['ocpp2.0.1', 'ocpp2.1'] as const)('%s: every CSMS command answered', (protocol) => {
  it('device model: GetVariables, SetVariables (persisted, RebootRequired, Rejected), GetBaseReport in parts', async () => {
    const { f } = await online(protocol);
    const replies: { action: string; reply: JsonObject }[] = [];
    const call = caller(f, replies);
    expect(f.csms.calls('BootNotification')[0]?.payload.chargingStation).toEqual({
      model: 'boltcharge-wall',
      vendorName: 'boltcharge',
      serialNumber: 'BC-0001',
      firmwareVersion: 'boltcharge 1.2.3',
    });
    const got = await call('GetVariables', {
      getVariableData: [
        { component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } },
        { component: { name: 'BoltchargeCtrlr' }, variable: { name: 'PriceMsatPerWh' } },
        { component: { name: 'DisplayMessageCtrlr' }, variable: { name: 'QRCodeDisplayCapable' } },
        { component: { name: 'WebPaymentsCtrlr', evse: { id: 1 } }, variable: { name: 'Enabled' } },
        {
          component: { name: 'Connector', evse: { id: 1, connectorId: 1 } },
          variable: { name: 'AvailabilityState' },
        },
        { component: { name: 'SecurityCtrlr' }, variable: { name: 'BasicAuthPassword' } },
        { component: { name: 'NoSuchCtrlr' }, variable: { name: 'X' } },
        { component: { name: 'TxCtrlr' }, variable: { name: 'NoSuchVariable' } },
        {
          component: { name: 'TxCtrlr' },
          variable: { name: 'EVConnectionTimeOut' },
          attributeType: 'Target',
        },
      ],
    });
    expect((got.getVariableResult as JsonObject[]).map((r) => [r.attributeStatus, r.attributeValue])).toEqual(
      [
        ['Accepted', '10'],
        ['Accepted', '250'],
        ['Accepted', 'true'],
        ['Accepted', 'false'],
        ['Accepted', 'Available'],
        ['Rejected', undefined],
        ['UnknownComponent', undefined],
        ['UnknownVariable', undefined],
        ['NotSupportedAttributeType', undefined],
      ],
    );
    const set = await call('SetVariables', {
      setVariableData: [
        {
          component: { name: 'OCPPCommCtrlr' },
          variable: { name: 'HeartbeatInterval' },
          attributeValue: '30',
        },
        {
          component: { name: 'BoltchargeCtrlr' },
          variable: { name: 'PriceMsatPerWh' },
          attributeValue: '300',
        },
        { component: { name: 'ChargingStation' }, variable: { name: 'Model' }, attributeValue: 'x' },
        { component: { name: 'TxCtrlr' }, variable: { name: 'EVConnectionTimeOut' }, attributeValue: 'soon' },
        { component: { name: 'NoSuchCtrlr' }, variable: { name: 'X' }, attributeValue: '1' },
      ],
    });
    expect((set.setVariableResult as JsonObject[]).map((r) => r.attributeStatus)).toEqual([
      'Accepted',
      'RebootRequired',
      'Rejected',
      'Rejected',
      'UnknownComponent',
    ]);
    // the heartbeat follows the new interval at once
    const beats = f.csms.calls('Heartbeat').length;
    await f.clock.advance(30_000);
    await waitFor(() => f.csms.calls('Heartbeat').length === beats + 1, 'heartbeat at the new interval');
    // the price change is a security-relevant reconfiguration
    await waitFor(() => f.csms.calls('SecurityEventNotification').length === 1, 'SecurityEventNotification');
    expect(f.csms.calls('SecurityEventNotification')[0]?.payload.type).toBe(
      'ReconfigurationOfSecurityParameters',
    );

    for (const reportBase of ['FullInventory', 'ConfigurationInventory', 'SummaryInventory']) {
      const before = f.csms.calls('NotifyReport').length;
      const requestId = 40 + before;
      expect(await call('GetBaseReport', { requestId, reportBase })).toEqual({ status: 'Accepted' });
      await waitFor(
        () =>
          f.csms.calls('NotifyReport').at(-1)?.payload.tbc !== true &&
          f.csms.calls('NotifyReport').length > before,
        `${reportBase} reported`,
      );
      const parts = f.csms
        .calls('NotifyReport')
        .slice(before)
        .map((c) => c.payload);
      expect(parts.map((p) => p.seqNo)).toEqual(parts.map((_, i) => i));
      expect(parts.every((p) => p.requestId === requestId)).toBe(true);
      const data = parts.flatMap((p) => p.reportData as JsonObject[]);
      const names = data.map(
        (d) => `${(d.component as JsonObject).name as string}.${(d.variable as JsonObject).name as string}`,
      );
      if (reportBase === 'FullInventory') {
        expect(parts.length).toBeGreaterThan(1);
        for (const c of [
          'ChargingStation',
          'EVSE',
          'Connector',
          'OCPPCommCtrlr',
          'TxCtrlr',
          'AuthCtrlr',
          'DisplayMessageCtrlr',
          'WebPaymentsCtrlr',
          'SecurityCtrlr',
          'BoltchargeCtrlr',
        ])
          expect(names.some((n) => n.startsWith(`${c}.`))).toBe(true);
        expect(names).toContain('DisplayMessageCtrlr.QRCodeDisplayCapable');
      }
      if (reportBase === 'ConfigurationInventory')
        for (const d of data)
          expect(((d.variableAttribute as JsonObject[])[0] as JsonObject).mutability).not.toBe('ReadOnly');
      if (reportBase === 'SummaryInventory') expect(names).toContain('ChargingStation.AvailabilityState');
    }
    noFailures(f, replies);

    // persisted: a new station on the same database reads the values the CSMS set
    await f.station.stop();
    const again = new OcppStation({
      clock: f.clock,
      db: f.tmp.db,
      config: { url: f.csms.url, identity: ID, protocols: [protocol], tariff: TARIFF },
    });
    f.station = again;
    again.start();
    await untilOnline(again, f.clock);
    const read = await call('GetVariables', {
      getVariableData: [{ component: { name: 'BoltchargeCtrlr' }, variable: { name: 'PriceMsatPerWh' } }],
    });
    expect((read.getVariableResult as JsonObject[])[0]?.attributeValue).toBe('300');
    expect(tariffWithCsmsChanges(f.tmp.db, TARIFF)).toEqual({ ...TARIFF, priceMsatPerWh: 300n });
  });

  it('remote control, availability, unlock, reset, cache, DataTransfer and every trigger in the states they apply', async () => {
    const { f, daemon } = await online(protocol);
    const replies: { action: string; reply: JsonObject }[] = [];
    const call = caller(f, replies);

    // idle: a remote start is accepted and tags the next plug-in
    expect(
      await call('RequestStartTransaction', {
        idToken: { idToken: 'csms-user', type: 'Central' },
        remoteStartId: 7,
        evseId: 1,
      }),
    ).toEqual({ status: 'Accepted' });
    expect(await call('UnlockConnector', { evseId: 1, connectorId: 1 })).toEqual({ status: 'Unlocked' });
    expect(await call('UnlockConnector', { evseId: 2, connectorId: 1 })).toEqual({
      status: 'UnknownConnector',
    });
    expect(await call('TriggerMessage', { requestedMessage: 'TransactionEvent' })).toEqual({
      status: 'Rejected',
    });
    f.station.plugged(1, T0, 1000);
    await untilDrained(f.station);
    const started = f.csms.calls('TransactionEvent')[0]?.payload;
    expect(started).toMatchObject({
      eventType: 'Started',
      transactionInfo: { remoteStartId: 7, chargingState: 'EVConnected' },
      meterValue: [{ sampledValue: [{ value: 1000, context: 'Transaction.Begin' }] }],
    });
    const txId = (started?.transactionInfo as JsonObject).transactionId as string;
    expect(await call('GetTransactionStatus', { transactionId: txId })).toEqual({
      ongoingIndicator: true,
      messagesInQueue: false,
    });
    expect(await call('GetTransactionStatus', {})).toEqual({ messagesInQueue: false });

    // a paid session: Charging carries the idToken
    daemon.startPaidSession('s-cmd', T0 + 1000, CAR_KEY);
    await untilDrained(f.station);
    const charging = f.csms
      .calls('TransactionEvent')
      .find((c) => (c.payload.transactionInfo as JsonObject).chargingState === 'Charging');
    expect(charging?.payload.idToken).toEqual(
      protocol === 'ocpp2.1'
        ? { idToken: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown, type: 'DirectPayment' }
        : { idToken: CAR_KEY.slice(0, 36), type: 'Local' },
    );
    if (protocol === 'ocpp2.0.1') {
      const keyReport = f.csms.calls('DataTransfer').find((c) => c.payload.messageId === 'VehicleNodeKey');
      expect(JSON.parse(keyReport?.payload.data as string)).toMatchObject({ nodeKey: CAR_KEY });
    }
    expect(
      await call('RequestStartTransaction', { idToken: { idToken: 'x', type: 'Central' }, remoteStartId: 8 }),
    ).toEqual({ status: 'Rejected' });
    expect(await call('UnlockConnector', { evseId: 1, connectorId: 1 })).toEqual({
      status: 'OngoingAuthorizedTransaction',
    });
    expect(await call('ChangeAvailability', { operationalStatus: 'Inoperative', evse: { id: 1 } })).toEqual({
      status: 'Scheduled',
    });
    expect(await call('Reset', { type: 'OnIdle' })).toEqual({ status: 'Scheduled' });
    expect(await call('Reset', { type: 'Immediate', evseId: 1 })).toEqual({ status: 'Rejected' });
    for (const requestedMessage of [
      'Heartbeat',
      'StatusNotification',
      'MeterValues',
      'TransactionEvent',
      'FirmwareStatusNotification',
      'LogStatusNotification',
      'PublishFirmwareStatusNotification',
    ])
      expect(await call('TriggerMessage', { requestedMessage, evse: { id: 1 } })).toEqual({
        status: 'Accepted',
      });
    for (const requestedMessage of [
      'BootNotification',
      'SignChargingStationCertificate',
      'SignV2GCertificate',
      'SignCombinedCertificate',
    ])
      expect(await call('TriggerMessage', { requestedMessage })).toEqual({ status: 'Rejected' });
    await waitFor(
      () => f.csms.calls('PublishFirmwareStatusNotification').length === 1,
      'triggered messages sent',
    );
    await waitFor(() => f.csms.calls('MeterValues').length === 1, 'triggered MeterValues');
    await untilDrained(f.station);
    expect(f.csms.calls('TransactionEvent').some((c) => c.payload.triggerReason === 'Trigger')).toBe(true);

    // remote stop ends the Lightning session cleanly; the transaction ends with Remote
    expect(await call('RequestStopTransaction', { transactionId: 'no-such-tx' })).toEqual({
      status: 'Rejected',
    });
    expect(await call('RequestStopTransaction', { transactionId: txId })).toEqual({ status: 'Accepted' });
    expect(daemon.stops).toEqual(['remote']);
    await waitFor(() => f.csms.calls('TransactionEvent').at(-1)?.payload.eventType === 'Ended', 'Ended');
    expect(f.csms.calls('TransactionEvent').at(-1)?.payload).toMatchObject({
      triggerReason: 'RemoteStop',
      transactionInfo: { stoppedReason: 'Remote' },
    });
    const receipt = f.csms.calls('DataTransfer').find((c) => c.payload.messageId === 'SessionReceipt');
    expect(JSON.parse(receipt?.payload.data as string)).toMatchObject({
      stopReason: 'Remote',
      priceMsatPerWh: '250',
    });
    // the scheduled Inoperative and the OnIdle reset apply once the session is over
    await waitFor(() => daemon.resets === 1, 'reset on idle');
    f.station.unplugged(1, T0 + 20_000);
    await waitFor(() => lastStatus(f) === 'Unavailable', 'Unavailable');
    expect(
      await call('RequestStartTransaction', { idToken: { idToken: 'x', type: 'Central' }, remoteStartId: 9 }),
    ).toEqual({ status: 'Rejected' });
    expect(await call('ChangeAvailability', { operationalStatus: 'Operative' })).toEqual({
      status: 'Accepted',
    });
    await waitFor(() => lastStatus(f) === 'Available', 'Available');
    daemon.connector.fault('cut not confirmed', T0);
    await waitFor(() => lastStatus(f) === 'Faulted', 'Faulted');
    expect(await call('ChangeAvailability', { operationalStatus: 'Operative', evse: { id: 1 } })).toEqual({
      status: 'Rejected',
    });
    daemon.connector.clearFault();

    expect(await call('Reset', { type: 'Immediate' })).toEqual({ status: 'Accepted' });
    await waitFor(() => daemon.resets === 2, 'immediate reset');
    expect(await call('ClearCache', {})).toEqual({ status: 'Accepted' });
    expect(await call('DataTransfer', { vendorId: 'com.example' })).toEqual({ status: 'UnknownVendorId' });
    expect(await call('DataTransfer', { vendorId: 'org.boltcharge', messageId: 'Nope' })).toEqual({
      status: 'UnknownMessageId',
    });
    await untilDrained(f.station);
    expect(f.csms.calls('SecurityEventNotification').map((c) => c.payload.type)).toEqual([
      'ResetOrReboot',
      'ResetOrReboot',
    ]);
    noFailures(f, replies);
  });
});

describe('ocpp1.6: every Core message answered', () => {
  it('GetConfiguration/ChangeConfiguration, remote start/stop, availability, unlock, reset, cache, DataTransfer, triggers', async () => {
    const { f, daemon } = await online('ocpp1.6');
    const replies: { action: string; reply: JsonObject }[] = [];
    const call = caller(f, replies);
    expect(f.csms.calls('BootNotification')[0]?.payload).toMatchObject({
      chargePointSerialNumber: 'BC-0001',
      firmwareVersion: 'boltcharge 1.2.3',
    });

    const all = await call('GetConfiguration', {});
    const keys = (all.configurationKey as JsonObject[]).map((k) => k.key);
    for (const core of [
      'AuthorizeRemoteTxRequests',
      'ClockAlignedDataInterval',
      'ConnectionTimeOut',
      'ConnectorPhaseRotation',
      'GetConfigurationMaxKeys',
      'HeartbeatInterval',
      'LocalAuthorizeOffline',
      'LocalPreAuthorize',
      'MeterValuesAlignedData',
      'MeterValuesSampledData',
      'MeterValueSampleInterval',
      'NumberOfConnectors',
      'ResetRetries',
      'StopTransactionOnEVSideDisconnect',
      'StopTransactionOnInvalidId',
      'StopTxnAlignedData',
      'StopTxnSampledData',
      'SupportedFeatureProfiles',
      'TransactionMessageAttempts',
      'TransactionMessageRetryInterval',
      'UnlockConnectorOnEVSideDisconnect',
      'WebSocketPingInterval',
      'BoltchargePriceMsatPerWh',
      'BoltchargeInvoiceIntervalSec',
      'BoltchargeGraceWh',
    ])
      expect(keys).toContain(core);
    expect(await call('GetConfiguration', { key: ['HeartbeatInterval', 'Nope'] })).toEqual({
      configurationKey: [{ key: 'HeartbeatInterval', readonly: false, value: '10' }],
      unknownKey: ['Nope'],
    });
    expect(await call('ChangeConfiguration', { key: 'MeterValueSampleInterval', value: '30' })).toEqual({
      status: 'Accepted',
    });
    expect(await call('ChangeConfiguration', { key: 'BoltchargePriceMsatPerWh', value: '275' })).toEqual({
      status: 'RebootRequired',
    });
    expect(await call('ChangeConfiguration', { key: 'NumberOfConnectors', value: '2' })).toEqual({
      status: 'Rejected',
    });
    expect(await call('ChangeConfiguration', { key: 'HeartbeatInterval', value: '-5' })).toEqual({
      status: 'Rejected',
    });
    expect(await call('ChangeConfiguration', { key: 'Nope', value: '1' })).toEqual({
      status: 'NotSupported',
    });
    expect(
      await call('GetConfiguration', { key: ['MeterValueSampleInterval', 'BoltchargePriceMsatPerWh'] }),
    ).toMatchObject({
      configurationKey: [
        { key: 'MeterValueSampleInterval', value: '30' },
        { key: 'BoltchargePriceMsatPerWh', value: '275' },
      ],
    });

    expect(await call('RemoteStartTransaction', { connectorId: 1, idTag: 'CSMS' })).toEqual({
      status: 'Accepted',
    });
    expect(await call('RemoteStartTransaction', { connectorId: 3, idTag: 'CSMS' })).toEqual({
      status: 'Rejected',
    });
    expect(await call('UnlockConnector', { connectorId: 1 })).toEqual({ status: 'Unlocked' });
    expect(await call('UnlockConnector', { connectorId: 5 })).toEqual({ status: 'UnlockFailed' });
    f.station.plugged(1, T0, 1000);
    daemon.startPaidSession('s-16', T0 + 1000);
    await waitFor(() => f.csms.calls('StartTransaction').length === 1, 'StartTransaction');
    await untilDrained(f.station);
    await waitFor(() => lastStatus(f) === 'Charging', 'Charging');
    expect(await call('RemoteStartTransaction', { idTag: 'CSMS' })).toEqual({ status: 'Rejected' });
    expect(await call('ChangeAvailability', { connectorId: 1, type: 'Inoperative' })).toEqual({
      status: 'Scheduled',
    });
    for (const requestedMessage of [
      'Heartbeat',
      'StatusNotification',
      'MeterValues',
      'FirmwareStatusNotification',
      'DiagnosticsStatusNotification',
    ])
      expect(await call('TriggerMessage', { requestedMessage, connectorId: 1 })).toEqual({
        status: 'Accepted',
      });
    expect(await call('TriggerMessage', { requestedMessage: 'BootNotification' })).toEqual({
      status: 'Rejected',
    });
    await waitFor(
      () => f.csms.calls('DiagnosticsStatusNotification').length === 1,
      'triggered messages sent',
    );
    await waitFor(
      () => f.csms.calls('MeterValues').some((c) => c.payload.transactionId === 1000),
      'MeterValues of the transaction',
    );

    expect(await call('RemoteStopTransaction', { transactionId: 4242 })).toEqual({ status: 'Rejected' });
    expect(await call('RemoteStopTransaction', { transactionId: 1000 })).toEqual({ status: 'Accepted' });
    await waitFor(() => f.csms.calls('StopTransaction').length === 1, 'StopTransaction');
    expect(f.csms.calls('StopTransaction')[0]?.payload).toMatchObject({
      transactionId: 1000,
      reason: 'Remote',
    });
    f.station.unplugged(1, T0 + 20_000);
    await waitFor(() => lastStatus(f) === 'Unavailable', 'Unavailable');
    expect(await call('ChangeAvailability', { connectorId: 0, type: 'Operative' })).toEqual({
      status: 'Accepted',
    });
    await waitFor(() => lastStatus(f) === 'Available', 'Available');

    expect(await call('ClearCache', {})).toEqual({ status: 'Accepted' });
    expect(await call('DataTransfer', { vendorId: 'com.example' })).toEqual({ status: 'UnknownVendorId' });
    expect(await call('DataTransfer', { vendorId: 'org.boltcharge', messageId: 'Nope' })).toEqual({
      status: 'UnknownMessageId',
    });
    expect(await call('Reset', { type: 'Soft' })).toEqual({ status: 'Accepted' });
    await waitFor(() => daemon.resets === 1, 'reset');
    await untilDrained(f.station);
    expect(f.csms.calls('SecurityEventNotification').map((c) => c.payload.type)).toEqual([
      'ReconfigurationOfSecurityParameters',
      'ResetOrReboot',
    ]);
    noFailures(f, replies);
  });
});

describe('availability across a restart', () => {
  it('an EVSE the CSMS made Inoperative stays so after the station restarts', async () => {
    const { f } = await online('ocpp2.0.1');
    expect(await f.csms.call(ID, 'ChangeAvailability', { operationalStatus: 'Inoperative' })).toEqual({
      status: 'Accepted',
    });
    await waitFor(() => lastStatus(f) === 'Unavailable', 'Unavailable');
    await f.station.stop();
    const again = new OcppStation({
      clock: f.clock,
      db: f.tmp.db,
      config: { url: f.csms.url, identity: ID, protocols: ['ocpp2.0.1'] },
    });
    f.station = again;
    const daemon = new DaemonDouble(again);
    again.attachControl(daemon);
    expect(daemon.connector.current()).toEqual({ kind: 'inoperative', reason: 'ocpp' });
    expect(daemon.connector.claim('cable', 's-refused')).toMatchObject({
      ok: false,
      refusal: 'CONNECTOR_INOPERATIVE',
    });
    again.start();
    await untilOnline(again, f.clock);
    await waitFor(() => lastStatus(f) === 'Unavailable', 'Unavailable after the restart');
    expect(await f.csms.call(ID, 'ChangeAvailability', { operationalStatus: 'Operative' })).toEqual({
      status: 'Accepted',
    });
    expect(daemon.connector.current()).toEqual({ kind: 'idle' });
    expect(f.csms.validationFailures).toEqual([]);
  });
});
