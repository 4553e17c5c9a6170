// One wall daemon, two connectors, one OCPP connection: the strict CSMS (test/support/csms.ts, OCPP 2.0.1) sees
// ONE station with two EVSEs; each car's transaction is reported under its own EVSE (TransactionEvent evse.id,
// StatusNotification per EVSE), and each EVSE's Lightning reports (InvoicePaid, SessionReceipt) match that
// connector's books, which equal the node.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { TestCsms } from '../support/csms.js';
import { SiteRig } from '../../scripts/bench/site/rig.js';

describe('a site reports to its CSMS per EVSE', () => {
  const connectionFile = inject('regtestConnectionPath');
  let rig: SiteRig | undefined;
  let csms: TestCsms | undefined;
  afterAll(async () => {
    await rig?.stop();
    await csms?.close();
  });

  it('transactions, statuses and Lightning reports per EVSE match the books per connector', async () => {
    csms = await TestCsms.start({ protocols: ['ocpp2.0.1'] });
    const c = csms;
    rig = await SiteRig.create({
      dir: mkdtempSync(join(tmpdir(), 'e2e-site-ocpp-')),
      connectionFile,
      speed: 10,
      vehicleLimits: { targetEnergyWh: 200 },
      wall: {
        ocpp: { url: c.url, stationId: 'SITE-E2E', vendorId: 'org.boltcharge', meterSampleIntervalSec: 10 },
      },
    });
    const r = rig;
    await r.start();
    r.car(1).world.plug();
    r.car(2).world.plug();
    // each car stops at its target: the session ends, the CSMS gets its receipt; then the cable is unplugged
    await r.until('both sessions ended at their target', async () => {
      const [a, b] = await Promise.all([r.connector(1), r.connector(2)]);
      return a.state === 'ended' && b.state === 'ended';
    });
    await r.until(
      'the CSMS got both session receipts',
      () =>
        c
          .calls('DataTransfer')
          .filter((x) => (x.payload as { messageId?: string }).messageId === 'SessionReceipt').length === 2,
      60_000,
    );
    r.car(1).world.unplug();
    r.car(2).world.unplug();
    const ended = (): number =>
      c.calls('TransactionEvent').filter((x) => x.payload.eventType === 'Ended').length;
    await r.until('the CSMS got both transactions ended', () => ended() === 2, 60_000);
    await r.stop();
    const books = await r.books();

    expect(c.validationFailures).toEqual([]);
    expect(c.connected.length + c.calls('BootNotification').length).toBeGreaterThan(0);
    expect(new Set(c.calls('BootNotification').map((x) => x.identity))).toEqual(new Set(['SITE-E2E']));
    // each transaction started under its own EVSE
    const evseOfTx = new Map<string, number>();
    for (const call of c.calls('TransactionEvent')) {
      const p = call.payload as {
        eventType: string;
        transactionInfo: { transactionId: string };
        evse?: { id: number };
      };
      if (p.eventType === 'Started') evseOfTx.set(p.transactionInfo.transactionId, p.evse!.id);
    }
    expect([...evseOfTx.values()].sort()).toEqual([1, 2]);
    // every EVSE's status was reported on its own (Occupied while the car was there)
    for (const evseId of [1, 2])
      expect(
        c
          .calls('StatusNotification')
          .some((x) => x.payload.evseId === evseId && x.payload.connectorStatus === 'Occupied'),
      ).toBe(true);
    // the Lightning reports of each transaction sum to its connector's books
    const paidByEvse = new Map<number, bigint>([
      [1, 0n],
      [2, 0n],
    ]);
    for (const call of c.calls('DataTransfer')) {
      const p = call.payload as { messageId: string; data: string };
      if (p.messageId !== 'SessionReceipt') continue;
      const d = JSON.parse(p.data) as { transactionId?: string; evseId: number; amountMsat: string };
      const evse = d.transactionId ? evseOfTx.get(d.transactionId) : undefined;
      expect(evse, `receipt ${p.data} names a started transaction`).toBeDefined();
      expect(d.evseId).toBe(evse);
      paidByEvse.set(evse!, paidByEvse.get(evse!)! + BigInt(d.amountMsat));
    }
    for (const id of [1, 2]) {
      const b = books.get(id)!;
      expect(b.storeMsat).toBe(b.nodeMsat);
      expect(paidByEvse.get(id)).toBe(b.storeMsat);
    }
  }, 90_000);
});
