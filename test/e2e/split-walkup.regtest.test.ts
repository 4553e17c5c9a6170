// Walk-up payments in the split feed (issue 14): a walk-up session's money (its final invoice, paid by the
// driver's node to the wall's over real lnd, minus nothing refunded) is split like a cable session's payment of the
// same amount: the same operator share, paid to the operator node through its Lightning address, in a statement
// that covers the walk-up session and verifies. A walk-up that kept nothing (deposit cancelled, no final) feeds
// only its end. The walk-up's receipt is stored in its table exactly as the walk-up runtime writes it at the end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyStatement, type SignedStatement } from '../../payments/payout-statement.js';
import { splitAmount } from '../../payments/split.js';
import type { WalkupReceipt } from '../../payments/walkup-state.js';
import { receiptText } from '../../wall-module/walkup/runtime.js';
import { migrateWalkupTables } from '../../wall-module/walkup/store.js';
import {
  operatorSplit,
  paidSession,
  payoutEngine,
  settledInvoices,
  splitFixture,
  tempWallStore,
  type SplitFixture,
} from '../support/split-harness.js';

const AMOUNT_MSAT = 250_000n;

describe('walk-up payments in the split feed', () => {
  let f: SplitFixture;
  const temp = tempWallStore();
  beforeAll(async () => {
    f = await splitFixture();
  });
  afterAll(async () => {
    await f?.close();
    temp.dispose();
  });

  it('a walk-up payment is split like a cable payment of the same amount', { timeout: 90_000 }, async () => {
    const { config } = operatorSplit(f, { thresholdMsat: 1_000 });
    const statements: SignedStatement[] = [];
    const engine = payoutEngine(f, temp.ledger, config, {
      events: { statement: (_id, signed) => statements.push(signed) },
    });
    await engine.start();
    migrateWalkupTables(temp.store.db);

    // a cable session
    const cable = await paidSession(temp.store, f.wall, f.vehicle, 'c'.repeat(32), [AMOUNT_MSAT]);
    // a walk-up session: the driver's node pays the final invoice of the metered energy; the deposit is cancelled
    const final = await f.wall.createInvoice({
      amountMsat: AMOUNT_MSAT,
      memo: 'walk-up final',
      expirySec: 600,
    });
    const paid = await f.vehicle.pay(final.bolt11, { maxFeeMsat: 1000n, timeoutMs: 30_000 });
    const walkupId = 'wu-split-1';
    const receipt = (over: Partial<WalkupReceipt>): WalkupReceipt => ({
      sessionId: walkupId,
      endReason: 'FINAL_PAID',
      stopReason: 'UNPLUGGED',
      network: 'regtest',
      startMs: Date.now() - 60_000,
      endMs: Date.now(),
      energyWh: 250,
      priceMsatPerWh: 1000n,
      depositMsat: 500_000n,
      depositPaymentHash: 'd'.repeat(64),
      depositOutcome: 'cancelled',
      depositPreimageHex: null,
      finalPaymentHash: final.paymentHash,
      finalPreimageHex: paid.preimage,
      costMsat: AMOUNT_MSAT,
      settledMsat: AMOUNT_MSAT,
      refundPaidMsat: 0n,
      refundFeeMsat: 0n,
      forfeitedMsat: 0n,
      ...over,
    });
    const store = temp.store.db.prepare(
      'INSERT INTO walkup_receipts (session_id, receipt_json, created_at_ms) VALUES (?, ?, ?)',
    );
    store.run(walkupId, receiptText(receipt({})), Date.now());
    // a walk-up that kept nothing: only its end is fed
    store.run(
      'wu-split-nothing',
      receiptText(
        receipt({
          sessionId: 'wu-split-nothing',
          endReason: 'NOTHING_DUE',
          finalPaymentHash: null,
          finalPreimageHex: null,
          costMsat: 0n,
          settledMsat: 0n,
        }),
      ),
      Date.now(),
    );

    engine.poll();
    await engine.idle();
    engine.poll(); // a second round feeds nothing twice
    await engine.idle();
    await engine.stop();

    const accruals = temp.ledger.allAccruals();
    expect(accruals.map((a) => [a.sessionId, a.totalMsat])).toEqual([
      [cable, AMOUNT_MSAT],
      [walkupId, AMOUNT_MSAT],
    ]);
    expect(accruals.find((a) => a.sessionId === walkupId)?.paymentHash).toBe(final.paymentHash);
    const due = splitAmount(AMOUNT_MSAT, config.split).operator!;
    const operatorPayouts = temp.ledger.payouts().filter((p) => p.recipient === 'operator');
    expect(operatorPayouts.map((p) => [p.sessionIds, p.amountMsat, p.status])).toEqual([
      [[cable], due, 'settled'],
      [[walkupId], due, 'settled'],
    ]);
    const onOperator = await settledInvoices(f.operator);
    const walkupPayout = operatorPayouts[1]!;
    expect(onOperator.get(walkupPayout.paymentHash!)?.receivedMsat).toBe(due);
    expect(onOperator.get(walkupPayout.paymentHash!)?.memo).toContain(walkupId);
    const st = statements.find((s) => s.statement.covered.some((c) => c.sessionId === walkupId))!;
    expect(verifyStatement(st, { wallPubkey: f.connection.nodes.wall.pubkey })).toEqual([]);
  });
});
