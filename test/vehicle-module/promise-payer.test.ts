// The car's promise payer (offline case 3): a promise that cannot be paid yet (no route) waits out its back-off;
// once the node pays one, the others are tried in the same pass, not up to a minute later when their own
// back-off ends (their invoices may expire meanwhile).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../hardware/clock.js';
import { PromisePayer, type PromiseAttempt } from '../../vehicle-module/promise-payer.js';
import type { CarPromiseRow } from '../../vehicle-module/promise-book.js';
import { VehicleStore } from '../../vehicle-module/store.js';
import { memoryLog } from '../wall-module/in-process-rig.js';

const WALL = '02' + '11'.repeat(32);
const hashOf = (n: number): string => n.toString(16).padStart(64, '0');

describe('the promise payer', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  /** A store holding `n` promises made 10 s apart, and a payer whose node answers with `answer`. */
  function setup(n: number, answer: (hash: string, attempt: number) => PromiseAttempt) {
    const dir = mkdtempSync(join(tmpdir(), 'promise-payer-'));
    dirs.push(dir);
    const clock = new ManualClock();
    const store = VehicleStore.open(join(dir, 'v.sqlite'), clock);
    store.createSession('s1', WALL);
    for (let i = 0; i < n; i++)
      store.promises.record({
        paymentHash: hashOf(i + 1),
        sessionId: 's1',
        seq: i,
        wallPub: WALL,
        bolt11: `lnbcrt${i}`,
        amountMsat: 4800n,
        maxFeeMsat: 100n,
        blockWh: 48,
        expiresAtMs: clock.now() + 3_600_000,
        promisedAtMs: clock.now() + i * 10_000,
      });
    const attempts: string[] = [];
    const decided: string[] = [];
    const payer = new PromisePayer({
      store,
      clock,
      nodeClock: clock,
      log: memoryLog(),
      payOnce: (p: CarPromiseRow) => {
        attempts.push(p.paymentHash);
        return Promise.resolve(answer(p.paymentHash, attempts.length));
      },
      decided: (p) => decided.push(p.paymentHash),
    });
    return { clock, store, payer, attempts, decided };
  }

  it('once the node pays one promise, the others waiting out their back-off are paid in the same pass', async () => {
    let online = false;
    const { clock, store, payer, attempts } = setup(3, () =>
      online
        ? { ok: true, preimage: '00'.repeat(32), feeMsat: 0n }
        : { ok: false, error: 'insufficient balance', failure: 'noRoute' },
    );
    // offline: each promise is tried once and put on its own back-off
    for (let t = 0; t < 30; t++) {
      await payer.tick(clock.now());
      await clock.advance(1000);
    }
    expect(store.promises.outstanding()).toHaveLength(3);
    const waits = store.promises.outstanding().map((p) => p.nextAttemptAtMs - clock.now());
    expect(Math.max(...waits)).toBeGreaterThan(0);
    // the route is back: the first promise due is paid, and the rest (not due yet) follow in that same pass
    online = true;
    const before = attempts.length;
    const firstDue = Math.min(...store.promises.outstanding().map((p) => p.nextAttemptAtMs));
    await clock.advance(firstDue - clock.now());
    const notDue = store.promises.outstanding().filter((p) => p.nextAttemptAtMs > clock.now());
    expect(notDue.length).toBeGreaterThan(0);
    await payer.tick(clock.now());
    expect(store.promises.outstanding()).toHaveLength(0);
    expect(attempts.length - before).toBe(3);
    expect(new Set(attempts.slice(before)).size).toBe(3);
    for (const p of notDue) expect(store.promises.byHash(p.paymentHash)?.state).toBe('paid');
  });

  it('a pass in which nothing is paid leaves the other promises on their back-off', async () => {
    const { clock, store, payer, attempts } = setup(2, () => ({
      ok: false,
      error: 'insufficient balance',
      failure: 'noRoute',
    }));
    // 2 s after the first promise its first attempt is due; the second (promised 10 s later) is not
    await clock.advance(2000);
    await payer.tick(clock.now());
    expect(attempts).toEqual([hashOf(1)]);
    await payer.tick(clock.now());
    expect(attempts).toEqual([hashOf(1)]);
    expect(store.promises.outstanding()).toHaveLength(2);
    expect(store.promises.byHash(hashOf(2))?.attempts).toBe(0);
  });
});
