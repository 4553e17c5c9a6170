/** Shared types of the OCPP component: JSON values, versions, configuration, logger. */
import type { TariffVariables } from './device-model-defs.js';
import type { PaymentQrPolicy } from '../../payments/emv/payment-qr.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** OCPP-J WebSocket subprotocols the station can speak. */
export type OcppVersion = 'ocpp1.6' | 'ocpp2.0.1' | 'ocpp2.1';

/** One EVSE with its single connector (the wall module drives one cable per EVSE). */
export interface EvseConfig {
  /** OCPP 2.x EVSE id (>= 1); also the OCPP 1.6 connectorId */
  evseId: number;
  /** OCPP 2.x connector id within the EVSE (default 1) */
  connectorId?: number;
}

export interface OcppStationConfig {
  /** CSMS base URL, `ws://` (security profile 1) or `wss://` (profile 2); identity is appended */
  url: string;
  /** charging station identity: the last URL path segment and the basic-auth user name */
  identity: string;
  /** basic-auth password (profiles 1 and 2); omit for profile 0 test setups */
  password?: string;
  /** PEM CA certificate(s) trusted for `wss://` (profile 2); default: the system store */
  caPem?: string;
  /** subprotocols offered, most preferred first; default `['ocpp2.1', 'ocpp2.0.1', 'ocpp1.6']` (2.1 first when the CSMS offers it) */
  protocols?: OcppVersion[];
  /** reverse-DNS vendorId for DataTransfer; default `org.boltcharge` */
  vendorId?: string;
  /** minimum spacing of periodic meter reports, s (MeterValueSampleInterval); default 60 */
  meterIntervalSec?: number;
  /** heartbeat interval used until the CSMS names one, and retry interval after Pending/Rejected with
   *  interval 0, s; default 300 */
  heartbeatFallbackSec?: number;
  /** EVSEs; default one EVSE, id 1, connector 1 */
  evses?: EvseConfig[];
  /** BootNotification model (≤ 20 chars); default `boltcharge-wall` */
  chargePointModel?: string;
  /** BootNotification vendor (≤ 20 chars: the 1.6 limit); default `boltcharge` */
  chargePointVendor?: string;
  /** optional serial number (≤ 25 chars; 1.6 limit 25) */
  serialNumber?: string;
  /** optional firmware version (≤ 50 chars) */
  firmwareVersion?: string;
  /** OCPP 1.6 StartTransaction idTag for Lightning-paid sessions (≤ 20 chars); default `LIGHTNING` */
  idTag16?: string;
  /** reconnect backoff: first delay, factor, cap (ms) and jitter fraction (0..1); defaults 1000, 2, 60000, 0.2 */
  backoff?: { initialMs?: number; factor?: number; maxMs?: number; jitter?: number };
  /** per-CALL reply timeout, ms; default 30000 */
  callTimeoutMs?: number;
  /** attempts for one outbox message answered with CALLERROR or timeout before it is dropped; default 5 */
  maxAttempts?: number;
  /** days a delivered outbox message is kept (for idempotency and audit) before `start()` prunes it; default 30 */
  outboxRetentionDays?: number;
  /** WebSocket ping interval, s; default 30 (0 disables) */
  pingIntervalSec?: number;
  /** the wall's tariff, shown in the vendor component `BoltchargeCtrlr` (a CSMS change applies at the next
   *  start, see `tariffWithCsmsChanges`); absent: no vendor component */
  tariff?: TariffVariables;
  /**
   * What RequestStartTransaction (2.x) / RemoteStartTransaction (1.6) does: `vehicle` accepts and tags the next
   * vehicle session on the EVSE with the request (within TxCtrlr.EVConnectionTimeOut), `walkup` starts a
   * walk-up session through the station control, `off` answers Rejected. Default `vehicle`.
   */
  remoteStart?: 'vehicle' | 'walkup' | 'off';
  /**
   * QR payment model 2: when set, a QR the CSMS asks to draw (SetDisplayMessage QRCODE, or for the
   * `QRCodeDisplay` component) must be a BOLT11 or EMV payload this policy accepts; anything else is answered
   * Rejected, never drawn, and reported with SecurityEventNotification `InvalidMessages`.
   */
  qrPayment?: Omit<PaymentQrPolicy, 'nowMs'>;
}

/** Structured logger; the daemon passes its own. */
export interface OcppLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** A logger that drops everything. */
export const silentLogger: OcppLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
