import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../hardware/clock.js';
import type { SettlementEvent } from '../../lightning/lightning-node.js';
import { SettlementDelivery } from '../../lightning/settlement-delivery.js';

function settlement(n: number, settleIndex = n): SettlementEvent {
  return {
    paymentHash: n.toString(16).padStart(64, '0'),
    amountMsat: 1000n * BigInt(n),
    settledAtMs: 0,
    preimage: '',
    settleIndex,
  };
}

function setup(afterIndex = 0) {
  const clock = new ManualClock();
  const delivery = new SettlementDelivery(0, {
    firstRetryMs: 100,
    maxRetryMs: 400,
    schedule: (ms, fn) => clock.setTimer(ms, fn),
  });
  const commits: number[] = [];
  const errors: { attempt: number; retryInMs: number | null }[] = [];
  delivery.setCursor({
    afterIndex,
    commit: (i) => commits.push(i),
    onError: (_e, _ev, attempt, retryInMs) => errors.push({ attempt, retryInMs }),
  });
  return { clock, delivery, commits, errors };
}

describe('SettlementDelivery', () => {
  it('commits the settle index once the handler acknowledged, and delivers a hash once', async () => {
    const { delivery, commits } = setup();
    const seen: string[] = [];
    delivery.add((e) => void seen.push(e.paymentHash));
    delivery.deliver(settlement(1));
    delivery.deliver(settlement(1, 0)); // the lookup fallback finds it again
    delivery.deliver(settlement(2));
    await Promise.resolve();
    expect(seen).toHaveLength(2);
    expect(commits).toEqual([1, 2]);
    expect(delivery.committedIndex).toBe(2);
  });

  it('retries a throwing handler with backoff, reports every failure, and applies it once', async () => {
    const { clock, delivery, commits, errors } = setup();
    let failuresLeft = 3;
    const applied: string[] = [];
    delivery.add((e) => {
      if (failuresLeft-- > 0) throw new Error('SQLITE_BUSY');
      applied.push(e.paymentHash);
    });
    delivery.deliver(settlement(7));
    expect(applied).toEqual([]);
    expect(commits).toEqual([]);
    expect(errors).toEqual([{ attempt: 1, retryInMs: 100 }]);
    await clock.advance(100);
    await clock.advance(200);
    expect(errors.map((e) => e.retryInMs)).toEqual([100, 200, 400]);
    expect(applied).toEqual([]);
    await clock.advance(400);
    expect(applied).toHaveLength(1);
    expect(commits).toEqual([7]);
    await clock.advance(10_000);
    expect(applied).toHaveLength(1);
  });

  it('holds the committed index below a settlement that is not acknowledged yet', async () => {
    const { clock, delivery, commits } = setup(10);
    let release: () => void = () => {};
    delivery.add((e) => (e.settleIndex === 11 ? new Promise<void>((r) => (release = r)) : undefined));
    delivery.deliver(settlement(11));
    delivery.deliver(settlement(12));
    await clock.advance(0);
    expect(commits).toEqual([]); // 12 is done but 11 is not: a restart must replay from 10
    expect(delivery.committedIndex).toBe(10);
    release();
    await clock.advance(0);
    expect(commits).toEqual([12]);
  });

  it('a rejected promise is retried like a throw', async () => {
    const { clock, delivery, commits } = setup();
    let calls = 0;
    delivery.add(() => (++calls === 1 ? Promise.reject(new Error('disk full')) : Promise.resolve()));
    delivery.deliver(settlement(3));
    await clock.advance(0);
    expect(commits).toEqual([]);
    await clock.advance(100);
    expect(calls).toBe(2);
    expect(commits).toEqual([3]);
  });
});
