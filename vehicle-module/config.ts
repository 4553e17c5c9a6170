/**
 * The vehicle daemon's configuration (`boltcharge vehicle --config vehicle.yaml`): the owner's limits, how the
 * module authenticates, payment notifications, the cable link, the meter, the Lightning node, the store and
 * the status page. `loadVehicleConfig` validates every key and reports all problems at once.
 */
import { ConfigReader, type ConfigProblem } from '../daemon/config-reader.js';
import { readDaemonSections, type DaemonSections } from '../daemon/config-sections.js';
import {
  BUYER_DEFAULTS as D,
  BUYER_RANGES as R,
  MAX_MSAT,
  MSAT_RANGE,
  PRICE_RANGE_MSAT_PER_WH,
  YAML_RENAMED_KEYS,
  buyerConfig,
  type BuyerConfig,
  type ConfigProblem as MachineConfigProblem,
} from '../protocol/config.js';
import type { Result } from '../protocol/errors.js';
import type { Network } from '../protocol/messages.js';

/** The owner's limits: offers and invoices outside them are declined/refused with a reason. */
export interface LimitsConfig {
  /** highest accepted price, msat per Wh */
  maxPriceMsatPerWh: bigint;
  /** largest energy block one invoice may buy, Wh */
  maxBlockWh: number;
  /** most energy paid for but not yet delivered (by our own meter), Wh */
  maxPrepaidWh: number;
  /** most paid in one session, msat */
  sessionBudgetMsat: bigint;
  /** most paid per UTC day across sessions, msat */
  dailyBudgetMsat: bigint;
  /** the budget day starts at 00:00 at this offset from UTC, minutes (e.g. 60 for CET) */
  budgetDayUtcOffsetMin: number;
  /** stop after this much energy, Wh (0 = until the car is full or unplugged) */
  targetEnergyWh: number;
  /** largest accepted excess of the wall's claimed energy over our meter, ppm (10,000 = 1 %) */
  meterTolerancePpm: number;
  /** absolute slack added to the tolerance (meter resolution and timing), Wh */
  meterToleranceWh: number;
  /** routing fee cap per payment, msat */
  maxFeeMsat: bigint;
  /** routing fee cap per payment, ppm of the amount (10,000 = 1 %); the lower of the two caps applies */
  maxFeePpm: number;
  /** offline case 3: most money this car may owe on promises to pay not yet paid, msat (0 = never promise;
   *  needs `auth.identity: node`) */
  promiseMaxMsat: bigint;
  /** most energy paid for but not delivered, summed over sessions with one wall (node key) in the window, Wh */
  maxUndeliveredWhPerWall: number;
  /** most energy paid for but not delivered, summed over all sessions in the window, Wh */
  maxUndeliveredWhTotal: number;
  /** rolling window of the two caps above (and of the back-off), s */
  undeliveredWindowSec: number;
  /** back-off after a session that a wall ended with prepaid energy undelivered; doubles per consecutive one, s */
  wallBackoffSec: number;
}

/** How the module authenticates to the wall. */
export interface AuthConfig {
  /** `ephemeral`: a fresh key per session (unlinkable); `node`: the Lightning node key */
  identity: 'ephemeral' | 'node';
}

/** Cable session timing. */
export interface VehicleSessionConfig {
  /** silence from the wall after which the session is ended, ms */
  heartbeatTimeoutMs: number;
  /** the handshake must complete within this, ms */
  handshakeTimeoutMs: number;
  /** wait this long for the wall's receipt after a stop, ms */
  receiptTimeoutMs: number;
  /** how often our meter reading is sent to the wall, ms */
  meterReportIntervalMs: number;
  /** an invoice must still be valid this long to be paid, s */
  invoiceExpiryMarginSec: number;
}

/** Payment timing. */
export interface PaymentConfig {
  /** give up one payment attempt after this long, ms */
  timeoutMs: number;
  /** payment failures in a row that end the session (PAYMENT_FAILED) */
  maxConsecutivePaymentFailures: number;
  /** most attempts to pay one invoice when failures are retryable (node outage, no route while it recovers) */
  payMaxAttempts: number;
  /** first wait before paying again after a retryable failure, ms (doubles up to payRetryMaxMs) */
  payRetryFirstMs: number;
  /** longest wait between attempts, ms */
  payRetryMaxMs: number;
  /** after the node was seen in an outage, a no-route failure within this window is retried, ms */
  noRouteRetryWindowMs: number;
}

/** Where every payment is announced (besides the log). */
export interface NotificationConfig {
  /** also write each notification to the log */
  log: boolean;
  webhook?: {
    url: string;
    /** attempts per notification, including the first */
    attempts: number;
    /** first retry delay, ms (doubles each retry) */
    backoffMs: number;
    /** per-request timeout, ms */
    timeoutMs: number;
    /** optional shared secret sent as `Authorization: Bearer <secret>` */
    secret?: string;
  };
}

/** The whole vehicle configuration: its own sections and those every daemon has (`DaemonSections`). */
export interface VehicleConfig extends DaemonSections {
  /** keys read under a former name (still accepted): the daemon logs each at start */
  warnings: readonly ConfigProblem[];
  limits: LimitsConfig;
  auth: AuthConfig;
  session: VehicleSessionConfig;
  payment: PaymentConfig;
  notifications: NotificationConfig;
}

/**
 * Validates a parsed vehicle configuration.
 *
 * @param r root reader of the document
 * @returns the typed configuration
 * @throws ConfigInvalid listing every bad key with the reason
 */
export function readVehicleConfig(r: ConfigReader): VehicleConfig {
  const l = r.section('limits');
  const sessionBudgetMsat = l.bigint('sessionBudgetMsat', undefined, MSAT_RANGE);
  const dailyBudgetMsat = l.bigint('dailyBudgetMsat', undefined, MSAT_RANGE);
  if (dailyBudgetMsat < sessionBudgetMsat)
    l.problem('dailyBudgetMsat', `must be >= sessionBudgetMsat (${sessionBudgetMsat})`);
  const limits: LimitsConfig = {
    maxPriceMsatPerWh: l.bigint('maxPriceMsatPerWh', undefined, PRICE_RANGE_MSAT_PER_WH),
    maxBlockWh: l.int('maxBlockWh', D.maxBlockWh, R.maxBlockWh),
    maxPrepaidWh: l.int('maxPrepaidWh', D.maxPrepaidWh, R.maxPrepaidWh),
    sessionBudgetMsat,
    dailyBudgetMsat,
    budgetDayUtcOffsetMin: l.int('budgetDayUtcOffsetMin', D.budgetDayUtcOffsetMin, R.budgetDayUtcOffsetMin),
    targetEnergyWh: l.int('targetEnergyWh', D.targetEnergyWh, R.targetEnergyWh),
    meterTolerancePpm: renamedLimit(l, 'meterTolerancePpm', (k) =>
      l.int(k, D.meterTolerancePpm, R.meterTolerancePpm),
    ),
    meterToleranceWh: l.int('meterToleranceWh', D.meterToleranceWh, R.meterToleranceWh),
    maxFeeMsat: renamedLimit(l, 'maxFeeMsat', (k) => l.bigint(k, D.maxFeeMsat, { min: 0n, max: MAX_MSAT })),
    maxFeePpm: renamedLimit(l, 'maxFeePpm', (k) => l.int(k, D.maxFeePpm, R.maxFeePpm)),
    promiseMaxMsat: l.bigint('promiseMaxMsat', D.promiseMaxMsat, { min: 0n, max: MAX_MSAT }),
    maxUndeliveredWhPerWall: l.int(
      'maxUndeliveredWhPerWall',
      D.maxUndeliveredWhPerWall,
      R.maxUndeliveredWhPerWall,
    ),
    maxUndeliveredWhTotal: l.int('maxUndeliveredWhTotal', D.maxUndeliveredWhTotal, R.maxUndeliveredWhTotal),
    undeliveredWindowSec: l.int('undeliveredWindowSec', 86_400, { min: 60, max: 366 * 86_400 }),
    wallBackoffSec: l.int('wallBackoffSec', 600, { min: 0, max: 366 * 86_400 }),
  };
  if (limits.maxBlockWh > limits.maxPrepaidWh)
    l.problem(
      'maxBlockWh',
      `must be <= maxPrepaidWh (${limits.maxPrepaidWh}): one block must fit the prepaid bound`,
    );
  const a = r.section('auth');
  const auth: AuthConfig = { identity: a.oneOf('identity', ['ephemeral', 'node'] as const, 'ephemeral') };
  const ss = r.section('session');
  const session: VehicleSessionConfig = {
    heartbeatTimeoutMs: ss.int('heartbeatTimeoutMs', D.heartbeatTimeoutMs, R.heartbeatTimeoutMs),
    handshakeTimeoutMs: ss.int('handshakeTimeoutMs', D.handshakeTimeoutMs, R.handshakeTimeoutMs),
    receiptTimeoutMs: ss.int('receiptTimeoutMs', D.receiptTimeoutMs, R.receiptTimeoutMs),
    meterReportIntervalMs: ss.int('meterReportIntervalMs', D.meterReportIntervalMs, R.meterReportIntervalMs),
    invoiceExpiryMarginSec: ss.int(
      'invoiceExpiryMarginSec',
      D.invoiceExpiryMarginSec,
      R.invoiceExpiryMarginSec,
    ),
  };
  const p = r.section('payment');
  const payment: PaymentConfig = {
    timeoutMs: p.int('timeoutMs', 30_000, { min: 1000, max: 600_000 }),
    maxConsecutivePaymentFailures: p.int(
      'maxConsecutivePaymentFailures',
      D.maxConsecutivePaymentFailures,
      R.maxConsecutivePaymentFailures,
    ),
    payMaxAttempts: p.int('payMaxAttempts', D.payMaxAttempts, R.payMaxAttempts),
    payRetryFirstMs: p.int('payRetryFirstMs', D.payRetryFirstMs, R.payRetryFirstMs),
    payRetryMaxMs: p.int('payRetryMaxMs', D.payRetryMaxMs, R.payRetryMaxMs),
    noRouteRetryWindowMs: p.int('noRouteRetryWindowMs', D.noRouteRetryWindowMs, R.noRouteRetryWindowMs),
  };
  const n = r.section('notifications');
  const notifications: NotificationConfig = { log: n.bool('log', true) };
  if (n.has('webhook')) {
    const w = n.section('webhook');
    const url = w.string('url');
    if (url && !/^https?:\/\//.test(url)) w.problem('url', 'must start with http:// or https://');
    notifications.webhook = {
      url,
      attempts: w.int('attempts', 5, { min: 1, max: 100 }),
      backoffMs: w.int('backoffMs', 1000, { min: 10, max: 3_600_000 }),
      timeoutMs: w.int('timeoutMs', 5000, { min: 100, max: 120_000 }),
      secret: w.optionalString('secret'),
    };
  }
  const config: VehicleConfig = {
    warnings: r.warnings,
    limits,
    auth,
    session,
    payment,
    notifications,
    ...readDaemonSections(r, 'vehicle'),
  };
  r.done();
  return config;
}

/**
 * Reads a `limits` key under its name now (the buyer machine's, `protocol/config.ts`) or, with a warning, under
 * the name it had before (`YAML_RENAMED_KEYS`): a former percent key is read as a number of percent, checked
 * against the same range in percent, and converted to ppm (rounded to a whole ppm).
 *
 * @param l the `limits` reader
 * @param field the key's name now
 * @param read the getter of the current key (with its default and range) for a key name
 * @returns the value in the current unit
 */
function renamedLimit<T extends number | bigint>(
  l: ConfigReader,
  field: 'meterTolerancePpm' | 'maxFeeMsat' | 'maxFeePpm',
  read: (key: string) => T,
): T {
  const rename = YAML_RENAMED_KEYS.find((k) => k.section === 'limits' && k.field === field);
  if (rename === undefined) return read(field);
  const factor = rename.factor;
  if (factor === undefined) return l.renamed(field, rename.old, read);
  const range = R[field as 'meterTolerancePpm' | 'maxFeePpm'];
  const pctRule = { min: range.min / factor, max: range.max / factor };
  // the former key holds percent (present whenever it is read: `renamed` reads it only then)
  const readPct = (key: string): T =>
    key === field ? read(key) : (Math.round(l.number(key, undefined, pctRule) * factor) as T);
  return l.renamed(field, rename.old, readPct, undefined, `percent × ${factor} = ppm`);
}

/**
 * Loads and validates a vehicle configuration file.
 *
 * @param file path of the YAML file; relative paths inside resolve against its directory
 * @throws ConfigInvalid listing every bad key with the reason
 */
export function loadVehicleConfig(file: string): VehicleConfig {
  return readVehicleConfig(ConfigReader.fromFile(file));
}

/**
 * The buyer machine's configuration for a vehicle configuration: the same key names (`protocol/config.ts`), so
 * this is a mapping of sections, no conversion.
 *
 * @param config the vehicle configuration
 * @param node the network of the car's node, its public key (for identity `node`), and what earlier sessions
 *   spent in the current budget day, msat (from the ledger)
 * @returns the validated buyer configuration, or the machine's configuration error
 */
export function buyerConfigOf(
  config: VehicleConfig,
  node: { network: Network; nodePubkey: string; spentTodayMsat: bigint },
): Result<BuyerConfig, MachineConfigProblem> {
  const l = config.limits;
  return buyerConfig({
    network: node.network,
    maxPriceMsatPerWh: l.maxPriceMsatPerWh,
    maxBlockWh: l.maxBlockWh,
    maxPrepaidWh: l.maxPrepaidWh,
    maxUndeliveredWhPerWall: l.maxUndeliveredWhPerWall,
    maxUndeliveredWhTotal: l.maxUndeliveredWhTotal,
    sessionBudgetMsat: l.sessionBudgetMsat,
    dailyBudgetMsat: l.dailyBudgetMsat,
    budgetDayUtcOffsetMin: l.budgetDayUtcOffsetMin,
    spentTodayMsat: node.spentTodayMsat,
    maxConsecutivePaymentFailures: config.payment.maxConsecutivePaymentFailures,
    payMaxAttempts: config.payment.payMaxAttempts,
    payRetryFirstMs: config.payment.payRetryFirstMs,
    payRetryMaxMs: config.payment.payRetryMaxMs,
    noRouteRetryWindowMs: config.payment.noRouteRetryWindowMs,
    targetEnergyWh: l.targetEnergyWh,
    meterToleranceWh: l.meterToleranceWh,
    meterTolerancePpm: l.meterTolerancePpm,
    maxFeeMsat: l.maxFeeMsat,
    maxFeePpm: l.maxFeePpm,
    promiseMaxMsat: l.promiseMaxMsat,
    heartbeatTimeoutMs: config.session.heartbeatTimeoutMs,
    handshakeTimeoutMs: config.session.handshakeTimeoutMs,
    receiptTimeoutMs: config.session.receiptTimeoutMs,
    invoiceExpiryMarginSec: config.session.invoiceExpiryMarginSec,
    meterReportIntervalMs: config.session.meterReportIntervalMs,
    identity:
      config.auth.identity === 'node' ? { kind: 'node', nodePubkey: node.nodePubkey } : { kind: 'session' },
  });
}
