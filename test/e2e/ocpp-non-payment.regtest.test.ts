/**
 * A non-payment cut reported by the real wall daemon (OCPP 2.0.1): the car stops paying (its lnd is frozen
 * with SIGSTOP, as in non-payment.regtest.test.ts), the wall cuts the power, and the CSMS gets a
 * TransactionEvent with chargingState SuspendedEVSE and a `PowerCutNonPayment` DataTransfer naming the unpaid
 * invoice (seq, payment hash, amount, price, energy range, issue time) exactly as the wall's ledger has it;
 * when the car pays again the resume is reported and the session ends paid.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { SystemClock } from '../../hardware/clock.js';
import { readBooks } from '../../scripts/demo/books.js';
import { networkDir } from '../../scripts/regtest/network.js';
import { runningPid } from '../../scripts/regtest/processes.js';
import { WallStore } from '../../wall-module/store.js';
import { lightningReports, receivedWithTimes, untilBothEnded, useOcppRigs } from './ocpp-e2e.js';

const TARGET_WH = 600;

describe('a non-payment cut reported through the wall daemon (OCPP 2.0.1)', () => {
  const connectionFile = inject('regtestConnectionPath');
  const worlds = useOcppRigs();
  let frozen: number | undefined;
  // registered after the worlds' teardown, so it runs before it (vitest runs after-hooks as a stack): the car's
  // lnd is thawed before the daemons stop
  afterAll(() => {
    if (frozen) process.kill(frozen, 'SIGCONT');
  });

  it('SuspendedEVSE and PowerCutNonPayment with the unpaid invoice, then the resume', async () => {
    const { rig: r, csms: c } = await worlds.start({
      connectionFile,
      dir: mkdtempSync(join(tmpdir(), 'e2e-ocpp-nonpay-')),
      csms: { protocols: ['ocpp2.0.1'] },
      // no reissue while suspended: the unpaid invoice stays the one the car pays when its node answers again
      wall: { tariff: { graceWh: 30, depositBlocks: 2, resumeAfterPayment: true, reissueAfterSec: 600 } },
      ocpp: { stationId: 'WALL-NONPAY', vendorId: 'org.boltcharge', meterSampleIntervalSec: 10 },
      vehicle: { limits: { targetEnergyWh: TARGET_WH }, payment: { timeoutMs: 120_000 } },
    });
    await r.startDaemons();
    r.world.plug();
    await r.until('charging past 150 Wh', async () => (await r.wall.status()).energyWh > 150);

    const pid = runningPid(networkDir(), 'vehicle');
    expect(pid, 'vehicle lnd pid').toBeDefined();
    frozen = pid!;
    process.kill(frozen, 'SIGSTOP');
    await r.until(
      'the wall cuts the power',
      async () => (await r.wall.status()).state === 'suspended',
      60_000,
    );
    await r.until(
      'the CSMS got the cut',
      () => lightningReports(c, 'PowerCutNonPayment').length === 1,
      30_000,
    );
    // the unpaid invoice as the wall's ledger has it at the cut (read from the running daemon's status)
    const atCut = await r.wall.status();
    const cut = lightningReports(c, 'PowerCutNonPayment')[0]!;

    process.kill(frozen, 'SIGCONT');
    frozen = undefined;
    await r.until('power resumes', async () => (await r.wall.status()).state === 'charging', 60_000);
    await untilBothEnded(r);
    r.world.unplug(); // the OCPP transaction ends at the unplug
    await r.until(
      'the CSMS got the end of the transaction',
      () => c.calls('TransactionEvent').some((x) => x.payload.eventType === 'Ended'),
      60_000,
    );
    await r.stop();

    const books = await readBooks(r.files, connectionFile);
    expect(books.problems).toEqual([]);
    const b = books.sessions[0]!;
    expect(b.wallStopReason).toBe('TARGET_REACHED');
    expect(b.receiptValid).toBe(true);
    expect(c.validationFailures).toEqual([]);

    // the DataTransfer names the oldest invoice the car had not paid when the power was cut
    const unpaidAtCut = atCut.ledger.filter((l) => l.state === 'open' && l.paymentHash !== null);
    expect(unpaidAtCut.length).toBeGreaterThanOrEqual(1);
    expect(cut.paymentHash).toBe(unpaidAtCut[0]!.paymentHash);
    const store = WallStore.open(r.files.wallDb, new SystemClock());
    try {
      const inv = store.invoiceByHash(String(cut.paymentHash))!;
      expect(inv).toBeDefined();
      expect(cut).toMatchObject({
        schemaVersion: 2,
        reason: 'non-payment',
        seq: inv.seq,
        amountMsat: inv.amountMsat.toString(),
        priceMsatPerWh: inv.priceMsatPerWh.toString(),
        energyFromWh: inv.fromWh,
        energyToWh: inv.toWh,
        issuedAt: new Date(inv.issuedAtMs!).toISOString(),
        offline: false,
      });
      // ...and the car paid it after all, once its node answered again
      expect(inv.state).toBe('settled');
      expect(lightningReports(c, 'InvoicePaid').map((p) => p.paymentHash)).toContain(cut.paymentHash);
    } finally {
      store.close();
    }

    // the transaction events: Charging → SuspendedEVSE (with the meter at the cut) → Charging → session over
    // with the cable in (EVConnected) → Ended at the unplug
    const reports = receivedWithTimes(c.received);
    const states = reports
      .filter((x) => x.action === 'TransactionEvent' && !x.what.endsWith('/-'))
      .map((x) => x.what);
    expect(states).toEqual([
      'Started/EVConnected',
      'Updated/Charging',
      'Updated/SuspendedEVSE',
      'Updated/Charging',
      'Updated/EVConnected',
      'Ended/Idle',
    ]);
    const suspended = reports.find((x) => x.what === 'Updated/SuspendedEVSE')!;
    expect(suspended.payload.triggerReason).toBe('ChargingStateChanged');
    const sampled = (
      suspended.payload.meterValue as { sampledValue: { context: string; value: number }[] }[]
    )[0]!.sampledValue[0]!;
    expect(sampled.context).toBe('Interruption.Begin');
    expect(sampled.value).toBe(cut.meterWh);
    // the cut's DataTransfer follows its TransactionEvent
    const iCut = reports.findIndex((x) => x.what === 'PowerCutNonPayment');
    expect(reports[iCut - 1]!.what).toBe('Updated/SuspendedEVSE');
    const ended = c.calls('TransactionEvent').find((x) => x.payload.eventType === 'Ended')!;
    expect(ended.payload.transactionInfo).toMatchObject({ stoppedReason: 'Local' });
  }, 240_000);
});
