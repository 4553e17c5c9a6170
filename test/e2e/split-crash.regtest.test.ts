// kill -9 during split payouts (issue 14): a child process runs the payout engine on the wall store against the
// real wall node and is killed with SIGKILL at seeded points — before the node is asked to pay (the attempt is
// written ahead, never sent) and after the node paid (the result never stored). After every restart the node's
// record decides: exactly one payout per accrual, exactly one succeeded payment per payout, books = nodes.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SplitConfig } from '../../payments/split-config.js';
import {
  books,
  operatorSplit,
  paidSession,
  settledInvoices,
  splitFixture,
  tempWallStore,
  type SplitFixture,
} from '../support/split-harness.js';

const child = fileURLToPath(new URL('../support/payout-child.ts', import.meta.url));

/** Runs the payout child once; resolves with how it ended. */
function runChild(
  env: object,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    // node itself runs the engine (tsx as a loader), so SIGKILL hits the engine's own process
    const p = spawn(process.execPath, ['--import', 'tsx', child], {
      env: { ...process.env, SPLIT_CHILD: JSON.stringify(env) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
}

describe('split payouts survive kill -9', () => {
  let f: SplitFixture;
  let splitSection: Record<string, unknown>;
  let config: SplitConfig;
  const temp = tempWallStore();

  beforeAll(async () => {
    f = await splitFixture();
    ({ section: splitSection, config } = operatorSplit(f, {
      thresholdMsat: 0,
      retryFirstDelaySec: 1,
      retryMaxDelaySec: 2,
    }));
  });

  afterAll(async () => {
    await f?.close();
    temp.dispose();
  });

  it('pays each accrual exactly once across SIGKILLs at seeded points', { timeout: 600_000 }, async () => {
    // the ledger starts before the first payment (the split counts from when it was enabled)
    temp.ledger.tx(() => temp.ledger.loadState(Date.now()));
    const { connection, wall, vehicle, node, server } = f;
    const w = connection.nodes.wall;
    const base = {
      storeFile: temp.file,
      wall: { socket: w.socket, cert: w.cert, macaroon: w.macaroon },
      split: splitSection,
      caPem: server.caPem,
    };
    const crashes = [
      { phase: 'afterPay', n: 1 },
      { phase: 'beforePay', n: 1 },
      { phase: 'afterPay', n: 1 },
      { phase: 'afterPay', n: 2 },
      { phase: 'beforePay', n: 2 },
    ] as const;
    let killed = 0;
    for (const [i, crash] of crashes.entries()) {
      for (let k = 0; k < 2; k++) {
        const id = (0x7000 + i * 2 + k).toString(16).padStart(32, '0');
        await paidSession(temp.store, wall, vehicle, id, [BigInt(40_000 + 7_001 * (i + k))]);
      }
      const r = await runChild({ ...base, crash });
      if (r.signal === 'SIGKILL') killed += 1;
      else expect(r.code, r.stderr).toBe(0);
    }
    expect(killed).toBeGreaterThanOrEqual(4);
    const last = await runChild({ ...base, crash: null });
    expect(last.code, last.stderr).toBe(0);

    // exactly one payout per accrual
    const payouts = temp.ledger.payouts();
    const seen = new Map<string, string>();
    for (const p of payouts) {
      expect(p.status).toBe('settled');
      for (const a of p.accrualIds) {
        expect(seen.get(a), `accrual ${a} in two payouts`).toBeUndefined();
        seen.set(a, p.payoutId);
      }
    }
    expect(seen.size).toBe(temp.ledger.allAccruals().length);
    // exactly one succeeded payment per payout at the wall's node, and it is the one in the ledger
    const attempts = temp.ledger.attempts();
    const operatorInvoices = await settledInvoices(connection.nodes.operator!);
    for (const p of payouts) {
      const mine = attempts.filter((a) => a.payoutId === p.payoutId);
      const states = await Promise.all(mine.map((a) => node.lookupPayment(a.paymentHash)));
      expect(
        states.filter((s) => s.state === 'succeeded'),
        p.payoutId,
      ).toHaveLength(1);
      expect(mine.filter((a) => operatorInvoices.has(a.paymentHash))).toHaveLength(1);
      expect(operatorInvoices.get(p.paymentHash!)?.receivedMsat).toBe(p.amountMsat);
    }
    // a crash before the send left an attempt the node never saw; it was retried with a new invoice
    expect(attempts.some((a) => a.state === 'failed')).toBe(true);
    const b = books(temp.ledger, config.split);
    expect(b.operator!.paidMsat + b.operator!.carriedMsat).toBe(b.operator!.dueMsat);
    expect(b.host!.carriedMsat + b.host!.feesMsat).toBe(b.host!.dueMsat);
    expect(temp.ledger.unsignedSettled()).toEqual([]);
  });
});
