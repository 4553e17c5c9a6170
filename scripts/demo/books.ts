/**
 * The books of a charging run: both daemons' stores read after the run and compared with what the two
 * Lightning nodes report. Used by the demo's summary and by the end-to-end tests.
 */
import { readFileSync } from 'node:fs';
import { SystemClock } from '../../hardware/clock.js';
import { LndNode } from '../../lightning/lnd-node.js';
import { verifyStoredReceipt } from '../../daemon/stored-receipt.js';
import { VehicleStore } from '../../vehicle-module/store.js';
import { WallStore } from '../../wall-module/store.js';

/** Clients of both regtest nodes and the wall's node key. */
export function regtestNodes(connectionFile: string): { wall: LndNode; vehicle: LndNode; wallPub: string } {
  const c = JSON.parse(readFileSync(connectionFile, 'utf8')) as {
    nodes: Record<'wall' | 'vehicle', { socket: string; cert: string; macaroon: string; pubkey: string }>;
  };
  const mk = (n: 'wall' | 'vehicle') =>
    new LndNode({
      connection: { socket: c.nodes[n].socket, cert: c.nodes[n].cert, macaroon: c.nodes[n].macaroon },
    });
  return { wall: mk('wall'), vehicle: mk('vehicle'), wallPub: c.nodes.wall.pubkey };
}

/** One session's books on both sides. Times are daemon-clock ms; divide by the speed for real time. */
export interface SessionBooks {
  sessionId: string;
  priceMsatPerWh: bigint | null;
  wallSettledMsat: bigint;
  vehiclePaidMsat: bigint;
  vehicleFeesMsat: bigint;
  /** energy by the wall's / the vehicle's meter, Wh */
  wallEnergyWh: number;
  vehicleEnergyWh: number;
  /** energy bought by settled invoices, Wh */
  paidBlocksWh: number;
  invoicesIssued: number;
  invoicesSettled: number;
  paymentsSucceeded: number;
  wallStopReason: string | null;
  /** the vehicle's stop reason (null: not recorded, or the vehicle has no row for the session) */
  vehicleStopReason: string | null;
  /** the vehicle has a row for the session (it answered the wall's greeting) */
  vehicleKnows: boolean;
  /** the vehicle stored the receipt as valid AND it verifies again here against the wall's node key */
  receiptValid: boolean;
  /** issue → settle per settled invoice, daemon-clock ms */
  settleLatenciesMs: number[];
  /** largest (wall meter − energy paid) over the session, Wh */
  maxUnpaidWh: number;
  /** largest (energy paid − vehicle meter) over the session, Wh */
  maxPrepaidUndeliveredWh: number;
}

/** The books of every session plus every disagreement found (empty = the accounts agree). */
export interface Books {
  sessions: SessionBooks[];
  problems: string[];
}

/**
 * Reads both stores and checks them against the nodes: every settled wall invoice is settled at the wall node
 * for the recorded amount (and no other is); every succeeded vehicle payment succeeded at the vehicle node (and
 * no other did); no hash is paid twice; both ledgers list the same hashes and totals; paid = price × paid Wh;
 * the receipt verifies and its total equals the ledger.
 *
 * @param files the two SQLite files
 * @param connectionFile the regtest connection file
 */
export async function readBooks(
  files: { wallDb: string; vehicleDb: string },
  connectionFile: string,
): Promise<Books> {
  const clock = new SystemClock();
  const w = WallStore.open(files.wallDb, clock);
  const v = VehicleStore.open(files.vehicleDb, clock);
  const n = regtestNodes(connectionFile);
  const problems: string[] = [];
  const sessions: SessionBooks[] = [];
  try {
    for (const s of w.listSessions(1000).reverse()) {
      const p = (m: string): void => void problems.push(`${s.id.slice(0, 8)}: ${m}`);
      const invoices = w.invoices(s.id);
      const settled = invoices.filter((i) => i.state === 'settled');
      const payments = v.payments(s.id);
      const succeeded = payments.filter((x) => x.state === 'succeeded');
      if (new Set(succeeded.map((x) => x.paymentHash)).size !== succeeded.length) p('a hash was paid twice');
      for (const inv of invoices) {
        if (!inv.paymentHash) continue;
        const st = await n.wall.lookupInvoice(inv.paymentHash);
        if (inv.state === 'settled' && (st.state !== 'settled' || st.receivedMsat !== inv.receivedMsat))
          p(`invoice ${inv.seq}: ledger settled ${inv.receivedMsat}, node ${st.state} ${st.receivedMsat}`);
        if (inv.state !== 'settled' && st.state === 'settled')
          p(`invoice ${inv.seq}: node settled it but the ledger says ${inv.state}`);
      }
      for (const x of payments) {
        const st = await n.vehicle.paymentStatus(x.paymentHash);
        if ((x.state === 'succeeded') !== (st.state === 'succeeded'))
          p(`payment ${x.seq}: ledger ${x.state}, node ${st.state}`);
      }
      const a = succeeded.map((x) => x.paymentHash).sort();
      const b = settled.map((i) => i.paymentHash ?? '').sort();
      if (JSON.stringify(a) !== JSON.stringify(b)) p('the two ledgers list different paid hashes');
      const wallSettledMsat = w.settledMsat(s.id);
      const vehiclePaidMsat = v.paidMsat(s.id);
      if (wallSettledMsat !== vehiclePaidMsat)
        p(`wall received ${wallSettledMsat} msat, vehicle paid ${vehiclePaidMsat}`);
      const paidBlocksWh = settled.reduce((acc, i) => acc + (i.toWh - i.fromWh), 0);
      const priced = settled.reduce((acc, i) => acc + i.priceMsatPerWh * BigInt(i.toWh - i.fromWh), 0n);
      if (priced !== wallSettledMsat) p(`price × paid Wh = ${priced} msat ≠ received ${wallSettledMsat}`);
      let receiptValid = false;
      const r = v.receipt(s.id);
      if (r?.valid) {
        // under the delegation the car received it with (a receipt the wall's delegate key signed needs it)
        const check = verifyStoredReceipt(r, { sellerPub: n.wallPub, sessionId: s.id });
        if (!check.ok) p(`receipt does not verify: ${check.error.name}: ${check.error.message}`);
        else {
          const receipt = check.value;
          // offline case 3: a promised block paid after the receipt was signed is settled in the ledger but not in
          // the receipt (the receipt's account is of what was paid by its end)
          const inReceipt = new Set(receipt.invoices.map((i) => i.paymentHash));
          const promisedLaterMsat = w.promises
            .ofSession(s.id)
            .filter((pr) => pr.state === 'paid' && !inReceipt.has(pr.paymentHash))
            .reduce(
              (acc, pr) => acc + (settled.find((i) => i.paymentHash === pr.paymentHash)?.receivedMsat ?? 0n),
              0n,
            );
          receiptValid = receipt.totalPaidMsat + promisedLaterMsat === wallSettledMsat;
          if (!receiptValid) p(`receipt total ${receipt.totalPaidMsat} ≠ ledger ${wallSettledMsat}`);
        }
      }
      // exposure over time: wall meter vs settled blocks, and vehicle-side paid vs vehicle meter
      const wallSamples = w.meterSamples(s.id);
      const w0 = wallSamples[0]?.energyWh ?? 0;
      let maxUnpaidWh = 0;
      for (const smp of wallSamples) {
        const paidWh = settled
          .filter((i) => (i.settledAtMs ?? Infinity) <= smp.tMs)
          .reduce((acc, i) => acc + i.toWh - i.fromWh, 0);
        maxUnpaidWh = Math.max(maxUnpaidWh, smp.energyWh - w0 - paidWh);
      }
      const vehSamples = v.meterSamples(s.id);
      const v0 = vehSamples[0]?.energyWh ?? 0;
      let maxPrepaidUndeliveredWh = 0;
      for (const smp of vehSamples) {
        const paidWh = succeeded
          .filter((x) => (x.finishedAtMs ?? Infinity) <= smp.tMs)
          .reduce((acc, x) => acc + x.toWh - x.fromWh, 0);
        maxPrepaidUndeliveredWh = Math.max(maxPrepaidUndeliveredWh, paidWh - (smp.energyWh - v0));
      }
      const vs = v.findSession(s.id);
      sessions.push({
        sessionId: s.id,
        priceMsatPerWh: s.priceMsatPerWh,
        wallSettledMsat,
        vehiclePaidMsat,
        vehicleFeesMsat: succeeded.reduce((acc, x) => acc + (x.feeMsat ?? 0n), 0n),
        wallEnergyWh: s.energyWh,
        vehicleEnergyWh: vs?.energyWh ?? 0,
        paidBlocksWh,
        invoicesIssued: invoices.filter((i) => i.paymentHash).length,
        invoicesSettled: settled.length,
        paymentsSucceeded: succeeded.length,
        wallStopReason: s.stopReason,
        vehicleStopReason: vs?.stopReason ?? null,
        vehicleKnows: vs !== undefined,
        receiptValid,
        settleLatenciesMs: settled.map((i) => (i.settledAtMs ?? 0) - (i.issuedAtMs ?? 0)),
        maxUnpaidWh,
        maxPrepaidUndeliveredWh,
      });
    }
    // payments for sessions the wall never knew
    for (const vsess of v.listSessions(1000))
      if (!w.findSession(vsess.id) && v.paidMsat(vsess.id) > 0n)
        problems.push(`${vsess.id.slice(0, 8)}: vehicle paid a session the wall does not know`);
  } finally {
    w.close();
    v.close();
  }
  return { sessions, problems };
}

/** The p-th percentile (0..100) of numbers, nearest rank; NaN for none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
