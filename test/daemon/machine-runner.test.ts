import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../hardware/clock.js';
import { createLogger } from '../../daemon/logger.js';
import { MachineRunner, type MachineBinding } from '../../daemon/machine-runner.js';
import type { Effect } from '../../protocol/index.js';
import { VehicleStore } from '../../vehicle-module/store.js';

type S = { paid: string[]; n: number };
type E = { type: 'invoice' | 'noop' | 'boom'; atMs: number; hash?: string };

describe('machine runner', () => {
  it('commits the state and the payment row before the pay effect runs, in event order', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'runner-')), 'v.sqlite');
    const clock = new ManualClock();
    const store = VehicleStore.open(file, clock);
    store.createSession('s1', 'wall');
    const seenAtExecute: { row: unknown; state: string }[] = [];
    const reader = new Database(file, { readonly: true }); // another connection sees only committed data
    const binding: MachineBinding<S, E> = {
      step: (s, e) => {
        if (e.type === 'boom') throw new Error('bug');
        if (e.type === 'noop') return { state: { ...s, n: s.n + 1 }, effects: [] };
        const pay: Effect = {
          type: 'pay',
          seq: s.paid.length,
          bolt11: 'lnbcrt1',
          paymentHash: e.hash!,
          amountMsat: 1000n,
          maxFeeMsat: 10n,
        };
        return { state: { paid: [...s.paid, e.hash!], n: s.n + 1 }, effects: [pay] };
      },
      serialize: (s) => JSON.stringify(s),
      deserialize: (t) => JSON.parse(t) as S,
      writeAhead: (_s, effects) => {
        for (const e of effects)
          if (e.type === 'pay')
            store.recordPayment({
              sessionId: 's1',
              seq: e.seq,
              paymentHash: e.paymentHash,
              bolt11: e.bolt11,
              amountMsat: e.amountMsat,
              fromWh: 0,
              toWh: 10,
              payee: 'wall',
            });
      },
      execute: async (e) => {
        if (e.type !== 'pay') return;
        seenAtExecute.push({
          row: reader.prepare('SELECT state FROM payments WHERE payment_hash = ?').get(e.paymentHash),
          state: (
            reader.prepare("SELECT state_json FROM machine_state WHERE slot = 'main'").get() as {
              state_json: string;
            }
          ).state_json,
        });
      },
    };
    const log = createLogger({ name: 't', level: 'error', clock, sink: () => {} });
    const runner = new MachineRunner(binding, store, clock, log, { paid: [], n: 0 });
    runner.dispatch({ type: 'invoice', atMs: 1, hash: 'aa' });
    runner.dispatch({ type: 'invoice', atMs: 3, hash: 'bb' });
    await runner.idle();
    expect(seenAtExecute).toEqual([
      { row: { state: 'recorded' }, state: JSON.stringify({ paid: ['aa'], n: 1 }) },
      { row: { state: 'recorded' }, state: JSON.stringify({ paid: ['aa', 'bb'], n: 2 }) },
    ]);
    expect(runner.state).toEqual({ paid: ['aa', 'bb'], n: 2 });
    runner.stop();
    reader.close();
    store.close();
    // a new runner on the same store resumes from the persisted state
    const again = VehicleStore.open(file, clock);
    const resumed = new MachineRunner(binding, again, clock, log, { paid: [], n: 0 });
    expect(resumed.state).toEqual({ paid: ['aa', 'bb'], n: 2 });
    again.close();
  });
});

describe('machine runner fail-safe', () => {
  type Setup = {
    throwAt?: 'step' | 'commit' | 'effect';
  };
  /** A runner over a real store whose binding fails at a chosen stage on the `boom` event. */
  function setup(o: Setup) {
    const file = join(mkdtempSync(join(tmpdir(), 'runner-fs-')), 'v.sqlite');
    const clock = new ManualClock();
    const store = VehicleStore.open(file, clock);
    store.createSession('s1', 'wall');
    const calls = { step: 0, failSafe: 0, recorded: 0, executed: [] as string[], logged: [] as string[] };
    const binding: MachineBinding<S, E> = {
      step: (s, e) => {
        calls.step++;
        if (e.type === 'boom' && o.throwAt === 'step') throw new RangeError('u64 field not an integer: 1.5');
        const effects: Effect[] = [{ type: 'record', kind: e.type, data: {} }];
        return { state: { ...s, n: s.n + 1 }, effects };
      },
      serialize: (s) => JSON.stringify(s),
      deserialize: (t) => JSON.parse(t) as S,
      writeAhead: (_s, effects) => {
        for (const e of effects)
          if (e.type === 'record' && e.kind === 'boom' && o.throwAt === 'commit')
            throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      },
      execute: async (e) => {
        if (e.type !== 'record') return;
        if (e.kind === 'boom' && o.throwAt === 'effect') throw new Error('cannot record the alarm');
        calls.executed.push(e.kind);
      },
      failSafe: async () => {
        calls.failSafe++;
      },
      recordFailure: (_s, failure) => {
        calls.recorded++;
        store.endSession('s1', `FAIL_SAFE ${failure.stage}`);
      },
    };
    const log = createLogger({
      name: 't',
      level: 'error',
      clock,
      sink: (line) => calls.logged.push(line),
    });
    const runner = new MachineRunner(binding, store, clock, log, { paid: [], n: 0 });
    return { runner, store, calls, clock };
  }

  for (const stage of ['step', 'commit', 'effect'] as const) {
    it(`a ${stage} failure mid-session cuts power once, ends the session with a reason and stops`, async () => {
      const { runner, store, calls, clock } = setup({ throwAt: stage });
      runner.startTicks(1000, (atMs) => ({ type: 'noop', atMs }));
      runner.dispatch({ type: 'noop', atMs: 1 });
      runner.dispatch({ type: 'boom', atMs: 2 });
      runner.dispatch({ type: 'noop', atMs: 3 });
      const failure = await runner.failed;
      expect(failure.stage).toBe(stage);
      expect(failure.eventType).toBe('boom');
      expect(runner.hasFailed).toBe(true);
      // the fail-safe ran once; the state is the last committed one; later events and ticks are ignored
      expect(calls.failSafe).toBe(1);
      expect(calls.recorded).toBe(1);
      const stepsAtFailure = calls.step;
      runner.dispatch({ type: 'boom', atMs: 4 });
      await clock.advance(10_000);
      await runner.idle();
      expect(calls.step).toBe(stepsAtFailure);
      expect(calls.failSafe).toBe(1);
      expect(calls.executed).toEqual(['noop']);
      expect(runner.state.n).toBe(stage === 'step' || stage === 'commit' ? 1 : 2);
      expect(store.getSession('s1')).toMatchObject({ status: 'ended', stopReason: `FAIL_SAFE ${stage}` });
      const failed = store.events().filter((e) => e.kind === 'machine.failed');
      expect(failed).toHaveLength(1);
      expect(failed[0]!.data).toMatchObject({ stage, event: 'boom' });
      expect(calls.logged.filter((l) => l.includes('machine failed'))).toHaveLength(1);
      store.close();
    });
  }

  it('fails safe even when the failure cannot be recorded (store closed), and fail() is idempotent', async () => {
    const { runner, store, calls } = setup({});
    store.close(); // every write now throws
    runner.dispatch({ type: 'noop', atMs: 1 });
    const failure = await runner.failed;
    expect(failure.stage).toBe('commit');
    expect(calls.failSafe).toBe(1);
    expect(calls.logged.some((l) => l.includes('could not be recorded'))).toBe(true);
    await runner.fail(new Error('again'));
    expect(calls.failSafe).toBe(1);
  });
});

describe('machine runner ticks between sessions', () => {
  type RestState = { phase: 'idle' | 'busy'; alarmAtMs: number | null };
  type RestEvent = { type: 'tick' | 'arm' | 'start'; atMs: number; delayMs?: number };
  /** A toy machine with one deadline (`alarmAtMs`, acted on by ticks, `atMs >= due`) and an idle phase. */
  function restRunner(rest: boolean) {
    const file = join(mkdtempSync(join(tmpdir(), 'runner-rest-')), 'v.sqlite');
    const clock = new ManualClock();
    const store = VehicleStore.open(file, clock);
    const ticks: number[] = [];
    const alarms: number[] = [];
    const binding: MachineBinding<RestState, RestEvent> = {
      step: (s, e) => {
        if (e.type === 'start') return { state: { ...s, phase: 'busy' }, effects: [] };
        if (e.type === 'arm') return { state: { ...s, alarmAtMs: e.atMs + e.delayMs! }, effects: [] };
        if (s.alarmAtMs !== null && e.atMs >= s.alarmAtMs)
          return {
            state: { ...s, alarmAtMs: null },
            effects: [{ type: 'record', kind: 'alarm', data: { atMs: e.atMs } }],
          };
        return { state: s, effects: [] };
      },
      serialize: (s) => JSON.stringify(s),
      deserialize: (t) => JSON.parse(t) as RestState,
      writeAhead: () => {},
      execute: async (e) => {
        if (e.type === 'record') alarms.push(e.data['atMs'] as number);
      },
      afterStep: (_s, e) => {
        if (e.type === 'tick') ticks.push(e.atMs);
      },
    };
    const log = createLogger({ name: 't', level: 'error', clock, sink: () => {} });
    const runner = new MachineRunner(binding, store, clock, log, { phase: 'idle', alarmAtMs: null });
    runner.startTicks(
      1000,
      (atMs) => ({ type: 'tick', atMs }),
      rest ? { restTickMs: 10_000, mayRest: (s) => s.phase === 'idle' } : undefined,
    );
    const run = async (ms: number): Promise<void> => {
      for (let t = 0; t < ms; t += 100) {
        await clock.advance(100);
        await runner.idle();
      }
    };
    return { clock, runner, ticks, alarms, run, close: () => (runner.stop(), store.close()) };
  }

  it('an idle machine with nothing due ticks once per rest period; a deadline fires at the same tick as without rest', async () => {
    const resting = restRunner(true);
    const always = restRunner(false);
    for (const r of [resting, always]) {
      await r.run(60_000);
      r.runner.dispatch({ type: 'arm', atMs: r.clock.now(), delayMs: 7_350 });
      await r.run(30_000);
    }
    // idle for 60 s: a tick every 10 s (the loop-alive signal) instead of 60
    expect(resting.ticks.filter((t) => t <= resting.ticks[0]! + 60_000).length).toBeLessThanOrEqual(8);
    expect(always.ticks.length).toBeGreaterThanOrEqual(89);
    // every tick lies on the 1 s grid; the deadline fired at the same grid tick
    expect(resting.ticks.every((t) => t % 1000 === 0)).toBe(true);
    expect(resting.alarms).toHaveLength(1);
    expect(resting.alarms).toEqual(always.alarms);
    resting.close();
    always.close();
  });

  it('a machine that leaves the idle phase ticks every second again at once', async () => {
    const r = restRunner(true);
    await r.run(30_000);
    expect(r.runner.isResting).toBe(true);
    r.runner.dispatch({ type: 'start', atMs: r.clock.now() });
    await r.runner.idle();
    expect(r.runner.isResting).toBe(false);
    const before = r.ticks.length;
    await r.run(10_000);
    expect(r.ticks.length - before).toBeGreaterThanOrEqual(10);
    r.close();
  });
});
