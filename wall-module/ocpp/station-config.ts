/** Validation and defaults of `OcppStationConfig`. */
import type { BackoffPolicy } from './connection.js';
import { OcppConfigInvalid } from './errors.js';
import type { EvseConfig, OcppStationConfig, OcppVersion } from './types.js';

/** A configuration with every default applied. */
export interface ResolvedStationConfig {
  url: string;
  identity: string;
  password: string | undefined;
  caPem: string | undefined;
  protocols: OcppVersion[];
  vendorId: string;
  meterIntervalSec: number;
  heartbeatFallbackSec: number;
  evses: Required<EvseConfig>[];
  chargePointModel: string;
  chargePointVendor: string;
  serialNumber: string | undefined;
  firmwareVersion: string | undefined;
  idTag16: string;
  backoff: BackoffPolicy;
  callTimeoutMs: number;
  maxAttempts: number;
  pingIntervalSec: number;
  outboxRetentionDays: number;
  remoteStart: 'vehicle' | 'walkup' | 'off';
  qrPayment: OcppStationConfig['qrPayment'];
}

/**
 * The rules a station's identity settings must meet, defined once: the station checks them at start and the
 * wall's YAML reader reports them with every other configuration problem (`boltcharge wall` exits 2).
 * Each returns what is wrong (to follow the field's name), or null.
 */
export const STATION_FIELD_RULES = {
  /** the station id in the URL path and Basic auth user (OCPP: identifierString without ':') */
  identity: (v: string): string | null =>
    /^[\x21-\x7e]{1,48}$/.test(v) && !v.includes(':')
      ? null
      : 'must be 1-48 printable ASCII characters without ":"',
  /** Basic auth password (security profiles 1-2) */
  password: (v: string): string | null =>
    v.length >= 1 && v.length <= 64 ? null : 'must be 1-64 characters (OCPP 2.0.1 asks for 16-40)',
  /** DataTransfer vendor id */
  vendorId: (v: string): string | null =>
    /^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(v) && v.length <= 255
      ? null
      : `must be reverse-DNS (e.g. org.example), at most 255 characters, got ${v}`,
} as const;

function check(ok: boolean, message: string): void {
  if (!ok) throw new OcppConfigInvalid(message);
}

function positive(name: string, value: number): number {
  check(Number.isFinite(value) && value > 0, `${name} must be a positive number, got ${value}`);
  return value;
}

/**
 * Validates a station configuration and applies defaults.
 *
 * @param config as given by the daemon
 * @returns the resolved configuration
 * @throws OcppConfigInvalid naming the offending field
 */
export function resolveStationConfig(config: OcppStationConfig): ResolvedStationConfig {
  let url: URL;
  try {
    url = new URL(config.url);
  } catch {
    throw new OcppConfigInvalid(`url is not a URL: ${config.url}`);
  }
  check(
    url.protocol === 'ws:' || url.protocol === 'wss:',
    `url must be ws:// or wss://, got ${url.protocol}`,
  );
  check(url.username === '' && url.password === '', 'url must not carry credentials: use identity/password');
  const rule = (field: keyof typeof STATION_FIELD_RULES, value: string): void => {
    const problem = STATION_FIELD_RULES[field](value);
    check(problem === null, `${field} ${problem}`);
  };
  rule('identity', config.identity);
  if (config.password !== undefined) rule('password', config.password);
  check(config.caPem === undefined || url.protocol === 'wss:', 'caPem is only meaningful with a wss:// url');
  const protocols = config.protocols ?? ['ocpp2.1', 'ocpp2.0.1', 'ocpp1.6'];
  check(protocols.length > 0, 'protocols must name at least one OCPP version');
  for (const p of protocols) check(['ocpp1.6', 'ocpp2.0.1', 'ocpp2.1'].includes(p), `unknown protocol ${p}`);
  const vendorId = config.vendorId ?? 'org.boltcharge';
  rule('vendorId', vendorId);
  const evses = (config.evses ?? [{ evseId: 1 }]).map((e) => ({
    evseId: e.evseId,
    connectorId: e.connectorId ?? 1,
  }));
  check(evses.length > 0, 'evses must list at least one EVSE');
  for (const e of evses)
    check(
      Number.isInteger(e.evseId) && e.evseId >= 1 && Number.isInteger(e.connectorId) && e.connectorId >= 1,
      'evseId and connectorId must be integers >= 1',
    );
  check(new Set(evses.map((e) => e.evseId)).size === evses.length, 'evse ids must be unique');
  const model = config.chargePointModel ?? 'boltcharge-wall';
  const vendor = config.chargePointVendor ?? 'boltcharge';
  check(model.length >= 1 && model.length <= 20, 'chargePointModel must be 1-20 characters');
  check(vendor.length >= 1 && vendor.length <= 20, 'chargePointVendor must be 1-20 characters');
  check(
    config.serialNumber === undefined || config.serialNumber.length <= 25,
    'serialNumber must be <= 25 characters',
  );
  check(
    config.firmwareVersion === undefined || config.firmwareVersion.length <= 50,
    'firmwareVersion must be <= 50 characters',
  );
  const idTag16 = config.idTag16 ?? 'LIGHTNING';
  check(idTag16.length >= 1 && idTag16.length <= 20, 'idTag16 must be 1-20 characters');
  const b = config.backoff ?? {};
  const backoff: BackoffPolicy = {
    initialMs: positive('backoff.initialMs', b.initialMs ?? 1000),
    factor: positive('backoff.factor', b.factor ?? 2),
    maxMs: positive('backoff.maxMs', b.maxMs ?? 60_000),
    jitter: b.jitter ?? 0.2,
  };
  check(backoff.jitter >= 0 && backoff.jitter < 1, 'backoff.jitter must be in [0, 1)');
  const maxAttempts = config.maxAttempts ?? 5;
  check(Number.isInteger(maxAttempts) && maxAttempts >= 1, 'maxAttempts must be an integer >= 1');
  const pingIntervalSec = config.pingIntervalSec ?? 30;
  check(Number.isFinite(pingIntervalSec) && pingIntervalSec >= 0, 'pingIntervalSec must be >= 0');
  const remoteStart = config.remoteStart ?? 'vehicle';
  check(['vehicle', 'walkup', 'off'].includes(remoteStart), `remoteStart must be vehicle, walkup or off`);
  return {
    remoteStart,
    qrPayment: config.qrPayment,
    url: config.url,
    identity: config.identity,
    password: config.password,
    caPem: config.caPem,
    protocols,
    vendorId,
    meterIntervalSec: positive('meterIntervalSec', config.meterIntervalSec ?? 60),
    heartbeatFallbackSec: positive('heartbeatFallbackSec', config.heartbeatFallbackSec ?? 300),
    evses,
    chargePointModel: model,
    chargePointVendor: vendor,
    serialNumber: config.serialNumber,
    firmwareVersion: config.firmwareVersion,
    idTag16,
    backoff,
    callTimeoutMs: positive('callTimeoutMs', config.callTimeoutMs ?? 30_000),
    maxAttempts,
    pingIntervalSec,
    outboxRetentionDays: positive('outboxRetentionDays', config.outboxRetentionDays ?? 30),
  };
}
