/**
 * Configuration of the two session machines, with defaults and validation. Units are in the names.
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
  dailyBudgetMsat: bigint;
  /** Already spent today before this session, msat (the daemon supplies it from its ledger). */
  spentTodayMsat: bigint;
  /** Stop after this much energy, Wh; 0 = until unplugged or full. */
  targetEnergyWh: number;
  /** Meter disagreement tolerated: toleranceWh + tolerancePpm of own energy. */
  meterToleranceWh: number;
  meterTolerancePpm: number;
  /** Routing fee limit per payment: min(maxFeeMsat, maxFeePpm of the amount). */
  maxFeeMsat: bigint;
  maxFeePpm: number;
  heartbeatTimeoutMs: number;
  handshakeTimeoutMs: number;
  /** Wait this long for the seller's receipt after a stop, ms. */
  receiptTimeoutMs: number;
  /** Seconds an invoice must still be valid to be paid. */
  invoiceExpiryMarginSec: number;
  meterReportIntervalMs: number;
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

const NETWORKS: Network[] = ['bitcoin', 'testnet', 'signet', 'regtest'];

function problem(field: string, message: string): { ok: false; error: ConfigProblem } {
  return fail({ kind: 'ConfigProblem', name: 'InvalidConfig', field, message: `${field}: ${message}` });
}

function checkInts(c: object, fields: string[], min: number, max = 0xffffffff): ConfigProblem | undefined {
  for (const f of fields) {
    const v = (c as Record<string, unknown>)[f];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      return problem(f, `must be an integer ${min}..${max}`).error;
    }
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
 * @param c required: nodePubkey, network, priceMsatPerWh; the rest default (16 s cadence, 10–200 Wh blocks,
 *   2 deposit blocks, 5 Wh grace, 7400 W, 10 s heartbeat, 30 s handshake, 1 s hello retry, resume on pay,
 *   600 s invoice expiry, 2 s meter reports, 3 declines, versions [1])
 * @returns SellerConfig or ConfigProblem
 */
export function sellerConfig(
  c: Pick<SellerConfig, 'nodePubkey' | 'network' | 'priceMsatPerWh'> & Partial<SellerConfig>,
): Result<SellerConfig, ConfigProblem> {
  const full: SellerConfig = {
    targetInvoiceIntervalSec: 16,
    minBlockWh: 10,
    maxBlockWh: 200,
    depositBlocks: 2,
    graceWh: 5,
    maxPowerW: 7400,
    heartbeatTimeoutMs: 10_000,
    handshakeTimeoutMs: 30_000,
    helloRetryMs: 1_000,
    resumeWhenPaid: true,
    invoiceExpirySec: 600,
    meterReportIntervalMs: 2_000,
    maxConsecutiveDeclines: 3,
    versions: [...SUPPORTED_VERSIONS],
    ...c,
  };
  if (typeof full.nodePubkey !== 'string' || !isHex(full.nodePubkey, 33))
    return problem('nodePubkey', 'hex of 33 bytes');
  if (!NETWORKS.includes(full.network)) return problem('network', `one of ${NETWORKS.join(', ')}`);
  if (
    typeof full.priceMsatPerWh !== 'bigint' ||
    full.priceMsatPerWh < 0n ||
    full.priceMsatPerWh >= 1n << 64n
  ) {
    return problem('priceMsatPerWh', 'bigint 0..2^64-1');
  }
  const e =
    checkInts(full, ['targetInvoiceIntervalSec'], 1, 0xffff) ??
    checkInts(full, ['minBlockWh', 'maxBlockWh', 'maxPowerW', 'invoiceExpirySec'], 1) ??
    checkInts(full, ['depositBlocks'], 1, 255) ??
    checkInts(full, ['graceWh', 'meterReportIntervalMs'], 0) ??
    checkInts(
      full,
      ['heartbeatTimeoutMs', 'handshakeTimeoutMs', 'helloRetryMs', 'maxConsecutiveDeclines'],
      1,
    ) ??
    checkVersions(full.versions);
  if (e !== undefined) return fail(e);
  if (full.minBlockWh > full.maxBlockWh) return problem('minBlockWh', 'must not exceed maxBlockWh');
  if (typeof full.resumeWhenPaid !== 'boolean') return problem('resumeWhenPaid', 'boolean');
  full.nodePubkey = full.nodePubkey.toLowerCase();
  return ok(full);
}

/**
 * Fills defaults and validates a buyer configuration.
 * @param c required: network, maxPriceMsatPerWh, sessionBudgetMsat; defaults: 200 Wh max block, 500 Wh max
 *   prepaid, no cross-session undelivered caps, daily budget = session budget, spent today 0, no target, tolerance 20 Wh + 2 %, fee ≤ 1000 msat and
 *   ≤ 1 %, 10 s heartbeat, 30 s handshake, 10 s receipt wait, 10 s expiry margin, 2 s meter reports,
 *   per-session identity, versions [1]
 * @returns BuyerConfig or ConfigProblem
 */
export function buyerConfig(
  c: Pick<BuyerConfig, 'network' | 'maxPriceMsatPerWh' | 'sessionBudgetMsat'> & Partial<BuyerConfig>,
): Result<BuyerConfig, ConfigProblem> {
  const full: BuyerConfig = {
    maxBlockWh: 200,
    maxPrepaidWh: 500,
    maxUndeliveredWhPerWall: 0xffffffff,
    maxUndeliveredWhTotal: 0xffffffff,
    dailyBudgetMsat: c.sessionBudgetMsat,
    spentTodayMsat: 0n,
    targetEnergyWh: 0,
    meterToleranceWh: 20,
    meterTolerancePpm: 20_000,
    maxFeeMsat: 1000n,
    maxFeePpm: 10_000,
    heartbeatTimeoutMs: 10_000,
    handshakeTimeoutMs: 30_000,
    receiptTimeoutMs: 10_000,
    invoiceExpiryMarginSec: 10,
    meterReportIntervalMs: 2_000,
    identity: { kind: 'session' },
    versions: [...SUPPORTED_VERSIONS],
    ...c,
  };
  if (!NETWORKS.includes(full.network)) return problem('network', `one of ${NETWORKS.join(', ')}`);
  for (const f of [
    'maxPriceMsatPerWh',
    'sessionBudgetMsat',
    'dailyBudgetMsat',
    'spentTodayMsat',
    'maxFeeMsat',
  ] as const) {
    const v = full[f];
    if (typeof v !== 'bigint' || v < 0n) return problem(f, 'non-negative bigint');
  }
  const e =
    checkInts(full, ['maxBlockWh', 'maxPrepaidWh', 'maxUndeliveredWhPerWall', 'maxUndeliveredWhTotal'], 1) ??
    checkInts(full, ['targetEnergyWh', 'meterToleranceWh', 'meterTolerancePpm', 'maxFeePpm'], 0) ??
    checkInts(full, ['invoiceExpiryMarginSec', 'meterReportIntervalMs'], 0) ??
    checkInts(full, ['heartbeatTimeoutMs', 'handshakeTimeoutMs', 'receiptTimeoutMs'], 1) ??
    checkVersions(full.versions);
  if (e !== undefined) return fail(e);
  if (full.identity.kind === 'node' && !isHex(full.identity.nodePubkey, 33)) {
    return problem('identity.nodePubkey', 'hex of 33 bytes');
  }
  if (full.identity.kind !== 'node' && full.identity.kind !== 'session')
    return problem('identity', 'session or node');
  return ok(full);
}
