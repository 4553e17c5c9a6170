/**
 * OCPP 2.1 transactionLimit (QR payment model 1: the CSMS caps what the web payment covers): the CSMS answers a
 * TransactionEvent with `transactionLimit`; when the session's energy or time reaches it, the station asks the
 * daemon to end the session cleanly and reports `EnergyLimitReached` / `TimeLimitReached`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../wall-module/ocpp/types.js';
import { DaemonDouble } from './control-double.js';
import { startStationFixture, stopStationFixture, type StationFixture } from './fixtures.js';
import { untilDrained, untilOnline, waitFor } from './harness.js';

const T0 = 1_700_000_300_000;
let fx: StationFixture | undefined;
afterEach(async () => {
  if (fx) await stopStationFixture(fx);
  fx = undefined;
});

describe('ocpp2.1 transactionLimit', () => {
  it.each<{ limit: JsonObject; reason: string; sample: { energyWh: number; atMs: number } }>([
    { limit: { maxEnergy: 50 }, reason: 'EnergyLimitReached', sample: { energyWh: 1051, atMs: T0 + 30_000 } },
    { limit: { maxTime: 60 }, reason: 'TimeLimitReached', sample: { energyWh: 1010, atMs: T0 + 61_000 } },
  ])(
    '$reason ends the session cleanly and the transaction with that reason',
    async ({ limit, reason, sample }) => {
      fx = await startStationFixture(
        {
          protocols: ['ocpp2.1'],
          transactionEventReply: (p): JsonObject =>
            p.eventType === 'Started' ? { transactionLimit: limit } : {},
        },
        { identity: 'wall-limit', protocols: ['ocpp2.1'] },
      );
      const f = fx;
      const daemon = new DaemonDouble(f.station);
      f.station.attachControl(daemon);
      f.station.start();
      await untilOnline(f.station, f.clock);
      f.station.plugged(1, T0, 1000);
      await untilDrained(f.station); // the Started event's reply carries the limit
      daemon.startPaidSession('s-limit', T0 + 1000);
      f.station.meterSample({ sessionId: 's-limit', energyWh: 1020, powerW: 7000, atMs: T0 + 20_000 });
      expect(daemon.stops).toEqual([]); // under the limit
      f.station.meterSample({ sessionId: 's-limit', powerW: 7000, ...sample });
      expect(daemon.stops).toEqual(['limit']);
      await waitFor(
        () =>
          f.csms
            .calls('TransactionEvent')
            .some(
              (c) =>
                (c.payload.transactionInfo as JsonObject).chargingState === 'EVConnected' &&
                c.payload.triggerReason === reason,
            ),
        'session over with the limit as trigger',
      );
      f.station.unplugged(1, T0 + 90_000);
      await untilDrained(f.station);
      expect(f.csms.calls('TransactionEvent').at(-1)?.payload).toMatchObject({
        eventType: 'Ended',
        transactionInfo: { stoppedReason: reason },
      });
      const receipt = f.csms.calls('DataTransfer').find((c) => c.payload.messageId === 'SessionReceipt');
      expect(JSON.parse(receipt?.payload.data as string)).toMatchObject({ stopReason: reason });
      expect(f.csms.validationFailures).toEqual([]);
    },
  );
});
