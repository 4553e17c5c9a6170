/**
 * The wall configuration's `walkup:` section (issue 12): a driver with only a phone wallet pays at the charger.
 * Read with the daemon's `ConfigReader` (every bad key named); the machine's own defaults and ranges
 * (`payments/walkup-config.ts`) are the single source for the money and timing fields, the CLTV margin is
 * checked by `payments/hold-window.ts`.
 *
 * ```yaml
 * walkup:
 *   enabled: true
 *   priceMsatPerWh: 250            # msat per Wh
 *   minDepositMsat: 10000000       # what the wallet may choose (LNURL minSendable/maxSendable)
 *   maxDepositMsat: 200000000
 *   publicBaseUrl: https://charger.example.com   # what the QR carries (https; the phone must reach it)
 *   totpSecret: <random, ≥ 16 characters>        # C25 TOTP shared secret of THIS charger
 *   validityTimeSec: 60            # the QR is re-keyed this often
 *   blockIntervalMs: 300000        # pessimistic time between blocks
 *   marginBlocks: 18               # settle or cancel this many blocks before a held HTLC expires (> holdexpirydelta)
 *   kioskToken: <random, ≥ 16 characters>        # optional: the stop button's secret (open the kiosk at
 *                                                 # /walkup#kiosk=<token>); without it only loopback may stop
 * ```
 */
import type { ConfigReader } from '../../daemon/config-reader.js';
import { longestHoldSessionMs } from '../../payments/hold-window.js';
import { WALKUP_DEFAULTS } from '../../payments/walkup-config.js';
import { TOTP_MAX_LENGTH, VALIDITY_TIME_MAX_SEC, VALIDITY_TIME_MIN_SEC } from '../../payments/totp.js';
import { LND_HOLD_EXPIRY_DELTA_BLOCKS } from '../../lightning/lnd-hold-invoices.js';

/** The `walkup:` section, checked. Money bigint msat, durations ms unless the name says s. */
export interface WalkupSectionConfig {
  enabled: boolean;
  priceMsatPerWh: bigint;
  minDepositMsat: bigint;
  maxDepositMsat: bigint;
  /** scheme://host[:port] the QR and the LNURL callbacks carry (no trailing slash) */
  publicBaseUrl: string;
  /** accept an http:// base URL (loopback tests only; wallets refuse plain http) */
  allowHttp: boolean;
  /** C25 TOTP shared secret of this charger */
  totpSecret: string;
  /** C25 TOTP length, characters */
  totpLength: number;
  validityTimeSec: number;
  /** what the wallet shows (LUD-06 metadata text/plain) */
  description: string;
  quoteTimeoutMs: number;
  finalInvoiceTimeoutMs: number;
  graceWh: number;
  finalMeterTimeoutMs: number;
  refundValidityMs: number;
  refundMaxFeeMsat: bigint;
  nodeRetryMs: number;
  /** pessimistic (short) time between blocks, ms */
  blockIntervalMs: number;
  /** settle or cancel a held HTLC this many blocks before its CLTV expiry (> holdExpiryDeltaBlocks) */
  marginBlocks: number;
  /** the node's `invoices.holdexpirydelta`, blocks (lnd cancels a held HTLC this close to expiry) */
  holdExpiryDeltaBlocks: number;
  /** final CLTV delta of the deposit invoice, blocks: the longest session is (this − marginBlocks) blocks */
  cltvDeltaBlocks: number;
  /** requests per client address per minute on the pay endpoints */
  rateLimitPerMinute: number;
  /** the charger display's secret for the stop button (header `x-boltcharge-kiosk`); null = loopback only */
  kioskToken: string | null;
}

const MS = { min: 0, max: 90 * 24 * 3_600_000 };

/**
 * Reads the `walkup` section.
 *
 * @param r reader on the section
 * @returns the section; problems (missing price, secret, base URL; ranges; margin not above holdexpirydelta) are
 *   recorded on the reader and thrown by the root's `done()`
 */
export function readWalkupSection(r: ConfigReader): WalkupSectionConfig {
  const D = WALKUP_DEFAULTS;
  const enabled = r.bool('enabled', true);
  const allowHttp = r.bool('allowHttp', false);
  const publicBaseUrl = r.string('publicBaseUrl', '').replace(/\/+$/, '');
  if (enabled) {
    let url: URL | null = null;
    try {
      url = new URL(publicBaseUrl);
    } catch {
      r.problem(
        'publicBaseUrl',
        'must be an absolute URL the phone can reach, e.g. https://charger.example.com',
      );
    }
    if (url && url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:'))
      r.problem('publicBaseUrl', 'must be https:// (wallets refuse plain http)');
    if (url && (url.pathname !== '/' || url.search !== '' || url.hash !== ''))
      r.problem('publicBaseUrl', 'must be scheme://host[:port] without a path');
  }
  const totpSecret = r.string('totpSecret', enabled ? undefined : '');
  if (enabled && totpSecret.length < 16) r.problem('totpSecret', 'must be at least 16 characters');
  const c: WalkupSectionConfig = {
    enabled,
    priceMsatPerWh: r.bigint('priceMsatPerWh', enabled ? undefined : 1n, { min: 1n, max: 1n << 32n }),
    minDepositMsat: r.bigint('minDepositMsat', D.minDepositMsat, { min: 1000n, max: 1n << 48n }),
    maxDepositMsat: r.bigint('maxDepositMsat', D.maxDepositMsat, { min: 1000n, max: 1n << 48n }),
    publicBaseUrl,
    allowHttp,
    totpSecret,
    totpLength: r.int('totpLength', 12, { min: 6, max: TOTP_MAX_LENGTH }),
    validityTimeSec: r.int('validityTimeSec', D.validityTimeSec, {
      min: VALIDITY_TIME_MIN_SEC,
      max: VALIDITY_TIME_MAX_SEC,
    }),
    description: r.string('description', 'EV charging (walk-up deposit; you pay only the energy delivered)'),
    quoteTimeoutMs: r.int('quoteTimeoutMs', D.quoteTimeoutMs, MS),
    finalInvoiceTimeoutMs: r.int('finalInvoiceTimeoutMs', D.finalInvoiceTimeoutMs, MS),
    graceWh: r.int('graceWh', D.graceWh, { min: 0, max: 10_000 }),
    finalMeterTimeoutMs: r.int('finalMeterTimeoutMs', D.finalMeterTimeoutMs, MS),
    refundValidityMs: r.int('refundValidityMs', D.refundValidityMs, MS),
    refundMaxFeeMsat: r.bigint('refundMaxFeeMsat', D.refundMaxFeeMsat, { min: 0n, max: 1_000_000_000n }),
    nodeRetryMs: r.int('nodeRetryMs', D.nodeRetryMs, MS),
    blockIntervalMs: r.int('blockIntervalMs', 300_000, { min: 1000, max: 3_600_000 }),
    marginBlocks: r.int('marginBlocks', 18, { min: 1, max: 1000 }),
    holdExpiryDeltaBlocks: r.int('holdExpiryDeltaBlocks', LND_HOLD_EXPIRY_DELTA_BLOCKS, {
      min: 0,
      max: 1000,
    }),
    cltvDeltaBlocks: r.int('cltvDeltaBlocks', 80, { min: 18, max: 2016 }),
    rateLimitPerMinute: r.int('rateLimitPerMinute', 60, { min: 1, max: 100_000 }),
    kioskToken: r.optionalString('kioskToken') ?? null,
  };
  if (c.kioskToken !== null && c.kioskToken.length < 16)
    r.problem('kioskToken', 'must be at least 16 characters');
  if (c.maxDepositMsat < c.minDepositMsat) r.problem('maxDepositMsat', 'must be >= minDepositMsat');
  const longest = longestHoldSessionMs(c);
  if (!longest.ok)
    r.problem('marginBlocks', `must be above holdExpiryDeltaBlocks (${c.holdExpiryDeltaBlocks})`);
  else if (longest.value === 0)
    r.problem('cltvDeltaBlocks', 'must be above marginBlocks (no time to charge)');
  return c;
}
