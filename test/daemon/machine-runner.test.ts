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
    runner.dispatch({ type: 'boom', atMs: 2 });
    runner.dispatch({ type: 'invoice', atMs: 3, hash: 'bb' });
    await runner.idle();
    expect(seenAtExecute).toEqual([
      { row: { state: 'recorded' }, state: JSON.stringify({ paid: ['aa'], n: 1 }) },
      { row: { state: 'recorded' }, state: JSON.stringify({ paid: ['aa', 'bb'], n: 2 }) },
    ]);
    // a step that throws leaves the state as it was
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
