/**
 * Remote start of a walk-up (`remoteStart: walkup`) against the strict test CSMS, in process: the station, a
 * real `WalkupRuntime` on the connector's real `ConnectorArbiter`, and `walkupStationControl` as the daemon
 * wires them. A remote start on a free EVSE with walk-up claims it for a walk-up session whose QR the display
 * offers, is Accepted, and tags the transaction (2.x remoteStartId); it is Rejected when the EVSE is busy,
 * reserved for someone else, faulted, inoperative or has no walk-up. A remote stop before the deposit calls
 * the walk-up off; so does the driver not asking for a deposit within EVConnectionTimeOut. (No node is reached
 * on these paths: paying flows run on real lnd in test/e2e/ocpp-walkup.regtest.test.ts.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ManualClock } from '../../hardware/clock.js';
import { walkupStationControl } from '../../wall-module/ocpp/station-control.js';
import type { JsonObject, OcppVersion } from '../../wall-module/ocpp/types.js';
import type { WalkupRuntime } from '../../wall-module/walkup/runtime.js';
import { nodelessWalkupRuntime } from '../support/walkup-runtime.js';
import { DaemonDouble } from './control-double.js';
import { startStationFixture, stopStationFixture, type StationFixture } from './fixtures.js';
import { untilDrained, untilOnline, waitFor } from './harness.js';

const ID = 'wall-walkup-remote';
const T0 = 1_700_000_100_000;

let fx: StationFixture | undefined;
afterEach(async () => {
  if (fx) await stopStationFixture(fx);
  fx = undefined;
});

function walkupOn(daemon: DaemonDouble, clock: ManualClock): WalkupRuntime {
  return nodelessWalkupRuntime({ priceMsatPerWh: 1000n, arbiter: daemon.connector, clock }).runtime;
}

/** A station with `remoteStart: walkup`, online, its EVSE 1 with (or without) a walk-up. */
async function online(
  protocol: OcppVersion,
  withWalkup = true,
): Promise<{ f: StationFixture; daemon: DaemonDouble; walkup: WalkupRuntime }> {
  fx = await startStationFixture(
    { protocols: [protocol], bootIntervalSec: 10 },
    { identity: ID, protocols: [protocol], remoteStart: 'walkup' },
  );
  const daemon = new DaemonDouble(fx.station);
  const walkup = walkupOn(daemon, fx.clock);
  fx.station.attachControl(walkupStationControl(daemon, new Map(withWalkup ? [[1, walkup]] : [])));
  fx.station.start();
  await untilOnline(fx.station, fx.clock);
  return { f: fx, daemon, walkup };
}

function noFailures(f: StationFixture): void {
  expect(f.csms.validationFailures).toEqual([]);
  expect(f.csms.badMessages).toEqual([]);
  expect(f.station.status().validationFailures).toBe(0);
}

const start2x = (remoteStartId: number): JsonObject => ({
  idToken: { idToken: 'csms-user', type: 'Central' },
  remoteStartId,
  evseId: 1,
});

describe.each(['ocpp2.0.1', 'ocpp2.1'] as const)('%s: RequestStartTransaction of a walk-up', (protocol) => {
  it('starts a walk-up on a free EVSE: Accepted, QR offered, remoteStartId on Started; remote stop calls it off', async () => {
    const { f, daemon, walkup } = await online(protocol);
    expect(await f.csms.call(ID, 'RequestStartTransaction', start2x(41))).toEqual({ status: 'Accepted' });
    const pending = walkup.pendingRemoteStart();
    expect(pending).toMatchObject({ remoteStartId: 41 });
    expect(daemon.connector.current()).toEqual({ kind: 'walkup', sessionId: pending?.sessionId });
    // a car with a vehicle module that arrives now is refused: the walk-up holds the connector
    expect(daemon.connector.claim('cable', 'car-1')).toMatchObject({ ok: false, refusal: 'CONNECTOR_BUSY' });
    // a second start on the same EVSE is refused
    expect(await f.csms.call(ID, 'RequestStartTransaction', start2x(42))).toEqual({ status: 'Rejected' });

    f.station.plugged(1, T0, 500);
    await untilDrained(f.station);
    const started = f.csms.calls('TransactionEvent')[0]?.payload;
    expect(started).toMatchObject({
      eventType: 'Started',
      triggerReason: 'CablePluggedIn',
      transactionInfo: { remoteStartId: 41, chargingState: 'EVConnected' },
    });
    const txId = (started?.transactionInfo as JsonObject).transactionId as string;
    // nothing paid: no Charging
    expect(
      f.csms
        .calls('TransactionEvent')
        .some((c) => (c.payload.transactionInfo as JsonObject).chargingState === 'Charging'),
    ).toBe(false);

    expect(await f.csms.call(ID, 'RequestStopTransaction', { transactionId: txId })).toEqual({
      status: 'Accepted',
    });
    expect(walkup.pendingRemoteStart()).toBeNull();
    expect(daemon.connector.current()).toEqual({ kind: 'idle' });
    await waitFor(() => f.csms.calls('TransactionEvent').at(-1)?.payload.eventType === 'Ended', 'Ended');
    expect(f.csms.calls('TransactionEvent').at(-1)?.payload).toMatchObject({
      triggerReason: 'RemoteStop',
      transactionInfo: { stoppedReason: 'Remote' },
    });
    noFailures(f);
  });

  it('a remote start nobody pays for lapses after EVConnectionTimeOut: the connector is free again', async () => {
    const { f, daemon, walkup } = await online(protocol);
    const set = await f.csms.call(ID, 'SetVariables', {
      setVariableData: [
        { component: { name: 'TxCtrlr' }, variable: { name: 'EVConnectionTimeOut' }, attributeValue: '30' },
      ],
    });
    expect((set.setVariableResult as JsonObject[])[0]?.attributeStatus).toBe('Accepted');
    expect(await f.csms.call(ID, 'RequestStartTransaction', start2x(5))).toEqual({ status: 'Accepted' });
    expect(daemon.connector.current().kind).toBe('walkup');
    await f.clock.advance(29_000);
    expect(walkup.pendingRemoteStart()).not.toBeNull();
    await f.clock.advance(2_000);
    expect(walkup.pendingRemoteStart()).toBeNull();
    expect(daemon.connector.current()).toEqual({ kind: 'idle' });
    await waitFor(
      () => f.csms.calls('StatusNotification').at(-1)?.payload.connectorStatus === 'Available',
      'Available again',
    );
    noFailures(f);
  });

  it('is Rejected when the EVSE is busy, reserved for someone else, faulted, inoperative or has no walk-up', async () => {
    const { f, daemon, walkup } = await online(protocol);
    // busy: a cable session owns the connector
    daemon.startPaidSession('cable-1', T0);
    expect(await f.csms.call(ID, 'RequestStartTransaction', start2x(1))).toEqual({ status: 'Rejected' });
    daemon.end('Local');
    f.station.unplugged(1, T0 + 20_000);
    // reserved for someone else (not a web payment the CSMS announced)
    expect(daemon.connector.reserve('held by the site')).toBe(true);
    expect(await f.csms.call(ID, 'RequestStartTransaction', start2x(2))).toEqual({ status: 'Rejected' });
    daemon.connector.unreserve();
    // faulted
    daemon.connector.fault('cut not confirmed', T0);
    expect(await f.csms.call(ID, 'RequestStartTransaction', start2x(3))).toEqual({ status: 'Rejected' });
    daemon.connector.clearFault();
    // inoperative
    expect(
      await f.csms.call(ID, 'ChangeAvailability', { operationalStatus: 'Inoperative', evse: { id: 1 } }),
    ).toEqual({ status: 'Accepted' });
    expect(await f.csms.call(ID, 'RequestStartTransaction', start2x(4))).toEqual({ status: 'Rejected' });
    expect(
      await f.csms.call(ID, 'ChangeAvailability', { operationalStatus: 'Operative', evse: { id: 1 } }),
    ).toEqual({ status: 'Accepted' });
    // an EVSE the station does not have
    expect(await f.csms.call(ID, 'RequestStartTransaction', { ...start2x(5), evseId: 9 })).toEqual({
      status: 'Rejected',
    });
    expect(walkup.pendingRemoteStart()).toBeNull();
    // free again: accepted
    expect(await f.csms.call(ID, 'RequestStartTransaction', start2x(6))).toEqual({ status: 'Accepted' });
    noFailures(f);
  });

  it('is Rejected when walk-up is not configured on the EVSE', async () => {
    const { f, daemon } = await online(protocol, false);
    expect(await f.csms.call(ID, 'RequestStartTransaction', start2x(1))).toEqual({ status: 'Rejected' });
    expect(daemon.connector.current()).toEqual({ kind: 'idle' });
    noFailures(f);
  });
});

describe('ocpp1.6: RemoteStartTransaction of a walk-up', () => {
  it('Accepted on a free connector (QR offered), Rejected when busy, faulted or without walk-up', async () => {
    const { f, daemon, walkup } = await online('ocpp1.6');
    expect(await f.csms.call(ID, 'RemoteStartTransaction', { idTag: 'csms-user', connectorId: 1 })).toEqual({
      status: 'Accepted',
    });
    expect(walkup.pendingRemoteStart()).toMatchObject({ remoteStartId: 0 });
    expect(await f.csms.call(ID, 'RemoteStartTransaction', { idTag: 'csms-user', connectorId: 1 })).toEqual({
      status: 'Rejected',
    });
    expect(walkup.remoteStop('test')).toBe(true);
    expect(daemon.connector.current()).toEqual({ kind: 'idle' });
    daemon.connector.fault('cut not confirmed', T0);
    expect(await f.csms.call(ID, 'RemoteStartTransaction', { idTag: 'csms-user', connectorId: 1 })).toEqual({
      status: 'Rejected',
    });
    daemon.connector.clearFault();
    expect(await f.csms.call(ID, 'RemoteStartTransaction', { idTag: 'csms-user', connectorId: 2 })).toEqual({
      status: 'Rejected',
    });
    noFailures(f);
  });

  it('Rejected when walk-up is not configured', async () => {
    const { f } = await online('ocpp1.6', false);
    expect(await f.csms.call(ID, 'RemoteStartTransaction', { idTag: 'csms-user' })).toEqual({
      status: 'Rejected',
    });
    noFailures(f);
  });
});
