// Hold invoices on real lnd over the walk-up topology phone → router → wall: held with the HTLC's CLTV expiry,
// settle, cancel (no money moves), lookup after a restart of the LndNode object, lnd's own expiry cancel at
// `holdexpirydelta`, and the wall's invoice-only macaroon (hold invoices work, paying is refused).
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HoldInvoiceExpired,
  InvoiceAlreadyExists,
  InvoiceAlreadySettled,
  InvoiceCancelled,
  InvoiceNotHeld,
  InvoiceNotPayable,
} from '../../lightning/errors.js';
import type { HoldInvoiceEvent } from '../../lightning/hold-invoice.js';
import { LND_HOLD_EXPIRY_DELTA_BLOCKS } from '../../lightning/lnd-hold-invoices.js';
import type { LndNode } from '../../lightning/lnd-node.js';
import type { PaymentResult } from '../../lightning/lightning-node.js';
import { holdWindow } from '../../payments/hold-window.js';
import { mine } from '../../scripts/regtest/network.js';
import { lndNodeFor } from '../setup/regtest-nodes.js';
import { walkupNetwork, type WalkupNetwork } from '../support/walkup-network.js';

const PAY = { maxFeeMsat: 100_000n, timeoutMs: 60_000 };

let net: WalkupNetwork;
let wall: LndNode;
let phone: LndNode;
const opened: LndNode[] = [];

beforeAll(async () => {
  net = await walkupNetwork();
  wall = track(lndNodeFor(net.wall));
  phone = track(lndNodeFor(net.phone));
});

afterAll(async () => {
  await Promise.all(opened.map((n) => n.close()));
});

function track(node: LndNode): LndNode {
  opened.push(node);
  return node;
}

function newSecret(): { preimage: string; paymentHash: string } {
  const preimage = randomBytes(32).toString('hex');
  return { preimage, paymentHash: createHash('sha256').update(Buffer.from(preimage, 'hex')).digest('hex') };
}

/** Collects a watch's events; `next(kind)` waits (generously, never asserting speed) for one of that kind. */
function collect(node: LndNode, paymentHash: string) {
  const events: HoldInvoiceEvent[] = [];
  const stop = node.watchHoldInvoice(paymentHash, (e) => events.push(e));
  return {
    events,
    stop,
    async next<K extends HoldInvoiceEvent['kind']>(
      kind: K,
      timeoutMs = 90_000,
    ): Promise<Extract<HoldInvoiceEvent, { kind: K }>> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.find((e) => e.kind === kind);
        if (found) return found as Extract<HoldInvoiceEvent, { kind: K }>;
        if (Date.now() > deadline)
          throw new Error(`no ${kind} event for ${paymentHash} within ${timeoutMs} ms`);
        await sleep(50);
      }
    },
  };
}

/** Starts the phone's payment (it resolves only when the wall settles or cancels) and keeps its outcome. */
function phonePays(
  bolt11: string,
): Promise<{ ok: true; result: PaymentResult } | { ok: false; error: unknown }> {
  return phone.pay(bolt11, PAY).then(
    (result) => ({ ok: true as const, result }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

async function channelLocal(): Promise<{ wall: bigint; phone: bigint }> {
  const [w, p] = await Promise.all([wall.getBalances(), phone.getBalances()]);
  return { wall: w.channelLocalMsat, phone: p.channelLocalMsat };
}

/** Polls (generously, never asserting speed) until both channel balances equal `expected` (the commitment
  dance after a settle or a failed HTLC ends after the payment's outcome is reported); returns the last read. */
async function balancesReach(expected: {
  wall: bigint;
  phone: bigint;
}): Promise<{ wall: bigint; phone: bigint }> {
  const deadline = Date.now() + 60_000;
  let now = await channelLocal();
  while ((now.wall !== expected.wall || now.phone !== expected.phone) && Date.now() < deadline) {
    await sleep(100);
    now = await channelLocal();
  }
  return now;
}

describe('hold invoice paid over phone → router → wall', () => {
  it('held reports the HTLC expiry; a new LndNode object finds it held; settle pays the wall and the phone sees success', async () => {
    const { preimage, paymentHash } = newSecret();
    const amountMsat = 21_000_000n;
    const cltvDeltaBlocks = 40;
    const before = await channelLocal();
    const created = await wall.createHoldInvoice({
      paymentHash,
      amountMsat,
      description: 'boltcharge walk-up deposit',
      expirySec: 600,
      cltvDeltaBlocks,
    });
    expect(created.paymentHash).toBe(paymentHash);
    expect(created.cltvDeltaBlocks).toBe(cltvDeltaBlocks);
    expect((await wall.lookupHoldInvoice(paymentHash)).phase).toBe('open');

    const watch = collect(wall, paymentHash);
    const paying = phonePays(created.bolt11);
    const held = await watch.next('held');
    expect(held.amountMsat).toBe(amountMsat);
    expect(held.currentHeight).toBeGreaterThanOrEqual(held.acceptHeight);
    // The last hop carries at least the invoice's final CLTV delta (lnd's payer adds a few blocks of padding).
    const blocksLeft = held.htlcExpiryHeight - held.acceptHeight;
    expect(blocksLeft).toBeGreaterThanOrEqual(cltvDeltaBlocks);
    expect(blocksLeft).toBeLessThanOrEqual(cltvDeltaBlocks + 10);

    // A restarted daemon: a new object over the same node reports the held invoice from lnd's records.
    watch.stop();
    const restarted = track(lndNodeFor(net.wall));
    const state = await restarted.lookupHoldInvoice(paymentHash);
    expect(state).toMatchObject({
      paymentHash,
      phase: 'held',
      amountMsat,
      receivedMsat: amountMsat,
      htlcExpiryHeight: held.htlcExpiryHeight,
    });
    const rewatch = collect(restarted, paymentHash);
    expect((await rewatch.next('held')).htlcExpiryHeight).toBe(held.htlcExpiryHeight);

    await restarted.settleHoldInvoice(preimage);
    await restarted.settleHoldInvoice(preimage); // idempotent: a crash between settle and record is harmless
    const settled = await rewatch.next('settled');
    expect(settled).toMatchObject({ paymentHash, amountMsat, preimage });
    const outcome = await paying;
    if (!outcome.ok) throw outcome.error;
    expect(outcome.result.preimage).toBe(preimage);
    expect(outcome.result.amountMsat).toBe(amountMsat);
    // two hops: the router took a fee
    expect(outcome.result.feeMsat).toBeGreaterThan(0n);
    expect(await wall.lookupHoldInvoice(paymentHash)).toMatchObject({
      phase: 'settled',
      receivedMsat: amountMsat,
      preimage,
    });

    // Exactly the amount reaches the wall; the phone pays exactly amount + the router's fee.
    const expected = {
      wall: before.wall + amountMsat,
      phone: before.phone - amountMsat - outcome.result.feeMsat,
    };
    expect(await balancesReach(expected)).toEqual(expected);
    process.stderr.write(
      `hold settle: held ${amountMsat} msat, HTLC expiry ${held.htlcExpiryHeight} (accepted at ${held.acceptHeight}), router fee ${outcome.result.feeMsat} msat\n`,
    );
    await expect(wall.cancelHoldInvoice(paymentHash)).rejects.toBeInstanceOf(InvoiceAlreadySettled);
  });

  it('cancel of a held invoice fails the phone payment and moves no money', async () => {
    const { preimage, paymentHash } = newSecret();
    const before = await channelLocal();
    const created = await wall.createHoldInvoice({
      paymentHash,
      amountMsat: 33_000_000n,
      description: 'boltcharge walk-up deposit (to cancel)',
      expirySec: 600,
    });
    const watch = collect(wall, paymentHash);
    const paying = phonePays(created.bolt11);
    await watch.next('held');
    await wall.cancelHoldInvoice(paymentHash);
    await wall.cancelHoldInvoice(paymentHash); // idempotent
    expect(await watch.next('cancelled')).toEqual({ kind: 'cancelled', paymentHash, expired: false });
    const outcome = await paying;
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.error).toBeInstanceOf(InvoiceNotPayable);
    expect((await phone.paymentStatus(paymentHash)).state).toBe('failed');
    expect((await wall.lookupHoldInvoice(paymentHash)).phase).toBe('cancelled');
    await expect(wall.settleHoldInvoice(preimage)).rejects.toBeInstanceOf(InvoiceCancelled);
    // No money moved, on either node.
    expect(await balancesReach(before)).toEqual(before);
  });

  it('refuses with named errors: settle before payment, a reused hash, bad arguments', async () => {
    const { preimage, paymentHash } = newSecret();
    await wall.createHoldInvoice({
      paymentHash,
      amountMsat: 1_000_000n,
      descriptionHash: createHash('sha256').update('[["text/plain","walk-up"]]').digest('hex'),
      expirySec: 600,
    });
    await expect(wall.settleHoldInvoice(preimage)).rejects.toBeInstanceOf(InvoiceNotHeld);
    await expect(
      wall.createHoldInvoice({ paymentHash, amountMsat: 1_000n, description: 'again', expirySec: 60 }),
    ).rejects.toBeInstanceOf(InvoiceAlreadyExists);
    await expect(
      wall.createHoldInvoice({ paymentHash: 'zz', amountMsat: 1_000n, description: 'x', expirySec: 60 }),
    ).rejects.toBeInstanceOf(RangeError);
    await expect(
      wall.createHoldInvoice({ ...newSecret(), amountMsat: 1_000n, expirySec: 60 }),
    ).rejects.toBeInstanceOf(RangeError);
    await wall.cancelHoldInvoice(paymentHash);
  });
});

describe('lnd cancels a held HTLC at holdexpirydelta; the hold window acts before it', () => {
  it('held at the settle-by height of a margin above holdexpirydelta; cancelled as expired within holdexpirydelta', async () => {
    const { preimage, paymentHash } = newSecret();
    const created = await wall.createHoldInvoice({
      paymentHash,
      amountMsat: 5_000_000n,
      description: 'boltcharge walk-up deposit (to expire)',
      expirySec: 3600,
      cltvDeltaBlocks: 24,
    });
    const watch = collect(wall, paymentHash);
    const paying = phonePays(created.bolt11);
    const held = await watch.next('held');
    const marginBlocks = LND_HOLD_EXPIRY_DELTA_BLOCKS + 2;
    const w = holdWindow({
      htlcExpiryHeight: held.htlcExpiryHeight,
      currentHeight: held.currentHeight,
      nowMs: Date.now(),
      blockIntervalMs: 300_000,
      marginBlocks,
      holdExpiryDeltaBlocks: LND_HOLD_EXPIRY_DELTA_BLOCKS,
    });
    if (!w.ok) throw new Error(w.error.name);
    // Walk the chain to the wall's settle-by height: lnd still holds the HTLC there.
    if (w.value.blocksLeft > 0) await mine(w.value.blocksLeft);
    await waitForHeight(paymentHash, w.value.settleByHeight);
    expect((await wall.lookupHoldInvoice(paymentHash)).phase).toBe('held');
    // Then block by block until lnd cancels it; it must do so by expiry − holdexpirydelta.
    let height = w.value.settleByHeight;
    while (!watch.events.some((e) => e.kind === 'cancelled')) {
      expect(height).toBeLessThan(held.htlcExpiryHeight - LND_HOLD_EXPIRY_DELTA_BLOCKS + 1);
      height = (await mine(1)).height;
      await waitForHeight(paymentHash, height);
      await sleep(2_000);
    }
    process.stderr.write(
      `hold expiry: HTLC expiry ${held.htlcExpiryHeight}, settle-by ${w.value.settleByHeight}, lnd cancelled at height ${height}\n`,
    );
    expect(await watch.next('cancelled')).toEqual({ kind: 'cancelled', paymentHash, expired: true });
    await expect(wall.settleHoldInvoice(preimage)).rejects.toBeInstanceOf(HoldInvoiceExpired);
    const outcome = await paying;
    expect(outcome.ok).toBe(false);
  });

  /** Waits until the wall's lnd has processed the block at `height` (read through a lookup of `paymentHash`). */
  async function waitForHeight(paymentHash: string, height: number): Promise<void> {
    const deadline = Date.now() + 60_000;
    while ((await wall.lookupHoldInvoice(paymentHash)).currentHeight < height) {
      if (Date.now() > deadline) throw new Error(`wall did not reach height ${height}`);
      await sleep(200);
    }
  }
});
