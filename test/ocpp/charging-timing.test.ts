/**
 * "Charging" is the truth on every OCPP version: a car that never pays its deposit produces no Charging (no
 * 2.x chargingState Charging, no 1.6 StartTransaction or Charging status); a car that pays gets Charging only
 * once energy flows after the first paid block.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { JsonObject, OcppVersion } from '../../wall-module/ocpp/types.js';
import { startStationFixture, stopStationFixture, type StationFixture } from './fixtures.js';
import { blockInvoice, untilDrained, untilOnline } from './harness.js';

const T0 = 1_700_000_200_000;
let fx: StationFixture | undefined;
afterEach(async () => {
  if (fx) await stopStationFixture(fx);
  fx = undefined;
});

function chargingReports(f: StationFixture): JsonObject[] {
  return f.csms.received
    .filter(
      (c) =>
        (c.action === 'TransactionEvent' &&
          (c.payload.transactionInfo as JsonObject).chargingState === 'Charging') ||
        (c.action === 'StatusNotification' && c.payload.status === 'Charging') ||
        c.action === 'StartTransaction',
    )
    .map((c) => c.payload);
}

describe.each(['ocpp1.6', 'ocpp2.0.1', 'ocpp2.1'] as const)('%s Charging timing', (protocol: OcppVersion) => {
  async function online(): Promise<StationFixture> {
    fx = await startStationFixture(
      { protocols: [protocol] },
      { identity: 'wall-timing', protocols: [protocol] },
    );
    fx.station.start();
    await untilOnline(fx.station, fx.clock);
    return fx;
  }

  it('a car that never pays its deposit produces no Charging', async () => {
    const f = await online();
    f.station.plugged(1, T0, 500);
    f.station.sessionStarted({ evseId: 1, sessionId: 's-nopay', atMs: T0 + 1000, meterStartWh: 500 });
    const deposit = blockInvoice('s-nopay', 0, 500);
    f.station.invoiceIssued({ ...deposit, atMs: T0 + 2000 });
    for (let k = 1; k <= 4; k++)
      f.station.meterSample({ sessionId: 's-nopay', energyWh: 500, powerW: 0, atMs: T0 + k * 15_000 });
    f.station.sessionEnded({
      sessionId: 's-nopay',
      reason: 'LocalOutOfCredit',
      meterStopWh: 500,
      atMs: T0 + 70_000,
      receipt: {
        energyWh: 0,
        paidMsat: 0n,
        invoicesIssued: 1,
        invoicesPaid: 0,
        lastSeq: 0,
        priceMsatPerWh: 250n,
      },
    });
    f.station.unplugged(1, T0 + 80_000);
    await untilDrained(f.station);
    expect(chargingReports(f)).toEqual([]);
    if (protocol !== 'ocpp1.6') {
      const states = f.csms
        .calls('TransactionEvent')
        .map((c) => (c.payload.transactionInfo as JsonObject).chargingState);
      expect(states).not.toContain('Charging');
      expect(f.csms.calls('TransactionEvent').at(-1)?.payload.eventType).toBe('Ended');
    } else {
      expect(f.csms.calls('StopTransaction')).toEqual([]);
    }
    expect(f.csms.validationFailures).toEqual([]);
  });

  it('a car that pays gets Charging when energy flows after the first paid block, not before', async () => {
    const f = await online();
    f.station.plugged(1, T0, 500);
    f.station.sessionStarted({ evseId: 1, sessionId: 's-pay', atMs: T0 + 1000, meterStartWh: 500 });
    const deposit = blockInvoice('s-pay', 0, 500);
    f.station.invoiceIssued({ ...deposit, atMs: T0 + 2000 });
    f.station.meterSample({ sessionId: 's-pay', energyWh: 500, powerW: 0, atMs: T0 + 3000 });
    f.station.invoicePaid({ ...deposit, atMs: T0 + 4000 });
    f.station.meterSample({ sessionId: 's-pay', energyWh: 500, powerW: 0, atMs: T0 + 5000 });
    await untilDrained(f.station);
    expect(chargingReports(f)).toEqual([]); // paid, but the contactor has not closed yet
    f.station.meterSample({ sessionId: 's-pay', energyWh: 501, powerW: 7200, atMs: T0 + 6000 });
    await untilDrained(f.station);
    const charging = chargingReports(f);
    expect(charging.length).toBeGreaterThan(0);
    // 1.6: StartTransaction (its status notification carries the station clock's time, not the event's)
    const at =
      protocol === 'ocpp1.6'
        ? f.csms.calls('StartTransaction')[0]?.payload.timestamp
        : charging[0]?.timestamp;
    expect(at).toBe(new Date(T0 + 6000).toISOString());
    expect(f.csms.validationFailures).toEqual([]);
  });
});
