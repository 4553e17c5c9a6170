/**
 * Configuration of the walk-up session machine (issue 12): defaults defined once here, every range checked,
 * units in the names. Money is bigint msat, energy integer Wh, durations integer ms (or s where the name says).
 */
import { fail, ok, type Result } from '../protocol/errors.js';
import type { Network } from '../protocol/messages.js';
import { SUCCESS_TEXT_MAX_CHARS } from './lnurl.js';
import { VALIDITY_TIME_MAX_SEC, VALIDITY_TIME_MIN_SEC } from './totp.js';

/** The walk-up machine's configuration. */
export interface WalkupConfig {
  /** Lightning network of every invoice (the refund claim's invoice must be on it). */
  network: Network;
  /** Price, msat per Wh: 1 ..= 2^32. Fixed for a session when its deposit is requested. */
  priceMsatPerWh: bigint;
  /** Smallest deposit the wallet may choose, msat: ≥ `minInvoiceMsat`. Default 10 000 000 (10 000 sat). */
  minDepositMsat: bigint;
  /** Largest deposit, msat: ≥ `minDepositMsat`, ≤ 2^48. Default 200 000 000 (200 000 sat). */
  maxDepositMsat: bigint;
  /** C25 TOTP interval of the QR code, s: 6 ..= 3600 (OCPP `ValidityTime`). Default 60. */
  validityTimeSec: number;
  /** How long an offered deposit invoice waits to be paid (and its BOLT11 expiry), ms: 10 s ..= 1 h. Default 120 s. */
  quoteTimeoutMs: number;
  /** After the stop, the driver has this long to pay the final invoice, ms: 10 s ..= 24 h. Default 300 s. */
  finalInvoiceTimeoutMs: number;
  /**
   * The deposit is settled this long before its HTLC would expire (the held event's `htlcExpiryMs`), ms:
   * 1 min ..= 7 days. Default 30 min (about 3 blocks). A deposit held with less time left is refused at once.
   */
  settleMarginMs: number;
  /** Power is cut when the metered cost reaches deposit − graceWh × price, Wh: 0 ..= 10 000. Default 2. */
  graceWh: number;
  /** After the cut, wait this long for the final meter reading before using the last one, ms. Default 10 s. */
  finalMeterTimeoutMs: number;
  /** Lightning's smallest invoice, msat: a final cost below it is not invoiced (nothing due). Default 1000. */
  minInvoiceMsat: bigint;
  /** Smallest refund offered for withdrawal, msat (below: recorded as forfeited dust). Default 1000. */
  minRefundMsat: bigint;
  /** How long a refund can be claimed after the deposit was settled, ms: 1 h ..= 90 days. Default 7 days. */
  refundValidityMs: number;
  /** Routing fee the host pays at most for a refund payout, msat. Default 10 000. */
  refundMaxFeeMsat: bigint;
  /** Retry a failed node call (create/settle/cancel) after this long, ms: 100 ..= 60 000. Default 5000. */
  nodeRetryMs: number;
  /**
   * Text before the withdraw secret in the LUD-10 `aes` plaintext (e.g. the wall's public
   * `https://…/walkup/withdraw?k1=`), ≤ 512 characters. Default '' (the plaintext is the bare secret).
   */
  refundLinkPrefix: string;
  /** LUD-10 description shown by the wallet beside the encrypted refund code, ≤ 144 characters. */
  refundDescription: string;
}

/** A walk-up configuration problem, naming the field. */
export interface WalkupConfigInvalid {
  readonly kind: 'WalkupConfigInvalid';
  readonly field: keyof WalkupConfig;
  readonly message: string;
}

/** Every default, defined once. */
export const WALKUP_DEFAULTS: Omit<WalkupConfig, 'network' | 'priceMsatPerWh'> = {
  minDepositMsat: 10_000_000n,
  maxDepositMsat: 200_000_000n,
  validityTimeSec: 60,
  quoteTimeoutMs: 120_000,
  finalInvoiceTimeoutMs: 300_000,
  settleMarginMs: 1_800_000,
  graceWh: 2,
  finalMeterTimeoutMs: 10_000,
  minInvoiceMsat: 1000n,
  minRefundMsat: 1000n,
  refundValidityMs: 7 * 24 * 3_600_000,
  refundMaxFeeMsat: 10_000n,
  nodeRetryMs: 5000,
  refundLinkPrefix: '',
  refundDescription: 'Refund code for the unused part of your charging deposit',
};

const NETWORKS: Network[] = ['bitcoin', 'testnet', 'signet', 'regtest'];
const DAY_MS = 24 * 3_600_000;

const INT_RANGES: [keyof WalkupConfig, number, number][] = [
  ['validityTimeSec', VALIDITY_TIME_MIN_SEC, VALIDITY_TIME_MAX_SEC],
  ['quoteTimeoutMs', 10_000, 3_600_000],
  ['finalInvoiceTimeoutMs', 10_000, DAY_MS],
  ['settleMarginMs', 60_000, 7 * DAY_MS],
  ['graceWh', 0, 10_000],
  ['finalMeterTimeoutMs', 0, 600_000],
  ['refundValidityMs', 3_600_000, 90 * DAY_MS],
  ['nodeRetryMs', 100, 60_000],
];

const BIGINT_RANGES: [keyof WalkupConfig, bigint, bigint][] = [
  ['priceMsatPerWh', 1n, 1n << 32n],
  ['minInvoiceMsat', 1n, 1_000_000n],
  ['minRefundMsat', 1n, 1_000_000_000n],
  ['minDepositMsat', 1n, 1n << 48n],
  ['maxDepositMsat', 1n, 1n << 48n],
  ['refundMaxFeeMsat', 0n, 1_000_000_000n],
];

function invalid(field: keyof WalkupConfig, message: string): { ok: false; error: WalkupConfigInvalid } {
  return fail({ kind: 'WalkupConfigInvalid', field, message: `${field}: ${message}` });
}

/**
 * Fills defaults and validates a walk-up configuration.
 * @param c required: `network`, `priceMsatPerWh`; everything else defaults to {@link WALKUP_DEFAULTS}
 * @returns the full configuration, or `WalkupConfigInvalid` naming the first field out of its range
 */
export function walkupConfig(
  c: Pick<WalkupConfig, 'network' | 'priceMsatPerWh'> & Partial<WalkupConfig>,
): Result<WalkupConfig, WalkupConfigInvalid> {
  const full: WalkupConfig = { ...WALKUP_DEFAULTS, ...c };
  if (!NETWORKS.includes(full.network)) return invalid('network', `one of ${NETWORKS.join(', ')}`);
  for (const [field, min, max] of BIGINT_RANGES) {
    const v = full[field];
    if (typeof v !== 'bigint' || v < min || v > max) return invalid(field, `bigint ${min}..${max}`);
  }
  for (const [field, min, max] of INT_RANGES) {
    const v = full[field];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)
      return invalid(field, `integer ${min}..${max}`);
  }
  if (full.minDepositMsat < full.minInvoiceMsat) return invalid('minDepositMsat', 'below minInvoiceMsat');
  if (full.maxDepositMsat < full.minDepositMsat) return invalid('maxDepositMsat', 'below minDepositMsat');
  if (full.minDepositMsat <= BigInt(full.graceWh) * full.priceMsatPerWh)
    return invalid('minDepositMsat', 'must buy more energy than graceWh (power would be cut at once)');
  if (typeof full.refundLinkPrefix !== 'string' || full.refundLinkPrefix.length > 512)
    return invalid('refundLinkPrefix', 'a string of at most 512 characters');
  if (typeof full.refundDescription !== 'string' || full.refundDescription.length > SUCCESS_TEXT_MAX_CHARS)
    return invalid('refundDescription', `a string of at most ${SUCCESS_TEXT_MAX_CHARS} characters`);
  return ok(full);
}
