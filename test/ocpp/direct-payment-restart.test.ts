/**
 * A DirectPayment session interrupted by a restart (kill -9 while charging) is not left unsettled: the next start
 * books it with its last persisted reading, reports it ended (`Reboot`) and sends its settlement; the payment
 * reference stays used. The runner runs on the simulator (manual clock) and reports to a recording station.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../hardware/clock.js';
import { createSimWorld } from '../../hardware/sim/sim-world.js';
import { ConnectorArbiter } from '../../wall-module/connector-arbiter.js';
import { DirectPaymentSessions, type DirectPaymentStation } from '../../wall-module/walkup/direct-payment.js';
import { tempDb, type TempDb } from './harness.js';

const HASH = 'ef'.repeat(32);
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
let tmp: TempDb | undefined;
afterEach(() => tmp?.cleanup());

function recordingStation(): DirectPaymentStation & { calls: [string, unknown][] } {
  const calls: [string, unknown][] = [];
  const rec = (name: string) => (args: unknown) => void calls.push([name, args]);
  return {
    calls,
    sessionStarted: rec('sessionStarted'),
    invoicePaid: rec('invoicePaid'),
    meterSample: rec('meterSample'),
    sessionEnded: rec('sessionEnded'),
    settlement: rec('settlement'),
  };
}

describe('DirectPayment sessions across a restart', () => {
  it('books an interrupted session with its last reading and settles it once', async () => {
    tmp = tempDb();
    const clock = new ManualClock(1_700_000_000_000);
    const world = createSimWorld({ clock, plugged: true });
    const node = {
      lookupInvoice: () =>
        Promise.resolve({
          paymentHash: HASH,
          state: 'settled' as const,
          amountMsat: 100_000n,
          receivedMsat: 100_000n,
          expiresAt: 0,
        }),
    };
    const runner = (station: DirectPaymentStation) =>
      new DirectPaymentSessions({
        evseId: 1,
        evse: world.evse,
        meter: world.wallMeter,
        node,
        station,
        arbiter: new ConnectorArbiter(),
        db: tmp!.db,
        clock,
        log: quiet,
        priceMsatPerWh: 1000n,
        maxCurrentA: 32,
      });
    const before = recordingStation();
    const first = runner(before);
    first.attach();
    const started = await first.start({ evseId: 1, remoteStartId: 1, pspRef: HASH });
    expect(started.ok).toBe(true);
    await clock.advance(10_000); // the simulated car draws
    const reading = await world.wallMeter.read();
    first.meter(reading);
    const sessionId = started.ok ? started.sessionId : '';
    // kill -9: no stop, no end; a new process starts on the same database
    first.detach();
    const after = recordingStation();
    const second = runner(after);
    second.attach();
    const row = second.row(sessionId)!;
    const energyWh = Math.floor(reading.energyImportWh - row.meterStartWh);
    expect(energyWh).toBeGreaterThan(0);
    expect(row).toMatchObject({ reason: 'Reboot', energyWh, settledMsat: BigInt(energyWh) * 1000n });
    expect(after.calls.map(([name]) => name)).toEqual(['sessionEnded', 'settlement']);
    expect(after.calls[1]![1]).toMatchObject({
      pspRef: HASH,
      status: 'Settled',
      amountMsat: BigInt(energyWh) * 1000n,
    });
    // the payment reference stays used; a third start settles nothing twice
    expect(await second.start({ evseId: 1, remoteStartId: 2, pspRef: HASH })).toEqual({
      ok: false,
      reason: 'PaymentAlreadyUsed',
    });
    const third = recordingStation();
    runner(third).attach();
    expect(third.calls).toEqual([]);
    world.stop();
  });
});
