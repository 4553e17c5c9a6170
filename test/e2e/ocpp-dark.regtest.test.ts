/**
 * The CSMS link down for the whole session changes nothing the car is charged or delivered: the same paid
 * session runs once on a wall daemon without OCPP and once on a wall daemon whose CSMS is unreachable from
 * before the plug-in to after the end, and the two sets of books are compared. When the CSMS comes back, the
 * whole session is delivered to it, every report flagged offline.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { SystemClock } from '../../hardware/clock.js';
import { SELLER_DEFAULTS } from '../../protocol/config.js';
import { readBooks, type SessionBooks } from '../../scripts/demo/books.js';
import { ChargeRig, type Overlay } from '../../scripts/demo/rig.js';
import { WallStore } from '../../wall-module/store.js';
import { TestCsms } from '../support/csms.js';
import { SPEED, lightningReports, receivedWithTimes, untilBothEnded, wallOutbox } from './ocpp-e2e.js';

const TARGET_WH = 300;
/** energy past the paid blocks after which the wall cuts for non-payment (the rig keeps the default), Wh */
const DEFAULT_GRACE_WH = SELLER_DEFAULTS.graceWh;
/** energy one wall meter poll can add at 11 kW (the session ends on a reading), Wh */
const ONE_POLL_WH = Math.ceil((11_000 * (SPEED * 100)) / 3_600_000);

/** What the car was charged and delivered in one session, from the books and the wall's ledger. */
interface Charged {
  books: SessionBooks;
  /** every invoice: seq, state, energy block and amount */
  invoices: { seq: number; state: string; fromWh: number; toWh: number; amountMsat: string }[];
}

describe('the CSMS link down for a whole session', () => {
  const connectionFile = inject('regtestConnectionPath');
  let rig: ChargeRig | undefined;
  let csms: TestCsms | undefined;
  afterAll(async () => {
    await rig?.stop();
    await csms?.close();
  });

  /**
   * Runs one paid session to the target, then `afterEnd` with both daemons still running, and returns the
   * books (the rig is left stopped).
   */
  async function session(
    name: string,
    wall: Overlay,
    afterEnd: (r: ChargeRig) => Promise<void> = async () => {},
  ): Promise<{ r: ChargeRig; charged: Charged }> {
    rig = await ChargeRig.create({
      dir: mkdtempSync(join(tmpdir(), `e2e-ocpp-dark-${name}-`)),
      connectionFile,
      link: 'can',
      speed: SPEED,
      wall,
      vehicle: { limits: { targetEnergyWh: TARGET_WH } },
    });
    const r = rig;
    await r.startDaemons();
    r.world.plug();
    await untilBothEnded(r);
    await afterEnd(r);
    return { r, charged: await chargedIn(r) };
  }

  async function chargedIn(r: ChargeRig): Promise<Charged> {
    await r.stop();
    const books = await readBooks(r.files, connectionFile);
    expect(books.problems).toEqual([]);
    expect(books.sessions).toHaveLength(1);
    const store = WallStore.open(r.files.wallDb, new SystemClock());
    try {
      const invoices = store.invoices(books.sessions[0]!.sessionId).map((i) => ({
        seq: i.seq,
        state: i.state,
        fromWh: i.fromWh,
        toWh: i.toWh,
        amountMsat: i.amountMsat.toString(),
      }));
      return { books: books.sessions[0]!, invoices };
    } finally {
      store.close();
    }
  }

  it('charges and delivers exactly what a session without OCPP does', async () => {
    const plain = await session('plain', {});

    csms = await TestCsms.start({ protocols: ['ocpp2.0.1'] });
    const c = csms;
    await c.down(); // unreachable (connection refused on its port) before the wall even starts
    let got: ReturnType<typeof receivedWithTimes> = [];
    let outbox: ReturnType<typeof wallOutbox>['reports'] = [];
    const dark = await session(
      'dark',
      {
        ocpp: { url: c.url, stationId: 'WALL-DARK', vendorId: 'org.boltcharge', meterSampleIntervalSec: 10 },
      },
      async (r) => {
        expect(c.received).toEqual([]);
        // everything waited in the wall's outbox, flagged offline; when the CSMS is back it all arrives
        const queued = wallOutbox(r.files.wallDb);
        expect(queued.reports.length).toBeGreaterThan(5);
        expect(queued.pending).toBe(queued.reports.length);
        expect(queued.reports.every((x) => x.offline)).toBe(true);
        await c.up();
        await r.until(
          'the outbox drained',
          () => c.connected.length === 1 && wallOutbox(r.files.wallDb).pending === 0,
          60_000,
        );
        got = receivedWithTimes(c.received);
        outbox = wallOutbox(r.files.wallDb).reports;
      },
    );

    const a = plain.charged;
    const b = dark.charged;
    // charged: the same totals on both ledgers and both nodes, the same price, stop reasons and receipt
    for (const k of [
      'priceMsatPerWh',
      'wallSettledMsat',
      'vehiclePaidMsat',
      'paidBlocksWh',
      'wallStopReason',
      'vehicleStopReason',
      'receiptValid',
    ] as const)
      expect(b.books[k], k).toEqual(a.books[k]);
    // the split into invoices follows the power measured when each is issued (a Wh either way between runs),
    // but in both runs the blocks are contiguous from 0 to the target, all settled, each at the tariff price
    for (const x of [a, b]) {
      let wh = 0;
      for (const inv of x.invoices) {
        expect(inv).toMatchObject({ fromWh: wh, state: 'settled' });
        expect(BigInt(inv.amountMsat)).toBe(BigInt(inv.toWh - inv.fromWh) * x.books.priceMsatPerWh!);
        wh = inv.toWh;
      }
      expect(wh).toBe(TARGET_WH);
      expect(x.books.invoicesSettled).toBe(x.invoices.length);
      expect(x.books.paymentsSucceeded).toBe(x.invoices.length);
    }
    expect(b.books.receiptValid).toBe(true);
    expect(b.books.paidBlocksWh).toBe(TARGET_WH);
    // delivered: the wall stops on the meter reading that reaches the target (one poll); the car's meter also
    // counts what flows between that reading and the EVSE opening, which on an accelerated real clock grows
    // with the machine's load. What a user relies on: the car gets what it paid for, and what flows past the
    // paid blocks stays within the grace after which the wall cuts for non-payment (graceWh, default 30 Wh).
    const delivered = [a, b].map((x) => ({ wall: x.books.wallEnergyWh, vehicle: x.books.vehicleEnergyWh }));
    for (const d of delivered) {
      expect(Math.abs(d.wall - TARGET_WH), JSON.stringify(delivered)).toBeLessThanOrEqual(ONE_POLL_WH);
      expect(d.vehicle, JSON.stringify(delivered)).toBeGreaterThanOrEqual(TARGET_WH - ONE_POLL_WH);
      expect(d.vehicle, JSON.stringify(delivered)).toBeLessThanOrEqual(TARGET_WH + DEFAULT_GRACE_WH);
    }
    expect(Math.abs(b.books.wallEnergyWh - a.books.wallEnergyWh)).toBeLessThanOrEqual(ONE_POLL_WH);

    // the whole session reached the CSMS once it was back: once each, in order, all offline
    expect(got.map(({ key, offline }) => ({ key, offline }))).toEqual(outbox);
    expect(got.every((x) => x.offline)).toBe(true);
    expect(lightningReports(c, 'InvoicePaid')).toHaveLength(b.books.invoicesSettled);
    expect(lightningReports(c, 'SessionReceipt')[0]!.amountMsat).toBe(b.books.wallSettledMsat.toString());
    expect(c.validationFailures).toEqual([]);
  }, 300_000);
});
