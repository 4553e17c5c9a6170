// Settlement statements (issue 14): a statement signed with a node key verifies; every tampering is refused
// with a named reason (signature, signer, preimage, payee, amount, sums, parts).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  canonicalStatementText,
  describeSplit,
  verifyStatement,
  type SettlementStatement,
  type SignedStatement,
} from '../../payments/payout-statement.js';
import { checkSplit, splitAmount } from '../../payments/split.js';
import { publicKeyOf, signNodeMessage } from '../../protocol/nodeSignature.js';
import { makeInvoice } from '../protocol/harness.js';

const wallKey = '11'.repeat(32);
const payeeKey = '22'.repeat(32);
const otherKey = '33'.repeat(32);
const sha = (hex: string): string => createHash('sha256').update(Buffer.from(hex, 'hex')).digest('hex');

const split = (() => {
  const r = checkSplit([
    { name: 'host', remainder: true, shares: 90 },
    { name: 'operator', shares: 10, destination: 'op@pay.example.com', payeePubkey: publicKeyOf(payeeKey) },
  ]);
  if (!r.ok) throw new Error(r.error.name);
  return r.value;
})();

function statement(over: Partial<SettlementStatement> = {}, invoiceKey = payeeKey): SettlementStatement {
  const totals = [123_456n, 78_901n];
  const parts = totals.map((t) => splitAmount(t, split).operator!);
  const covered = parts.reduce((a, b) => a + b, 0n);
  const carriedIn = 700n;
  const amount = ((carriedIn + covered) / 1000n) * 1000n;
  const preimage = 'ab'.repeat(32);
  const paymentHash = sha(preimage);
  return {
    type: 'boltcharge.split-statement',
    version: 1,
    payoutId: 'po-000001',
    wallPubkey: publicKeyOf(wallKey),
    recipient: { name: 'operator', destination: 'op@pay.example.com', payeePubkey: publicKeyOf(payeeKey) },
    split: describeSplit(split),
    covered: totals.map((t, i) => ({
      sessionId: `s${i}`,
      paymentHash: String(i).repeat(64),
      totalMsat: t.toString(),
      partMsat: parts[i]!.toString(),
    })),
    carriedInMsat: carriedIn.toString(),
    carriedOutMsat: (carriedIn + covered - amount).toString(),
    amountMsat: amount.toString(),
    shares: [
      {
        kind: 'invoice',
        bolt11: makeInvoice({
          key: invoiceKey,
          amountMsat: amount,
          paymentHash,
          timestampSec: 1_700_000_000,
        }),
        paymentHash,
        preimage,
        amountMsat: amount.toString(),
        feeMsat: '0',
      },
    ],
    settledAtMs: 1_700_000_000_000,
    ...over,
  };
}

function sign(st: SettlementStatement, key = wallKey): SignedStatement {
  const text = canonicalStatementText(st);
  return { statement: st, text, signature: signNodeMessage(text, key).zbase32 };
}

const names = (s: SignedStatement, wallPubkey = publicKeyOf(wallKey)): string[] =>
  verifyStatement(s, { wallPubkey }).map((p) => p.name);

describe('settlement statements', () => {
  it('accepts a statement signed by the wall', () => {
    expect(names(sign(statement()))).toEqual([]);
  });
  it('refuses a foreign signature and an edited text', () => {
    expect(names(sign(statement(), otherKey))).toContain('StatementWrongSigner');
    const s = sign(statement());
    expect(names({ ...s, text: s.text.replace('"po-000001"', '"po-000002"') })).toContain(
      'StatementWrongSigner',
    );
    expect(names({ ...s, statement: { ...s.statement, payoutId: 'po-9' } })).toContain(
      'StatementTextMismatch',
    );
    expect(names({ ...s, signature: 'not a signature' })).toContain('StatementSignatureInvalid');
  });
  it('refuses a changed amount, a swapped preimage, another payee, wrong parts and sums', () => {
    const st = statement();
    expect(names(sign({ ...st, amountMsat: (BigInt(st.amountMsat) + 1000n).toString() }))).toEqual(
      expect.arrayContaining(['StatementSumMismatch']),
    );
    expect(names(sign({ ...st, shares: [{ ...st.shares[0]!, preimage: 'cd'.repeat(32) }] }))).toContain(
      'StatementPreimageMismatch',
    );
    expect(names(sign(statement({}, otherKey)))).toContain('StatementPayeeMismatch');
    expect(names(sign({ ...st, shares: [{ ...st.shares[0]!, amountMsat: '1000' }] }))).toEqual(
      expect.arrayContaining(['StatementAmountMismatch', 'StatementSumMismatch']),
    );
    const badPart = { ...st.covered[0]!, partMsat: (BigInt(st.covered[0]!.partMsat) + 1n).toString() };
    expect(names(sign({ ...st, covered: [badPart, st.covered[1]!] }))).toEqual(
      expect.arrayContaining(['StatementPartMismatch', 'StatementSumMismatch']),
    );
  });
  it('refuses garbage without throwing', () => {
    for (const v of [null, 1, 'x', {}, { text: '{', signature: '' }, { text: '{}', signature: '' }]) {
      expect(verifyStatement(v).length).toBeGreaterThan(0);
    }
  });
});
