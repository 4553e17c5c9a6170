/**
 * Settlement statements (issue 14): one per settled payout, listing the payer invoices it covers, each with the
 * recipient's part, and the share paid (the payee-signed invoice, its preimage and the routing fee), signed by
 * the wall's node key (lnd `signmessage` over the statement's canonical JSON text). Pure: building the text and
 * verifying a signed statement need no node; signing is the shell's job.
 *
 * Verification checks every signature (the wall's over the text; the payee's inside each BOLT11, recovered and
 * compared with the pinned payee key), every sha256(preimage) = payment_hash, and every sum.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { decodeInvoice } from '../protocol/bolt11.js';
import { fromHex, isHex, toHex } from '../protocol/bytes.js';
import { recoverNodeKey } from '../protocol/nodeSignature.js';
import { PPM_WHOLE, splitAmount, type Split, type SplitRecipient } from './split.js';

/** Statement format version. */
export const STATEMENT_VERSION = 1;

/** One payer invoice the payout covers. */
export interface CoveredPayment {
  sessionId: string;
  paymentHash: string;
  /** what the wall received, msat (decimal string) */
  totalMsat: string;
  /** the recipient's part of it, msat (decimal string) */
  partMsat: string;
}

/** The share paid. */
export interface PaidShare {
  kind: 'invoice' | 'keysend';
  /** payee-signed BOLT11 (invoice shares), else null */
  bolt11: string | null;
  paymentHash: string;
  preimage: string;
  amountMsat: string;
  feeMsat: string;
}

/** The statement body (all amounts decimal strings of msat). */
export interface SettlementStatement {
  type: 'boltcharge.split-statement';
  version: number;
  payoutId: string;
  /** the wall node's key: it signs the statement */
  wallPubkey: string;
  recipient: { name: string; destination: string | null; payeePubkey: string | null };
  /** the split the parts were computed with */
  split: {
    remainderName: string;
    recipients: { name: string; kind: 'fee' | 'share'; ppm?: number; shares?: number }[];
  };
  covered: CoveredPayment[];
  carriedInMsat: string;
  carriedOutMsat: string;
  amountMsat: string;
  shares: PaidShare[];
  settledAtMs: number;
}

/** A statement with the wall's signature over `text` (the canonical JSON of `statement`). */
export interface SignedStatement {
  statement: SettlementStatement;
  text: string;
  /** lnd signmessage signature (zbase32) by `statement.wallPubkey` */
  signature: string;
}

/** Named reasons a statement is refused. */
export type StatementProblemName =
  | 'StatementMalformed'
  | 'StatementTextMismatch'
  | 'StatementSignatureInvalid'
  | 'StatementWrongSigner'
  | 'StatementPreimageMismatch'
  | 'StatementInvoiceInvalid'
  | 'StatementPayeeMismatch'
  | 'StatementAmountMismatch'
  | 'StatementSumMismatch'
  | 'StatementPartMismatch';

/** One problem found. */
export interface StatementProblem {
  name: StatementProblemName;
  message: string;
}

/**
 * The canonical text of a statement: JSON with keys in sorted order, no spaces.
 * @param statement the body
 * @returns the text the wall signs
 */
export function canonicalStatementText(statement: SettlementStatement): string {
  return JSON.stringify(sortKeys(statement));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, sortKeys(o[k])]),
    );
  }
  return v;
}

/**
 * The statement's description of a split.
 * @param split the checked split
 * @returns names, kinds and weights (no destinations)
 */
export function describeSplit(split: Split): SettlementStatement['split'] {
  return {
    remainderName: split.remainderName,
    recipients: split.recipients.map((r: SplitRecipient) =>
      r.kind === 'fee'
        ? { name: r.name, kind: 'fee', ppm: r.ppm }
        : { name: r.name, kind: 'share', shares: r.shares },
    ),
  };
}

function splitOf(d: SettlementStatement['split']): Split | null {
  const recipients: SplitRecipient[] = [];
  for (const r of d.recipients) {
    if (r.kind === 'fee' && Number.isSafeInteger(r.ppm) && r.ppm! >= 0 && r.ppm! <= PPM_WHOLE) {
      recipients.push({ name: r.name, kind: 'fee', ppm: r.ppm! });
    } else if (r.kind === 'share' && Number.isSafeInteger(r.shares) && r.shares! >= 0) {
      recipients.push({
        name: r.name,
        kind: 'share',
        shares: r.shares!,
        ...(r.name === d.remainderName ? { remainder: true } : {}),
      });
    } else return null;
  }
  return recipients.some((r) => r.name === d.remainderName)
    ? { recipients, remainderName: d.remainderName }
    : null;
}

const MSAT = /^(0|[1-9][0-9]{0,20})$/;

/**
 * Verifies a signed statement.
 * @param signed the statement, its text and the wall's signature (hostile input: any JSON value)
 * @param opts `wallPubkey`: the key the statement must be signed by (else the key it names is taken)
 * @returns every problem found (empty when the statement holds)
 */
export function verifyStatement(signed: unknown, opts: { wallPubkey?: string } = {}): StatementProblem[] {
  const problems: StatementProblem[] = [];
  const add = (name: StatementProblemName, message: string): void => {
    problems.push({ name, message });
  };
  const sig = signed as Partial<SignedStatement> | null;
  if (!sig || typeof sig !== 'object' || typeof sig.text !== 'string' || typeof sig.signature !== 'string') {
    add('StatementMalformed', 'needs text and signature');
    return problems;
  }
  let st: SettlementStatement;
  try {
    st = JSON.parse(sig.text) as SettlementStatement;
  } catch {
    add('StatementMalformed', 'text is not JSON');
    return problems;
  }
  if (sig.statement !== undefined && canonicalStatementText(sig.statement) !== sig.text) {
    add('StatementTextMismatch', 'the statement shown differs from the signed text');
  }
  if (
    st?.type !== 'boltcharge.split-statement' ||
    !Array.isArray(st.covered) ||
    !Array.isArray(st.shares) ||
    typeof st.wallPubkey !== 'string' ||
    ![st.amountMsat, st.carriedInMsat, st.carriedOutMsat].every((x) => typeof x === 'string' && MSAT.test(x))
  ) {
    add('StatementMalformed', 'not a split statement');
    return problems;
  }
  const expected = (opts.wallPubkey ?? st.wallPubkey).toLowerCase();
  if (st.wallPubkey.toLowerCase() !== expected)
    add('StatementWrongSigner', `statement names ${st.wallPubkey}, expected ${expected}`);
  const rec = recoverNodeKey(sig.text, sig.signature);
  if (!rec.ok) add('StatementSignatureInvalid', rec.error.message);
  else if (rec.value !== expected)
    add('StatementWrongSigner', `signed by ${rec.value}, expected ${expected}`);

  const split = st.split && Array.isArray(st.split.recipients) ? splitOf(st.split) : null;
  if (!split) add('StatementMalformed', 'split is not a valid split');
  let covered = 0n;
  for (const c of st.covered) {
    if (!c || !MSAT.test(String(c.totalMsat)) || !MSAT.test(String(c.partMsat))) {
      add('StatementMalformed', 'covered payment amounts');
      continue;
    }
    covered += BigInt(c.partMsat);
    if (split) {
      const part = splitAmount(BigInt(c.totalMsat), split)[st.recipient?.name] ?? 0n;
      if (part !== BigInt(c.partMsat))
        add('StatementPartMismatch', `${c.paymentHash}: part ${c.partMsat} msat, the split gives ${part}`);
    }
  }
  const amount = BigInt(st.amountMsat);
  if (BigInt(st.carriedInMsat) + covered - BigInt(st.carriedOutMsat) !== amount) {
    add(
      'StatementSumMismatch',
      `carried in ${st.carriedInMsat} + covered ${covered} − carried out ${st.carriedOutMsat} ≠ ${amount}`,
    );
  }
  let paid = 0n;
  for (const share of st.shares) {
    if (
      !share ||
      !MSAT.test(String(share.amountMsat)) ||
      !MSAT.test(String(share.feeMsat)) ||
      !isHex(String(share.preimage), 32) ||
      !isHex(String(share.paymentHash), 32)
    ) {
      add('StatementMalformed', 'share fields');
      continue;
    }
    paid += BigInt(share.amountMsat);
    if (toHex(sha256(fromHex(share.preimage))) !== share.paymentHash.toLowerCase()) {
      add('StatementPreimageMismatch', `sha256(preimage) ≠ ${share.paymentHash}`);
    }
    if (share.kind === 'invoice') {
      const inv = typeof share.bolt11 === 'string' ? decodeInvoice(share.bolt11) : null;
      if (!inv || !inv.ok) {
        add('StatementInvoiceInvalid', inv && !inv.ok ? inv.error.message : 'no invoice');
        continue;
      }
      if (inv.value.paymentHash !== share.paymentHash.toLowerCase())
        add('StatementInvoiceInvalid', 'invoice payment hash differs from the share');
      if (inv.value.amountMsat !== BigInt(share.amountMsat))
        add(
          'StatementAmountMismatch',
          `invoice is for ${inv.value.amountMsat} msat, share says ${share.amountMsat}`,
        );
      const pinned = st.recipient?.payeePubkey;
      if (pinned && inv.value.payeePubkey !== pinned.toLowerCase())
        add('StatementPayeeMismatch', `invoice signed by ${inv.value.payeePubkey}, pinned ${pinned}`);
    }
  }
  if (paid !== amount) add('StatementSumMismatch', `shares paid ${paid} msat, payout is ${amount}`);
  return problems;
}
