/**
 * Ledger checks shared by the end-to-end tests: read both daemons' stores after a run and compare them with
 * what the two Lightning nodes report.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { SystemClock } from '../../hardware/clock.js';
import { LndNode } from '../../lightning/lnd-node.js';
import { verifyReceipt, type ReceiptMessage } from '../../protocol/index.js';
import { deserializeState } from '../../protocol/serialize.js';
import { VehicleStore } from '../../vehicle-module/store.js';
import { WallStore } from '../../wall-module/store.js';

/** Both nodes of the regtest network. */
export function nodes(connectionFile: string): { wall: LndNode; vehicle: LndNode; wallPub: string } {
  const c = JSON.parse(readFileSync(connectionFile, 'utf8')) as {
    nodes: Record<'wall' | 'vehicle', { socket: string; cert: string; macaroon: string; pubkey: string }>;
  };
  const mk = (n: 'wall' | 'vehicle') =>
    new LndNode({
      connection: { socket: c.nodes[n].socket, cert: c.nodes[n].cert, macaroon: c.nodes[n].macaroon },
    });
  return { wall: mk('wall'), vehicle: mk('vehicle'), wallPub: c.nodes.wall.pubkey };
}

/** What one session's books say on both sides. */
export interface Books {
  sessionId: string;
  wallSettledMsat: bigint;
  vehiclePaidMsat: bigint;
  wallEnergyWh: number;
  vehicleEnergyWh: number;
  paidBlocksWh: number;
  invoicesIssued: number;
  invoicesSettled: number;
  paymentsSucceeded: number;
  wallStopReason: string | null;
  vehicleStopReason: string | null;
  receiptValid: boolean | null;
  settleLatenciesMs: number[];
}

/**
 * Checks every session in both stores against the nodes: every settled wall invoice is settled at the wall node
 * for the recorded amount; every succeeded vehicle payment is succeeded at the vehicle node; no hash is paid
 * twice; both ledgers list the same settled hashes and totals; the vehicle's receipt verifies.
 *
 * @returns the books of each session, oldest first
 */
export async function checkBooks(
  files: { wallDb: string; vehicleDb: string },
  connectionFile: string,
): Promise<Books[]> {
  const clock = new SystemClock();
  const w = WallStore.open(files.wallDb, clock);
  const v = VehicleStore.open(files.vehicleDb, clock);
  const n = nodes(connectionFile);
  const out: Books[] = [];
  try {
    for (const s of w.listSessions(1000).reverse()) {
      const invoices = w.invoices(s.id);
      const settled = invoices.filter((i) => i.state === 'settled');
      const payments = v.payments(s.id);
      const succeeded = payments.filter((p) => p.state === 'succeeded');
      // no payment hash paid twice
      expect(new Set(succeeded.map((p) => p.paymentHash)).size).toBe(succeeded.length);
      // the wall's node agrees with the wall's ledger, invoice by invoice
      for (const inv of invoices.filter((i) => i.paymentHash)) {
        const st = await n.wall.lookupInvoice(inv.paymentHash!);
        if (inv.state === 'settled')
          expect(st, `invoice ${inv.seq}`).toMatchObject({
            state: 'settled',
            receivedMsat: inv.receivedMsat,
          });
        else expect(st.state, `invoice ${inv.seq} (${inv.state})`).not.toBe('settled');
      }
      // the vehicle's node agrees with the vehicle's ledger
      for (const p of payments) {
        const st = await n.vehicle.paymentStatus(p.paymentHash);
        if (p.state === 'succeeded') expect(st.state, `payment ${p.seq}`).toBe('succeeded');
        else expect(st.state, `payment ${p.seq} (${p.state})`).not.toBe('succeeded');
      }
      // the two ledgers list the same money
      expect(succeeded.map((p) => p.paymentHash).sort()).toEqual(settled.map((i) => i.paymentHash).sort());
      const wallSettledMsat = w.settledMsat(s.id);
      const vehiclePaidMsat = v.paidMsat(s.id);
      expect(vehiclePaidMsat).toBe(wallSettledMsat);
      const vs = v.findSession(s.id);
      const r = v.receipt(s.id);
      if (r) {
        const receipt = deserializeState<ReceiptMessage>(r.bodyJson);
        expect(receipt.ok).toBe(true);
        if (receipt.ok) {
          const check = verifyReceipt(1, receipt.value, { sellerPub: n.wallPub, sessionId: s.id });
          expect(check.ok, JSON.stringify(check)).toBe(true);
          expect(receipt.value.totalPaidMsat).toBe(wallSettledMsat);
        }
      }
      out.push({
        sessionId: s.id,
        wallSettledMsat,
        vehiclePaidMsat,
        wallEnergyWh: s.energyWh,
        vehicleEnergyWh: vs?.energyWh ?? 0,
        paidBlocksWh: settled.reduce((a, i) => a + (i.toWh - i.fromWh), 0),
        invoicesIssued: invoices.filter((i) => i.paymentHash).length,
        invoicesSettled: settled.length,
        paymentsSucceeded: succeeded.length,
        wallStopReason: s.stopReason,
        vehicleStopReason: vs?.stopReason ?? null,
        receiptValid: r?.valid ?? null,
        settleLatenciesMs: settled.map((i) => (i.settledAtMs ?? 0) - (i.issuedAtMs ?? 0)),
      });
    }
  } finally {
    w.close();
    v.close();
  }
  return out;
}
