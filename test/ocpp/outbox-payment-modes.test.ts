/**
 * Issue 15 case 4: reports queued while the CSMS is down carry, for each paid block, its payment hash and the
 * offline mode it was paid in (`online`, `relay`, `direct`, `stock`, `promise`); the session's receipt lists
 * every block's hash and mode. Against the strict test CSMS, which goes down mid-session and comes back.
 */
import { describe, expect, it } from 'vitest';
import type { PaymentMode } from '../../wall-module/ocpp/station.js';
import { useStationFixture } from './fixtures.js';
import { blockInvoice, untilDrained, untilOnline, waitFor } from './harness.js';

const T0 = 1_700_000_600_000;

describe.each(['ocpp2.0.1', 'ocpp1.6'] as const)(
  '%s: queued reports name each block’s payment',
  (protocol) => {
    const fx = useStationFixture(
      { protocols: [protocol] },
      { identity: 'wall-modes', protocols: [protocol] },
    );

    it('carries the payment hash and mode of each block through an outage', async () => {
      const { csms, station, clock } = fx;
      station.start();
      await untilOnline(station, clock);
      station.plugged(1, T0, 1000);
      station.sessionStarted({ evseId: 1, sessionId: 's-modes', atMs: T0, meterStartWh: 1000 });
      const modes: PaymentMode[] = ['online', 'relay', 'stock', 'direct'];
      const pay = (seq: number) => {
        const b = blockInvoice('s-modes', seq, 1000);
        station.invoiceIssued({ ...b, atMs: T0 + seq * 10_000 });
        station.invoicePaid({ ...b, atMs: T0 + seq * 10_000 + 1000, paymentMode: modes[seq]! });
        station.meterSample({
          sessionId: 's-modes',
          energyWh: b.energyFromWh + 1,
          powerW: 7000,
          atMs: T0 + seq * 10_000 + 2000,
        });
      };
      pay(0);
      await untilDrained(station);
      await csms.down();
      await waitFor(() => !station.status().connected, 'the link drops');
      for (const seq of [1, 2, 3]) pay(seq);
      station.sessionEnded({
        sessionId: 's-modes',
        reason: 'EVDisconnected',
        meterStopWh: 1400,
        atMs: T0 + 50_000,
        receipt: {
          energyWh: 400,
          paidMsat: 4n * blockInvoice('s-modes', 0, 1000).amountMsat,
          invoicesIssued: 4,
          invoicesPaid: 4,
          lastSeq: 3,
          priceMsatPerWh: blockInvoice('s-modes', 0, 1000).priceMsatPerWh,
        },
      });
      await csms.up();
      await untilOnline(station, clock);
      await untilDrained(station);

      const data = (id: string) =>
        csms
          .calls('DataTransfer')
          .filter((c) => c.payload.messageId === id)
          .map((c) => JSON.parse(c.payload.data as string) as Record<string, unknown>);
      const paid = data('InvoicePaid');
      expect(paid.map((d) => [d.seq, d.paymentHash, d.paymentMode, d.offline])).toEqual(
        [0, 1, 2, 3].map((seq) => [seq, blockInvoice('s-modes', seq, 1000).paymentHash, modes[seq], seq > 0]),
      );
      const [receipt] = data('SessionReceipt');
      expect(receipt).toMatchObject({
        offline: true,
        paymentHashes: [0, 1, 2, 3].map((seq) => blockInvoice('s-modes', seq, 1000).paymentHash),
        paymentModes: modes,
      });
      expect(csms.validationFailures).toEqual([]);
    });

    it('reports each stocked invoice reconciled back online, once, against its ended transaction', async () => {
      const { csms, station, clock } = fx;
      station.start();
      await untilOnline(station, clock);
      station.plugged(1, T0, 1000);
      station.sessionStarted({ evseId: 1, sessionId: 's-stock', atMs: T0, meterStartWh: 1000 });
      const paid = blockInvoice('s-stock', 0, 1000);
      const unpaid = blockInvoice('s-stock', 1, 1000);
      station.invoiceIssued({ ...paid, atMs: T0 + 1000 });
      station.invoicePaid({ ...paid, atMs: T0 + 2000, paymentMode: 'stock' });
      station.sessionEnded({
        sessionId: 's-stock',
        reason: 'EVDisconnected',
        meterStopWh: 1100,
        atMs: T0 + 10_000,
        receipt: {
          energyWh: 100,
          paidMsat: paid.amountMsat,
          invoicesIssued: 1,
          invoicesPaid: 1,
          lastSeq: 0,
          priceMsatPerWh: paid.priceMsatPerWh,
        },
      });
      const reconciled = (x: typeof paid, settled: boolean) =>
        station.stockReconciled({
          sessionId: 's-stock',
          paymentHash: x.paymentHash.toUpperCase(),
          amountMsat: x.amountMsat,
          settled,
          atMs: T0 + 60_000,
        });
      reconciled(paid, true);
      reconciled(unpaid, false);
      reconciled(paid, true); // a repeat (the upkeep after a restart) is not reported twice
      // a session the station never saw is not reported (and does not throw)
      station.stockReconciled({
        sessionId: 's-unknown',
        paymentHash: unpaid.paymentHash,
        amountMsat: 1n,
        settled: false,
        atMs: T0,
      });
      expect(() =>
        station.stockReconciled({
          sessionId: 's-stock',
          paymentHash: 'zz',
          amountMsat: 1n,
          settled: true,
          atMs: T0,
        }),
      ).toThrow(/paymentHash/);
      await untilDrained(station);
      const reports = csms
        .calls('DataTransfer')
        .filter((c) => c.payload.messageId === 'StockReconciled')
        .map((c) => JSON.parse(c.payload.data as string) as Record<string, unknown>);
      expect(
        reports.map((d) => [d.sessionId, d.paymentHash, d.amountMsat, d.settled, d.paymentMode]),
      ).toEqual([
        ['s-stock', paid.paymentHash, paid.amountMsat.toString(), true, 'stock'],
        ['s-stock', unpaid.paymentHash, unpaid.amountMsat.toString(), false, 'stock'],
      ]);
      expect(csms.validationFailures).toEqual([]);
    });

    it('reports promises to pay (case 3) queued through an outage: promised, then paid or unpaid', async () => {
      const { csms, station, clock } = fx;
      station.start();
      await untilOnline(station, clock);
      station.plugged(1, T0, 1000);
      station.sessionStarted({ evseId: 1, sessionId: 's-promise', atMs: T0, meterStartWh: 1000 });
      const kept = blockInvoice('s-promise', 0, 1000);
      const broken = blockInvoice('s-promise', 1, 1000);
      const car = '02' + 'ab'.repeat(32);
      const signature = 'cd'.repeat(65);
      await csms.down();
      await waitFor(() => !station.status().connected, 'the link drops');
      const promise = (
        x: typeof kept,
        id: 'InvoicePromised' | 'PromisePaid' | 'PromiseUnpaid',
        atMs: number,
      ) =>
        station.promiseReport(id, {
          sessionId: 's-promise',
          seq: x.seq,
          paymentHash: x.paymentHash,
          amountMsat: x.amountMsat,
          blockWh: 100,
          vehiclePub: car,
          signature,
          atMs,
        });
      for (const x of [kept, broken]) {
        station.invoiceIssued({ ...x, atMs: T0 + 1000 });
        promise(x, 'InvoicePromised', T0 + 2000);
      }
      station.sessionEnded({
        sessionId: 's-promise',
        reason: 'Local',
        meterStopWh: 1200,
        atMs: T0 + 10_000,
        receipt: {
          energyWh: 200,
          paidMsat: 0n,
          invoicesIssued: 2,
          invoicesPaid: 0,
          lastSeq: 1,
          priceMsatPerWh: kept.priceMsatPerWh,
        },
      });
      promise(kept, 'PromisePaid', T0 + 60_000);
      promise(broken, 'PromiseUnpaid', T0 + 700_000);
      promise(broken, 'PromiseUnpaid', T0 + 700_000); // a repeat is not reported twice
      await csms.up();
      await untilOnline(station, clock);
      await untilDrained(station);
      const ids = new Set(['InvoicePromised', 'PromisePaid', 'PromiseUnpaid']);
      const reports = csms
        .calls('DataTransfer')
        .filter((c) => ids.has(c.payload.messageId as string))
        .map(
          (c) =>
            [c.payload.messageId, JSON.parse(c.payload.data as string) as Record<string, unknown>] as const,
        );
      expect(
        reports.map(([id, d]) => [id, d.paymentHash, d.paymentMode, d.vehiclePub, d.signature ?? null]),
      ).toEqual([
        ['InvoicePromised', kept.paymentHash, 'promise', car, signature],
        ['InvoicePromised', broken.paymentHash, 'promise', car, signature],
        ['PromisePaid', kept.paymentHash, 'promise', car, null],
        ['PromiseUnpaid', broken.paymentHash, 'promise', car, signature],
      ]);
      expect(csms.validationFailures).toEqual([]);
    });
  },
);
