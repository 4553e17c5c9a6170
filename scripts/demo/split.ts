/**
 * The split part of the demo (issue 14): the wall's default demo config shares every payment 90/10 between the
 * host (the wall, which keeps its share) and the operator (the regtest `operator` node, paid by keysend), and
 * after the session the demo waits until the wall daemon has paid the operator, then checks the books against
 * both nodes: per recipient paid + carried = due to the msat, every payout a succeeded payment of the wall and
 * a settled invoice of the operator, every statement valid.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { authenticatedLndGrpc, getInvoice } from 'lightning';
import Database from 'better-sqlite3';
import { LndPayouts } from '../../lightning/lnd-payouts.js';
import { verifyStatement, type SignedStatement } from '../../payments/payout-statement.js';
import { readSplitConfig } from '../../payments/split-config.js';
import { splitAmount } from '../../payments/split.js';
import { closeLnd, type NetworkConnection } from '../regtest/network.js';

/** The demo JSON's split keys (decimal strings of msat). */
export interface SplitDemoResult {
  operatorPaidMsat: string;
  hostKeptMsat: string;
  payoutFeesMsat: string;
}

/**
 * The wall config's `split:` section of the demo: 90/10 host/operator, the operator paid by keysend when the
 * session ends.
 * @param connection the regtest connection (with the operator node: `up({split: true})`)
 * @returns the section (a config overlay value)
 */
export function splitDemoSection(connection: NetworkConnection): Record<string, unknown> {
  const operator = connection.nodes.operator;
  if (!operator) throw new Error("the demo's split needs the operator node: up({split: true})");
  return {
    recipients: [
      { name: 'host', remainder: true, shares: 90 },
      { name: 'operator', shares: 10, destination: operator.pubkey },
    ],
    // paid when the session ends (never mid-session: the wall's node serves the car first)
    thresholdMsat: 1_000_000_000,
    retryFirstDelaySec: 1,
    retryMaxDelaySec: 5,
  };
}

interface LedgerRow {
  payout_id: string;
  recipient: string;
  status: string;
  amount_msat: number | bigint;
  fee_msat: number | bigint | null;
  payment_hash: string | null;
  preimage: string | null;
}

/**
 * Waits until the running wall daemon has accrued every settled payment and every session end, and settled every
 * payout with a signed statement (read-only look at its store), then checks the books against both nodes.
 * @param wallDb the wall's SQLite file
 * @param connection the regtest connection
 * @param timeoutMs give up after this, ms
 * @returns the demo's split figures and every disagreement found (empty when the books match)
 */
export async function settleSplitDemo(
  wallDb: string,
  connection: NetworkConnection,
  timeoutMs = 60_000,
): Promise<{ result: SplitDemoResult; problems: string[] }> {
  const section = splitDemoSection(connection);
  const parsed = readSplitConfig(section);
  if (!parsed.ok) throw new Error(parsed.error.name);
  const split = parsed.value.split;
  const db = new Database(wallDb, { readonly: true, fileMustExist: true });
  db.defaultSafeIntegers(true);
  const problems: string[] = [];
  const deadline = Date.now() + timeoutMs;
  const pending = (): number =>
    Number(
      (
        db
          .prepare(
            `SELECT (SELECT COUNT(*) FROM invoices i WHERE i.state = 'settled'
                       AND NOT EXISTS (SELECT 1 FROM payout_accruals a WHERE a.payment_hash = i.payment_hash))
                  + (SELECT COUNT(*) FROM sessions s WHERE s.status = 'ended'
                       AND s.ended_at_ms >= (SELECT enabled_at_ms FROM payout_machine WHERE id = 1)
                       AND NOT EXISTS (SELECT 1 FROM payout_session_ends e WHERE e.session_id = s.id))
                  + (SELECT COUNT(*) FROM payout_ledger WHERE status != 'settled')
                  + (SELECT COUNT(*) FROM payout_ledger l WHERE status = 'settled'
                       AND NOT EXISTS (SELECT 1 FROM payout_statements s WHERE s.payout_id = l.payout_id)) AS n`,
          )
          .get() as { n: bigint }
      ).n,
    );
  try {
    for (;;) {
      let left: number;
      try {
        left = pending();
      } catch {
        left = 1; // the payout tables appear once the daemon attached the payouts
      }
      if (left === 0) break;
      if (Date.now() > deadline) {
        problems.push(`split: ${left} payments or payouts still open after ${timeoutMs} ms`);
        break;
      }
      await sleep(500);
    }
    const due: Record<string, bigint> = {};
    const accruals = db.prepare('SELECT total_msat FROM payout_accruals').all() as { total_msat: bigint }[];
    for (const a of accruals) {
      for (const [name, part] of Object.entries(splitAmount(BigInt(a.total_msat), split)))
        due[name] = (due[name] ?? 0n) + part;
    }
    const rows = db.prepare("SELECT * FROM payout_ledger WHERE status = 'settled'").all() as LedgerRow[];
    const paid = rows.reduce((s, r) => s + BigInt(r.amount_msat), 0n);
    const fees = rows.reduce((s, r) => s + BigInt(r.fee_msat ?? 0), 0n);
    const state = JSON.parse(
      (db.prepare('SELECT state_json FROM payout_machine WHERE id = 1').get() as { state_json: string })
        .state_json,
    ) as { balances: Record<string, string> };
    const balance = (name: string): bigint => BigInt((state.balances[name] ?? '0n').replace(/n$/, ''));
    if (paid + balance('operator') !== (due.operator ?? 0n))
      problems.push(
        `split: operator paid ${paid} + carried ${balance('operator')} ≠ due ${due.operator ?? 0n}`,
      );
    if (balance('host') + fees !== (due.host ?? 0n))
      problems.push(`split: host kept ${balance('host')} + fees ${fees} ≠ due ${due.host ?? 0n}`);
    if (accruals.length === 0) problems.push('split: no payment was accrued');
    problems.push(...(await checkNodes(rows, connection)));
    const statements = db.prepare('SELECT text, signature FROM payout_statements').all() as SignedStatement[];
    for (const s of statements) {
      for (const p of verifyStatement(s, { wallPubkey: connection.nodes.wall.pubkey }))
        problems.push(`split statement: ${p.name}: ${p.message}`);
    }
    return {
      result: {
        operatorPaidMsat: paid.toString(),
        hostKeptMsat: balance('host').toString(),
        payoutFeesMsat: fees.toString(),
      },
      problems,
    };
  } finally {
    db.close();
  }
}

/** Every settled payout is a succeeded payment of the wall (same preimage and fee) and a settled invoice of the
  operator for the same amount. */
async function checkNodes(rows: LedgerRow[], connection: NetworkConnection): Promise<string[]> {
  const problems: string[] = [];
  const w = connection.nodes.wall;
  const o = connection.nodes.operator!;
  const wall = new LndPayouts({ connection: { socket: w.socket, cert: w.cert, macaroon: w.macaroon } });
  const operator = authenticatedLndGrpc({ socket: o.socket, cert: o.cert, macaroon: o.macaroon }).lnd;
  try {
    for (const r of rows) {
      const record = await wall.lookupPayment(r.payment_hash ?? '');
      if (
        record.state !== 'succeeded' ||
        record.preimage !== r.preimage ||
        record.feeMsat !== BigInt(r.fee_msat ?? -1)
      )
        problems.push(`split: payout ${r.payout_id} is not the wall's succeeded payment`);
      const inv = await getInvoice({ lnd: operator, id: r.payment_hash ?? '' }).catch(() => undefined);
      if (!inv?.is_confirmed || BigInt(inv.received_mtokens) !== BigInt(r.amount_msat))
        problems.push(`split: payout ${r.payout_id} is not a settled invoice of the operator`);
    }
  } finally {
    await wall.close();
    closeLnd(operator);
  }
  return problems;
}
