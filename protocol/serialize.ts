/**
 * JSON (de)serialisation of machine states and messages for persistence (e.g. a SQLite TEXT column).
 * bigint values become `{"$bigint":"123"}`; everything else in the states is plain JSON already.
 *
 * Machine states are persisted with `persistSellerState` / `persistBuyerState` (a versioned envelope) and read
 * back with `restoreSellerState` / `restoreBuyerState`, which migrate older schema versions (including the
 * unversioned v0 format) and validate every field: no unchecked cast. `serializeState` / `deserializeState` stay
 * for other values (receipts, messages).
 */
import type { BuyerState } from './buyer.js';
import {
  BUYER_DEFAULTS,
  budgetDayStartMs,
  SELLER_DEFAULTS,
  type BuyerConfig,
  type SellerConfig,
} from './config.js';
import { fail, ok, protocolError, type Result } from './errors.js';
import type { SellerState } from './seller.js';
import type { Check } from './shape.js';
import { buyerStateShape, sellerStateShape } from './stateShapes.js';

/**
 * Serialises a machine state (or any value holding bigints) to JSON text.
 * @returns JSON text
 */
export function serializeState(state: unknown): string {
  return JSON.stringify(state, (_k, v: unknown) => (typeof v === 'bigint' ? { $bigint: v.toString() } : v));
}

/**
 * Parses JSON text written by `serializeState`, restoring bigints.
 * @returns the value, or MalformedMessage if the text is not valid JSON. The caller asserts the type it stored.
 */
export function deserializeState<T>(text: string): Result<T> {
  try {
    const value = JSON.parse(text, (_k, v: unknown) => {
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        const o = v as Record<string, unknown>;
        const keys = Object.keys(o);
        if (
          keys.length === 1 &&
          keys[0] === '$bigint' &&
          typeof o.$bigint === 'string' &&
          /^-?\d+$/.test(o.$bigint)
        ) {
          return BigInt(o.$bigint);
        }
      }
      return v;
    }) as T;
    return ok(value);
  } catch (e) {
    return fail(protocolError('MalformedMessage', `state is not valid JSON: ${(e as Error).message}`));
  }
}

/** Schema version of the machine states `persistSellerState` / `persistBuyerState` write. */
export const STATE_SCHEMA_VERSION = 4;

/** Names of the two persisted machine states, written in the envelope's `schema` field. */
export type StateSchemaName = 'boltcharge/seller-state' | 'boltcharge/buyer-state';

/** The persisted text is not JSON (a truncated or foreign row). */
export interface StateUnreadable {
  readonly kind: 'StateError';
  readonly name: 'StateUnreadable';
  readonly message: string;
}
/** The persisted state is not a well-formed state of its schema version (`path` says where). */
export interface StateInvalid {
  readonly kind: 'StateError';
  readonly name: 'StateInvalid';
  readonly path: string;
  readonly message: string;
}
/** The persisted state was written by a newer release (schema version above `STATE_SCHEMA_VERSION`). */
export interface StateTooNew {
  readonly kind: 'StateError';
  readonly name: 'StateTooNew';
  readonly version: number;
  readonly message: string;
}
/** Why a persisted machine state cannot be restored. */
export type StateRestoreError = StateUnreadable | StateInvalid | StateTooNew;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function invalid(path: string, message: string): { ok: false; error: StateInvalid } {
  return fail({ kind: 'StateError', name: 'StateInvalid', path, message: `${path}: ${message}` });
}

/**
 * Writes a versioned envelope `{schema, version, state}` around a state.
 * @returns JSON text (bigints tagged, see `serializeState`)
 */
function persist(schema: StateSchemaName, state: unknown): string {
  return serializeState({ schema, version: STATE_SCHEMA_VERSION, state });
}

/**
 * Reads the envelope and brings the raw state up to the current version. Today's unversioned format (a bare
 * state object, v0) is accepted as version 0.
 * @returns the raw (unchecked) current-version state and the version it was written with
 */
function unwrap(
  text: string,
  schema: StateSchemaName,
): Result<{ raw: Json; version: number }, StateRestoreError> {
  const parsed = deserializeState<unknown>(text);
  if (!parsed.ok) return fail({ kind: 'StateError', name: 'StateUnreadable', message: parsed.error.message });
  const v = parsed.value;
  if (!isObject(v)) return invalid('$', 'not an object');
  if (!('schema' in v)) {
    // v0: the bare state, as written before versioning
    if (!('phase' in v) || !('config' in v))
      return invalid('$', 'neither a versioned envelope nor a v0 state');
    return ok({ raw: v, version: 0 });
  }
  if (v.schema !== schema) return invalid('$.schema', `expected ${schema}, found ${String(v.schema)}`);
  const version = v.version;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1)
    return invalid('$.version', 'not a schema version');
  if (version > STATE_SCHEMA_VERSION) {
    return fail({
      kind: 'StateError',
      name: 'StateTooNew',
      version,
      message: `state schema version ${version} is newer than this release's ${STATE_SCHEMA_VERSION}: upgrade boltcharge`,
    });
  }
  const keys = Object.keys(v).filter((k) => k !== 'schema' && k !== 'version' && k !== 'state');
  if (keys.length > 0) return invalid(`$.${keys[0]}`, 'unknown key');
  if (!isObject(v.state)) return invalid('$.state', 'not an object');
  return ok({ raw: v.state, version });
}

/** Config keys a migration adds take the caller's current configuration's value, else the default. */
function fillConfig(
  raw: Json,
  added: Record<string, unknown>,
  current: object | undefined,
): Json | undefined {
  const config = raw.config;
  if (!isObject(config)) return undefined;
  const now: Json = isObject(current) ? { ...current } : {};
  for (const [k, dflt] of Object.entries(added)) if (!(k in config)) config[k] = k in now ? now[k] : dflt;
  return config;
}

/** The later of two numbers found in a raw state (a v0 state's "about now"), or 0. */
function latestMs(raw: Json, ...keys: string[]): number {
  let t = 0;
  for (const k of keys) {
    const v = raw[k];
    if (typeof v === 'number' && Number.isFinite(v)) t = Math.max(t, v);
  }
  return t;
}

/**
 * Seller v0 → v1: the clock rules moved into the machine. Invoice retry, suspension, reissue and re-greet get
 * their state; deadlines the shell kept in memory (and so restarted from zero at every restart) start from the
 * state's last activity (`lastTxMs`/`lastRxMs`), which is what the old shell did after a restart.
 */
function migrateSellerV0(raw: Json, current: object | undefined): void {
  const config = fillConfig(
    raw,
    {
      maxSuspendSec: SELLER_DEFAULTS.maxSuspendSec,
      reissueAfterSec: SELLER_DEFAULTS.reissueAfterSec,
      invoiceRetryFirstMs: SELLER_DEFAULTS.invoiceRetryFirstMs,
      invoiceRetryMaxMs: SELLER_DEFAULTS.invoiceRetryMaxMs,
      regreetFirstMs: SELLER_DEFAULTS.regreetFirstMs,
      regreetMaxMs: SELLER_DEFAULTS.regreetMaxMs,
    },
    current,
  );
  if (config === undefined) return;
  const aboutNowMs = latestMs(raw, 'lastTxMs', 'lastRxMs');
  const lastFail = raw.lastInvoiceFailMs;
  delete raw.lastInvoiceFailMs;
  raw.invoiceRetryAtMs = typeof lastFail === 'number' ? lastFail + 2_000 : null;
  raw.invoiceRetryDelayMs = config.invoiceRetryFirstMs;
  const maxSuspendSec = config.maxSuspendSec;
  raw.suspendDeadlineMs =
    raw.phase === 'suspended' && typeof maxSuspendSec === 'number' && maxSuspendSec > 0
      ? aboutNowMs + maxSuspendSec * 1000
      : null;
  raw.plugged = raw.phase !== 'idle' && raw.phase !== 'ended';
  raw.regreetAtMs = null;
  raw.regreetDelayMs = config.regreetFirstMs;
  const reissueAfterSec = config.reissueAfterSec;
  if (Array.isArray(raw.invoices)) {
    for (const inv of raw.invoices) {
      if (!isObject(inv)) continue;
      inv.issuedAtMs = null;
      inv.reissueAtMs =
        inv.status === 'open' && typeof reissueAfterSec === 'number'
          ? aboutNowMs + reissueAfterSec * 1000
          : null;
    }
  }
}

/**
 * Buyer v0 → v1: payments keep what a retry needs (none of a v0 payment is retried: its invoice text was not
 * kept), the budget day is the UTC day of the session's start, and earlier sessions' spending is the
 * configuration's `spentTodayMsat` as before.
 */
function migrateBuyerV0(raw: Json, current: object | undefined): void {
  const config = fillConfig(
    raw,
    {
      budgetDayUtcOffsetMin: BUYER_DEFAULTS.budgetDayUtcOffsetMin,
      maxConsecutivePaymentFailures: BUYER_DEFAULTS.maxConsecutivePaymentFailures,
      payMaxAttempts: BUYER_DEFAULTS.payMaxAttempts,
      payRetryFirstMs: BUYER_DEFAULTS.payRetryFirstMs,
      payRetryMaxMs: BUYER_DEFAULTS.payRetryMaxMs,
      noRouteRetryWindowMs: BUYER_DEFAULTS.noRouteRetryWindowMs,
    },
    current,
  );
  if (config === undefined) return;
  const startMs = typeof raw.startMs === 'number' ? raw.startMs : latestMs(raw, 'lastRxMs', 'lastTxMs');
  if (Array.isArray(raw.payments)) {
    for (const p of raw.payments) {
      if (!isObject(p)) continue;
      p.bolt11 = '';
      p.sentAtMs = startMs;
      p.expiresAtMs = 0;
      p.attempts = 1;
      p.retryAtMs = null;
      p.lastFailure = null;
    }
  }
  raw.nodeOutageMs = null;
  const offset = config.budgetDayUtcOffsetMin;
  raw.budgetDayStartMs =
    raw.phase === 'idle' || typeof offset !== 'number' ? null : budgetDayStartMs(startMs, offset);
  raw.spentEarlierTodayMsat = typeof config.spentTodayMsat === 'bigint' ? config.spentTodayMsat : 0n;
}

/**
 * Seller v1 → v2: the pipelining depth follows the measured settle latency. No latency measured yet (the depth
 * is `depositBlocks` blocks until `MIN_LATENCY_SAMPLES` invoices settled); invoices keep their request time.
 */
function migrateSellerV1(raw: Json, current: object | undefined): void {
  if (
    fillConfig(
      raw,
      {
        adaptiveRefill: SELLER_DEFAULTS.adaptiveRefill,
        refillHeadroomPpm: SELLER_DEFAULTS.refillHeadroomPpm,
      },
      current,
    ) === undefined
  )
    return;
  raw.settleLatenciesMs = [];
  if (Array.isArray(raw.invoices))
    for (const inv of raw.invoices) if (isObject(inv)) inv.requestedAtMs = null;
}

/** Moves `keys` from `from` to `to` (a key absent in `from` stays absent: the shape check then names it). */
function moveKeys(from: Json, to: Json, keys: readonly string[]): void {
  for (const k of keys) if (k in from) to[k] = from[k];
}

/** The text of a flat state's `pendingSign` (`{purpose, text}` before v3), or null. */
function pendingSignText(raw: Json): unknown {
  const p = raw.pendingSign;
  return isObject(p) ? p.text : null;
}

/** Seller fields that belong to some phases only (v3: each lives in its phase's variant). */
const SELLER_PHASE_FIELDS = [
  'ephemeralSecret',
  'helloFrame',
  'lastHelloMs',
  'version',
  'th',
  'channel',
  'vehiclePub',
  'ownAuthSent',
  'vehicleAuthOk',
  'pendingSign',
  'suspendDeadlineMs',
  'closingSinceMs',
  'endReason',
  'unsignedReceipt',
] as const;
const SELLER_KEYS = ['version', 'th', 'channel', 'vehiclePub'] as const;
/** Each seller phase's own fields (besides the keys and the common ones). */
const SELLER_OWN: Readonly<Record<string, readonly string[]>> = {
  handshake: ['ephemeralSecret', 'helloFrame', 'lastHelloMs'],
  authenticating: [...SELLER_KEYS, 'ownAuthSent', 'vehicleAuthOk'],
  offered: SELLER_KEYS,
  deposit: SELLER_KEYS,
  charging: SELLER_KEYS,
  suspended: [...SELLER_KEYS, 'suspendDeadlineMs'],
  closing: [...SELLER_KEYS, 'closingSinceMs', 'endReason', 'unsignedReceipt'],
  ended: ['endReason', 'vehiclePub'],
};

/**
 * A flat (v2) state becomes its phase's variant (v3): the fields of some phases only are removed, then those of
 * its own phase put back (a field the phase needs but the flat state lacked is then named by the shape check).
 * @param phaseFields every field that belongs to some phases only
 * @param own each phase's own fields
 * @returns the flat state as it was
 */
function toPhaseVariant(
  raw: Json,
  phaseFields: readonly string[],
  own: Readonly<Record<string, readonly string[]>>,
): Json {
  const flat: Json = { ...raw };
  const phase = typeof raw.phase === 'string' ? raw.phase : '';
  for (const k of phaseFields) delete raw[k];
  moveKeys(flat, raw, own[phase] ?? []);
  return flat;
}

/**
 * Seller v2 → v3: the state becomes a union by phase. The flat state's fields that belong to other phases are
 * dropped (they were null or stale there); `pendingSign` keeps only its text (the phase says what is signed).
 */
function migrateSellerV2(raw: Json): void {
  const flat = toPhaseVariant(raw, SELLER_PHASE_FIELDS, SELLER_OWN);
  if (raw.phase === 'authenticating') raw.pendingSign = pendingSignText(flat);
  if (raw.phase === 'closing') {
    // a v2 closing session was already signing its receipt (it did not wait for cancels)
    raw.receipt = {
      step: 'signing',
      unsignedReceipt: flat.unsignedReceipt,
      pendingSign: pendingSignText(flat),
    };
    delete raw.unsignedReceipt;
  }
}

/** Buyer fields that belong to some phases only (v3: each lives in its phase's variant). */
const BUYER_PHASE_FIELDS = [
  'bufferedHello',
  'ephemeralSecret',
  'identitySecret',
  'identityPub',
  'wallHelloFrame',
  'ownHelloFrame',
  'version',
  'th',
  'channel',
  'wallPub',
  'ownAuthSent',
  'wallAuthOk',
  'pendingSign',
  'offer',
  'closingSinceMs',
  'endReason',
] as const;
const BUYER_KEYS = ['version', 'th', 'channel', 'wallPub'] as const;
/** Each buyer phase's own fields (besides the keys and the common ones). */
const BUYER_OWN: Readonly<Record<string, readonly string[]>> = {
  idle: ['bufferedHello'],
  handshake: ['ephemeralSecret', 'identitySecret', 'identityPub'],
  authenticating: [...BUYER_KEYS, 'wallHelloFrame', 'ownHelloFrame', 'ownAuthSent', 'pendingSign'],
  negotiating: BUYER_KEYS,
  charging: [...BUYER_KEYS, 'offer'],
  closing: [...BUYER_KEYS, 'closingSinceMs', 'endReason'],
  ended: ['endReason', 'wallPub'],
};

/**
 * Buyer v2 → v3: the state becomes a union by phase. The flat state's fields that belong to other phases are
 * dropped (`wallAuthOk` everywhere: a buyer past `authenticating` has authenticated the wall).
 */
function migrateBuyerV2(raw: Json): void {
  toPhaseVariant(raw, BUYER_PHASE_FIELDS, BUYER_OWN);
}

/**
 * Seller v3 → v4: promises to pay (offline case 3). The caps come from the current configuration (default 0:
 * promises refused); nothing was promised before.
 */
function migrateSellerV3(raw: Json, current: object | undefined): void {
  fillConfig(
    raw,
    { promiseCapWh: SELLER_DEFAULTS.promiseCapWh, promiseSiteCapWh: SELLER_DEFAULTS.promiseSiteCapWh },
    current,
  );
  raw.promisedWh = 0;
  raw.promisesEarlier = null;
  raw.stopReason = null;
  if (Array.isArray(raw.invoices)) for (const inv of raw.invoices) if (isObject(inv)) inv.promisedAtMs = null;
}

/**
 * Buyer v3 → v4: promises to pay (offline case 3): the owner's cap from the configuration, nothing owed; no wall
 * delegation known.
 */
function migrateBuyerV3(raw: Json, current: object | undefined): void {
  fillConfig(raw, { promiseMaxMsat: BUYER_DEFAULTS.promiseMaxMsat }, current);
  raw.promisedEarlierMsat = 0n;
  // a keyed phase (it has a transcript hash) knows of no delegation (protocol version 3)
  if (typeof raw.th === 'string') raw.wallDelegation = null;
}

/** A migration from the version at its index to the next, in place (config keys it adds from `current`). */
type Migration = (raw: Json, current: object | undefined) => void;

const SELLER_MIGRATIONS: readonly Migration[] = [
  migrateSellerV0,
  migrateSellerV1,
  migrateSellerV2,
  migrateSellerV3,
];
/** The buyer's state did not change from v1 to v2 (only the seller's did; the version is shared). */
const BUYER_MIGRATIONS: readonly Migration[] = [
  migrateBuyerV0,
  () => undefined,
  migrateBuyerV2,
  migrateBuyerV3,
];

/**
 * Unwraps, migrates from the stored version up to the current one, and validates.
 * @returns the state or why it cannot be restored
 */
function restore<T>(
  text: string,
  schema: StateSchemaName,
  migrations: readonly Migration[],
  check: Check<T>,
  current: object | undefined,
): Result<T, StateRestoreError> {
  const u = unwrap(text, schema);
  if (!u.ok) return u;
  for (let v = u.value.version; v < STATE_SCHEMA_VERSION; v++) migrations[v]?.(u.value.raw, current);
  const r = check(u.value.raw, '$.state');
  return r.ok ? r : invalid(r.error.path, r.error.message);
}

/**
 * Persists a seller state: JSON text of `{schema: 'boltcharge/seller-state', version, state}`.
 * @param state the seller machine's state
 * @returns JSON text for `restoreSellerState`
 */
export function persistSellerState(state: SellerState): string {
  return persist('boltcharge/seller-state', state);
}

/**
 * Restores a seller state written by `persistSellerState` (any schema version up to the current one) or by a
 * release before versioning (v0: a bare `serializeState` of the state). Older versions are migrated; the result
 * is validated field by field (`sellerStateShape`), its configuration by `sellerConfig`.
 * @param text persisted JSON text
 * @param currentConfig the daemon's configuration now: values for configuration keys an older state lacks
 *   (default: SELLER_DEFAULTS)
 * @returns the state, or StateUnreadable / StateInvalid (with the path) / StateTooNew
 */
export function restoreSellerState(
  text: string,
  currentConfig?: SellerConfig,
): Result<SellerState, StateRestoreError> {
  return restore(text, 'boltcharge/seller-state', SELLER_MIGRATIONS, sellerStateShape, currentConfig);
}

/**
 * Persists a buyer state: JSON text of `{schema: 'boltcharge/buyer-state', version, state}`.
 * @param state the buyer machine's state
 * @returns JSON text for `restoreBuyerState`
 */
export function persistBuyerState(state: BuyerState): string {
  return persist('boltcharge/buyer-state', state);
}

/**
 * Restores a buyer state written by `persistBuyerState` (any schema version up to the current one) or by a
 * release before versioning (v0). Older versions are migrated; the result is validated field by field
 * (`buyerStateShape`), its configuration by `buyerConfig`.
 * @param text persisted JSON text
 * @param currentConfig the daemon's configuration now: values for configuration keys an older state lacks
 *   (default: BUYER_DEFAULTS)
 * @returns the state, or StateUnreadable / StateInvalid (with the path) / StateTooNew
 */
export function restoreBuyerState(
  text: string,
  currentConfig?: BuyerConfig,
): Result<BuyerState, StateRestoreError> {
  return restore(text, 'boltcharge/buyer-state', BUYER_MIGRATIONS, buyerStateShape, currentConfig);
}
