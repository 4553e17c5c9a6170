/**
 * Blocks come faster than the wall assumed (issue 12, CLTV safety on real peers): while a walk-up charges on a
 * held deposit, the chain advances until the deposit's settle-by height (HTLC expiry − marginBlocks). The wall
 * re-reads the HTLC against the chain, stops (DEPOSIT_EXPIRING) and settles the deposit before lnd's own
 * holdexpirydelta cancel could release it; the unused remainder becomes the payer's refund.
 */
import Database from 'better-sqlite3';
import { getInvoice, getWalletInfo } from 'lightning';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mine } from '../../scripts/regtest/network.js';
import { startCharging, walkupFixture, walkupStatus, type WalkupFixture } from './walkup-e2e.js';

describe('walk-up: the deposit deadline follows the chain', () => {
  const connectionFile = inject('regtestConnectionPath');
  let f: WalkupFixture;

  beforeAll(async () => {
    // an hour per block assumed: only the chain's real height can bring the deadline near
    f = await walkupFixture(connectionFile, { blockIntervalMs: 3_600_000, marginBlocks: 18 });
    await f.rig.wall.start();
  });
  afterAll(async () => {
    await f?.close();
  });

  it('stops and settles the deposit once the settle-by height is reached', async () => {
    const depositMsat = 30_000_000n;
    const { deposit } = await startCharging(f, depositMsat);
    const hash = depositHashOf(f);
    const held = await getInvoice({ lnd: f.wall, id: hash });
    const expiry = Math.min(...held.payments.map((p) => p.timeout));
    const height = (await getWalletInfo({ lnd: f.wall })).current_block_height;
    // the settle-by height is expiry − 18; lnd would cancel at expiry − 12
    await mine(expiry - 18 - height);
    await f.rig.until(
      'stopped for the expiring deposit',
      async () => (await walkupStatus(f.baseUrl)).session?.stopReason === 'DEPOSIT_EXPIRING',
      60_000,
    );
    const paid = await deposit.result;
    expect(paid.ok).toBe(true); // settled by the wall, not released by lnd
    const inv = await getInvoice({ lnd: f.wall, id: hash });
    expect(inv.is_confirmed).toBe(true);
    expect(BigInt(inv.received_mtokens)).toBe(depositMsat);
    await f.rig.until(
      'refund open',
      async () => (await walkupStatus(f.baseUrl)).session?.phase === 'refundOpen',
      60_000,
    );
    const s = (await walkupStatus(f.baseUrl)).session!;
    expect(BigInt(s.refundMsat!)).toBe(depositMsat - BigInt(s.costMsat!));
    f.rig.world.unplug();
  });
});

/** The charging session's deposit payment hash, from the wall's store. */
function depositHashOf(f: WalkupFixture): string {
  const db = new Database(f.rig.files.wallDb, { readonly: true });
  try {
    const row = db
      .prepare("SELECT state_json FROM walkup_sessions WHERE phase = 'charging' ORDER BY rowid DESC LIMIT 1")
      .get() as { state_json: string };
    return (JSON.parse(row.state_json) as { session: { deposit: { paymentHash: string } } }).session.deposit
      .paymentHash;
  } finally {
    db.close();
  }
}
