// A dead or hanging node gives NodeUnreachable within the call timeout, and the settlement subscription survives
// an lnd restart. Uses a throwaway third lnd on the shared btcd, so `wall` and `vehicle` are never disturbed.
import { createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InsufficientBalance, NoRoute, NodeUnreachable } from '../../lightning/errors.js';
import type { SettlementEvent } from '../../lightning/lightning-node.js';
import { LndNode } from '../../lightning/lnd-node.js';
import {
  openChannelBetween,
  startExtraNode,
  waitForActiveChannel,
  type ExtraNode,
} from '../../scripts/regtest/network.js';
import { lndNodeFor, regtestConnection } from '../setup/regtest-nodes.js';

const CALL_TIMEOUT_MS = 4_000;
// The bound asserted is the timeout itself plus scheduling slack on a loaded machine, not a speed claim.
const SLACK_MS = 3_000;
const PAY = { maxFeeMsat: 10_000n, timeoutMs: 30_000 };

let extra: ExtraNode;
let node: LndNode;
let vehicle: LndNode;
const events: SettlementEvent[] = [];
let paidAfterRestart = '';

async function eventFor(
  hash: string,
  list: SettlementEvent[] = events,
  timeoutMs = 90_000,
): Promise<SettlementEvent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const e = list.find((x) => x.paymentHash === hash);
    if (e) return e;
    if (Date.now() > deadline) throw new Error(`no settlement event for ${hash} within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Runs `fn`, expects NodeUnreachable, and returns how long it took. */
async function unreachableAfterMs(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  const err = await fn().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NodeUnreachable);
  return performance.now() - t0;
}

beforeAll(async () => {
  const connection = regtestConnection();
  extra = await startExtraNode('restart');
  node = lndNodeFor(extra.connection, { callTimeoutMs: CALL_TIMEOUT_MS });
  vehicle = lndNodeFor(connection.nodes.vehicle);
  node.onSettled((e) => events.push(e));
  await openChannelBetween({ from: connection.nodes.vehicle, to: extra.connection, capacitySat: 1_000_000 });
});

afterAll(async () => {
  await node?.close();
  await vehicle?.close();
  await extra?.destroy();
});

describe('unreachable nodes', () => {
  it('a socket where nothing listens gives NodeUnreachable within the call timeout', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const dead = new LndNode({
      connection: {
        socket: `localhost:${port}`,
        cert: extra.connection.cert,
        macaroon: extra.connection.macaroon,
      },
      callTimeoutMs: CALL_TIMEOUT_MS,
    });
    try {
      expect(await unreachableAfterMs(() => dead.getIdentity())).toBeLessThan(CALL_TIMEOUT_MS + SLACK_MS);
    } finally {
      await dead.close();
    }
  });

  it('a peer that accepts TCP but never answers gives NodeUnreachable at the call timeout, not a hang', async () => {
    const sockets: Socket[] = [];
    const blackHole: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
    const port = (blackHole.address() as { port: number }).port;
    const hung = new LndNode({
      connection: {
        socket: `localhost:${port}`,
        cert: extra.connection.cert,
        macaroon: extra.connection.macaroon,
      },
      callTimeoutMs: CALL_TIMEOUT_MS,
    });
    try {
      const ms = await unreachableAfterMs(() => hung.getBalances());
      expect(ms).toBeGreaterThanOrEqual(CALL_TIMEOUT_MS - 50);
      expect(ms).toBeLessThan(CALL_TIMEOUT_MS + SLACK_MS);
    } finally {
      await hung.close();
      sockets.forEach((s) => s.destroy());
      await new Promise((r) => blackHole.close(r));
    }
  });
});

describe('an lnd that stops and restarts', () => {
  it('settles an invoice before the stop', async () => {
    const inv = await node.createInvoice({ amountMsat: 10_000n, memo: 'before stop', expirySec: 600 });
    await vehicle.pay(inv.bolt11, PAY);
    expect((await eventFor(inv.paymentHash)).amountMsat).toBe(10_000n);
  });

  it('stopped: every call gives NodeUnreachable within its timeout; restarted: the same object works again and the subscription resumes', async () => {
    const pending = await node.createInvoice({
      amountMsat: 21_000n,
      memo: 'paid after restart',
      expirySec: 600,
    });
    await extra.stop();

    expect(await unreachableAfterMs(() => node.getIdentity())).toBeLessThan(CALL_TIMEOUT_MS + SLACK_MS);
    expect(
      await unreachableAfterMs(() => node.createInvoice({ amountMsat: 1_000n, memo: 'x', expirySec: 60 })),
    ).toBeLessThan(CALL_TIMEOUT_MS + SLACK_MS);
    expect(await unreachableAfterMs(() => node.paymentStatus('00'.repeat(32)))).toBeLessThan(
      CALL_TIMEOUT_MS + SLACK_MS,
    );

    await extra.start();
    const connection = regtestConnection();
    await waitForActiveChannel(connection.nodes.vehicle, extra.connection.pubkey);
    // the LndNode object created before the stop recovers without being rebuilt
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        expect((await node.getIdentity()).pubkey).toBe(extra.connection.pubkey);
        break;
      } catch (err) {
        if (!(err instanceof NodeUnreachable) || Date.now() > deadline) throw err;
        await sleep(500);
      }
    }
    // After a reconnect the channel reads "active" a moment before its link carries HTLCs; lnd records such an
    // attempt as failed, which allows paying the same invoice again.
    for (let attempt = 1; ; attempt += 1) {
      try {
        await vehicle.pay(pending.bolt11, PAY);
        break;
      } catch (err) {
        if (!(err instanceof InsufficientBalance || err instanceof NoRoute) || attempt >= 30) throw err;
        await sleep(500);
      }
    }
    const event = await eventFor(pending.paymentHash);
    expect(event.amountMsat).toBe(21_000n);
    paidAfterRestart = pending.paymentHash;

    // a fresh invoice settles through the live stream again (a stream event carries its settle index)
    const fresh = await node.createInvoice({ amountMsat: 33_000n, memo: 'stream is live', expirySec: 600 });
    await vehicle.pay(fresh.bolt11, PAY);
    expect((await eventFor(fresh.paymentHash)).settleIndex).toBeGreaterThan(0);
  });

  it('a new object given the last settle index replays settlements it missed (daemon restart)', async () => {
    const first = events[0]!;
    expect(first.settleIndex).toBeGreaterThan(0);
    const resumed = new LndNode({
      connection: {
        socket: extra.connection.socket,
        cert: extra.connection.cert,
        macaroon: extra.connection.macaroon,
      },
      settledAfterIndex: first.settleIndex,
    });
    const replayed: SettlementEvent[] = [];
    try {
      resumed.onSettled((e) => replayed.push(e));
      for (const later of events.filter((e) => e.paymentHash !== first.paymentHash)) {
        const again = await eventFor(later.paymentHash, replayed);
        expect(again).toMatchObject({ amountMsat: later.amountMsat, preimage: later.preimage });
        expect(again.settleIndex).toBeGreaterThan(first.settleIndex);
      }
      expect(replayed.map((e) => e.paymentHash)).toContain(paidAfterRestart);
      expect(replayed.some((e) => e.paymentHash === first.paymentHash)).toBe(false);
    } finally {
      await resumed.close();
    }
  });
});
