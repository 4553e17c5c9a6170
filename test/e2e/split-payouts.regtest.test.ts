// Split remittance against real lnd (issue 14): 100 charging sessions of random size paid by the vehicle to the
// wall, a 90/10 host/operator split paid out through a real Lightning-address server on the operator node.
// Per recipient, Σ paid + carried = due to the msat; the operator's settled invoices carry the session ids in
// their memos; every statement verifies, and a changed amount, a swapped preimage and a foreign signature are
// each refused.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LndNode } from '../../lightning/lnd-node.js';
import { readSplitConfig, type SplitConfig } from '../../payments/split-config.js';
import {
  canonicalStatementText,
  verifyStatement,
  type SignedStatement,
} from '../../payments/payout-statement.js';
import {
  books,
  operatorSplit,
  paidSession,
  payoutEngine,
  settledInvoices,
  splitFixture,
  tempWallStore,
  type SplitFixture,
} from '../support/split-harness.js';

/** A small seeded PRNG (mulberry32): the same sessions on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const bin = fileURLToPath(new URL('../../bin/boltcharge.js', import.meta.url));

describe('split payouts over real lnd', () => {
  let f: SplitFixture;
  let config: SplitConfig;
  const temp = tempWallStore();
  const statements: SignedStatement[] = [];

  beforeAll(async () => {
    f = await splitFixture();
    // the operator by its Lightning address, and an installer's 2.5 % fee by keysend (to the operator's node)
    const { section } = operatorSplit(f, { thresholdMsat: 50_000, maxFeePpm: 10_000, maxFeeMsat: 5_000 });
    const recipients = [
      ...(section.recipients as object[]),
      { name: 'installer', fee: true, percent: 2.5, destination: f.operator.pubkey },
    ];
    const parsed = readSplitConfig({ ...section, recipients });
    if (!parsed.ok) throw new Error(parsed.error.name);
    config = parsed.value;
  });

  afterAll(async () => {
    await f?.close();
    temp.dispose();
  });

  it(
    'pays 100 random sessions: paid + carried = due to the msat, memos name the sessions',
    { timeout: 900_000 },
    async () => {
      const { wall, vehicle, node, connection } = f;
      const engine = payoutEngine(f, temp.ledger, config, {
        events: { statement: (_id, signed) => statements.push(signed) },
      });
      await engine.start();
      const random = prng(14);
      const sessionIds: string[] = [];
      let invoiceCount = 0;
      for (let i = 0; i < 100; i++) {
        const invoices = 1 + Math.floor(random() * 3);
        // 1 sat … 300 sat per invoice: many operator parts are below the 1-sat minimum and must be carried
        const amounts = Array.from({ length: invoices }, () =>
          BigInt(1_000 + Math.floor(random() * 299_000)),
        );
        invoiceCount += invoices;
        const id = (0x5000 + i).toString(16).padStart(32, '0');
        sessionIds.push(await paidSession(temp.store, wall, vehicle, id, amounts));
        engine.poll();
        await engine.idle();
      }
      await engine.stop();

      const b = books(temp.ledger, config.split);
      const op = b.operator!;
      const host = b.host!;
      expect(op.openMsat).toBe(0n);
      expect(op.paidMsat + op.carriedMsat).toBe(op.dueMsat);
      expect(op.carriedMsat).toBeLessThan(1_000n);
      expect(host.carriedMsat + host.feesMsat).toBe(host.dueMsat);
      const inst = b.installer!;
      expect(inst.openMsat).toBe(0n);
      expect(inst.paidMsat + inst.carriedMsat).toBe(inst.dueMsat);
      expect(inst.paidMsat).toBeGreaterThan(0n);
      const total = temp.ledger.allAccruals().reduce((s, a) => s + a.totalMsat, 0n);
      expect(op.dueMsat + host.dueMsat + inst.dueMsat).toBe(total);
      expect(temp.ledger.allAccruals()).toHaveLength(invoiceCount);

      // books = nodes: every settled payout is a succeeded payment of the wall and a settled invoice of the operator
      const settled = temp.ledger.payouts().filter((p) => p.status === 'settled');
      expect(settled.length).toBeGreaterThan(50);
      const operatorInvoices = await settledInvoices(connection.nodes.operator!);
      const covered = new Set<string>();
      for (const p of settled) {
        const record = await node.lookupPayment(p.paymentHash!);
        expect(record.state).toBe('succeeded');
        expect(record.preimage).toBe(p.preimage);
        expect(record.feeMsat).toBe(p.feeMsat);
        const inv = operatorInvoices.get(p.paymentHash!);
        expect(inv?.receivedMsat).toBe(p.amountMsat);
        if (p.recipient !== 'operator') continue; // keysend payouts carry no memo
        expect(p.kind).toBe('invoice');
        for (const s of p.sessionIds) {
          expect(inv?.memo).toContain(s);
          covered.add(s);
        }
      }
      // every session whose operator part was paid appears in a memo; the others are carried
      const uncovered = sessionIds.filter((s) => !covered.has(s));
      for (const s of uncovered)
        expect(temp.ledger.loadState(Date.now()).pending.operator?.sessionIds).toContain(s);

      // every statement verifies against the wall's key
      expect(statements).toHaveLength(settled.length);
      const wallPubkey = connection.nodes.wall.pubkey;
      for (const st of statements) expect(verifyStatement(st, { wallPubkey })).toEqual([]);
      expect(statements.some((st) => st.statement.shares[0]!.kind === 'keysend')).toBe(true);

      // `boltcharge receipt <session> --json` lists the session's statements, and they verify
      const session = [...covered][0]!;
      const receipt = spawnSync(process.execPath, [bin, 'receipt', session, '--db', temp.file, '--json'], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(receipt.status, receipt.stderr).toBe(0);
      const view = JSON.parse(receipt.stdout) as { split: SignedStatement[] };
      expect(view.split.length).toBeGreaterThan(0);
      for (const st of view.split) {
        expect(st.statement.covered.map((c) => c.sessionId)).toContain(session);
        expect(verifyStatement(st, { wallPubkey })).toEqual([]);
      }
    },
  );

  it('refuses a changed amount, a swapped preimage and a foreign signature', async () => {
    const { wall, vehicle, connection } = f;
    const wallPubkey = connection.nodes.wall.pubkey;
    const [a, b] = statements.filter((st) => st.statement.recipient.name === 'operator');
    expect(a && b).toBeTruthy();
    const resign = async (body: SignedStatement['statement'], by: LndNode): Promise<SignedStatement> => {
      const text = canonicalStatementText(body);
      return { statement: body, text, signature: await by.signMessage(text) };
    };
    // a changed amount (even re-signed by the wall itself, the sums and the invoice disagree)
    const changed = { ...a!.statement, amountMsat: (BigInt(a!.statement.amountMsat) + 1000n).toString() };
    const unsigned = { ...a!, statement: changed, text: canonicalStatementText(changed) };
    expect(verifyStatement(unsigned, { wallPubkey }).map((p) => p.name)).toContain('StatementWrongSigner');
    const resigned = await resign(changed, wall);
    expect(verifyStatement(resigned, { wallPubkey }).map((p) => p.name)).toContain('StatementSumMismatch');
    // a swapped preimage
    const swapped = {
      ...a!.statement,
      shares: [{ ...a!.statement.shares[0]!, preimage: b!.statement.shares[0]!.preimage }],
    };
    expect(verifyStatement(await resign(swapped, wall), { wallPubkey }).map((p) => p.name)).toContain(
      'StatementPreimageMismatch',
    );
    // a foreign signature: the same text signed by another node
    const foreign = { ...a!, signature: await vehicle.signMessage(a!.text) };
    expect(verifyStatement(foreign, { wallPubkey }).map((p) => p.name)).toContain('StatementWrongSigner');

    // the same through `boltcharge verify-statement FILE`: every statement valid → 0; any tampering → 1, named
    const dir = mkdtempSync(join(tmpdir(), 'verify-'));
    try {
      const verify = (name: string, content: unknown) => {
        const file = join(dir, name);
        writeFileSync(file, JSON.stringify(content));
        return spawnSync(process.execPath, [bin, 'verify-statement', file, '--wall-pubkey', wallPubkey], {
          encoding: 'utf8',
          timeout: 60_000,
        });
      };
      const all = verify('all.json', statements);
      expect(all.status, all.stdout + all.stderr).toBe(0);
      expect(all.stdout.match(/: valid/g)).toHaveLength(statements.length);
      for (const [name, bad, reason] of [
        ['amount.json', resigned, 'StatementSumMismatch'],
        ['preimage.json', await resign(swapped, wall), 'StatementPreimageMismatch'],
        ['foreign.json', foreign, 'StatementWrongSigner'],
      ] as const) {
        const r = verify(name, [...statements, bad]);
        expect(r.status, name).toBe(1);
        expect(r.stdout).toContain(reason);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
