/**
 * The payout machine (issue 14): pure, time and events in, effects out. It books every settled payment of the
 * wall into per-recipient accruals ({@link splitAmount}), decides when to pay each recipient (threshold, session
 * end, daily batch), carries balances below the Lightning minimum, caps routing fees, retries an unreachable
 * recipient with doubling delays and raises one alarm per recipient, and lets the node's record decide the fate
 * of an attempt that was in flight across a restart.
 *
 * A payout goes `planned → in_flight → settled`, and back to `planned` (a later attempt) when an attempt
 * failed with nothing sent. An accrual part is assigned to exactly one payout, when the payout is planned; the
 * payout is paid at most once, because a new attempt is only made after the node said the previous one failed
 * or never started. The shell persists the state after every step and before running its effects (write-ahead:
 * `in_flight` with the payment hash is stored before the payment is sent).
 *
 * Books: for every recipient, Σ accrued parts = Σ settled payouts + Σ open payouts + balance; the host (the
 * remainder recipient) is never paid out, and routing fees are taken from its balance.
 */
import { payoutPlan, splitAmount, type Split } from './split.js';
import type { PayoutPolicyConfig } from './split-config.js';

/** Pay in whole sats: LNURL servers and many wallets take no msat fractions; the rest is carried. */
export const PAYOUT_UNIT_MSAT = 1_000n;
/** How often an attempt whose outcome the node does not know yet is looked up again, ms. */
export const LOOKUP_INTERVAL_MS = 5_000;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** One attempt to pay a payout: a payee invoice (LNURL-pay) or a keysend with our own preimage. */
export interface PayoutAttempt {
  kind: 'invoice' | 'keysend';
  paymentHash: string;
  /** the payee-signed invoice (invoice attempts) */
  bolt11: string | null;
  /** our own preimage (keysend attempts), stored before the send */
  preimage: string | null;
}

/** A payout of one recipient. */
export interface Payout {
  id: string;
  recipient: string;
  amountMsat: bigint;
  /** the settled payments (payment hashes) whose parts this payout pays, and their sessions */
  accrualIds: string[];
  sessionIds: string[];
  /** Σ of the parts of the covered accruals, msat */
  coveredMsat: bigint;
  /** balance carried into this payout from before (earlier sub-minimum remainders), msat */
  carriedInMsat: bigint;
  /** balance left after it (paid later), msat: amount = carriedIn + covered − carriedOut */
  carriedOutMsat: bigint;
  maxFeeMsat: bigint;
  status: 'planned' | 'in_flight' | 'settled';
  /** failed attempts so far */
  failures: number;
  /** no new attempt or lookup before this instant, ms since epoch */
  notBeforeMs: number;
  /** a prepare (invoice fetch) or pay effect is running (not meaningful across a restart) */
  busy: boolean;
  /** the node must be asked about `attempt` before anything else is done */
  needsLookup: boolean;
  attempt: PayoutAttempt | null;
  plannedAtMs: number;
  settledAtMs: number | null;
  preimage: string | null;
  feeMsat: bigint | null;
  lastError: string | null;
}

/** The machine's persisted state. */
export interface PayoutState {
  /** unpaid, unassigned msat per recipient (the host's is what it keeps) */
  balances: Record<string, bigint>;
  /** accruals and sessions per recipient not yet in a payout */
  pending: Record<string, { accrualIds: string[]; sessionIds: string[]; coveredMsat: bigint }>;
  payouts: Record<string, Payout>;
  nextSeq: number;
  /** day index (UTC days since epoch) of the last daily batch */
  lastDailyDay: number;
  /** recipients with a raised alarm */
  alarmed: string[];
  /** consecutive failures per recipient */
  failures: Record<string, number>;
  /** recipients whose payout was open when a session ended: their balance is paid once that payout settles */
  flush?: string[];
}

/** Inputs of the machine. */
export type PayoutEvent =
  | { kind: 'accrual'; accrualId: string; sessionId: string; totalMsat: bigint; atMs: number }
  | { kind: 'sessionEnded'; sessionId: string; atMs: number }
  | { kind: 'tick'; atMs: number }
  | { kind: 'restarted'; atMs: number }
  | { kind: 'prepared'; payoutId: string; attempt: PayoutAttempt; atMs: number }
  | { kind: 'prepareFailed'; payoutId: string; reason: string; atMs: number }
  | { kind: 'paid'; payoutId: string; paymentHash: string; preimage: string; feeMsat: bigint; atMs: number }
  | { kind: 'payFailed'; payoutId: string; paymentHash: string; reason: string; atMs: number }
  | { kind: 'payPending'; payoutId: string; atMs: number };

/** Outputs of the machine, run by the shell after the state is stored. */
export type PayoutEffect =
  | {
      kind: 'prepare';
      payoutId: string;
      recipient: string;
      amountMsat: bigint;
      /** text for the payee's invoice memo (LUD-12 comment): the sessions paid */
      memo: string;
    }
  | {
      kind: 'pay';
      payoutId: string;
      recipient: string;
      attempt: PayoutAttempt;
      amountMsat: bigint;
      maxFeeMsat: bigint;
    }
  | { kind: 'lookup'; payoutId: string; paymentHash: string }
  | { kind: 'alarm'; recipient: string; failures: number; reason: string }
  | { kind: 'alarmCleared'; recipient: string }
  | { kind: 'settled'; payoutId: string };

/** Static inputs: the split and the policy. */
export interface PayoutConfig {
  split: Split;
  policy: PayoutPolicyConfig;
}

/**
 * A fresh state.
 * @param nowMs the instant the machine starts, ms since epoch (today's daily batch counts as done)
 * @returns empty balances and no payouts
 */
export function initialPayoutState(nowMs: number): PayoutState {
  return {
    balances: {},
    pending: {},
    payouts: {},
    nextSeq: 1,
    lastDailyDay: Math.floor(nowMs / DAY_MS),
    alarmed: [],
    failures: {},
  };
}

/**
 * The routing fee cap of a payout.
 * @param amountMsat the payout, msat
 * @param policy `maxFeePpm` and `maxFeeMsat`
 * @returns min(maxFeeMsat, floor(amount · maxFeePpm / 10⁶)), msat
 */
export function payoutFeeCap(
  amountMsat: bigint,
  policy: Pick<PayoutPolicyConfig, 'maxFeePpm' | 'maxFeeMsat'>,
): bigint {
  const byPpm = (amountMsat * policy.maxFeePpm) / 1_000_000n;
  return byPpm < policy.maxFeeMsat ? byPpm : policy.maxFeeMsat;
}

/**
 * Delay before the next attempt after `failures` failed ones.
 * @returns first · 2^(failures−1), at most max, ms
 */
export function retryDelayMs(
  failures: number,
  policy: Pick<PayoutPolicyConfig, 'retryFirstDelayMs' | 'retryMaxDelayMs'>,
): number {
  const d = policy.retryFirstDelayMs * 2 ** Math.min(Math.max(failures - 1, 0), 30);
  return Math.min(d, policy.retryMaxDelayMs);
}

/** The step's result. */
export interface PayoutStep {
  state: PayoutState;
  effects: PayoutEffect[];
}

/**
 * One step of the machine.
 * @param state current state (not changed)
 * @param event what happened
 * @param config split and policy
 * @returns the next state and the effects to run once it is stored
 */
export function payoutStep(state: PayoutState, event: PayoutEvent, config: PayoutConfig): PayoutStep {
  const s = clone(state);
  const effects: PayoutEffect[] = [];
  switch (event.kind) {
    case 'accrual': {
      const parts = splitAmount(event.totalMsat, config.split);
      for (const [name, part] of Object.entries(parts)) {
        s.balances[name] = (s.balances[name] ?? 0n) + part;
        if (name === config.split.remainderName) continue;
        const p = (s.pending[name] ??= { accrualIds: [], sessionIds: [], coveredMsat: 0n });
        p.accrualIds.push(event.accrualId);
        if (!p.sessionIds.includes(event.sessionId)) p.sessionIds.push(event.sessionId);
        p.coveredMsat += part;
      }
      plan(s, config, event.atMs, config.policy.thresholdMsat);
      break;
    }
    case 'sessionEnded':
      if (config.policy.payAtSessionEnd) {
        const openBefore = openRecipients(s);
        plan(s, config, event.atMs, 0n);
        s.flush = [...new Set([...(s.flush ?? []), ...openBefore])];
      }
      break;
    case 'tick': {
      const day = Math.floor(event.atMs / DAY_MS);
      const hour = Math.floor((event.atMs % DAY_MS) / HOUR_MS);
      if (config.policy.dailyAtUtcHour >= 0 && day > s.lastDailyDay && hour >= config.policy.dailyAtUtcHour) {
        s.lastDailyDay = day;
        plan(s, config, event.atMs, 0n);
      }
      break;
    }
    case 'restarted':
      for (const p of Object.values(s.payouts)) {
        p.busy = false;
        if (p.status === 'in_flight') {
          p.needsLookup = true;
          p.notBeforeMs = event.atMs;
        }
      }
      break;
    case 'prepared': {
      const p = s.payouts[event.payoutId];
      if (!p || p.status !== 'planned') break;
      p.status = 'in_flight';
      p.attempt = event.attempt;
      p.needsLookup = false;
      p.busy = true;
      effects.push({
        kind: 'pay',
        payoutId: p.id,
        recipient: p.recipient,
        attempt: event.attempt,
        amountMsat: p.amountMsat,
        maxFeeMsat: p.maxFeeMsat,
      });
      return { state: s, effects };
    }
    case 'prepareFailed': {
      const p = s.payouts[event.payoutId];
      if (p && p.status === 'planned') failAttempt(s, p, event.reason, event.atMs, config, effects);
      break;
    }
    case 'paid': {
      const p = s.payouts[event.payoutId];
      if (!p || p.status !== 'in_flight' || p.attempt?.paymentHash !== event.paymentHash) break;
      p.status = 'settled';
      p.busy = false;
      p.needsLookup = false;
      p.preimage = event.preimage;
      p.feeMsat = event.feeMsat;
      p.settledAtMs = event.atMs;
      p.lastError = null;
      const host = config.split.remainderName;
      s.balances[host] = (s.balances[host] ?? 0n) - event.feeMsat;
      s.failures[p.recipient] = 0;
      if (s.alarmed.includes(p.recipient)) {
        s.alarmed = s.alarmed.filter((r) => r !== p.recipient);
        effects.push({ kind: 'alarmCleared', recipient: p.recipient });
      }
      effects.push({ kind: 'settled', payoutId: p.id });
      // balances that grew while this payout was open may be due now (all of it when a session ended meanwhile)
      if (s.flush?.includes(p.recipient)) {
        s.flush = s.flush.filter((r) => r !== p.recipient);
        plan(s, config, event.atMs, 0n, p.recipient);
      }
      plan(s, config, event.atMs, config.policy.thresholdMsat);
      break;
    }
    case 'payFailed': {
      const p = s.payouts[event.payoutId];
      if (!p || p.status !== 'in_flight' || p.attempt?.paymentHash !== event.paymentHash) break;
      p.status = 'planned';
      p.attempt = null;
      failAttempt(s, p, event.reason, event.atMs, config, effects);
      break;
    }
    case 'payPending': {
      const p = s.payouts[event.payoutId];
      if (!p || p.status !== 'in_flight') break;
      p.busy = false;
      p.needsLookup = true;
      p.notBeforeMs = event.atMs + LOOKUP_INTERVAL_MS;
      break;
    }
  }
  effects.push(...due(s, event.atMs));
  return { state: s, effects };
}

/** Effects for payouts whose time has come: lookups first (the node decides), then new attempts. */
function due(s: PayoutState, nowMs: number): PayoutEffect[] {
  const out: PayoutEffect[] = [];
  for (const p of Object.values(s.payouts)) {
    if (p.busy || p.notBeforeMs > nowMs) continue;
    if (p.status === 'in_flight' && p.needsLookup && p.attempt) {
      p.busy = true;
      out.push({ kind: 'lookup', payoutId: p.id, paymentHash: p.attempt.paymentHash });
    } else if (p.status === 'planned') {
      p.busy = true;
      out.push({
        kind: 'prepare',
        payoutId: p.id,
        recipient: p.recipient,
        amountMsat: p.amountMsat,
        memo: `boltcharge split ${p.id} sessions ${p.sessionIds.join(',')}`,
      });
    }
  }
  return out;
}

function failAttempt(
  s: PayoutState,
  p: Payout,
  reason: string,
  nowMs: number,
  config: PayoutConfig,
  effects: PayoutEffect[],
): void {
  p.busy = false;
  p.failures += 1;
  p.lastError = reason;
  p.notBeforeMs = nowMs + retryDelayMs(p.failures, config.policy);
  const failures = (s.failures[p.recipient] ?? 0) + 1;
  s.failures[p.recipient] = failures;
  if (failures >= config.policy.alarmAfterFailures && !s.alarmed.includes(p.recipient)) {
    s.alarmed.push(p.recipient);
    effects.push({ kind: 'alarm', recipient: p.recipient, failures, reason });
  }
}

/** Recipients with a payout not yet settled. */
function openRecipients(s: PayoutState): Set<string> {
  return new Set(
    Object.values(s.payouts)
      .filter((p) => p.status !== 'settled')
      .map((p) => p.recipient),
  );
}

/** Plans a payout for every payable recipient (or only `only`) without an open one whose balance is due. */
function plan(
  s: PayoutState,
  config: PayoutConfig,
  nowMs: number,
  thresholdMsat: bigint,
  only?: string,
): void {
  const open = openRecipients(s);
  const candidates: Record<string, bigint> = {};
  for (const r of config.split.recipients) {
    if (r.name === config.split.remainderName || open.has(r.name)) continue;
    if (only !== undefined && r.name !== only) continue;
    candidates[r.name] = s.balances[r.name] ?? 0n;
  }
  const { payouts } = payoutPlan(candidates, {
    thresholdMsat,
    minMsat: config.policy.minMsat,
    unitMsat: PAYOUT_UNIT_MSAT,
    keep: [],
  });
  for (const { name, amountMsat } of payouts) {
    const balance = s.balances[name] ?? 0n;
    const pending = s.pending[name] ?? { accrualIds: [], sessionIds: [], coveredMsat: 0n };
    const id = `po-${String(s.nextSeq).padStart(6, '0')}`;
    s.nextSeq += 1;
    s.payouts[id] = {
      id,
      recipient: name,
      amountMsat,
      accrualIds: pending.accrualIds,
      sessionIds: pending.sessionIds,
      coveredMsat: pending.coveredMsat,
      carriedInMsat: balance - pending.coveredMsat,
      carriedOutMsat: balance - amountMsat,
      maxFeeMsat: payoutFeeCap(amountMsat, config.policy),
      status: 'planned',
      failures: 0,
      notBeforeMs: nowMs,
      busy: false,
      needsLookup: false,
      attempt: null,
      plannedAtMs: nowMs,
      settledAtMs: null,
      preimage: null,
      feeMsat: null,
      lastError: null,
    };
    s.balances[name] = balance - amountMsat;
    delete s.pending[name];
  }
}

/**
 * Drops settled payouts from the working state (the shell keeps them in its ledger).
 * @param state the state
 * @returns the state without settled payouts
 */
export function pruneSettled(state: PayoutState): PayoutState {
  const payouts: Record<string, Payout> = {};
  for (const [id, p] of Object.entries(state.payouts)) if (p.status !== 'settled') payouts[id] = p;
  return { ...state, payouts };
}

function clone(s: PayoutState): PayoutState {
  return {
    balances: { ...s.balances },
    pending: Object.fromEntries(
      Object.entries(s.pending).map(([k, v]) => [
        k,
        { ...v, accrualIds: [...v.accrualIds], sessionIds: [...v.sessionIds] },
      ]),
    ),
    payouts: Object.fromEntries(
      Object.entries(s.payouts).map(([k, p]) => [
        k,
        { ...p, accrualIds: [...p.accrualIds], sessionIds: [...p.sessionIds] },
      ]),
    ),
    nextSeq: s.nextSeq,
    lastDailyDay: s.lastDailyDay,
    alarmed: [...s.alarmed],
    failures: { ...s.failures },
    flush: [...(s.flush ?? [])],
  };
}

/**
 * Serialises a state for the store (bigint as decimal strings).
 * @param state the state
 * @returns JSON text
 */
export function payoutStateToJson(state: PayoutState): string {
  return JSON.stringify(state, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}

/**
 * Reads a state written by {@link payoutStateToJson}.
 * @param text JSON text
 * @returns the state
 */
export function payoutStateFromJson(text: string): PayoutState {
  return JSON.parse(text, (_k, v: unknown) =>
    typeof v === 'string' && /^-?[0-9]+n$/.test(v) ? BigInt(v.slice(0, -1)) : v,
  ) as PayoutState;
}
