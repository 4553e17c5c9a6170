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
import { createInvoice, getInvoice, getPayments } from 'lightning';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CrashPoint, CrashPoints } from './walkup-crashing-wall.js';
import {
  channelMsat,
  claimWithdraw,
  openRefund,
  phonePays,
  requestDeposit,
  walkupStatus,
  PRICE_MSAT_PER_WH,
  walkupFixture,
  type WalkupFixture,
} from './walkup-e2e.js';

const crashingWall = fileURLToPath(new URL('./walkup-crashing-wall.ts', import.meta.url));

describe('walk-up: kill -9 of the wall daemon in 8 states, restart, books match', () => {
  const connectionFile = inject('regtestConnectionPath');
  let f: WalkupFixture;
  let pointsFile: string;
  let supervising = true;
  let supervisor: Promise<void> = Promise.resolve();
  let restarts = 0;

  /** Restarts the wall whenever it is not running (as systemd would). */
  async function supervise(): Promise<void> {
    while (supervising) {
      if (!f.rig.wall.running) {
        try {
          await f.rig.wall.start();
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
    const db = new Database(f.rig.files.wallDb, { readonly: true });
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
      const inv = await getInvoice({ lnd: f.wall, id: r.data.paymentHash! });
      expect(inv.is_confirmed).toBe(true);
      expect(BigInt(inv.received_mtokens)).toBe(BigInt(r.data.amountMsat!));
      ledger += BigInt(r.data.amountMsat!);
    }
    return ledger;
  }

  beforeAll(async () => {
    f = await walkupFixture(
      connectionFile,
      { quoteTimeoutMs: 15_000, finalInvoiceTimeoutMs: 15_000 },
      { refunds: true },
    );
    pointsFile = join(f.rig.options.dir, 'crash-points.json');
    arm([]);
    f.rig.wall.entry = ['--import', 'tsx', crashingWall, pointsFile];
    await f.rig.wall.start();
    supervisor = supervise();
  });
  afterAll(async () => {
    supervising = false;
    await supervisor;
    await f?.close();
  });

  async function phase(): Promise<string | undefined> {
    return (await walkupStatus(f.baseUrl)).session?.phase;
  }

  it('crash with the deposit invoice written ahead (node never asked): the offer lapses, nothing paid', async () => {
    arm(['depositCreating']);
    const qr = (await walkupStatus(f.baseUrl)).qr!;
    await expect(requestDeposit(qr.content, 20_000_000n)).rejects.toThrow();
    await f.rig.until(
      'the wall is back',
      async () => f.rig.wall.running && (await phase()) !== undefined,
      60_000,
    );
    expect(fired()).toEqual(['depositCreating']);
    await f.rig.until('the lapsed offer ends', async () => (await phase()) === 'ended', 60_000);
    const s = (await walkupStatus(f.baseUrl)).session!;
    expect(s.endReason).toBe('DEPOSIT_NOT_PAID');
    const receipt = (await (await fetch(`${f.baseUrl}/walkup/receipt?session=${s.sessionId}`)).json()) as {
      receipt: { depositPaymentHash: string; settledMsat: string };
    };
    expect(receipt.receipt.settledMsat).toBe('0');
    const inv = await getInvoice({ lnd: f.wall, id: receipt.receipt.depositPaymentHash });
    expect(inv.is_confirmed).toBe(false);
    expect(inv.is_canceled).toBe(true);
  });

  it('crashes while charging, creating the final, cancelling the deposit, settling the final, at the end', async () => {
    arm(['charging', 'finalCreating', 'depositCancelling', 'finalSettling', 'ended']);
    const before = await channelMsat(f.phone);
    const qr = (await walkupStatus(f.baseUrl)).qr!;
    f.rig.world.plug();
    const offer = await requestDeposit(qr.content, 40_000_000n);
    const deposit = phonePays(f.phone, offer.bolt11);
    await f.rig.until('charging after the restart', async () => (await phase()) === 'charging', 90_000);
    expect(fired()).toEqual(['charging']);
    await f.rig.until(
      '30 Wh',
      async () => (await walkupStatus(f.baseUrl)).session!.deliveredWh >= 30,
      90_000,
    );
    f.rig.world.unplug();
    await f.rig.until(
      'the final invoice after the restart',
      async () => (await walkupStatus(f.baseUrl)).session?.finalBolt11 != null,
      90_000,
    );
    expect(fired()).toEqual(['charging', 'finalCreating']);
    const s1 = (await walkupStatus(f.baseUrl)).session!;
    const final = phonePays(f.phone, s1.finalBolt11!);
    const finalResult = await final.result;
    expect(finalResult.ok).toBe(true);
    expect((await deposit.result).ok).toBe(false); // cancelled back to the phone
    await f.rig.until(
      'ended and signed',
      async () => (await walkupStatus(f.baseUrl)).session?.receiptSigned === true,
      90_000,
    );
    expect(fired()).toEqual(['charging', 'finalCreating', 'depositCancelling', 'finalSettling', 'ended']);
    const s = (await walkupStatus(f.baseUrl)).session!;
    expect(s.endReason).toBe('FINAL_PAID');
    const cost = BigInt(s.costMsat!);
    expect(cost).toBe(BigInt(s.deliveredWh) * PRICE_MSAT_PER_WH);
    if (!finalResult.ok) return;
    expect(before - (await channelMsat(f.phone))).toBe(cost + finalResult.feeMsat);
    expect(await booksMatchNode(s.sessionId)).toBe(cost);
    const receipt = (await (await fetch(`${f.baseUrl}/walkup/receipt?session=${s.sessionId}`)).json()) as {
      signature: string | null;
      receipt: { depositPaymentHash: string; depositOutcome: string; settledMsat: string };
    };
    expect(receipt.signature).not.toBeNull();
    expect(receipt.receipt.depositOutcome).toBe('cancelled');
    expect(BigInt(receipt.receipt.settledMsat)).toBe(cost);
    expect((await getInvoice({ lnd: f.wall, id: receipt.receipt.depositPaymentHash })).is_canceled).toBe(
      true,
    );
  });

  it('walk-away: crashes settling the deposit and paying the refund; the refund is paid exactly once', async () => {
    arm(['depositSettling', 'refundPaying']);
    const before = await channelMsat(f.phone);
    const qr = (await walkupStatus(f.baseUrl)).qr!;
    f.rig.world.plug();
    const depositMsat = 25_000_000n;
    const offer = await requestDeposit(qr.content, depositMsat);
    const deposit = phonePays(f.phone, offer.bolt11);
    await f.rig.until('charging', async () => (await phase()) === 'charging', 90_000);
    await f.rig.until(
      '20 Wh',
      async () => (await walkupStatus(f.baseUrl)).session!.deliveredWh >= 20,
      90_000,
    );
    f.rig.world.unplug();
    const paid = await deposit.result; // the wall settles it after the final went unpaid (and a crash)
    if (!paid.ok) throw new Error(`deposit not settled: ${paid.error}`);
    await f.rig.until('refund open', async () => (await phase()) === 'refundOpen', 90_000);
    expect(fired()).toEqual(['depositSettling']);
    const s = (await walkupStatus(f.baseUrl)).session!;
    const cost = BigInt(s.costMsat!);
    const remainder = depositMsat - cost;
    const refund = await openRefund(offer.successAction, paid.preimage);
    if (!refund.request.ok) throw new Error(refund.request.error.message);
    const inv = await createInvoice({ lnd: f.phone, mtokens: remainder.toString() });
    // the claim is accepted and written, then the wall dies before answering or paying
    await expect(claimWithdraw(refund.request.value, inv.request)).rejects.toThrow();
    await f.rig.until('refund paid after the restart', async () => (await phase()) === 'ended', 90_000);
    expect(fired()).toEqual(['depositSettling', 'refundPaying']);
    expect((await walkupStatus(f.baseUrl)).session!.endReason).toBe('REFUND_CLAIMED');
    const again = await createInvoice({ lnd: f.phone, mtokens: remainder.toString() });
    expect(await claimWithdraw(refund.request.value, again.request)).toMatch(/^RefundAlreadyClaimed/);
    expect((await getInvoice({ lnd: f.phone, id: inv.id })).is_confirmed).toBe(true);
    expect((await getInvoice({ lnd: f.phone, id: again.id })).is_confirmed).toBe(false);
    const { payments } = await getPayments({ lnd: f.wall });
    expect(payments.filter((p) => p.id === inv.id || p.id === again.id)).toHaveLength(1);
    expect(before - (await channelMsat(f.phone))).toBe(cost + paid.feeMsat);
    expect(await booksMatchNode(s.sessionId)).toBe(depositMsat);
    expect(restarts).toBeGreaterThanOrEqual(8);
  });
});
