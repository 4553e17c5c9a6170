/**
 * The OCPP component of the wall module: what the daemon imports. Nothing here exposes OCPP framing.
 */
export { OcppStation } from './station.js';
export type { OcppStationOptions, InvoiceFacts, SessionReceipt, OcppStationStatus } from './station.js';
export { migrateOcppTables } from './schema.js';
export type { DisplayMessage, MessageFormat, MessagePriority } from './display-messages.js';
export type { StopReason, PowerCutReason } from './events.js';
export { LIGHTNING_REPORT_SCHEMA_VERSION } from './lightning-report.js';
export type { LightningReportData } from './lightning-report.js';
export * from './errors.js';
export type { OcppStationConfig, OcppLogger, OcppVersion, EvseConfig } from './types.js';
