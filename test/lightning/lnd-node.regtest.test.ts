// LndNode against the real regtest network: wall invoices, vehicle pays, typed errors, no double debit.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InsufficientBalance,
  InvoiceAlreadyPaid,
  InvoiceExpired,
  InvoiceNotPayable,
  PaymentInFlight,
} from '../../lightning/errors.js';
import type { LndNode } from '../../lightning/lnd-node.js';
import type { SettlementEvent } from '../../lightning/lightning-node.js';
import type { NetworkConnection } from '../../scripts/regtest/network.js';
import { regtestNodes } from '../setup/regtest-nodes.js';

const PAY = { maxFeeMsat: 10_000n, timeoutMs: 30_000 };
// lnd may change the opener's commitment fee between two balance reads; amounts below are far larger.
const COMMIT_FEE_NOISE_MSAT = 5_000_000n;

let connection: NetworkConnection;
let wall: LndNode;
let vehicle: LndNode;
const settled: SettlementEvent[] = [];
let unsubscribe: () => void;

beforeAll(() => {
  ({ connection, wall, vehicle } = regtestNodes());
  unsubscribe = wall.onSettled((e) => settled.push(e));
});

afterAll(async () => {
  unsubscribe?.();
  await wall?.close();
  await vehicle?.close();
});

/** Waits (generously, never asserting speed) until the wall has seen the settlement of `paymentHash`. */
async function settlementOf(paymentHash: string, timeoutMs = 60_000): Promise<SettlementEvent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = settled.find((e) => e.paymentHash === paymentHash);
    if (found) return found;
    if (Date.now() > deadline)
      throw new Error(`no settlement event for ${paymentHash} within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Channel balances of both sides: the wall's moves exactly by what it receives; the vehicle's (the channel
 * opener, who pays the commitment fee, which lnd may update at any time) by the amount plus fees give or take
 * that commitment-fee noise. */
async function channelBalances(): Promise<{ wall: bigint; vehicle: bigint }> {
  const [w, v] = await Promise.all([wall.getBalances(), vehicle.getBalances()]);
  return { wall: w.channelLocalMsat, vehicle: v.channelLocalMsat };
}

/** Asserts one debit of `amountMsat` + `feeMsat` from the vehicle and one credit of `amountMsat` to the wall.
 * Channel balances update when the commitment dance after the settlement completes, so this polls (generously)
 * until the wall's balance has moved. */
async function expectOneTransfer(
  before: { wall: bigint; vehicle: bigint },
  amountMsat: bigint,
  feeMsat: bigint,
): Promise<void> {
  const deadline = Date.now() + 60_000;
  let after = await channelBalances();
  while (after.wall === before.wall && Date.now() < deadline) {
    await sleep(100);
    after = await channelBalances();
  }
  expect(after.wall - before.wall).toBe(amountMsat);
  const debit = before.vehicle - after.vehicle;
  const noise = COMMIT_FEE_NOISE_MSAT;
  expect(
    debit >= amountMsat + feeMsat - noise && debit <= amountMsat + feeMsat + noise,
    `debit ${debit}`,
  ).toBe(true);
}

/** Asserts nothing moved: the wall received nothing; the vehicle lost at most commitment-fee noise. */
function expectNoTransfer(
  before: { wall: bigint; vehicle: bigint },
  after: { wall: bigint; vehicle: bigint },
): void {
  expect(after.wall).toBe(before.wall);
  const debit = before.vehicle - after.vehicle;
  expect(debit <= COMMIT_FEE_NOISE_MSAT && debit >= -COMMIT_FEE_NOISE_MSAT, `debit ${debit}`).toBe(true);
}

describe('LndNode on regtest', () => {
  it('reports each node identity: pubkey from the connection file, regtest, synced', async () => {
    const [w, v] = await Promise.all([wall.getIdentity(), vehicle.getIdentity()]);
    expect(w).toMatchObject({
      pubkey: connection.nodes.wall.pubkey,
      network: 'regtest',
      synced: true,
      alias: 'wall',
    });
    expect(v).toMatchObject({ pubkey: connection.nodes.vehicle.pubkey, network: 'regtest', synced: true });
  });

  it('wall invoice paid by vehicle: settlement event on wall, preimage proves payment, balances move', async () => {
    const amountMsat = 12_345_678n; // not a whole number of sat, on purpose
    const before = await channelBalances();
    const invoice = await wall.createInvoice({
      amountMsat,
      memo: 'boltcharge test: 1 block of energy',
      expirySec: 600,
    });
    expect(invoice.bolt11).toMatch(/^lnbcrt/);
    expect(invoice.paymentHash).toMatch(/^[0-9a-f]{64}$/);
    expect(invoice.expiresAt).toBeGreaterThan(Date.now());

    const paid = await vehicle.pay(invoice.bolt11, PAY);
    expect(paid.paymentHash).toBe(invoice.paymentHash);
    expect(paid.amountMsat).toBe(amountMsat);
    expect(typeof paid.feeMsat).toBe('bigint');
    expect(createHash('sha256').update(Buffer.from(paid.preimage, 'hex')).digest('hex')).toBe(
      invoice.paymentHash,
    );

    const event = await settlementOf(invoice.paymentHash);
    expect(event.amountMsat).toBe(amountMsat);
    expect(event.preimage).toBe(paid.preimage);
    expect(event.settleIndex).toBeGreaterThan(0);
    expect(event.settledAtMs).toBeGreaterThan(0);

    const state = await wall.lookupInvoice(invoice.paymentHash);
    expect(state).toMatchObject({
      state: 'settled',
      amountMsat,
      receivedMsat: amountMsat,
      preimage: paid.preimage,
    });
    expect(await vehicle.paymentStatus(invoice.paymentHash)).toMatchObject({
      state: 'succeeded',
      preimage: paid.preimage,
      amountMsat,
      feeMsat: paid.feeMsat,
    });
    await expectOneTransfer(before, amountMsat, paid.feeMsat);
  });

  it('paying an expired invoice fails with InvoiceExpired and debits nothing', async () => {
    const invoice = await wall.createInvoice({ amountMsat: 50_000n, memo: 'expires at once', expirySec: 1 });
    while (Date.now() < invoice.expiresAt + 1_500) await sleep(200);
    const before = await channelBalances();
    await expect(vehicle.pay(invoice.bolt11, PAY)).rejects.toBeInstanceOf(InvoiceExpired);
    expect((await vehicle.paymentStatus(invoice.paymentHash)).state).toBe('unknown'); // never attempted
    expectNoTransfer(before, await channelBalances());
  });

  it('paying a cancelled invoice fails with InvoiceNotPayable and debits nothing', async () => {
    const invoice = await wall.createInvoice({
      amountMsat: 70_000n,
      memo: 'to be cancelled',
      expirySec: 600,
    });
    await wall.cancelInvoice(invoice.paymentHash);
    expect((await wall.lookupInvoice(invoice.paymentHash)).state).toBe('cancelled');
    const before = await channelBalances();
    const err = await vehicle.pay(invoice.bolt11, PAY).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvoiceNotPayable);
    expect((err as Error).message).toMatch(/cancelled/);
    expect((await vehicle.paymentStatus(invoice.paymentHash)).state).toBe('failed');
    expectNoTransfer(before, await channelBalances());
  });

  it('paying the same invoice twice debits once: the second pay is refused with InvoiceAlreadyPaid', async () => {
    const amountMsat = 20_000_000n;
    const invoice = await wall.createInvoice({ amountMsat, memo: 'pay me once', expirySec: 600 });
    const before = await channelBalances();
    const first = await vehicle.pay(invoice.bolt11, PAY);
    const second = await vehicle.pay(invoice.bolt11, PAY).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(InvoiceAlreadyPaid);
    expect((second as InvoiceAlreadyPaid).payment?.preimage).toBe(first.preimage);
    await expectOneTransfer(before, amountMsat, first.feeMsat);
    expect((await wall.lookupInvoice(invoice.paymentHash)).receivedMsat).toBe(amountMsat);
  });

  it('two concurrent pays of one invoice: exactly one succeeds, the wall receives the amount once', async () => {
    const amountMsat = 25_000_000n;
    const invoice = await wall.createInvoice({ amountMsat, memo: 'race', expirySec: 600 });
    const before = await channelBalances();
    const results = await Promise.allSettled([
      vehicle.pay(invoice.bolt11, PAY),
      vehicle.pay(invoice.bolt11, PAY),
    ]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected');
    expect(ok).toHaveLength(1);
    expect(refused).toHaveLength(1);
    const reason = (refused[0] as PromiseRejectedResult).reason as unknown;
    expect(reason instanceof InvoiceAlreadyPaid || reason instanceof PaymentInFlight, String(reason)).toBe(
      true,
    );
    const fee = (ok[0] as PromiseFulfilledResult<{ feeMsat: bigint }>).value.feeMsat;
    await expectOneTransfer(before, amountMsat, fee);
    expect((await wall.lookupInvoice(invoice.paymentHash)).receivedMsat).toBe(amountMsat);
  });

  it('a node without outbound balance gets InsufficientBalance', async () => {
    // The only channel was opened by the vehicle, so the wall has nothing to send with (beyond what it received,
    // which stays far below this amount).
    const invoice = await vehicle.createInvoice({
      amountMsat: 9_000_000_000n,
      memo: 'too much',
      expirySec: 600,
    });
    await expect(wall.pay(invoice.bolt11, PAY)).rejects.toBeInstanceOf(InsufficientBalance);
  });

  it('a message signed by the vehicle verifies on the wall as the vehicle key; a changed message does not', async () => {
    const text = 'boltcharge session 42: 1000 Wh at 250 msat/Wh';
    const signature = await vehicle.signMessage(text);
    expect(signature).toMatch(/^[ybndrfg8ejkmcpqxot1uwisza345h769]+$/); // zbase32
    expect((await wall.verifyMessage(text, signature)).pubkey).toBe(connection.nodes.vehicle.pubkey);
    expect((await wall.verifyMessage(text + '!', signature)).pubkey).not.toBe(
      connection.nodes.vehicle.pubkey,
    );
    const wallSig = await wall.signMessage(text);
    expect((await vehicle.verifyMessage(text, wallSig)).pubkey).toBe(connection.nodes.wall.pubkey);
  });

  it('looks up a peer alias from the graph: a key the graph lacks is null, a known one a clean string or null', async () => {
    // a valid point no node of this network has (the generator G)
    const stranger = '0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798';
    expect(await vehicle.getNodeAlias(stranger)).toBeNull();
    const alias = await vehicle.getNodeAlias(connection.nodes.wall.pubkey);
    if (alias !== null) {
      expect(alias.length).toBeGreaterThan(0);
      expect([...alias].every((ch) => ch.charCodeAt(0) >= 0x20)).toBe(true);
    }
    await expect(vehicle.getNodeAlias('nonsense')).rejects.toThrow(RangeError);
  });

  it('reports balances as bigint: vehicle funds on chain and in the channel, wall inbound-free', async () => {
    const v = await vehicle.getBalances();
    const w = await wall.getBalances();
    for (const b of [v, w]) {
      expect(typeof b.onchainSat).toBe('bigint');
      expect(typeof b.channelLocalMsat).toBe('bigint');
      expect(typeof b.channelRemoteMsat).toBe('bigint');
    }
    expect(v.onchainSat).toBeGreaterThan(0n);
    expect(v.channelLocalMsat).toBeGreaterThan(5_000_000_000n - 1_000_000_000n);
    expect(w.channelLocalMsat).toBeGreaterThan(0n); // it has been paid above
  });
});
