/**
 * `boltcharge verify-statement FILE [--wall-pubkey KEY] [--json]`: the independent verifier of split settlement
 * statements (issue 14). FILE (or `-` for stdin) holds one signed statement, a JSON array of them, or one per
 * line (as `boltcharge receipt --json` and the CSMS's `SplitSettled` data give them). Every signature, every
 * sha256(preimage) = payment_hash and every sum is checked (payments/payout-statement.ts).
 * Exit codes: 0 every statement holds, 1 any mismatch (each is printed with its named reason), 2 usage.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { verifyStatement, type StatementProblem } from '../../payments/payout-statement.js';

const usage = 'usage: boltcharge verify-statement <file|-> [--wall-pubkey <66 hex>] [--json]\n';
/** Largest statement file read, bytes. */
const MAX_FILE_BYTES = 16 * 1024 * 1024;

/**
 * Reads statements from a file's text.
 * @param text one JSON value (a statement or an array of them), or JSON lines
 * @returns the values, or null when the text is not JSON
 */
export function readStatements(text: string): unknown[] | null {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? (v as unknown[]) : [v];
  } catch {
    try {
      return text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as unknown);
    } catch {
      return null;
    }
  }
}

/**
 * Runs the command.
 * @param argv arguments after `verify-statement`
 * @param out where results go
 * @param err where diagnostics go
 * @returns 0 all valid, 1 a mismatch, 2 usage
 */
export function verifyStatementMain(
  argv: string[],
  out: (text: string) => void = (t) => process.stdout.write(t),
  err: (text: string) => void = (t) => process.stderr.write(t),
): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'wall-pubkey': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    err(`${(e as Error).message}\n${usage}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out(usage);
    return 0;
  }
  const wallPubkey = values['wall-pubkey'];
  if (
    positionals.length !== 1 ||
    (wallPubkey !== undefined && !/^(02|03)[0-9a-fA-F]{64}$/.test(wallPubkey))
  ) {
    err(usage);
    return 2;
  }
  let text: string;
  try {
    const file = positionals[0] === '-' ? 0 : positionals[0]!;
    text = readFileSync(file, 'utf8');
    if (text.length > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
  } catch (e) {
    err(`boltcharge verify-statement: cannot read ${positionals[0]}: ${(e as Error).message}\n`);
    return 2;
  }
  const statements = readStatements(text);
  if (statements === null || statements.length === 0) {
    err('boltcharge verify-statement: the file holds no JSON statement\n');
    return 1;
  }
  const results = statements.map((s, i) => {
    const payoutId = (s as { statement?: { payoutId?: unknown } } | null)?.statement?.payoutId;
    const problems: StatementProblem[] = verifyStatement(s, wallPubkey ? { wallPubkey } : {});
    return {
      index: i,
      payoutId: typeof payoutId === 'string' ? payoutId : null,
      valid: problems.length === 0,
      problems,
    };
  });
  if (values.json) out(JSON.stringify({ valid: results.every((r) => r.valid), statements: results }) + '\n');
  else {
    for (const r of results) {
      const label = r.payoutId ?? `statement ${r.index + 1}`;
      out(r.valid ? `${label}: valid\n` : `${label}: INVALID\n`);
      for (const p of r.problems) out(`  ${p.name}: ${p.message}\n`);
    }
  }
  return results.every((r) => r.valid) ? 0 : 1;
}
