/**
 * kill -9 of the wall daemon in 8 walk-up states (issue 12): each crash point fires right after the step's
 * write-ahead commit and before any of its node calls (test/e2e/walkup-crashing-wall.ts); the daemon is
 * restarted by a supervisor loop; recovery asks the node before acting. Afterwards the books equal the node's,
 * nothing is settled twice, no deposit is lost, the phone pays exactly the energy + fees (final path) or gets
 * the remainder back exactly once (walk-away path).
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { createInvoice, getInvoice, getPayments, type AuthenticatedLnd } from 'lightning';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { closeLnd } from '../../scripts/regtest/network.js';
import type { ChargeRig } from '../../scripts/demo/rig.js';
import { walkupNetwork, type WalkupNetwork } from '../support/walkup-network.js';
import type { CrashPoint, CrashPoints } from './walkup-crashing-wall.js';
import {
  channelMsat,
  claimWithdraw,
  ensureWallOutbound,
  lndFor,
  openRefund,
  phonePays,
  requestDeposit,
  walkupRig,
  walkupStatus,
  PRICE_MSAT_PER_WH,
} from './walkup-e2e.js';

const crashingWall = fileURLToPath(new URL('./walkup-crashing-wall.ts', import.meta.url));

describe('walk-up: kill -9 of the wall daemon in 8 states, restart, books match', () => {
  const connectionFile = inject('regtestConnectionPath');
  let net: WalkupNetwork;
  let phone: AuthenticatedLnd;
  let wall: AuthenticatedLnd;
  let rig: ChargeRig;
  let baseUrl: string;
  let pointsFile: string;
  let supervising = true;
  let supervisor: Promise<void> = Promise.resolve();
  let restarts = 0;

  /** Restarts the wall whenever it is not running (as systemd would). */
  async function supervise(): Promise<void> {
    while (supervising) {
      if (!rig.wall.running) {
        try {
          await rig.wall.start();
          restarts++;
        } catch {
          // died again during recovery (a crash point there): try again
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  function arm(points: CrashPoint[]): void {
    writeFileSync(pointsFile, JSON.stringify({ pending: points, fired: [] } satisfies CrashPoints));
  }
  function fired(): CrashPoint[] {
    return (JSON.parse(readFileSync(pointsFile, 'utf8')) as CrashPoints).fired;
  }

  /** The wall's walk-up ledger, read from its store. */
  function records(sessionId: string): { kind: string; data: Record<string, string> }[] {
    const db = new Database(rig.files.wallDb, { readonly: true });
    try {
      return (
        db
          .prepare('SELECT kind, data_json FROM walkup_records WHERE session_id = ? ORDER BY id')
          .all(sessionId) as { kind: string; data_json: string }[]
      ).map((r) => ({ kind: r.kind, data: JSON.parse(r.data_json) as Record<string, string> }));
    } finally {
      db.close();
    }
  }

  /** Per payment hash: settled at most once in the ledger, and the ledger's total = the node's. */
  async function booksMatchNode(sessionId: string): Promise<bigint> {
    const settledRecords = records(sessionId).filter((r) => r.kind === 'invoiceSettled');
    const hashes = settledRecords.map((r) => r.data.paymentHash);
    expect(new Set(hashes).size).toBe(hashes.length); // no double settle
    let ledger = 0n;
    for (const r of settledRecords) {
      const inv = await getInvoice({ lnd: wall, id: r.data.paymentHash! });
      expect(inv.is_confirmed).toBe(true);
      expect(BigInt(inv.received_mtokens)).toBe(BigInt(r.data.amountMsat!));
      ledger += BigInt(r.data.amountMsat!);
    }
    return ledger;
  }

  beforeAll(async () => {
    net = await walkupNetwork();
    phone = lndFor(net.phone);
    wall = lndFor(net.wall);
    await ensureWallOutbound(net, wall, phone);
    ({ rig, baseUrl } = await walkupRig(connectionFile, {
      quoteTimeoutMs: 15_000,
      finalInvoiceTimeoutMs: 15_000,
    }));
    pointsFile = join(rig.options.dir, 'crash-points.json');
    arm([]);
    rig.wall.entry = ['--import', 'tsx', crashingWall, pointsFile];
    await rig.wall.start();
    supervisor = supervise();
  });
  afterAll(async () => {
    supervising = false;
    await supervisor;
    await rig?.stop();
    if (phone) closeLnd(phone);
    if (wall) closeLnd(wall);
  });

  async function phase(): Promise<string | undefined> {
    return (await walkupStatus(baseUrl)).session?.phase;
  }

  it('crash with the deposit invoice written ahead (node never asked): the offer lapses, nothing paid', async () => {
    arm(['depositCreating']);
    const qr = (await walkupStatus(baseUrl)).qr!;
    await expect(requestDeposit(qr.content, 20_000_000n)).rejects.toThrow();
    await rig.until(
      'the wall is back',
      async () => rig.wall.running && (await phase()) !== undefined,
      60_000,
    );
    expect(fired()).toEqual(['depositCreating']);
    await rig.until('the lapsed offer ends', async () => (await phase()) === 'ended', 60_000);
    const s = (await walkupStatus(baseUrl)).session!;
    expect(s.endReason).toBe('DEPOSIT_NOT_PAID');
    const receipt = (await (await fetch(`${baseUrl}/walkup/receipt?session=${s.sessionId}`)).json()) as {
      receipt: { depositPaymentHash: string; settledMsat: string };
    };
    expect(receipt.receipt.settledMsat).toBe('0');
    const inv = await getInvoice({ lnd: wall, id: receipt.receipt.depositPaymentHash });
    expect(inv.is_confirmed).toBe(false);
    expect(inv.is_canceled).toBe(true);
  });

  it('crashes while charging, creating the final, cancelling the deposit, settling the final, at the end', async () => {
    arm(['charging', 'finalCreating', 'depositCancelling', 'finalSettling', 'ended']);
    const before = await channelMsat(phone);
    const qr = (await walkupStatus(baseUrl)).qr!;
    rig.world.plug();
    const offer = await requestDeposit(qr.content, 40_000_000n);
    const deposit = phonePays(phone, offer.bolt11);
    await rig.until('charging after the restart', async () => (await phase()) === 'charging', 90_000);
    expect(fired()).toEqual(['charging']);
    await rig.until('30 Wh', async () => (await walkupStatus(baseUrl)).session!.deliveredWh >= 30, 90_000);
    rig.world.unplug();
    await rig.until(
      'the final invoice after the restart',
      async () => (await walkupStatus(baseUrl)).session?.finalBolt11 != null,
      90_000,
    );
    expect(fired()).toEqual(['charging', 'finalCreating']);
    const s1 = (await walkupStatus(baseUrl)).session!;
    const final = phonePays(phone, s1.finalBolt11!);
    const finalResult = await final.result;
    expect(finalResult.ok).toBe(true);
    expect((await deposit.result).ok).toBe(false); // cancelled back to the phone
    await rig.until(
      'ended and signed',
      async () => (await walkupStatus(baseUrl)).session?.receiptSigned === true,
      90_000,
    );
    expect(fired()).toEqual(['charging', 'finalCreating', 'depositCancelling', 'finalSettling', 'ended']);
    const s = (await walkupStatus(baseUrl)).session!;
    expect(s.endReason).toBe('FINAL_PAID');
    const cost = BigInt(s.costMsat!);
    expect(cost).toBe(BigInt(s.deliveredWh) * PRICE_MSAT_PER_WH);
    if (!finalResult.ok) return;
    expect(before - (await channelMsat(phone))).toBe(cost + finalResult.feeMsat);
    expect(await booksMatchNode(s.sessionId)).toBe(cost);
    const receipt = (await (await fetch(`${baseUrl}/walkup/receipt?session=${s.sessionId}`)).json()) as {
      signature: string | null;
      receipt: { depositPaymentHash: string; depositOutcome: string; settledMsat: string };
    };
    expect(receipt.signature).not.toBeNull();
    expect(receipt.receipt.depositOutcome).toBe('cancelled');
    expect(BigInt(receipt.receipt.settledMsat)).toBe(cost);
    expect((await getInvoice({ lnd: wall, id: receipt.receipt.depositPaymentHash })).is_canceled).toBe(true);
  });

  it('walk-away: crashes settling the deposit and paying the refund; the refund is paid exactly once', async () => {
    arm(['depositSettling', 'refundPaying']);
    const before = await channelMsat(phone);
    const qr = (await walkupStatus(baseUrl)).qr!;
    rig.world.plug();
    const depositMsat = 25_000_000n;
    const offer = await requestDeposit(qr.content, depositMsat);
    const deposit = phonePays(phone, offer.bolt11);
    await rig.until('charging', async () => (await phase()) === 'charging', 90_000);
    await rig.until('20 Wh', async () => (await walkupStatus(baseUrl)).session!.deliveredWh >= 20, 90_000);
    rig.world.unplug();
    const paid = await deposit.result; // the wall settles it after the final went unpaid (and a crash)
    if (!paid.ok) throw new Error(`deposit not settled: ${paid.error}`);
    await rig.until('refund open', async () => (await phase()) === 'refundOpen', 90_000);
    expect(fired()).toEqual(['depositSettling']);
    const s = (await walkupStatus(baseUrl)).session!;
    const cost = BigInt(s.costMsat!);
    const remainder = depositMsat - cost;
    const refund = await openRefund(offer.successAction, paid.preimage);
    if (!refund.request.ok) throw new Error(refund.request.error.message);
    const inv = await createInvoice({ lnd: phone, mtokens: remainder.toString() });
    // the claim is accepted and written, then the wall dies before answering or paying
    await expect(claimWithdraw(refund.request.value, inv.request)).rejects.toThrow();
    await rig.until('refund paid after the restart', async () => (await phase()) === 'ended', 90_000);
    expect(fired()).toEqual(['depositSettling', 'refundPaying']);
    expect((await walkupStatus(baseUrl)).session!.endReason).toBe('REFUND_CLAIMED');
    const again = await createInvoice({ lnd: phone, mtokens: remainder.toString() });
    expect(await claimWithdraw(refund.request.value, again.request)).toMatch(/^RefundAlreadyClaimed/);
    expect((await getInvoice({ lnd: phone, id: inv.id })).is_confirmed).toBe(true);
    expect((await getInvoice({ lnd: phone, id: again.id })).is_confirmed).toBe(false);
    const { payments } = await getPayments({ lnd: wall });
    expect(payments.filter((p) => p.id === inv.id || p.id === again.id)).toHaveLength(1);
    expect(before - (await channelMsat(phone))).toBe(cost + paid.feeMsat);
    expect(await booksMatchNode(s.sessionId)).toBe(depositMsat);
    expect(restarts).toBeGreaterThanOrEqual(8);
  });
});
