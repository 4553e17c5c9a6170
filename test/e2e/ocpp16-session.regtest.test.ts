/**
 * A full paid session on the real wall daemon reported over OCPP 1.6J (the CSMS offers only `ocpp1.6`), on
 * security profile 2 — wss:// with the CSMS's self-signed certificate given to the daemon as `ocpp.caFile`,
 * plus basic auth: StartTransaction, MeterValues and StopTransaction carry the CSMS's transactionId, connector
 * status follows the session, and the Lightning DataTransfers carry JSON text that adds up to the books.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { readBooks } from '../../scripts/demo/books.js';
import { ChargeRig } from '../../scripts/demo/rig.js';
import { dataOf } from '../ocpp/harness.js';
import { selfSigned } from '../support/tls-cert.js';
import { SPEED, lightningReports, untilBothEnded, useOcppRigs } from './ocpp-e2e.js';

const TARGET_WH = 400;
const PASSWORD = 'wall-16-secret-0123456789';

describe('the wall daemon reports a paid session over OCPP 1.6J (wss, CA file, basic auth)', () => {
  const connectionFile = inject('regtestConnectionPath');
  const worlds = useOcppRigs();

  it('Start/StopTransaction and MeterValues with the transactionId, DataTransfers as JSON text', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'e2e-ocpp16-'));
    const cert = selfSigned(dir, 'csms');
    const { rig: r, csms: c } = await worlds.start({
      connectionFile,
      dir,
      csms: {
        protocols: ['ocpp1.6'],
        password: PASSWORD,
        tls: { certPem: cert.certPem, keyPem: cert.keyPem },
      },
      ocpp: {
        stationId: 'WALL-16',
        password: PASSWORD,
        caFile: cert.certFile,
        vendorId: 'org.boltcharge',
        meterSampleIntervalSec: 10,
      },
      vehicle: { limits: { targetEnergyWh: TARGET_WH } },
    });
    await r.startDaemons();
    await r.until('the wall booted on 1.6', () => c.calls('BootNotification').length >= 1, 30_000);
    expect(c.protocolOf('WALL-16')).toBe('ocpp1.6');
    expect(c.refused).toEqual([]);
    r.world.plug();
    await untilBothEnded(r);
    await r.until(
      'the CSMS got the receipt and StopTransaction',
      () => lightningReports(c, 'SessionReceipt').length === 1 && c.calls('StopTransaction').length === 1,
      60_000,
    );
    r.world.unplug();
    const statuses = (): string[] => c.calls('StatusNotification').map((s) => String(s.payload.status));
    await r.until('connector Available after the unplug', () => statuses().at(-1) === 'Available', 30_000);
    await r.stop();

    const books = await readBooks(r.files, connectionFile);
    expect(books.problems).toEqual([]);
    const b = books.sessions[0]!;
    expect(b.wallStopReason).toBe('TARGET_REACHED');
    expect(b.receiptValid).toBe(true);

    expect(c.validationFailures).toEqual([]);
    expect(c.badMessages).toEqual([]);
    // only 1.6 actions (no TransactionEvent exists in 1.6)
    const allowed = [
      'BootNotification',
      'DataTransfer',
      'Heartbeat',
      'MeterValues',
      'StartTransaction',
      'StatusNotification',
      'StopTransaction',
    ];
    expect(c.received.map((x) => x.action).filter((a) => !allowed.includes(a))).toEqual([]);

    // connector status follows the session: Preparing (plugged, not yet paid), Charging, Finishing, Available
    const seen = statuses().filter((s, i, all) => i === 0 || all[i - 1] !== s);
    expect(seen).toEqual(['Available', 'Preparing', 'Charging', 'Finishing', 'Available']);

    const starts = c.calls('StartTransaction');
    expect(starts).toHaveLength(1);
    const start = starts[0]!.payload;
    expect(start).toMatchObject({ connectorId: 1, idTag: 'LIGHTNING' });
    const txId = 1000; // the test CSMS's first transactionId
    const meterValues = c.calls('MeterValues');
    expect(meterValues.length).toBeGreaterThanOrEqual(2);
    for (const m of meterValues) expect(m.payload.transactionId).toBe(txId);
    const stop = c.calls('StopTransaction')[0]!.payload;
    expect(stop).toMatchObject({ transactionId: txId, reason: 'Local' });
    const meterStart = Number(start.meterStart);
    const meterStop = Number(stop.meterStop);
    // the transaction's meter range is the wall's metered energy of the session (register read once per poll)
    expect(Math.abs(meterStop - meterStart - b.wallEnergyWh)).toBeLessThanOrEqual(2);
    // every transaction message between StartTransaction and StopTransaction
    const order = c.received.map((x) => x.action);
    expect(order.indexOf('StartTransaction')).toBeLessThan(order.indexOf('MeterValues'));
    expect(order.lastIndexOf('MeterValues')).toBeLessThan(order.indexOf('StopTransaction'));

    // DataTransfers: JSON text with the 1.6 (integer) transactionId and the schema version
    // (the deposit is bought before the 1.6 transaction starts, which is when energy flows: no transactionId)
    const startAt = c.received.findIndex((x) => x.action === 'StartTransaction');
    for (const [i, t] of c.received.entries()) {
      if (t.action !== 'DataTransfer') continue;
      expect(t.payload.vendorId).toBe('org.boltcharge');
      expect(typeof t.payload.data).toBe('string');
      expect(dataOf(t)).toMatchObject({
        schemaVersion: 2,
        transactionId: i < startAt ? null : txId,
        evseId: 1,
        offline: false,
      });
    }
    const issued = lightningReports(c, 'InvoiceIssued');
    const paid = lightningReports(c, 'InvoicePaid');
    expect(issued.length).toBe(b.invoicesIssued);
    expect(paid.length).toBe(b.invoicesSettled);
    expect(new Set(paid.map((p) => p.eventId)).size).toBe(paid.length);
    expect(paid.reduce((acc, p) => acc + BigInt(String(p.amountMsat)), 0n)).toBe(b.wallSettledMsat);
    for (const p of paid) {
      expect(p.paymentHash).toMatch(/^[0-9a-f]{64}$/);
      expect(p.priceMsatPerWh).toBe('100');
      expect(BigInt(String(p.amountMsat))).toBe(100n * BigInt(Number(p.energyToWh) - Number(p.energyFromWh)));
    }
    const receipt = lightningReports(c, 'SessionReceipt')[0]!;
    expect(receipt).toMatchObject({
      amountMsat: b.wallSettledMsat.toString(),
      invoicesPaid: b.invoicesSettled,
      stopReason: 'Local',
      energyFromWh: meterStart,
      energyToWh: meterStop,
    });
  }, 240_000);

  it('a caFile without a certificate stops the wall at start, naming the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'e2e-ocpp16-badca-'));
    const notPem = join(dir, 'ca.pem');
    writeFileSync(notPem, 'not a certificate\n');
    const rig = await ChargeRig.create({
      dir,
      connectionFile,
      link: 'can',
      speed: SPEED,
      wall: { ocpp: { url: 'wss://localhost:1', stationId: 'WALL-16', password: PASSWORD, caFile: notPem } },
    });
    try {
      await expect(rig.wall.start(10_000)).rejects.toThrow(/exited \(2\) before ready/);
      rig.wall.close();
      expect(readFileSync(join(dir, 'wall.log'), 'utf8')).toContain(
        `ocpp.caFile: ${notPem} holds no PEM certificate`,
      );
    } finally {
      await rig.stop();
    }
  });
});
