/**
 * A CSMS stops a paid session on the real wall daemon (OCPP 2.1, strict schemas; run-daemon attaches the
 * station's control): RequestStopTransaction is Accepted, the Lightning session ends cleanly (receipt, every
 * invoice settled or cancelled, books consistent), the transaction ends at once with `Remote` / `RemoteStop`,
 * and the device model answers over the same link (GetVariables of the vendor price, as configured).
 */
import { describe, expect, inject, it } from 'vitest';
import { readBooks } from '../../scripts/demo/books.js';
import type { JsonObject } from '../../wall-module/ocpp/types.js';
import { lightningReports, untilBothEnded, useOcppRigs } from './ocpp-e2e.js';

describe('a CSMS remote stop on the wall daemon (OCPP 2.1)', () => {
  const connectionFile = inject('regtestConnectionPath');
  const worlds = useOcppRigs();

  it('RequestStopTransaction ends the Lightning session cleanly and the transaction with Remote', async () => {
    const { rig: r, csms: c } = await worlds.start({
      connectionFile,
      csms: { protocols: ['ocpp2.1'] },
      ocpp: {
        stationId: 'WALL-REMOTE',
        protocols: 'ocpp2.1,ocpp2.0.1',
        serialNumber: 'BC-E2E-1',
        firmwareVersion: 'e2e',
        meterSampleIntervalSec: 10,
      },
      vehicle: { limits: { targetEnergyWh: 2000 } },
    });
    await r.startDaemons();
    await r.until('the wall booted on 2.1', () => c.calls('BootNotification').length >= 1, 30_000);
    expect(c.protocolOf('WALL-REMOTE')).toBe('ocpp2.1');
    expect(c.calls('BootNotification')[0]?.payload.chargingStation).toMatchObject({
      serialNumber: 'BC-E2E-1',
      firmwareVersion: 'e2e',
    });
    const price = await c.call('WALL-REMOTE', 'GetVariables', {
      getVariableData: [{ component: { name: 'BoltchargeCtrlr' }, variable: { name: 'PriceMsatPerWh' } }],
    });
    expect((price.getVariableResult as JsonObject[])[0]).toMatchObject({ attributeStatus: 'Accepted' });

    r.world.plug();
    await r.until(
      'charging reported',
      () =>
        c
          .calls('TransactionEvent')
          .some((x) => (x.payload.transactionInfo as JsonObject).chargingState === 'Charging'),
      120_000,
    );
    const txId = (c.calls('TransactionEvent')[0]?.payload.transactionInfo as JsonObject).transactionId;
    expect(await c.call('WALL-REMOTE', 'RequestStopTransaction', { transactionId: String(txId) })).toEqual({
      status: 'Accepted',
    });
    await untilBothEnded(r);
    await r.until(
      'the CSMS got the receipt and the end of the transaction',
      () =>
        lightningReports(c, 'SessionReceipt').length === 1 &&
        c.calls('TransactionEvent').some((x) => x.payload.eventType === 'Ended'),
      60_000,
    );
    await r.stop();

    const books = await readBooks(r.files, connectionFile);
    expect(books.problems).toEqual([]);
    const b = books.sessions[0]!;
    expect(b.receiptValid).toBe(true);
    expect(b.wallEnergyWh).toBeLessThan(2000); // stopped before the car's target
    const ended = c.calls('TransactionEvent').find((x) => x.payload.eventType === 'Ended')!;
    expect(ended.payload).toMatchObject({
      triggerReason: 'RemoteStop',
      transactionInfo: { stoppedReason: 'Remote' },
    });
    const receipt = lightningReports(c, 'SessionReceipt')[0]!;
    expect(receipt).toMatchObject({ stopReason: 'Remote', amountMsat: b.wallSettledMsat.toString() });
    const charging = c
      .calls('TransactionEvent')
      .find((x) => (x.payload.transactionInfo as JsonObject).chargingState === 'Charging')!;
    expect(charging.payload.idToken).toMatchObject({ type: 'DirectPayment' });
    expect(c.validationFailures).toEqual([]);
    expect(c.badMessages).toEqual([]);
  }, 240_000);
});
