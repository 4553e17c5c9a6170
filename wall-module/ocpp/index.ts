/**
 * The OCPP component of the wall module: what the daemon imports. Nothing here exposes OCPP framing.
 *
 * Integration (wall daemon):
 * 1. Store migrations: call `migrateOcppTables(db)` among the wall store's migrations (idempotent; the
 *    station also runs it on construction).
 * 2. Construct once with the wall store's database and the daemon's clock:
 *    `const ocpp = new OcppStation({ clock, db, config: cfg.ocpp, logger })`, then `ocpp.start()`;
 *    `await ocpp.stop()` on shutdown. Without an `ocpp` config section, simply do not construct it.
 * 3. Report what happens, from the energy path, without awaiting anything (every call is synchronous, only
 *    writes SQLite, and never depends on the CSMS):
 *    `plugged(evseId)` → `sessionStarted({evseId, sessionId, atMs, meterStartWh})` → per meter reading
 *    `meterSample({sessionId, energyWh, powerW, atMs})` → per invoice `invoiceIssued({...})` and, on
 *    settlement, `invoicePaid({...})` → on a cut `powerCut({sessionId, reason: 'non-payment', atMs, energyWh,
 *    unpaidInvoice})`, on restore `resumed({sessionId, atMs})` → `sessionEnded({sessionId, reason:
 *    'LocalOutOfCredit' | 'EVDisconnected' | ..., meterStopWh, atMs, receipt})` → `unplugged(evseId)`.
 *    Calls are idempotent (same session/seq/time → one message), so replaying after a restart is safe.
 *    They throw only `OcppArgumentInvalid` (a daemon bug: unknown EVSE, negative energy, bad payment hash).
 * 4. Status page: embed `await ocpp.renderDisplayMessagesHtml()` (an HTML fragment; QR codes as inline SVG
 *    images) and show `ocpp.status()` (connected, protocol, boot, outboxPending, lastError).
 * 5. CSMS commands: `ocpp.attachControl(control)` once the daemon runs (`wallStationControl(daemon, evseId,
 *    reset)` adapts a WallDaemon: its arbiter, `requestStop`, a restart hook). Without it, commands that need the
 *    daemon are answered Rejected. Apply a tariff the CSMS changed with `tariffWithCsmsChanges(db, tariff)`
 *    before building the seller. Report `meterReading`, `securityEvent`, and call `availabilityChanged()` when
 *    the connector's owner changes.
 */
export { OcppStation } from './station.js';
export { wallStationControl } from './station-control.js';
export type { StationControl, RemoteStopReason, WallDaemonSurface } from './station-control.js';
export { tariffWithCsmsChanges } from './device-model-defs.js';
export type { OcppStationOptions, InvoiceFacts, SessionReceipt, OcppStationStatus } from './station.js';
export { migrateOcppTables } from './schema.js';
export type { DisplayMessage, MessageFormat, MessagePriority } from './display-messages.js';
export type { StopReason, PowerCutReason } from './events.js';
export { LIGHTNING_REPORT_SCHEMA_VERSION } from './lightning-report.js';
export type { LightningReportData } from './lightning-report.js';
export * from './errors.js';
export type { OcppStationConfig, OcppLogger, OcppVersion, EvseConfig } from './types.js';
