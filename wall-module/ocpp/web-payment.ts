/**
 * QR payment model 1 (OCPP 2.1 use case C25, "ad hoc payment via a dynamic QR code") on the station side, pure:
 * the C25 URL the display shows (the `WebPaymentsCtrlr` variables filled with the TOTP of now), the
 * `NotifySettlement` payload, the 2.0.1 / 1.6 DataTransfer backports of the C25 messages, the reading of a
 * `transactionLimit`, and the cost unit.
 *
 * Cost unit: a Lightning station prices in msat, so the "currency of the tariff" of `maxCost` and
 * `settlementAmount` is the satoshi, written as a decimal number with up to 3 decimals (1 msat = 0.001 sat).
 * A maxCost finer than 1 msat is rounded down (the limit never lets the session cost more than the CSMS said).
 */
import { fillUrlTemplate, totpAt, totpSecondsLeft, checkTotpParams } from '../../payments/totp.js';
import type { OutboxEntry, SettlementFields } from './events.js';
import type { BuiltMessage } from './ocpp201-messages.js';
import type { JsonObject, OcppVersion } from './types.js';

/**
 * vendorId of the 2.0.1 / 1.6 DataTransfer backports of the C25 messages (`NotifyWebPaymentStarted`,
 * `RequestStartTransaction` with a DirectPayment idToken, `NotifySettlement`): the messageId is the 2.1 action
 * and `data` is the 2.1 payload (JSON text on 1.6, an object on 2.0.1), as in the Open Charging Technology
 * "Secure Dynamic QR Codes" backport. The same vendorId carries model 2's `StartQRPayment`.
 */
export const WEB_PAYMENT_VENDOR_ID = 'org.openchargealliance.qrpayment';

/** The limits a CSMS set for a transaction (2.1 `TransactionLimitType`), in the station's units. */
export interface TransactionLimit {
  /** maximum cost, msat (from `maxCost` in sat) */
  maxCostMsat?: bigint;
  /** maximum energy, Wh */
  maxEnergyWh?: number;
  /** maximum duration from the transaction's start, s */
  maxTimeSec?: number;
}

/**
 * A cost in sat (decimal number) as msat, rounded down.
 * @param sat a non-negative finite number
 * @returns msat, or undefined when `sat` is not a non-negative finite number
 */
export function satToMsat(sat: number): bigint | undefined {
  if (!Number.isFinite(sat) || sat < 0) return undefined;
  // through the decimal text, so 0.1 sat is 100 msat and not 99.99999 → 99
  const [whole = '0', frac = ''] = sat.toFixed(6).split('.');
  return BigInt(whole) * 1000n + BigInt(frac.slice(0, 3).padEnd(3, '0'));
}

/**
 * msat as a decimal number of sat (exact: msat below 2^53 have an exact 3-decimal text, and JSON carries it).
 * @param msat amount, msat (≥ 0)
 * @returns sat, e.g. 12345n → 12.345
 */
export function msatToSat(msat: bigint): number {
  const whole = msat / 1000n;
  const frac = (msat % 1000n).toString().padStart(3, '0');
  return Number(`${whole}.${frac}`);
}

/**
 * Reads a 2.1 `transactionLimit` object (from a TransactionEventResponse, or the data of a backported
 * RequestStartTransaction). Unknown or malformed fields are ignored (`maxSoC`: the station reads no SoC).
 * @param raw the JSON value
 * @returns the limits (possibly empty), or undefined when `raw` is not an object
 */
export function readTransactionLimit(raw: unknown): TransactionLimit | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const o = raw as Record<string, unknown>;
  const limit: TransactionLimit = {};
  if (typeof o.maxCost === 'number') {
    const msat = satToMsat(o.maxCost);
    if (msat !== undefined) limit.maxCostMsat = msat;
  }
  if (typeof o.maxEnergy === 'number' && o.maxEnergy >= 0) limit.maxEnergyWh = o.maxEnergy;
  if (typeof o.maxTime === 'number' && o.maxTime >= 0) limit.maxTimeSec = o.maxTime;
  return limit;
}

/** A limit as stored (bigint as decimal text). */
export function limitToJson(limit: TransactionLimit): string {
  return JSON.stringify({
    ...(limit.maxCostMsat !== undefined ? { maxCostMsat: limit.maxCostMsat.toString() } : {}),
    ...(limit.maxEnergyWh !== undefined ? { maxEnergyWh: limit.maxEnergyWh } : {}),
    ...(limit.maxTimeSec !== undefined ? { maxTimeSec: limit.maxTimeSec } : {}),
  });
}

/** A stored limit back (see `limitToJson`). */
export function limitFromJson(text: string): TransactionLimit {
  const o = JSON.parse(text) as { maxCostMsat?: string; maxEnergyWh?: number; maxTimeSec?: number };
  const limit: TransactionLimit = {};
  if (o.maxCostMsat !== undefined) limit.maxCostMsat = BigInt(o.maxCostMsat);
  if (o.maxEnergyWh !== undefined) limit.maxEnergyWh = o.maxEnergyWh;
  if (o.maxTimeSec !== undefined) limit.maxTimeSec = o.maxTimeSec;
  return limit;
}

/** Merges two limits: the stricter value of each field wins. */
export function stricterLimit(a: TransactionLimit, b: TransactionLimit): TransactionLimit {
  const min = <T extends number | bigint>(x: T | undefined, y: T | undefined): T | undefined =>
    x === undefined ? y : y === undefined ? x : x < y ? x : y;
  const out: TransactionLimit = {};
  const cost = min(a.maxCostMsat, b.maxCostMsat);
  const energy = min(a.maxEnergyWh, b.maxEnergyWh);
  const time = min(a.maxTimeSec, b.maxTimeSec);
  if (cost !== undefined) out.maxCostMsat = cost;
  if (energy !== undefined) out.maxEnergyWh = energy;
  if (time !== undefined) out.maxTimeSec = time;
  return out;
}

/** Which limit a session reached, in the station's stop-reason words (`undefined`: none). */
export type LimitReached = 'CostLimitReached' | 'EnergyLimitReached' | 'TimeLimitReached';

/**
 * Checks a session against its limits.
 * @param limit the limits
 * @param used cost so far (msat; undefined when the session has no cost, e.g. a cable session reported
 *   without it), energy so far (Wh) and time since the transaction started (ms)
 * @returns the first limit reached (cost, then energy, then time), or undefined
 */
export function limitReached(
  limit: TransactionLimit,
  used: { costMsat?: bigint; energyWh: number; elapsedMs: number },
): LimitReached | undefined {
  if (limit.maxCostMsat !== undefined && used.costMsat !== undefined && used.costMsat >= limit.maxCostMsat)
    return 'CostLimitReached';
  if (limit.maxEnergyWh !== undefined && used.energyWh >= limit.maxEnergyWh) return 'EnergyLimitReached';
  if (limit.maxTimeSec !== undefined && used.elapsedMs >= limit.maxTimeSec * 1000) return 'TimeLimitReached';
  return undefined;
}

/** The `WebPaymentsCtrlr` variables of one EVSE, as the device model holds them (text values). */
export interface WebPaymentVariables {
  enabled: string | undefined;
  urlTemplate: string | undefined;
  sharedSecret: string | undefined;
  validityTimeSec: string | undefined;
  length: string | undefined;
}

/** The C25 code the display shows now. */
export interface WebPaymentQr {
  /** the filled URL (the QR's content) */
  url: string;
  /** `ValidityTime`, s */
  validityTimeSec: number;
  /** seconds until the code changes */
  secondsLeft: number;
}

/**
 * The C25 URL of an EVSE at a moment: `URLTemplate` filled with the station id, the EVSE, the TOTP of the
 * interval containing `unixSeconds` and the TOTP version ("1").
 * @param vars the EVSE's `WebPaymentsCtrlr` variables
 * @param stationId charging station identity (`{chargingStationId}`)
 * @param evseId `{evse}`
 * @param unixSeconds the moment, s since the epoch
 * @returns the QR to show, or undefined when web payments are disabled or the variables do not make a code
 *   (no template, no secret, a template without `{totp}`)
 */
export function webPaymentQrAt(
  vars: WebPaymentVariables,
  stationId: string,
  evseId: number,
  unixSeconds: number,
): WebPaymentQr | undefined {
  if (vars.enabled !== 'true' || !vars.urlTemplate || !vars.sharedSecret) return undefined;
  const params = checkTotpParams({
    sharedSecret: vars.sharedSecret,
    validityTimeSec: Number(vars.validityTimeSec ?? '60'),
    length: Number(vars.length ?? '8'),
  });
  if (!params.ok) return undefined;
  const url = fillUrlTemplate(vars.urlTemplate, {
    chargingStationId: stationId,
    evse: evseId,
    totp: totpAt(params.value, unixSeconds),
    version: '1',
  });
  if (!url.ok) return undefined;
  return {
    url: url.value,
    validityTimeSec: params.value.validityTimeSec,
    secondsLeft: Math.ceil(totpSecondsLeft(params.value.validityTimeSec, unixSeconds)),
  };
}

/**
 * The NotifySettlementRequest payload of a settlement.
 * @param s the settlement
 * @param atMs settlement time, ms since the epoch
 * @returns the 2.1 payload (also the `data` of the backport)
 */
export function notifySettlementPayload(s: SettlementFields, atMs: number): JsonObject {
  const payload: JsonObject = {
    pspRef: s.pspRef,
    status: s.status,
    settlementAmount: msatToSat(BigInt(s.amountMsat)),
    settlementTime: new Date(atMs).toISOString(),
  };
  if (s.transactionId !== undefined) payload.transactionId = s.transactionId;
  if (s.statusInfo !== undefined) payload.statusInfo = s.statusInfo.slice(0, 500);
  if (s.receiptId !== undefined) payload.receiptId = s.receiptId.slice(0, 50);
  return payload;
}

/**
 * The message of a queued settlement for the negotiated version: 2.1 `NotifySettlement`; 2.0.1 and 1.6 the
 * DataTransfer backport (`data` an object on 2.0.1, JSON text on 1.6).
 * @param entry the outbox entry (a `Settlement` event)
 * @param version negotiated version
 * @returns the CALL
 */
export function settlementMessage(entry: OutboxEntry, version: OcppVersion): BuiltMessage {
  const ev = entry.event;
  if (ev.kind !== 'Settlement') return { notApplicable: 'not a settlement' };
  const payload = notifySettlementPayload(ev.settlement, ev.atMs);
  if (version === 'ocpp2.1') return { action: 'NotifySettlement', payload };
  return {
    action: 'DataTransfer',
    payload: {
      vendorId: WEB_PAYMENT_VENDOR_ID,
      messageId: 'NotifySettlement',
      data: version === 'ocpp1.6' ? JSON.stringify(payload) : payload,
    },
  };
}

/** A DirectPayment start as the station reads it from a 2.1 RequestStartTransaction or a backport. */
export interface DirectPaymentStart {
  evseId: number | undefined;
  remoteStartId: number;
  /** the idToken: the payment reference (a payment hash when the wall's node is the PSP) */
  pspRef: string;
  /** limits the backport carried with the start (2.1 sends them in the TransactionEventResponse) */
  limit: TransactionLimit | undefined;
}

/**
 * The `data` of a backported C25 DataTransfer as an object (1.6 sends JSON text).
 * @returns the object, or undefined when it is neither an object nor JSON text of one
 */
export function backportData(data: unknown): Record<string, unknown> | undefined {
  let value = data;
  if (typeof data === 'string') {
    try {
      value = JSON.parse(data) as unknown;
    } catch {
      return undefined;
    }
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/**
 * Reads a RequestStartTransaction payload (2.1, or the `data` of the backport).
 * @param req the payload
 * @returns the idToken's value and type, EVSE, remoteStartId and (backport) limits
 */
export function readStartRequest(req: Record<string, unknown>): {
  evseId: number | undefined;
  remoteStartId: number;
  idToken: string;
  idTokenType: string;
  limit: TransactionLimit | undefined;
} {
  const token = req.idToken;
  const t =
    typeof token === 'object' && token !== null && !Array.isArray(token)
      ? (token as Record<string, unknown>)
      : {};
  return {
    evseId: typeof req.evseId === 'number' ? req.evseId : undefined,
    remoteStartId: typeof req.remoteStartId === 'number' ? req.remoteStartId : 0,
    idToken: typeof t.idToken === 'string' ? t.idToken : '',
    idTokenType: typeof t.type === 'string' ? t.type : '',
    limit: readTransactionLimit(req.transactionLimit),
  };
}
