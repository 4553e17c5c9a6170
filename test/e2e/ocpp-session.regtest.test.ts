import { describe, expect, inject, it } from 'vitest';
import { readBooks } from '../../scripts/demo/books.js';
import { useOcppRigs } from './ocpp-e2e.js';

describe('the wall daemon reports a paid session to a CSMS (OCPP 2.0.1, strict schemas)', () => {
  const connectionFile = inject('regtestConnectionPath');
  const worlds = useOcppRigs();

  it('transaction events and Lightning DataTransfers match the books', async () => {
    const { rig, csms } = await worlds.start({
      connectionFile,
      csms: { protocols: ['ocpp2.0.1'] },
      ocpp: { stationId: 'WALL-E2E', vendorId: 'org.boltcharge', meterSampleIntervalSec: 10 },
      vehicle: { limits: { targetEnergyWh: 300 } },
    });
    await rig.startDaemons();
    rig.world.plug();
    await rig.until('both sides ended', async () => {
      const [w, v] = await Promise.all([rig.wall.status(), rig.vehicle.status()]);
      return w.state === 'ended' && v.state === 'ended';
    });
    await rig.until(
      'the CSMS got the session receipt',
      () =>
        csms!
          .calls('DataTransfer')
          .some((c) => (c.payload as { messageId?: string }).messageId === 'SessionReceipt'),
      60_000,
    );
    // the OCPP transaction ends when the cable is unplugged (TxStopPoint EVConnected)
    rig.world.unplug();
    await rig.until(
      'the CSMS got the end of the transaction',
      () => csms.calls('TransactionEvent').some((c) => c.payload.eventType === 'Ended'),
      60_000,
    );
    await rig.stop();
    const books = await readBooks(rig.files, connectionFile);
    expect(books.problems).toEqual([]);
    const b = books.sessions[0]!;

    expect(csms.validationFailures).toEqual([]);
    expect(csms.calls('BootNotification').length).toBeGreaterThanOrEqual(1);
    const tx = csms.calls('TransactionEvent').map((c) => (c.payload as { eventType: string }).eventType);
    expect(tx[0]).toBe('Started');
    expect(tx).toContain('Ended');
    // Charging is reported only after the first block was paid (energy flows after it), with an idToken
    const order = csms.received;
    const firstPaid = order.findIndex(
      (c) => c.action === 'DataTransfer' && (c.payload as { messageId?: string }).messageId === 'InvoicePaid',
    );
    const charging = order.findIndex(
      (c) =>
        c.action === 'TransactionEvent' &&
        (c.payload.transactionInfo as { chargingState?: string }).chargingState === 'Charging',
    );
    expect(firstPaid).toBeGreaterThan(-1);
    expect(charging).toBeGreaterThan(firstPaid);
    expect(order[charging]?.payload.idToken).toMatchObject({
      type: expect.stringMatching(/^(Local|NoAuthorization)$/) as unknown,
    });
    const dt = csms.calls('DataTransfer').map((c) => c.payload as { messageId: string; data: string });
    const paid = dt
      .filter((d) => d.messageId === 'InvoicePaid')
      .map((d) => JSON.parse(d.data) as { paymentHash: string });
    expect(paid).toHaveLength(b.invoicesSettled);
    expect(dt.some((d) => d.messageId === 'InvoiceIssued')).toBe(true);
    const receipt = JSON.parse(dt.find((d) => d.messageId === 'SessionReceipt')!.data) as Record<
      string,
      unknown
    >;
    expect(receipt.amountMsat).toBe(b.wallSettledMsat.toString());
  });
});
