/**
 * Split remittance arithmetic (issue 14): how each payment received by the wall is shared between the charger
 * host and others (an operator, an installer, a landlord), as integer msat, and an accrual ledger that never
 * drops a msat.
 *
 * Semantics (podcast-namespace value split):
 * - a `fee` recipient takes a percentage off the top: `fee_i = floor(T · ppm_i / 1 000 000)`, where `ppm_i` is
 *   its percentage in millionths of the total (percent × 10 000; "2.5" % = 25 000 ppm; at most 4 decimals);
 * - the rest `R = T − Σ fee_i` is shared by `share` recipients: `share_j = floor(R · s_j / Σ s)`;
 * - every rounding remainder, `T − Σ fee_i − Σ share_j`, goes to the one `remainder` recipient (the host), who
 *   is a share recipient itself (possibly with 0 shares). When Σ s = 0 the host receives all of R.
 * So the parts of every payment sum to T exactly.
 *
 * Payouts: shares accrue per recipient; {@link payoutPlan} pays a recipient once its balance reaches the
 * threshold and the Lightning minimum, in whole `unitMsat` (1000 for destinations that take whole sats only);
 * whatever is not paid stays in the balance (carried to the next payout). The host's balance is what the host
 * keeps: it is never paid out, and routing fees of payouts are booked against it ({@link bookRoutingFee}).
 */
import { fail, ok, type Result } from '../protocol/errors.js';
import { checkServiceUrl, decodeLnurl, lightningAddressUrl } from './lnurl.js';

/** One recipient of a split. */
export type SplitRecipient =
  | {
      name: string;
      kind: 'fee';
      /** Percentage of the total in millionths (1 % = 10 000). */
      ppm: number;
      /** Where payouts go (Lightning address, LNURL, https LNURL-pay URL or node pubkey); see issue 14. */
      destination?: string;
      /** Node key the payee's invoices must be signed by (66 hex). */
      payeePubkey?: string;
    }
  | {
      name: string;
      kind: 'share';
      /** Shares of the rest, a non-negative integer. */
      shares: number;
      /** True for the one recipient who receives the remainders (the host). */
      remainder?: boolean;
      destination?: string;
      payeePubkey?: string;
    };

/** A checked split: recipients in config order and the remainder recipient's name. */
export interface Split {
  recipients: SplitRecipient[];
  remainderName: string;
}

/** Why a split configuration is refused. */
export type SplitInvalid =
  | { name: 'SplitEmpty' }
  | { name: 'SplitNameInvalid'; recipient: string }
  | { name: 'SplitNameDuplicate'; recipient: string }
  | { name: 'SplitPercentInvalid'; recipient: string; percent: string }
  | { name: 'SplitPercentOverflow'; totalPpm: number }
  | { name: 'SplitSharesInvalid'; recipient: string }
  | { name: 'SplitRemainderCount'; count: number }
  | { name: 'SplitDestinationInvalid'; recipient: string }
  | { name: 'SplitPayeeNotPinned'; recipient: string };

/** Millionths in a whole. */
export const PPM_WHOLE = 1_000_000;

/**
 * Parses a percentage as written in config ("10", "2.5", 12.25) into millionths of the total.
 * @param percent a decimal number 0–100 with at most 4 decimals, as a number or a string
 * @returns ppm (percent × 10 000) as an integer, or null when it is not such a number
 */
export function percentToPpm(percent: number | string): number | null {
  const text =
    typeof percent === 'number' ? (Number.isFinite(percent) ? String(percent) : '') : percent.trim();
  const m = /^([0-9]{1,3})(?:\.([0-9]{1,4}))?$/.exec(text);
  if (!m) return null;
  const ppm = Number(m[1]) * 10_000 + Number((m[2] ?? '').padEnd(4, '0'));
  return ppm <= PPM_WHOLE ? ppm : null;
}

/** A recipient as written in config (before {@link checkSplit}). */
export interface SplitRecipientConfig {
  name: string;
  /** Percentage off the top (with `fee: true`). */
  percent?: number | string;
  fee?: boolean;
  /** Shares of the rest. */
  shares?: number;
  /** Marks the host (the remainder recipient). */
  remainder?: boolean;
  destination?: string;
  payeePubkey?: string;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const PUBKEY = /^(02|03)[0-9a-f]{64}$/;

/**
 * Whether a destination names something payable: a node key (keysend), or an LNURL-pay service given as a
 * LUD-16 Lightning address, a LUD-01 `lnurl1…`, a LUD-17 `lnurlp://` link or an https URL.
 */
function destinationKind(destination: string): 'lnurl' | 'pubkey' | null {
  if (PUBKEY.test(destination)) return 'pubkey';
  if (destination.includes('@')) return lightningAddressUrl(destination).ok ? 'lnurl' : null;
  if (/^https:/i.test(destination)) return checkServiceUrl(destination, {}).ok ? 'lnurl' : null;
  const lnurl = decodeLnurl(destination);
  return lnurl.ok && (lnurl.value.kind === 'payRequest' || lnurl.value.kind === 'unknown') ? 'lnurl' : null;
}

/**
 * Checks a split configuration.
 * @param config recipients in order: each either `{fee: true, percent}` or `{shares}`; exactly one has
 *   `remainder: true` (the host, a share recipient); names unique (letters, digits, `_ . -`, ≤ 64)
 * @returns the split, or the first problem: `SplitEmpty`, `SplitNameInvalid`, `SplitNameDuplicate`,
 *   `SplitPercentInvalid`, `SplitPercentOverflow` (Σ percent > 100), `SplitSharesInvalid` (negative, not an
 *   integer, or both/neither of percent and shares), `SplitRemainderCount` (not exactly one host),
 *   `SplitDestinationInvalid`, `SplitPayeeNotPinned` (an LNURL destination without a pinned payee key: an LNURL
 *   server must not be able to redirect the money)
 */
export function checkSplit(config: SplitRecipientConfig[]): Result<Split, SplitInvalid> {
  if (config.length === 0) return fail({ name: 'SplitEmpty' });
  const names = new Set<string>();
  const recipients: SplitRecipient[] = [];
  let totalPpm = 0;
  const remainders = config.filter((r) => r.remainder === true);
  for (const r of config) {
    if (typeof r.name !== 'string' || !NAME.test(r.name))
      return fail({ name: 'SplitNameInvalid', recipient: String(r.name) });
    if (names.has(r.name)) return fail({ name: 'SplitNameDuplicate', recipient: r.name });
    names.add(r.name);
    const common = {
      name: r.name,
      ...(r.destination !== undefined ? { destination: r.destination } : {}),
      ...(r.payeePubkey !== undefined ? { payeePubkey: r.payeePubkey } : {}),
    };
    if (r.destination !== undefined) {
      const kind = destinationKind(r.destination);
      if (kind === null) return fail({ name: 'SplitDestinationInvalid', recipient: r.name });
      if (r.payeePubkey !== undefined && !PUBKEY.test(r.payeePubkey)) {
        return fail({ name: 'SplitDestinationInvalid', recipient: r.name });
      }
      if (kind === 'lnurl' && r.payeePubkey === undefined && r.remainder !== true) {
        return fail({ name: 'SplitPayeeNotPinned', recipient: r.name });
      }
    }
    if (r.fee === true) {
      if (r.shares !== undefined || r.remainder === true || r.percent === undefined) {
        return fail({ name: 'SplitSharesInvalid', recipient: r.name });
      }
      const ppm = percentToPpm(r.percent);
      if (ppm === null)
        return fail({ name: 'SplitPercentInvalid', recipient: r.name, percent: String(r.percent) });
      totalPpm += ppm;
      recipients.push({ ...common, kind: 'fee', ppm });
    } else {
      const shares = r.shares ?? (r.remainder === true ? 0 : undefined);
      if (r.percent !== undefined || shares === undefined || !Number.isSafeInteger(shares) || shares < 0) {
        return fail({ name: 'SplitSharesInvalid', recipient: r.name });
      }
      recipients.push({
        ...common,
        kind: 'share',
        shares,
        ...(r.remainder === true ? { remainder: true } : {}),
      });
    }
  }
  if (totalPpm > PPM_WHOLE) return fail({ name: 'SplitPercentOverflow', totalPpm });
  if (remainders.length !== 1) return fail({ name: 'SplitRemainderCount', count: remainders.length });
  return ok({ recipients, remainderName: remainders[0]!.name });
}

/** Amounts per recipient name, msat. */
export type Balances = Readonly<Record<string, bigint>>;

/**
 * Splits one payment.
 * @param totalMsat the amount received, msat (≥ 0)
 * @param split a checked split
 * @returns each recipient's part, msat; the parts sum to `totalMsat` exactly
 * @throws RangeError for a negative total (a caller bug, never input from outside)
 */
export function splitAmount(totalMsat: bigint, split: Split): Balances {
  if (totalMsat < 0n) throw new RangeError('splitAmount: negative total');
  const parts: Record<string, bigint> = {};
  let fees = 0n;
  for (const r of split.recipients) {
    if (r.kind !== 'fee') continue;
    const fee = (totalMsat * BigInt(r.ppm)) / BigInt(PPM_WHOLE);
    parts[r.name] = fee;
    fees += fee;
  }
  const rest = totalMsat - fees;
  let totalShares = 0n;
  for (const r of split.recipients) if (r.kind === 'share') totalShares += BigInt(r.shares);
  let shared = 0n;
  for (const r of split.recipients) {
    if (r.kind !== 'share') continue;
    const share = totalShares === 0n ? 0n : (rest * BigInt(r.shares)) / totalShares;
    parts[r.name] = share;
    shared += share;
  }
  parts[split.remainderName] = (parts[split.remainderName] ?? 0n) + (rest - shared);
  return parts;
}

/**
 * Books one payment into the accrual ledger.
 * @param balances accrued, unpaid msat per recipient (missing names count as 0)
 * @param totalMsat the payment, msat
 * @param split a checked split
 * @returns new balances (the input is not changed): each recipient's balance plus its part of the payment
 */
export function accrue(balances: Balances, totalMsat: bigint, split: Split): Balances {
  const next: Record<string, bigint> = { ...balances };
  for (const [name, part] of Object.entries(splitAmount(totalMsat, split)))
    next[name] = (next[name] ?? 0n) + part;
  return next;
}

/** One payout to make. */
export interface PlannedPayout {
  name: string;
  amountMsat: bigint;
}

/** Options of {@link payoutPlan}. */
export interface PayoutPolicy {
  /** Pay a recipient once its balance reaches this, msat (session end uses 0). */
  thresholdMsat: bigint;
  /** The smallest payment the destination can receive, msat (Lightning: 1 sat = 1000). */
  minMsat: bigint;
  /** Pay in whole multiples of this, msat (1 for msat-precise destinations, 1000 for sat-only ones). */
  unitMsat?: bigint;
  /** Recipients never paid out (the host, who keeps its balance). */
  keep: readonly string[];
}

/**
 * Decides which balances to pay now.
 * @param balances accrued, unpaid msat per recipient
 * @param policy threshold, minimum, unit and the kept recipients
 * @returns the payouts (amount = balance rounded down to the unit, only when ≥ threshold and ≥ minimum) and
 *   the balances carried after them: for every name, paid + carried = balance, so no msat is dropped
 */
export function payoutPlan(
  balances: Balances,
  policy: PayoutPolicy,
): { payouts: PlannedPayout[]; carried: Balances } {
  const unit = policy.unitMsat ?? 1n;
  if (unit < 1n) throw new RangeError('payoutPlan: unitMsat must be ≥ 1');
  const payouts: PlannedPayout[] = [];
  const carried: Record<string, bigint> = {};
  for (const [name, balance] of Object.entries(balances)) {
    const amount = (balance / unit) * unit;
    const due = !policy.keep.includes(name) && balance >= policy.thresholdMsat && amount >= policy.minMsat;
    if (due && amount > 0n) {
      payouts.push({ name, amountMsat: amount });
      carried[name] = balance - amount;
    } else {
      carried[name] = balance;
    }
  }
  return { payouts, carried };
}

/**
 * Books a payout's outcome: a settled payout leaves the plan's carried balance; a failed one puts the amount
 * back (it is paid later); its routing fee is taken from the host's kept balance.
 * @param balances the carried balances after the plan
 * @param payout the payout
 * @param outcome `settled` with the routing fee paid (msat), or `failed` (nothing left the node)
 * @param hostName the remainder recipient, who bears routing fees
 * @returns the new balances
 */
export function bookPayout(
  balances: Balances,
  payout: PlannedPayout,
  outcome: { status: 'settled'; routingFeeMsat: bigint } | { status: 'failed' },
  hostName: string,
): Balances {
  if (outcome.status === 'settled') return bookRoutingFee(balances, hostName, outcome.routingFeeMsat);
  return { ...balances, [payout.name]: (balances[payout.name] ?? 0n) + payout.amountMsat };
}

/**
 * Books a routing fee against the host (shorthand of {@link bookPayout} for fees known separately).
 * @param balances balances
 * @param hostName the remainder recipient
 * @param feeMsat routing fee, msat
 * @returns balances with the host's reduced by the fee
 */
export function bookRoutingFee(balances: Balances, hostName: string, feeMsat: bigint): Balances {
  return { ...balances, [hostName]: (balances[hostName] ?? 0n) - feeMsat };
}
