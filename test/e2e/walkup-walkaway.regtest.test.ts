/**
 * Walk-away on real peers (issue 12): the driver charges, unplugs and never pays the final invoice. The wall
 * settles the deposit before its HTLC can expire, the phone (paid deposit → preimage) decrypts the LUD-10 `aes`
 * success action, follows the LUD-03 link and withdraws the remainder: exactly once while 10 claims race; a
 * wrong secret and a wrong amount are refused with an LNURL error and nothing is paid.
 */
import { createInvoice, getInvoice, getPayments, getWalletInfo } from 'lightning';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  channelMsat,
  claimWithdraw,
  openRefund,
  walkupStatus,
  PRICE_MSAT_PER_WH,
  walkupFixture,
  type WalkupFixture,
  startCharging,
} from './walkup-e2e.js';

describe('walk-up walk-away: deposit settled in time, refund withdrawn exactly once', () => {
  const connectionFile = inject('regtestConnectionPath');
  let f: WalkupFixture;

  beforeAll(async () => {
    f = await walkupFixture(connectionFile, { finalInvoiceTimeoutMs: 10_000 }, { refunds: true });
    await f.rig.wall.start();
  });
  afterAll(async () => {
    await f?.close();
  });

  it('settles the deposit before expiry and pays the remainder once to the payer', async () => {
    const depositMsat = 30_000_000n;
    const { before, offer, deposit } = await startCharging(f, depositMsat);
    await f.rig.until(
      '25 Wh',
      async () => (await walkupStatus(f.baseUrl)).session!.deliveredWh >= 25,
      60_000,
    );
    f.rig.world.unplug();
    // the driver walks away: the final invoice is never paid; the wall settles the deposit
    const paid = await deposit.result;
    if (!paid.ok) throw new Error(`deposit payment failed: ${paid.error}`);
    await f.rig.until(
      'refund open',
      async () => (await walkupStatus(f.baseUrl)).session?.phase === 'refundOpen',
      60_000,
    );
    const s = (await walkupStatus(f.baseUrl)).session!;
    expect(s.endReason).toBeNull();
    const costMsat = BigInt(s.costMsat!);
    expect(costMsat).toBe(BigInt(s.deliveredWh) * PRICE_MSAT_PER_WH);
    const remainder = depositMsat - costMsat;
    expect(BigInt(s.refundMsat!)).toBe(remainder);

    // settled, and before lnd's own expiry cancel (holdexpirydelta) could have released it
    const hash = (await import('node:crypto'))
      .createHash('sha256')
      .update(Buffer.from(paid.preimage, 'hex'))
      .digest('hex');
    const inv = await getInvoice({ lnd: f.wall, id: hash });
    expect(inv.is_confirmed).toBe(true);
    expect(BigInt(inv.received_mtokens)).toBe(depositMsat);
    const height = (await getWalletInfo({ lnd: f.wall })).current_block_height;
    for (const p of inv.payments) expect(p.timeout - height).toBeGreaterThan(12);

    // the payer decrypts the refund link with the preimage its payment revealed
    const refund = await openRefund(offer.successAction, paid.preimage);
    expect(refund.request.ok).toBe(true);
    if (!refund.request.ok) return;
    const w = refund.request.value;
    expect(w.minWithdrawableMsat).toBe(remainder);
    expect(w.maxWithdrawableMsat).toBe(remainder);

    // refused, nothing paid: a wrong secret, a wrong amount
    const wrongAmount = await createInvoice({ lnd: f.phone, mtokens: (remainder - 1000n).toString() });
    expect(await claimWithdraw(w, wrongAmount.request)).toMatch(/^RefundAmountWrong/);
    const good = await createInvoice({ lnd: f.phone, mtokens: remainder.toString() });
    expect(await claimWithdraw({ ...w, k1: 'ab'.repeat(32) }, good.request)).toMatch(/^RefundSecretWrong/);

    // 10 claims race, each with its own invoice for the remainder: exactly one is accepted and paid
    const invoices = await Promise.all(
      Array.from({ length: 10 }, () => createInvoice({ lnd: f.phone, mtokens: remainder.toString() })),
    );
    const answers = await Promise.all(invoices.map((i) => claimWithdraw(w, i.request)));
    expect(answers.filter((a) => a === 'OK')).toHaveLength(1);
    expect(answers.filter((a) => a.startsWith('RefundAlreadyClaimed'))).toHaveLength(9);
    await f.rig.until(
      'refund paid',
      async () => (await walkupStatus(f.baseUrl)).session?.phase === 'ended',
      60_000,
    );
    expect((await walkupStatus(f.baseUrl)).session!.endReason).toBe('REFUND_CLAIMED');
    const settled = await Promise.all(
      [good, wrongAmount, ...invoices].map((i) => getInvoice({ lnd: f.phone, id: i.id })),
    );
    expect(settled.filter((i) => i.is_confirmed)).toHaveLength(1);
    // a late claim with the right secret is refused as already claimed
    expect(await claimWithdraw(w, good.request)).toMatch(/^RefundAlreadyClaimed/);

    // the phone lost exactly the energy + the deposit's routing fee (the host pays the refund's fee)
    const after = await channelMsat(f.phone);
    expect(before - after).toBe(costMsat + paid.feeMsat);
    // the wall paid the refund exactly once
    const { payments } = await getPayments({ lnd: f.wall });
    const refunds = payments.filter((p) => invoices.some((i) => i.id === p.id) || p.id === good.id);
    expect(refunds).toHaveLength(1);
    // lnd's payment record: the amount delivered to the payee (the routing fee is on top, the host's)
    expect(BigInt(refunds[0]!.mtokens)).toBe(remainder);
    const received = settled.find((i) => i.is_confirmed)!;
    expect(BigInt(received.received_mtokens)).toBe(remainder);
  });
});
