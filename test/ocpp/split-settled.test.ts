/**
 * A split payout's signed statement reaches the CSMS as DataTransfer `SplitSettled` (issue 14), on 2.0.1 and
 * 1.6, against the transaction of the last session it covers — also when that transaction has ended — once
 * per payout, with the amount as a decimal string and the statement text intact for `verify-statement`.
 */
import { describe, expect, it } from 'vitest';
import { useStationFixture } from './fixtures.js';
import { dataOf, runSession, untilDrained, untilOnline } from './harness.js';

const T0 = 1_700_000_500_000;
const STATEMENT = JSON.stringify({
  statement: { payoutId: 'p-1', amountMsat: '123456789012345678' },
  signature: 'x',
});

for (const protocol of ['ocpp2.0.1', 'ocpp1.6'] as const) {
  describe(`SplitSettled on ${protocol}`, () => {
    const fx = useStationFixture({ protocols: [protocol] }, { identity: `wall-split-${protocol}` });

    it('reports each payout once, against the ended transaction of the last session it covers', async () => {
      const { csms, station, clock } = fx;
      station.start();
      await untilOnline(station, clock);
      station.plugged(1, T0);
      runSession(station, { sessionId: 's-split', startMs: T0 + 1000, blocks: 1 });
      station.unplugged(1, T0 + 90_000);
      const payout = {
        payoutId: 'p-1',
        sessionId: 's-split',
        amountMsat: 123_456_789_012_345_678n, // beyond 2^53: carried as a decimal string
        statement: STATEMENT,
        atMs: T0 + 100_000,
      };
      station.splitSettled(payout);
      station.splitSettled(payout); // a repeated report (engine restart) is not sent twice
      await untilDrained(station);
      const split = csms.calls('DataTransfer').filter((c) => c.payload.messageId === 'SplitSettled');
      expect(split).toHaveLength(1);
      const data = dataOf(split[0]!);
      expect(data).toMatchObject({
        messageId: 'SplitSettled',
        sessionId: 's-split',
        amountMsat: '123456789012345678',
        payoutId: 'p-1',
        statement: STATEMENT,
      });
      expect(data.transactionId).not.toBeNull();
      expect(csms.validationFailures).toEqual([]);
      expect(csms.badMessages).toEqual([]);
    });
  });
}
