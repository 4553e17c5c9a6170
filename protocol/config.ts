/**
 * Configuration of the two session machines, with defaults and validation. Units are in the names.
 *
 * One source: every tunable's default (`SELLER_DEFAULTS`, `BUYER_DEFAULTS`), range (`SELLER_RANGES`,
 * `BUYER_RANGES`) and YAML place (`SELLER_YAML`, `BUYER_YAML`: the section; the key is the field name, so the
 * YAML and the machine use the same names, ppm everywhere) is defined here once. Keys the YAML readers used to
 * spell differently are listed in `YAML_RENAMED_KEYS` (for a reader that still accepts them, with a warning).
 */
import { isHex } from './bytes.js';
import { fail, ok, type Result } from './errors.js';
import { SUPPORTED_VERSIONS } from './handshake.js';
import type { Network } from './messages.js';

/** The wall's (seller's) configuration. */
export interface SellerConfig {
  /** The wall's Lightning node key (hex 33): the key that signs its invoices and the handshake. */
  nodePubkey: string;
  network: Network;
  priceMsatPerWh: bigint;
  /** Target seconds between invoices (block sizing). Default 16. */
  targetInvoiceIntervalSec: number;
  minBlockWh: number;
  maxBlockWh: number;
  /** Blocks kept paid ahead; that many are paid before power flows. ≥ 1. */
  depositBlocks: number;
  /** Unpaid energy tolerated before cutting power, Wh. */
  graceWh: number;
  /** Largest power delivered, W (plans the deposit block before any power reading). */
  maxPowerW: number;
  /** Silence (no authenticated frame) after which the session ends, ms. */
  heartbeatTimeoutMs: number;
  /** The handshake must complete within this, ms. */
  handshakeTimeoutMs: number;
  /** Resend the clear hello this often while waiting for the vehicle's, ms. */
  helloRetryMs: number;
  /** After cutting power for lack of payment, power again when paid (true) or end the session (false). */
  resumeWhenPaid: boolean;
  /** Expiry of each invoice, s. */
  invoiceExpirySec: number;
  /** Minimum interval between meter messages sent, ms. */
  meterReportIntervalMs: number;
  /** Consecutive invoice declines (expired/failed payments) after which the session ends. */
  maxConsecutiveDeclines: number;
  /**
   * Longest time the power may stay cut for lack of payment (phase `suspended`) before the session ends with
   * UNPAID, s; 0 = no limit. YAML `tariff.maxSuspendSec`. The deadline is `SellerState.suspendDeadlineMs`.
   */
  maxSuspendSec: number;
  /**
   * While the power is cut for lack of payment, an invoice still unpaid this long after it was issued is
   * cancelled and a fresh one issued (the car may never have received the first), s. YAML `tariff.reissueAfterSec`.
   */
  reissueAfterSec: number;
  /**
   * Wait before asking the node again for an invoice it failed to create (or created wrong), ms; doubles after
   * each further failure up to `invoiceRetryMaxMs`, back to this after a success. YAML `session.invoiceRetryFirstMs`.
   */
  invoiceRetryFirstMs: number;
  /** Longest wait between invoice-creation attempts, ms. YAML `session.invoiceRetryMaxMs`. */
  invoiceRetryMaxMs: number;
  /**
   * A car still plugged in whose handshake timed out is greeted again (a fresh session) after this, ms; doubles
   * after each further timeout up to `regreetMaxMs`; back to this on unplug or a completed handshake.
   * YAML `session.regreetFirstMs`.
   */
  regreetFirstMs: number;
  /** Longest wait between greetings of a plugged-in car that does not answer, ms. YAML `session.regreetMaxMs`. */
  regreetMaxMs: number;
  /**
   * Size the pipelining depth from the measured settle latency (true) or keep `depositBlocks` blocks paid ahead
   * while charging (false). With it, once `MIN_LATENCY_SAMPLES` invoices have settled, the next invoice is
   * requested when the paid energy ahead falls below what `maxPowerW` delivers during the slowest recent
   * request→settle latency × `refillHeadroomPpm` (at least `minBlockWh`, never more than `depositBlocks` blocks):
   * the car's prepaid
   * exposure is then about one block plus that margin instead of `depositBlocks` + 1 blocks, and the next block
   * is still paid before the energy runs out. The deposit before power flows stays `depositBlocks` blocks.
   * Default off until measured against real nodes end to end. YAML `tariff.adaptiveRefill`.
   */
  adaptiveRefill: boolean;
  /** Headroom over the slowest recent settle latency, ppm (2,000,000 = ×2). YAML `tariff.refillHeadroomPpm`. */
  refillHeadroomPpm: number;
  /**
   * Offline case 3 (neither node reaches the Lightning network; protocol version 3): most energy one car
   * (identity key) may hold on signed promises not yet paid, over all its sessions, Wh; 0 = promises refused
   * (the default, like OCPP's MaxEnergyOnInvalidId). YAML `tariff.promiseCapWh`.
   */
  promiseCapWh: number;
  /**
   * Most energy all cars together may hold on promises not yet paid, Wh (bounds a car that shows a new key each
   * session); 0 = no site cap beyond the per-car one. YAML `tariff.promiseSiteCapWh`.
   */
  promiseSiteCapWh: number;
  /** Protocol versions offered, ascending. */
  versions: number[];
}

/** The vehicle's (buyer's) configuration. */
export interface BuyerConfig {
  network: Network;
  maxPriceMsatPerWh: bigint;
  maxBlockWh: number;
  /** Most energy paid for but not yet measured by the own meter, Wh. */
  maxPrepaidWh: number;
  /**
   * Cross-session caps on energy paid for (or in doubt) but not delivered, within the daemon's rolling window:
   * with one wall (node key), and with all walls, Wh. The shell supplies the earlier sessions' figures in a
   * `history` event; the machine never lets this session take the totals over the caps. Default: no cap.
   */
  maxUndeliveredWhPerWall: number;
  maxUndeliveredWhTotal: number;
  sessionBudgetMsat: bigint;
  /**
   * Most money (amounts + routing fees, paid or in doubt) spent per budget day over all sessions, msat. The
   * budget day starts at 00:00 at `budgetDayUtcOffsetMin` (see `budgetDayStartMs`); a payment counts in the
   * day it was sent, and one still in doubt counts against the current day until it is decided.
   */
  dailyBudgetMsat: bigint;
  /**
   * Already spent in the current budget day before this session, msat. Deprecated as an input: the shell
   * supplies the figure in the `history` event (`spentTodayMsat`), which overrides this; kept as the fallback.
   */
  spentTodayMsat: bigint;
  /**
   * Offset of the budget day from UTC, minutes (e.g. 60 for a day from 00:00 at UTC+1; −720..840).
   * YAML `limits.budgetDayUtcOffsetMin`.
   */
  budgetDayUtcOffsetMin: number;
  /** Stop after this much energy, Wh; 0 = until unplugged or full. */
  targetEnergyWh: number;
  /** Meter disagreement tolerated: toleranceWh + tolerancePpm of own energy. */
  meterToleranceWh: number;
  meterTolerancePpm: number;
  /** Routing fee limit per payment: min(maxFeeMsat, maxFeePpm of the amount). */
  maxFeeMsat: bigint;
  maxFeePpm: number;
  /**
   * Consecutive finally failed payments after which the session ends (PAYMENT_FAILED).
   * YAML `payment.maxConsecutivePaymentFailures`.
   */
  maxConsecutivePaymentFailures: number;
  /** Most attempts to pay one invoice (the first included) when failures are retryable. YAML `payment.payMaxAttempts`. */
  payMaxAttempts: number;
  /**
   * Wait before paying again after a retryable failure, ms; doubles per attempt up to `payRetryMaxMs`.
   * YAML `payment.payRetryFirstMs`.
   */
  payRetryFirstMs: number;
  /** Longest wait between attempts to pay one invoice, ms. YAML `payment.payRetryMaxMs`. */
  payRetryMaxMs: number;
  /**
   * A `noRoute` failure is retried only within this long after the node was last seen in an outage (its
   * channels are coming back), ms; otherwise it is final. YAML `payment.noRouteRetryWindowMs`.
   */
  noRouteRetryWindowMs: number;
  heartbeatTimeoutMs: number;
  handshakeTimeoutMs: number;
  /** Wait this long for the seller's receipt after a stop, ms. */
  receiptTimeoutMs: number;
  /** Seconds an invoice must still be valid to be paid. */
  invoiceExpiryMarginSec: number;
  meterReportIntervalMs: number;
  /**
   * Offline case 3: most money (amounts) this car may owe on signed promises not yet paid, over all walls and
   * sessions, msat; 0 = never promise (the default). A payment that fails for lack of a route (the car's node
   * is offline) is then promised to the wall (node identity only) and paid when the node is back.
   * YAML `limits.promiseMaxMsat`.
   */
  promiseMaxMsat: bigint;
  /** Authenticate with a fresh per-session key (default) or with the node key (via signWithNodeKey). */
  identity: { kind: 'session' } | { kind: 'node'; nodePubkey: string };
  versions: number[];
}

/** A configuration problem, naming the field. */
export interface ConfigProblem {
  readonly kind: 'ConfigProblem';
  readonly name: 'InvalidConfig';
  readonly field: string;
  readonly message: string;
}

/** An inclusive integer range a configuration value must lie in. */
export interface IntRange {
  readonly min: number;
  readonly max: number;
}

/** An inclusive range of an amount of money, msat. */
export interface MsatRange {
  readonly min: bigint;
  readonly max: bigint;
}

/**
 * Smallest amount an invoice may carry, msat: lnd's default minimum HTLC (1 sat). A smaller invoice cannot be
 * paid over a channel, so a tariff that could produce one is refused.
 */
export const MIN_INVOICE_MSAT = 1_000n;

/**
 * Largest amount of money any configured value may hold, msat: every bitcoin there will ever be (21 million BTC =
 * 2.1 × 10^18 msat), well inside the store's signed 64-bit integers (about 9.2 × 10^18) even when a few such
 * amounts are added.
 */
export const MAX_MSAT = 2_100_000_000_000_000_000n;

/** Prices a configuration may set or accept, msat per Wh (up to 1,000,000 sat/Wh; any block still fits 64 bits). */
export const PRICE_RANGE_MSAT_PER_WH: MsatRange = { min: 1n, max: 1_000_000_000n };

/** Budgets and caps of money, msat. */
export const MSAT_RANGE: MsatRange = { min: 1n, max: MAX_MSAT };

/**
 * Defaults of the seller's tunables: the one place both `sellerConfig` and the wall's YAML reader
 * (`wall-module/config.ts`) take them from.
 */
export const SELLER_DEFAULTS = {
  targetInvoiceIntervalSec: 16,
  minBlockWh: 10,
  maxBlockWh: 500,
  depositBlocks: 1,
  graceWh: 30,
  maxPowerW: 11_000,
  heartbeatTimeoutMs: 10_000,
  handshakeTimeoutMs: 30_000,
  helloRetryMs: 1_000,
  resumeWhenPaid: true,
  invoiceExpirySec: 600,
  meterReportIntervalMs: 2_000,
  maxConsecutiveDeclines: 3,
  maxSuspendSec: 300,
  reissueAfterSec: 30,
  invoiceRetryFirstMs: 2_000,
  invoiceRetryMaxMs: 60_000,
  regreetFirstMs: 5_000,
  regreetMaxMs: 60_000,
  adaptiveRefill: false,
  refillHeadroomPpm: 2_000_000,
  promiseCapWh: 0,
  promiseSiteCapWh: 0,
} as const;

/** Integer fields of the seller's configuration. */
type SellerIntField = {
  [K in keyof SellerConfig]: SellerConfig[K] extends number ? K : never;
}[keyof SellerConfig];

/** Ranges of the seller's integer tunables (the wall's YAML reader applies the same ones). */
export const SELLER_RANGES: Record<SellerIntField, IntRange> = {
  targetInvoiceIntervalSec: { min: 1, max: 3_600 },
  minBlockWh: { min: 1, max: 1_000_000 },
  maxBlockWh: { min: 1, max: 1_000_000 },
  depositBlocks: { min: 1, max: 100 },
  graceWh: { min: 0, max: 100_000 },
  maxPowerW: { min: 1_000, max: 400_000 },
  heartbeatTimeoutMs: { min: 300, max: 3_600_000 },
  handshakeTimeoutMs: { min: 1_000, max: 600_000 },
  helloRetryMs: { min: 100, max: 60_000 },
  invoiceExpirySec: { min: 30, max: 86_400 },
  meterReportIntervalMs: { min: 100, max: 60_000 },
  maxConsecutiveDeclines: { min: 1, max: 1_000 },
  maxSuspendSec: { min: 0, max: 86_400 },
  reissueAfterSec: { min: 1, max: 86_400 },
  invoiceRetryFirstMs: { min: 100, max: 600_000 },
  invoiceRetryMaxMs: { min: 100, max: 3_600_000 },
  regreetFirstMs: { min: 100, max: 3_600_000 },
  regreetMaxMs: { min: 100, max: 3_600_000 },
  refillHeadroomPpm: { min: 1_000_000, max: 100_000_000 },
  promiseCapWh: { min: 0, max: 1_000_000 },
  promiseSiteCapWh: { min: 0, max: 100_000_000 },
};

/**
 * Defaults of the buyer's tunables: the one place both `buyerConfig` and the vehicle's YAML reader
 * (`vehicle-module/config.ts`) take them from.
 */
export const BUYER_DEFAULTS = {
  maxBlockWh: 1_000,
  maxPrepaidWh: 2_000,
  /** cap on paid-but-undelivered energy with one wall (node key) over the rolling window, Wh */
  maxUndeliveredWhPerWall: 4_000,
  /** cap on paid-but-undelivered energy with all walls over the rolling window, Wh */
  maxUndeliveredWhTotal: 10_000,
  targetEnergyWh: 0,
  meterToleranceWh: 5,
  meterTolerancePpm: 30_000,
  maxFeeMsat: 10_000n,
  maxFeePpm: 10_000,
  heartbeatTimeoutMs: 10_000,
  handshakeTimeoutMs: 30_000,
  receiptTimeoutMs: 10_000,
  invoiceExpiryMarginSec: 10,
  meterReportIntervalMs: 2_000,
  budgetDayUtcOffsetMin: 0,
  maxConsecutivePaymentFailures: 3,
  payMaxAttempts: 60,
  payRetryFirstMs: 500,
  payRetryMaxMs: 5_000,
  noRouteRetryWindowMs: 30_000,
  promiseMaxMsat: 0n,
} as const;

/** Integer fields of the buyer's configuration. */
type BuyerIntField = {
  [K in keyof BuyerConfig]: BuyerConfig[K] extends number ? K : never;
}[keyof BuyerConfig];

/** Ranges of the buyer's integer tunables (the vehicle's YAML reader applies the same ones). */
export const BUYER_RANGES: Record<BuyerIntField, IntRange> = {
  maxBlockWh: { min: 1, max: 1_000_000 },
  maxPrepaidWh: { min: 1, max: 1_000_000 },
  maxUndeliveredWhPerWall: { min: 1, max: 10_000_000 },
  maxUndeliveredWhTotal: { min: 1, max: 10_000_000 },
  targetEnergyWh: { min: 0, max: 1_000_000 },
  meterToleranceWh: { min: 0, max: 10_000 },
  meterTolerancePpm: { min: 0, max: 500_000 },
  maxFeePpm: { min: 0, max: 1_000_000 },
  heartbeatTimeoutMs: { min: 200, max: 3_600_000 },
  handshakeTimeoutMs: { min: 1_000, max: 600_000 },
  receiptTimeoutMs: { min: 100, max: 600_000 },
  invoiceExpiryMarginSec: { min: 0, max: 3_600 },
  meterReportIntervalMs: { min: 100, max: 60_000 },
  budgetDayUtcOffsetMin: { min: -720, max: 840 },
  maxConsecutivePaymentFailures: { min: 1, max: 1_000 },
  payMaxAttempts: { min: 1, max: 1_000 },
  payRetryFirstMs: { min: 10, max: 600_000 },
  payRetryMaxMs: { min: 10, max: 3_600_000 },
  noRouteRetryWindowMs: { min: 0, max: 3_600_000 },
};

/**
 * The smallest block a seller with these block bounds can invoice, Wh. Blocks are sized between `minBlockWh`
 * and `maxBlockWh`; next to a limit (target, stop, price change) the block before it may shrink so that no
 * remainder below `minBlockWh` is left: when `maxBlockWh` is under twice `minBlockWh`, that shrunk block can be
 * as small as `maxBlockWh + 1 − minBlockWh` (see `blockBeforeLimit` in seller.ts).
 * @param minBlockWh smallest regular block, Wh
 * @param maxBlockWh largest block, Wh
 * @returns Wh, at least 1
 */
export function smallestInvoiceBlockWh(minBlockWh: number, maxBlockWh: number): number {
  return Math.max(1, Math.min(minBlockWh, maxBlockWh + 1 - minBlockWh));
}

/**
 * Checks that every invoice a tariff can produce is payable (≥ MIN_INVOICE_MSAT).
 * @param c price and block bounds
 * @returns the problem (field and reason), or undefined when the tariff is payable
 */
export function tariffPayabilityProblem(c: {
  priceMsatPerWh: bigint;
  minBlockWh: number;
  maxBlockWh: number;
}): { field: 'minBlockWh' | 'maxBlockWh'; message: string } | undefined {
  const smallest = c.priceMsatPerWh * BigInt(c.minBlockWh);
  if (smallest < MIN_INVOICE_MSAT) {
    const needWh = (MIN_INVOICE_MSAT + c.priceMsatPerWh - 1n) / c.priceMsatPerWh;
    return {
      field: 'minBlockWh',
      message:
        `the smallest invoice, minBlockWh × priceMsatPerWh = ${smallest} msat, is below Lightning's ` +
        `${MIN_INVOICE_MSAT} msat (1 sat) minimum payment: raise minBlockWh to at least ${needWh} or the price`,
    };
  }
  const lastWh = smallestInvoiceBlockWh(c.minBlockWh, c.maxBlockWh);
  const last = c.priceMsatPerWh * BigInt(lastWh);
  if (last < MIN_INVOICE_MSAT) {
    return {
      field: 'maxBlockWh',
      message:
        `the last block before a limit can shrink to ${lastWh} Wh = ${last} msat, below Lightning's ` +
        `${MIN_INVOICE_MSAT} msat (1 sat) minimum payment: make maxBlockWh at least 2 × minBlockWh − 1 ` +
        `(${2 * c.minBlockWh - 1})`,
    };
  }
  return undefined;
}

const NETWORKS: Network[] = ['bitcoin', 'testnet', 'signet', 'regtest'];

function problem(field: string, message: string): { ok: false; error: ConfigProblem } {
  return fail({ kind: 'ConfigProblem', name: 'InvalidConfig', field, message: `${field}: ${message}` });
}

function checkRanges<F extends string>(c: object, ranges: Record<F, IntRange>): ConfigProblem | undefined {
  for (const [f, { min, max }] of Object.entries(ranges) as [F, IntRange][]) {
    const v = (c as Record<string, unknown>)[f];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      return problem(f, `must be an integer ${min}..${max}`).error;
    }
  }
  return undefined;
}

function checkMsat(c: object, fields: string[], range: MsatRange): ConfigProblem | undefined {
  for (const f of fields) {
    const v = (c as Record<string, unknown>)[f];
    if (typeof v !== 'bigint' || v < range.min || v > range.max)
      return problem(f, `must be a bigint ${range.min}..${range.max}`).error;
  }
  return undefined;
}

function checkVersions(vs: unknown): ConfigProblem | undefined {
  if (!Array.isArray(vs) || vs.length === 0 || vs.length > 16)
    return problem('versions', '1..16 entries').error;
  for (let i = 0; i < vs.length; i++) {
    const v: unknown = vs[i];
    if (
      typeof v !== 'number' ||
      !Number.isInteger(v) ||
      v < 1 ||
      v > 255 ||
      (i > 0 && v <= (vs[i - 1] as number))
    ) {
      return problem('versions', 'integers 1..255, strictly ascending').error;
    }
  }
  return undefined;
}

/**
 * Fills defaults and validates a seller configuration.
 * @param c required: nodePubkey, network, priceMsatPerWh; the rest default to SELLER_DEFAULTS (16 s cadence,
 *   10–500 Wh blocks, 1 deposit block, 30 Wh grace, 11,000 W, 10 s heartbeat, 30 s handshake, 1 s hello retry,
 *   resume on pay, 600 s invoice expiry, 2 s meter reports, 3 declines, 300 s max suspension, reissue after
 *   30 s, invoice retry 2 s doubling to 60 s, re-greet 5 s doubling to 60 s) and versions [1]; integers must lie in
 *   SELLER_RANGES, the price in PRICE_RANGE_MSAT_PER_WH, and every invoice the tariff can produce must reach
 *   MIN_INVOICE_MSAT
 * @returns SellerConfig or ConfigProblem
 */
export function sellerConfig(
  c: Pick<SellerConfig, 'nodePubkey' | 'network' | 'priceMsatPerWh'> & Partial<SellerConfig>,
): Result<SellerConfig, ConfigProblem> {
  const full: SellerConfig = {
    ...SELLER_DEFAULTS,
    versions: [...SUPPORTED_VERSIONS],
    ...c,
  };
  if (typeof full.nodePubkey !== 'string' || !isHex(full.nodePubkey, 33))
    return problem('nodePubkey', 'hex of 33 bytes');
  if (!NETWORKS.includes(full.network)) return problem('network', `one of ${NETWORKS.join(', ')}`);
  const e =
    checkMsat(full, ['priceMsatPerWh'], PRICE_RANGE_MSAT_PER_WH) ??
    checkRanges(full, SELLER_RANGES) ??
    checkVersions(full.versions);
  if (e !== undefined) return fail(e);
  if (full.minBlockWh > full.maxBlockWh) return problem('minBlockWh', 'must not exceed maxBlockWh');
  if (full.invoiceRetryFirstMs > full.invoiceRetryMaxMs)
    return problem('invoiceRetryFirstMs', 'must not exceed invoiceRetryMaxMs');
  if (full.regreetFirstMs > full.regreetMaxMs)
    return problem('regreetFirstMs', 'must not exceed regreetMaxMs');
  const unpayable = tariffPayabilityProblem(full);
  if (unpayable !== undefined) return problem(unpayable.field, unpayable.message);
  if (typeof full.resumeWhenPaid !== 'boolean') return problem('resumeWhenPaid', 'boolean');
  if (typeof full.adaptiveRefill !== 'boolean') return problem('adaptiveRefill', 'boolean');
  full.nodePubkey = full.nodePubkey.toLowerCase();
  return ok(full);
}

/**
 * Fills defaults and validates a buyer configuration.
 * @param c required: network, maxPriceMsatPerWh, sessionBudgetMsat; defaults: daily budget = session budget,
 *   spent today 0, per-session identity, versions [1], the rest BUYER_DEFAULTS (1000 Wh max block, 2000 Wh max
 *   prepaid, 4000 Wh undelivered per wall and 10,000 Wh overall, no target, tolerance 5 Wh + 3 %, fee ≤ 10,000 msat and ≤ 1 %, 10 s heartbeat, 30 s handshake,
 *   10 s receipt wait, 10 s expiry margin, 2 s meter reports, UTC budget day, 3 consecutive payment failures,
 *   60 attempts per invoice, retry 500 ms doubling to 5 s, no-route retried 30 s after an outage); integers must
 *   lie in BUYER_RANGES, money in
 *   MSAT_RANGE (at most MAX_MSAT), the price in PRICE_RANGE_MSAT_PER_WH
 * @returns BuyerConfig or ConfigProblem
 */
export function buyerConfig(
  c: Pick<BuyerConfig, 'network' | 'maxPriceMsatPerWh' | 'sessionBudgetMsat'> & Partial<BuyerConfig>,
): Result<BuyerConfig, ConfigProblem> {
  const full: BuyerConfig = {
    dailyBudgetMsat: c.sessionBudgetMsat,
    spentTodayMsat: 0n,
    ...BUYER_DEFAULTS,
    identity: { kind: 'session' },
    versions: [...SUPPORTED_VERSIONS],
    ...c,
  };
  if (!NETWORKS.includes(full.network)) return problem('network', `one of ${NETWORKS.join(', ')}`);
  const e =
    checkMsat(full, ['maxPriceMsatPerWh'], PRICE_RANGE_MSAT_PER_WH) ??
    checkMsat(full, ['sessionBudgetMsat', 'dailyBudgetMsat'], MSAT_RANGE) ??
    checkMsat(full, ['spentTodayMsat', 'maxFeeMsat', 'promiseMaxMsat'], { min: 0n, max: MAX_MSAT }) ??
    checkRanges(full, BUYER_RANGES) ??
    checkVersions(full.versions);
  if (e !== undefined) return fail(e);
  if (full.payRetryFirstMs > full.payRetryMaxMs)
    return problem('payRetryFirstMs', 'must not exceed payRetryMaxMs');
  if (full.identity.kind === 'node' && !isHex(full.identity.nodePubkey, 33)) {
    return problem('identity.nodePubkey', 'hex of 33 bytes');
  }
  if (full.identity.kind !== 'node' && full.identity.kind !== 'session')
    return problem('identity', 'session or node');
  return ok(full);
}

/** One day, ms. */
const DAY_MS = 86_400_000;

/**
 * Start of the budget day that contains `atMs`: 00:00 at UTC + `utcOffsetMin`. The vehicle's store sums the
 * day's spending from this instant, so that machine and ledger agree on what "today" is.
 * @param atMs instant, ms since the Unix epoch
 * @param utcOffsetMin offset of the budget day from UTC, minutes (−720..840)
 * @returns ms since the Unix epoch (≤ atMs, > atMs − 1 day)
 */
export function budgetDayStartMs(atMs: number, utcOffsetMin: number): number {
  const offsetMs = utcOffsetMin * 60_000;
  return Math.floor((atMs + offsetMs) / DAY_MS) * DAY_MS - offsetMs;
}

/** Seller tunables an operator sets (the rest comes from the node and the protocol). */
export type SellerTunable = Exclude<keyof SellerConfig, 'nodePubkey' | 'network' | 'versions'>;
/** Buyer tunables an owner sets. */
export type BuyerTunable = Exclude<keyof BuyerConfig, 'network' | 'identity' | 'versions' | 'spentTodayMsat'>;

/** Where a tunable lives in the YAML file: `<section>.<field name>`, and its unit (for documentation). */
export interface YamlPlace<S extends string> {
  readonly section: S;
  readonly unit: 'msat' | 'msat/Wh' | 'Wh' | 'W' | 's' | 'ms' | 'min' | 'ppm' | 'count' | 'boolean';
}

/** The wall's YAML place of every seller tunable (wall.yaml `tariff`, `session`, `evse`). */
export const SELLER_YAML: Readonly<Record<SellerTunable, YamlPlace<'tariff' | 'session' | 'evse'>>> = {
  priceMsatPerWh: { section: 'tariff', unit: 'msat/Wh' },
  targetInvoiceIntervalSec: { section: 'tariff', unit: 's' },
  minBlockWh: { section: 'tariff', unit: 'Wh' },
  maxBlockWh: { section: 'tariff', unit: 'Wh' },
  depositBlocks: { section: 'tariff', unit: 'count' },
  graceWh: { section: 'tariff', unit: 'Wh' },
  invoiceExpirySec: { section: 'tariff', unit: 's' },
  resumeWhenPaid: { section: 'tariff', unit: 'boolean' },
  maxSuspendSec: { section: 'tariff', unit: 's' },
  reissueAfterSec: { section: 'tariff', unit: 's' },
  maxConsecutiveDeclines: { section: 'tariff', unit: 'count' },
  heartbeatTimeoutMs: { section: 'session', unit: 'ms' },
  handshakeTimeoutMs: { section: 'session', unit: 'ms' },
  helloRetryMs: { section: 'session', unit: 'ms' },
  meterReportIntervalMs: { section: 'session', unit: 'ms' },
  invoiceRetryFirstMs: { section: 'session', unit: 'ms' },
  invoiceRetryMaxMs: { section: 'session', unit: 'ms' },
  regreetFirstMs: { section: 'session', unit: 'ms' },
  regreetMaxMs: { section: 'session', unit: 'ms' },
  adaptiveRefill: { section: 'tariff', unit: 'boolean' },
  refillHeadroomPpm: { section: 'tariff', unit: 'ppm' },
  promiseCapWh: { section: 'tariff', unit: 'Wh' },
  promiseSiteCapWh: { section: 'tariff', unit: 'Wh' },
  maxPowerW: { section: 'evse', unit: 'W' },
};

/** The vehicle's YAML place of every buyer tunable (vehicle.yaml `limits`, `session`, `payment`). */
export const BUYER_YAML: Readonly<Record<BuyerTunable, YamlPlace<'limits' | 'session' | 'payment'>>> = {
  maxPriceMsatPerWh: { section: 'limits', unit: 'msat/Wh' },
  maxBlockWh: { section: 'limits', unit: 'Wh' },
  maxPrepaidWh: { section: 'limits', unit: 'Wh' },
  maxUndeliveredWhPerWall: { section: 'limits', unit: 'Wh' },
  maxUndeliveredWhTotal: { section: 'limits', unit: 'Wh' },
  sessionBudgetMsat: { section: 'limits', unit: 'msat' },
  dailyBudgetMsat: { section: 'limits', unit: 'msat' },
  budgetDayUtcOffsetMin: { section: 'limits', unit: 'min' },
  targetEnergyWh: { section: 'limits', unit: 'Wh' },
  meterToleranceWh: { section: 'limits', unit: 'Wh' },
  meterTolerancePpm: { section: 'limits', unit: 'ppm' },
  maxFeeMsat: { section: 'limits', unit: 'msat' },
  maxFeePpm: { section: 'limits', unit: 'ppm' },
  promiseMaxMsat: { section: 'limits', unit: 'msat' },
  heartbeatTimeoutMs: { section: 'session', unit: 'ms' },
  handshakeTimeoutMs: { section: 'session', unit: 'ms' },
  receiptTimeoutMs: { section: 'session', unit: 'ms' },
  invoiceExpiryMarginSec: { section: 'session', unit: 's' },
  meterReportIntervalMs: { section: 'session', unit: 'ms' },
  maxConsecutivePaymentFailures: { section: 'payment', unit: 'count' },
  payMaxAttempts: { section: 'payment', unit: 'count' },
  payRetryFirstMs: { section: 'payment', unit: 'ms' },
  payRetryMaxMs: { section: 'payment', unit: 'ms' },
  noRouteRetryWindowMs: { section: 'payment', unit: 'ms' },
};

/**
 * YAML keys the readers spelled differently before the names were unified: `section.old` now reads
 * `section.field`; a value in percent is multiplied by `factor` (10,000: percent → ppm).
 */
export const YAML_RENAMED_KEYS: readonly {
  readonly section: string;
  readonly old: string;
  readonly field: SellerTunable | BuyerTunable;
  readonly factor?: number;
}[] = [
  { section: 'tariff', old: 'invoiceIntervalSec', field: 'targetInvoiceIntervalSec' },
  { section: 'tariff', old: 'resumeAfterPayment', field: 'resumeWhenPaid' },
  { section: 'limits', old: 'maxRoutingFeeMsat', field: 'maxFeeMsat' },
  { section: 'limits', old: 'maxRoutingFeePct', field: 'maxFeePpm', factor: 10_000 },
  { section: 'limits', old: 'meterTolerancePct', field: 'meterTolerancePpm', factor: 10_000 },
];
