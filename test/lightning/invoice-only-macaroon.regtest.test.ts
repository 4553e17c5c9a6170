// The wall runs with an lnd invoice-only macaroon (`INVOICE_ONLY_PERMISSIONS`: invoices:read, invoices:write,
// info:read): the whole hold-invoice flow works with it, and every call that could move the wall's money is
// refused with NodePermissionDenied. A stolen charger can create invoices but never spend.
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticatedLndGrpc, payViaPaymentRequest } from 'lightning';
import { NodePermissionDenied, fromLnServiceError } from '../../lightning/errors.js';
import type { HoldInvoiceEvent } from '../../lightning/hold-invoice.js';
import type { LndNode } from '../../lightning/lnd-node.js';
import { closeLnd } from '../../scripts/regtest/network.js';
import { lndNodeFor } from '../setup/regtest-nodes.js';
import { walkupNetwork, type WalkupNetwork } from '../support/walkup-network.js';

let net: WalkupNetwork;
let wall: LndNode;
let phone: LndNode;

beforeAll(async () => {
  net = await walkupNetwork();
  wall = lndNodeFor(net.wallInvoiceOnly);
  phone = lndNodeFor(net.phone);
});

afterAll(async () => {
  await wall?.close();
  await phone?.close();
});

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('wall with an invoice-only macaroon', () => {
  it('is a different macaroon from the admin one', () => {
    expect(net.wallInvoiceOnly.macaroon).not.toBe(net.wall.macaroon);
    expect(net.wallInvoiceOnly.pubkey).toBe(net.wall.pubkey);
  });

  it('creates, watches, settles and looks up a hold invoice the phone pays', async () => {
    const preimage = randomBytes(32).toString('hex');
    const paymentHash = createHash('sha256').update(Buffer.from(preimage, 'hex')).digest('hex');
    const created = await wall.createHoldInvoice({
      paymentHash,
      amountMsat: 7_000_000n,
      description: 'boltcharge walk-up (invoice-only macaroon)',
      expirySec: 600,
    });
    const events: HoldInvoiceEvent[] = [];
    const stop = wall.watchHoldInvoice(paymentHash, (e) => events.push(e));
    const paying = phone.pay(created.bolt11, { maxFeeMsat: 100_000n, timeoutMs: 60_000 });
    const held = await until('held', () => events.find((e) => e.kind === 'held'));
    expect(held).toMatchObject({ amountMsat: 7_000_000n });
    expect((await wall.lookupHoldInvoice(paymentHash)).phase).toBe('held');
    await wall.settleHoldInvoice(preimage);
    expect((await paying).preimage).toBe(preimage);
    await until('settled', () => events.find((e) => e.kind === 'settled'));
    stop();
    expect((await wall.lookupHoldInvoice(paymentHash)).phase).toBe('settled');
  });

  it('cancels a hold invoice', async () => {
    const paymentHash = createHash('sha256').update(randomBytes(32)).digest('hex');
    await wall.createHoldInvoice({
      paymentHash,
      amountMsat: 1_000n,
      description: 'to cancel',
      expirySec: 60,
    });
    await wall.cancelHoldInvoice(paymentHash);
    expect((await wall.lookupHoldInvoice(paymentHash)).phase).toBe('cancelled');
  });

  it('cannot pay: pay is refused with NodePermissionDenied and the phone receives nothing', async () => {
    const invoice = await phone.createInvoice({
      amountMsat: 1_000_000n,
      memo: 'steal from the wall',
      expirySec: 600,
    });
    await expect(wall.pay(invoice.bolt11, { maxFeeMsat: 10_000n, timeoutMs: 10_000 })).rejects.toBeInstanceOf(
      NodePermissionDenied,
    );
    // LndNode checks its payment record first (offchain:read); the send RPC itself (offchain:write) is refused
    // too, so no client code can get around the check.
    const { lnd } = authenticatedLndGrpc({
      socket: net.wallInvoiceOnly.socket,
      cert: net.wallInvoiceOnly.cert,
      macaroon: net.wallInvoiceOnly.macaroon,
    });
    const direct = await payViaPaymentRequest({ lnd, request: invoice.bolt11, max_fee: 10 }).then(
      () => undefined,
      (err: unknown) => fromLnServiceError(err, 'pay'),
    );
    closeLnd(lnd);
    expect(direct).toBeInstanceOf(NodePermissionDenied);
    expect((await phone.lookupInvoice(invoice.paymentHash)).state).toBe('open');
  });

  it('cannot read or move on-chain funds nor sign with the node key', async () => {
    await expect(wall.getBalances()).rejects.toBeInstanceOf(NodePermissionDenied);
    await expect(wall.signMessage('I am the wall')).rejects.toBeInstanceOf(NodePermissionDenied);
  });
});
