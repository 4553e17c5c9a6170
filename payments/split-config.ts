/**
 * The wall's `split:` configuration (issue 14), parsed from the plain value of the YAML document. Pure: the
 * recipients are checked by {@link checkSplit}; the payout policy (when to pay, fee caps, retries) is read here.
 *
 * ```yaml
 * split:
 *   recipients:
 *     - { name: host, remainder: true, shares: 90 }
 *     - name: operator
 *       shares: 10
 *       destination: operator@pay.example.com     # Lightning address, lnurl1…, lnurlp://, https:// or node key
 *       payeePubkey: 02…                          # the key the payee's invoices must be signed by
 *     - { name: installer, fee: true, percent: 2.5, destination: 03… }   # keysend to a node key
 *   thresholdMsat: 100000       # pay a recipient once its balance reaches this (default 100000)
 *   payAtSessionEnd: true       # also pay every balance ≥ minMsat when a session ends (default true)
 *   dailyAtUtcHour: 3           # and once a day at this UTC hour (default 3; -1 = never)
 *   minMsat: 1000               # the smallest payout; smaller balances are carried (default 1000 = 1 sat)
 *   maxFeePpm: 5000             # routing fee cap per payout, millionths of the amount (default 5000)
 *   maxFeeMsat: 10000           # and at most this, msat (default 10000); the smaller cap applies
 *   retryFirstDelaySec: 10      # first retry after a failure (default 10), doubling …
 *   retryMaxDelaySec: 3600      # … up to this (default 3600)
 *   alarmAfterFailures: 3       # raise one alarm per unreachable recipient after this many failures (default 3)
 *   tlsCaFile: ca.pem           # optional extra CA for LNURL servers with a private certificate
 * ```
 */
import { fail, ok, type Result } from '../protocol/errors.js';
import { checkSplit, type Split, type SplitInvalid, type SplitRecipientConfig } from './split.js';

/** When and how payouts are made. All amounts msat, all delays ms. */
export interface PayoutPolicyConfig {
  thresholdMsat: bigint;
  payAtSessionEnd: boolean;
  /** UTC hour of the daily batch, 0–23, or -1 for none */
  dailyAtUtcHour: number;
  minMsat: bigint;
  maxFeePpm: bigint;
  maxFeeMsat: bigint;
  retryFirstDelayMs: number;
  retryMaxDelayMs: number;
  alarmAfterFailures: number;
}

/** The checked `split:` section. */
export interface SplitConfig {
  split: Split;
  policy: PayoutPolicyConfig;
  /** extra CA certificate (PEM file path, unresolved) trusted for LNURL servers, e.g. a private one */
  tlsCaFile?: string;
}

/** What is wrong with a `split:` section: a {@link SplitInvalid} or a named policy key. */
export type SplitConfigProblem =
  | SplitInvalid
  | { name: 'SplitNotAMapping' }
  | { name: 'SplitRecipientsInvalid'; reason: string }
  | { name: 'SplitPolicyInvalid'; key: string; reason: string }
  | { name: 'SplitUnknownKey'; key: string };

/** Default policy values (see the module comment). */
export const SPLIT_POLICY_DEFAULTS: PayoutPolicyConfig = {
  thresholdMsat: 100_000n,
  payAtSessionEnd: true,
  dailyAtUtcHour: 3,
  minMsat: 1_000n,
  maxFeePpm: 5_000n,
  maxFeeMsat: 10_000n,
  retryFirstDelayMs: 10_000,
  retryMaxDelayMs: 3_600_000,
  alarmAfterFailures: 3,
};

const RECIPIENT_KEYS = new Set([
  'name',
  'percent',
  'fee',
  'shares',
  'remainder',
  'destination',
  'payeePubkey',
]);
const MAX_RECIPIENTS = 32;
const SECTION_KEYS = new Set([
  'recipients',
  'thresholdMsat',
  'payAtSessionEnd',
  'dailyAtUtcHour',
  'minMsat',
  'maxFeePpm',
  'maxFeeMsat',
  'retryFirstDelaySec',
  'retryMaxDelaySec',
  'alarmAfterFailures',
  'tlsCaFile',
]);

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads the `split:` section.
 * @param value the section's plain value as parsed from YAML (a mapping with `recipients` and policy keys)
 * @returns the checked split and payout policy, or the first problem: `SplitNotAMapping`,
 *   `SplitRecipientsInvalid` (not a list of 1–32 mappings, an unknown recipient key, a wrong type),
 *   `SplitPolicyInvalid` (a policy key of the wrong type or out of range), `SplitUnknownKey`, or a
 *   {@link checkSplit} refusal (percentages > 100 in total, no single host, a destination that does not parse,
 *   an LNURL destination without a pinned payee key)
 */
export function readSplitConfig(value: unknown): Result<SplitConfig, SplitConfigProblem> {
  if (!isPlain(value)) return fail({ name: 'SplitNotAMapping' });
  for (const key of Object.keys(value)) {
    if (!SECTION_KEYS.has(key)) return fail({ name: 'SplitUnknownKey', key });
  }
  const recipients = readRecipients(value.recipients);
  if (!recipients.ok) return recipients;
  const split = checkSplit(recipients.value);
  if (!split.ok) return split;
  const policy = readPolicy(value);
  if (!policy.ok) return policy;
  const ca = value.tlsCaFile;
  if (ca !== undefined && (typeof ca !== 'string' || ca === ''))
    return fail({ name: 'SplitPolicyInvalid', key: 'tlsCaFile', reason: 'must be a file path' });
  return ok({ split: split.value, policy: policy.value, ...(ca !== undefined ? { tlsCaFile: ca } : {}) });
}

function readRecipients(raw: unknown): Result<SplitRecipientConfig[], SplitConfigProblem> {
  const bad = (reason: string) => fail({ name: 'SplitRecipientsInvalid' as const, reason });
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_RECIPIENTS)
    return bad(`recipients must be a list of 1–${MAX_RECIPIENTS} mappings`);
  const out: SplitRecipientConfig[] = [];
  for (const [i, r] of raw.entries()) {
    if (!isPlain(r)) return bad(`recipient ${i + 1} is not a mapping`);
    const unknown = Object.keys(r).find((k) => !RECIPIENT_KEYS.has(k));
    if (unknown !== undefined) return bad(`recipient ${i + 1}: unknown key ${unknown}`);
    const str = (k: string): boolean => r[k] === undefined || typeof r[k] === 'string';
    const bool = (k: string): boolean => r[k] === undefined || typeof r[k] === 'boolean';
    if (typeof r.name !== 'string') return bad(`recipient ${i + 1}: name must be text`);
    if (!str('destination') || !str('payeePubkey'))
      return bad(`${r.name}: destination/payeePubkey must be text`);
    if (!bool('fee') || !bool('remainder')) return bad(`${r.name}: fee/remainder must be true or false`);
    if (r.shares !== undefined && typeof r.shares !== 'number')
      return bad(`${r.name}: shares must be a number`);
    if (r.percent !== undefined && typeof r.percent !== 'number' && typeof r.percent !== 'string')
      return bad(`${r.name}: percent must be a number`);
    out.push(r as unknown as SplitRecipientConfig);
  }
  return ok(out);
}

function readPolicy(v: Plain): Result<PayoutPolicyConfig, SplitConfigProblem> {
  const d = SPLIT_POLICY_DEFAULTS;
  const bad = (key: string, reason: string) => fail({ name: 'SplitPolicyInvalid' as const, key, reason });
  const int = (key: string, def: number, min: number, max: number): number | string => {
    const x = v[key];
    if (x === undefined) return def;
    return typeof x === 'number' && Number.isSafeInteger(x) && x >= min && x <= max
      ? x
      : `must be an integer ${min}..${max}`;
  };
  const msat = (key: string, def: bigint, min: bigint): bigint | string => {
    const x = v[key];
    if (x === undefined) return def;
    if (
      (typeof x === 'number' && Number.isSafeInteger(x)) ||
      (typeof x === 'string' && /^[0-9]{1,19}$/.test(x))
    ) {
      const b = BigInt(x);
      return b >= min ? b : `must be at least ${min}`;
    }
    return 'must be a whole number of msat';
  };
  const fields = {
    thresholdMsat: msat('thresholdMsat', d.thresholdMsat, 0n),
    minMsat: msat('minMsat', d.minMsat, 1_000n),
    maxFeePpm: msat('maxFeePpm', d.maxFeePpm, 0n),
    maxFeeMsat: msat('maxFeeMsat', d.maxFeeMsat, 0n),
    dailyAtUtcHour: int('dailyAtUtcHour', d.dailyAtUtcHour, -1, 23),
    retryFirstDelaySec: int('retryFirstDelaySec', d.retryFirstDelayMs / 1000, 1, 86_400),
    retryMaxDelaySec: int('retryMaxDelaySec', d.retryMaxDelayMs / 1000, 1, 7 * 86_400),
    alarmAfterFailures: int('alarmAfterFailures', d.alarmAfterFailures, 1, 1000),
  };
  for (const [key, x] of Object.entries(fields)) if (typeof x === 'string') return bad(key, x);
  const f = fields as {
    [K in keyof typeof fields]: Exclude<(typeof fields)[K], string>;
  };
  if (f.maxFeePpm > 1_000_000n) return bad('maxFeePpm', 'must be at most 1000000');
  if (f.retryMaxDelaySec < f.retryFirstDelaySec)
    return bad('retryMaxDelaySec', 'must be ≥ retryFirstDelaySec');
  const payAtSessionEnd = v.payAtSessionEnd ?? d.payAtSessionEnd;
  if (typeof payAtSessionEnd !== 'boolean') return bad('payAtSessionEnd', 'must be true or false');
  return ok({
    thresholdMsat: f.thresholdMsat,
    payAtSessionEnd,
    dailyAtUtcHour: f.dailyAtUtcHour,
    minMsat: f.minMsat,
    maxFeePpm: f.maxFeePpm,
    maxFeeMsat: f.maxFeeMsat,
    retryFirstDelayMs: f.retryFirstDelaySec * 1000,
    retryMaxDelayMs: f.retryMaxDelaySec * 1000,
    alarmAfterFailures: f.alarmAfterFailures,
  });
}

/**
 * A human sentence for a problem (config error messages).
 * @param p the problem
 * @returns e.g. "operator: an LNURL destination needs payeePubkey"
 */
export function describeSplitProblem(p: SplitConfigProblem): string {
  switch (p.name) {
    case 'SplitNotAMapping':
      return 'must be a mapping with recipients';
    case 'SplitRecipientsInvalid':
      return p.reason;
    case 'SplitPolicyInvalid':
      return `${p.key} ${p.reason}`;
    case 'SplitUnknownKey':
      return `unknown key ${p.key}`;
    case 'SplitPercentOverflow':
      return `percentages add up to more than 100 (${p.totalPpm / 10_000} %)`;
    case 'SplitPayeeNotPinned':
      return `${p.recipient}: an LNURL destination needs payeePubkey (the server must not redirect the money)`;
    case 'SplitRemainderCount':
      return `exactly one recipient must keep the remainder (remainder: true), found ${p.count}`;
    case 'SplitPercentInvalid':
      return `${p.recipient}: percent ${p.percent} is not 0–100 with at most 4 decimals`;
    case 'SplitEmpty':
      return 'no recipients';
    default:
      return `${p.recipient}: ${p.name}`;
  }
}
