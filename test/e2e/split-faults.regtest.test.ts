// Split payouts when the payee side fails (issue 14), against real lnd:
// - the operator node is down for a session: the vehicle still pays the wall (charging unaffected), the payout is
//   retried with backoff and raises exactly one alarm, and it is paid once the operator is back;
// - a malicious LNURL server (wrong amount, wrong payee, wrong description hash, oversized or slow answer) is
//   refused with a named reason and nothing is paid.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SplitConfig } from '../../payments/split-config.js';
import type { LnurlServerMode } from '../support/lnurl-pay-server.js';
import type { PayoutEngine } from '../../wall-module/payouts/payout-engine.js';
import { operatorControl, waitForActiveChannel } from '../../scripts/regtest/network.js';
import { fetchPayoutInvoice } from '../../wall-module/payouts/lnurl-fetch.js';
import {
  books,
  operatorSplit,
  paidSession,
  payoutEngine,
  splitFixture,
  tempWallStore,
  type SplitFixture,
} from '../support/split-harness.js';

const SLOW_MS = 6_000;
const FETCH_TIMEOUT_MS = 1_500;

describe('split payouts when the payee side fails', () => {
  let f: SplitFixture;
  let config: SplitConfig;

  beforeAll(async () => {
    f = await splitFixture({ slowMs: SLOW_MS });
    ({ config } = operatorSplit(f, {
      thresholdMsat: 0,
      retryFirstDelaySec: 1,
      retryMaxDelaySec: 2,
      alarmAfterFailures: 2,
    }));
  });

  afterAll(async () => {
    await operatorControl().start();
    await f?.close();
  });

  /** Polls an engine until `done` holds (real time: the retry delays are real seconds). */
  async function pollUntil(engine: PayoutEngine, done: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error('payout engine did not reach the expected state in time');
      engine.poll();
      await engine.idle();
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it(
    'operator down: charging goes on, the payout is retried, one alarm, paid when it returns',
    { timeout: 300_000 },
    async () => {
      const temp = tempWallStore();
      const { wall, vehicle, connection } = f;
      const alarms: string[] = [];
      const engine = payoutEngine(f, temp.ledger, config, {
        payTimeoutMs: 10_000,
        events: { alarm: (recipient) => alarms.push(recipient) },
      });
      const operator = operatorControl();
      try {
        await engine.start();
        await operator.stop();
        // charging is unaffected: two sessions are paid to the wall while the operator is away
        for (const i of [1, 2]) {
          await paidSession(temp.store, wall, vehicle, (0x9000 + i).toString(16).padStart(32, '0'), [
            150_000n,
          ]);
        }
        await pollUntil(engine, () => (temp.ledger.payouts()[0]?.failures ?? 0) >= 4, 60_000);
        expect(temp.ledger.allAccruals()).toHaveLength(2);
        expect(temp.ledger.payouts().filter((p) => p.status === 'settled')).toEqual([]);
        expect(alarms).toEqual(['operator']);
        expect(temp.ledger.alarms()).toHaveLength(1);

        await operator.start();
        await waitForActiveChannel(connection.nodes.wall, f.operator.pubkey);
        await pollUntil(
          engine,
          () =>
            temp.ledger.payouts().every((p) => p.status === 'settled') &&
            temp.ledger.unaccruedPayments(1).length === 0,
          120_000,
        );
        expect(alarms).toEqual(['operator']);
        expect(temp.ledger.alarms()).toEqual([expect.objectContaining({ recipient: 'operator' })]);
        expect(temp.ledger.alarms()[0]!.clearedAtMs).not.toBeNull();
        const b = books(temp.ledger, config.split);
        expect(b.operator!.openMsat).toBe(0n);
        expect(b.operator!.paidMsat + b.operator!.carriedMsat).toBe(b.operator!.dueMsat);
        expect(b.operator!.paidMsat).toBeGreaterThan(0n);
      } finally {
        await engine.stop();
        temp.dispose();
      }
    },
  );

  const cases: [LnurlServerMode, string][] = [
    ['wrongAmount', 'LnurlAmountMismatch'],
    ['wrongPayee', 'LnurlPayeeMismatch'],
    ['wrongDescriptionHash', 'LnurlDescriptionHashMismatch'],
    ['oversized', 'LnurlResponseTooLarge'],
    ['slow', 'LnurlTimeout'],
  ];
  for (const [mode, reason] of cases) {
    it(
      `a malicious LNURL server (${mode}) is refused with ${reason}; nothing is paid`,
      { timeout: 120_000 },
      async () => {
        const { server, wall, vehicle } = f;
        server.setMode(mode);
        try {
          const direct = await fetchPayoutInvoice(
            {
              destination: server.address,
              amountMsat: 10_000n,
              comment: 'test',
              payeePubkey: f.operator.pubkey,
              network: 'regtest',
            },
            { caPem: server.caPem, timeoutMs: FETCH_TIMEOUT_MS },
          );
          expect(direct.ok ? 'ok' : direct.error.name).toBe(reason);

          const temp = tempWallStore();
          const engine = payoutEngine(f, temp.ledger, config, {
            lnurl: { caPem: f.server.caPem, timeoutMs: FETCH_TIMEOUT_MS },
          });
          try {
            await engine.start();
            await paidSession(
              temp.store,
              wall,
              vehicle,
              (0xa000 + cases.findIndex(([m]) => m === mode)).toString(16).padStart(32, '0'),
              [200_000n],
            );
            await pollUntil(engine, () => (temp.ledger.payouts()[0]?.failures ?? 0) >= 1, 30_000);
            const [payout] = temp.ledger.payouts();
            expect(payout!.lastError).toMatch(new RegExp(`^${reason}:`));
            expect(payout!.status).toBe('planned');
            // nothing paid: no attempt was ever written, so the node was never asked to pay
            expect(temp.ledger.attempts()).toEqual([]);
          } finally {
            await engine.stop();
            temp.dispose();
          }
        } finally {
          server.setMode('honest');
        }
      },
    );
  }
});
