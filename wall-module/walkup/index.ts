/**
 * Composition of walk-up payment on a wall (issue 12): `attachWalkup(...)` builds the runtime (machine shell,
 * own tables in the wall's store database) and its HTTP routes; the caller passes the routes to the status
 * server, then calls `start()` once the wall daemon has booted (it paused the EVSE), and `stop()` on shutdown.
 *
 *   const arbiter = new ConnectorArbiter();
 *   const walkup = await attachWalkup({ config: cfg.walkup, evse, meter, node, db: store.db, clock, log, arbiter,
 *     maxCurrentA: cfg.evse.maxCurrentA, meterPollIntervalMs: cfg.meter.pollIntervalMs });
 *   ... WallDaemon.start({ ..., routes: [..., ...walkup.routes] }) ...
 *   await walkup.start();
 *
 * The wall daemon must claim the same `arbiter` (kind 'cable') before its seller session energises, so a vehicle
 * module arriving mid-walk-up never gets a second session.
 *
 * A site attaches one walk-up per connector (`wall-module/site/connector-services.ts`): each with its connector's
 * devices, arbiter and `connectorId`, its own path prefix, and its own TOTP secret derived from
 * `walkup.totpSecret` (`connectorTotpSecret`); its store is scoped to its connector.
 */
import type { Database } from 'better-sqlite3';
import type { Clock } from '../../hardware/clock.js';
import type { Evse } from '../../hardware/evse/evse.js';
import type { EnergyMeter } from '../../hardware/meter/energy-meter.js';
import { MeterPoller } from '../../hardware/meter/meter-poller.js';
import type { Logger } from '../../daemon/logger.js';
import type { StatusRoute } from '../../daemon/status-server.js';
import { protocolNetwork } from '../../daemon/network-name.js';
import type { LightningNode } from '../../lightning/lightning-node.js';
import { connectorTotpSecret } from '../../payments/totp.js';
import { walkupConfig, type WalkupConfig } from '../../payments/walkup-config.js';
import type { ConnectorArbiter } from '../connector-arbiter.js';
import type { WebPaymentQr } from '../ocpp/web-payment.js';
import type { OcppStation } from '../ocpp/station.js';
import { DirectPaymentSessions, type DirectPaymentStation } from './direct-payment.js';
import { WalkupOcppReport, type WalkupReportStation } from './ocpp-report.js';
import type { WalkupSectionConfig } from './config.js';
import { WALKUP_PATH_PREFIX, walkupRoutes } from './routes.js';
import { WalkupRuntime } from './runtime.js';
import { WalkupStore } from './store.js';

export { readWalkupSection, type WalkupSectionConfig } from './config.js';
export { WalkupRuntime, type PendingRemoteStart } from './runtime.js';
export { WalkupOcppReport, walkupStopReason } from './ocpp-report.js';
export { WalkupStore, migrateWalkupTables } from './store.js';

/** The `walkup` section does not make a valid machine configuration (exit code 2, like any config error). */
export class WalkupConfigRefused extends Error {
  override readonly name = 'WalkupConfigRefused';
}

/** What `attachWalkup` takes. */
export interface AttachWalkupArgs {
  config: WalkupSectionConfig;
  evse: Evse;
  meter: EnergyMeter;
  node: LightningNode;
  /** the wall store's database (the walk-up tables are created in it) */
  db: Database;
  clock: Clock;
  log: Logger;
  arbiter: ConnectorArbiter;
  /** current limit while a walk-up charges, A (`evse.maxCurrentA`) */
  maxCurrentA: number;
  /** how often the meter is read, ms (`meter.pollIntervalMs`) */
  meterPollIntervalMs: number;
  /** 1-based connector (default 1): its sessions' rows, its TOTP secret (`connectorTotpSecret`) */
  connectorId?: number;
  /** the connector's walk-up path prefix, carried by every URL built (default `/walkup`) */
  pathPrefix?: string;
  /** further prefixes serving the same routes (a site serves every connector under `/connectors/<id>/walkup`) */
  aliasPrefixes?: readonly string[];
  /** where another connector's walk-up is served (refusals of a foreign refund secret or receipt name it) */
  prefixOf?: (connectorId: number) => string | undefined;
  /** what the display page's heading names (e.g. `connector 2`) */
  label?: string;
  /** a step or commit failed: power cut, connector faulted; the daemon should exit non-zero */
  onFailSafe?: (err: Error) => void;
  /** real time for the TOTP, ms (tests) */
  realNowMs?: () => number;
  /** QR payment model 1: the C25 payment page URL of now (`(s) => ocpp.webPaymentQr(evseId, s)`) */
  webPayment?: (unixSeconds: number) => WebPaymentQr | undefined;
  /**
   * QR payment model 1 on this connector: the OCPP station whose DirectPayment starts run here (a session
   * paid through the wall's node, at the walk-up price), and the connector's EVSE id. Also shows the station's
   * C25 URL on the page (unless `webPayment` is given).
   */
  directPayment?: {
    station: DirectPaymentStation & Pick<OcppStation, 'attachDirectPayment' | 'webPaymentQr'>;
    evseId: number;
  };
  /**
   * OCPP reporting: the connector's walk-up sessions are reported to this station as transactions of the EVSE
   * (see `ocpp-report.ts`); a CSMS remote start / stop reaches the runtime through `walkupStationControl`.
   */
  ocpp?: { station: WalkupReportStation; evseId: number };
}

/** An attached walk-up. */
export interface AttachedWalkup {
  /** add to the status server's routes */
  routes: StatusRoute[];
  runtime: WalkupRuntime;
  store: WalkupStore;
  /** the DirectPayment runner (QR payment model 1), when `directPayment` was given */
  directPayment: DirectPaymentSessions | null;
  /** the machine configuration in force */
  machineConfig: WalkupConfig;
  /** recovery (asks the node about every live session), then EVSE, meter and ticks */
  start(): Promise<void>;
  /** stops polling and watching (sessions stay on disk) */
  stop(): void;
}

/**
 * Builds the walk-up runtime and routes.
 * @returns routes, runtime, store, start and stop
 * @throws WalkupConfigRefused when the section does not make a valid machine configuration; NodeUnreachable when
 *   the node's network cannot be read
 */
export async function attachWalkup(a: AttachWalkupArgs): Promise<AttachedWalkup> {
  const c = a.config;
  const connectorId = a.connectorId ?? 1;
  const prefix = a.pathPrefix ?? WALKUP_PATH_PREFIX;
  const network = protocolNetwork((await a.node.getIdentity()).network);
  const machine = walkupConfig({
    network,
    priceMsatPerWh: c.priceMsatPerWh,
    minDepositMsat: c.minDepositMsat,
    maxDepositMsat: c.maxDepositMsat,
    validityTimeSec: c.validityTimeSec,
    quoteTimeoutMs: c.quoteTimeoutMs,
    finalInvoiceTimeoutMs: c.finalInvoiceTimeoutMs,
    settleMarginMs: c.marginBlocks * c.blockIntervalMs,
    graceWh: c.graceWh,
    finalMeterTimeoutMs: c.finalMeterTimeoutMs,
    refundValidityMs: c.refundValidityMs,
    refundMaxFeeMsat: c.refundMaxFeeMsat,
    nodeRetryMs: c.nodeRetryMs,
    refundLinkPrefix: `${c.publicBaseUrl}${prefix}/withdraw?k1=`,
  });
  if (!machine.ok) throw new WalkupConfigRefused(`walkup.${machine.error.message}`);
  const store = new WalkupStore(a.db, { connectorId });
  const runtime = new WalkupRuntime({
    connectorId,
    config: machine.value,
    hold: {
      blockIntervalMs: c.blockIntervalMs,
      marginBlocks: c.marginBlocks,
      holdExpiryDeltaBlocks: c.holdExpiryDeltaBlocks,
      cltvDeltaBlocks: c.cltvDeltaBlocks,
    },
    maxCurrentA: a.maxCurrentA,
    evse: a.evse,
    node: a.node,
    store,
    clock: a.clock,
    log: a.log,
    arbiter: a.arbiter,
    ...(a.onFailSafe ? { onFailSafe: a.onFailSafe } : {}),
  });
  const dp = a.directPayment;
  const directPayment = dp
    ? new DirectPaymentSessions({
        evseId: dp.evseId,
        evse: a.evse,
        meter: a.meter,
        node: a.node,
        station: dp.station,
        arbiter: a.arbiter,
        db: a.db,
        clock: a.clock,
        log: a.log,
        priceMsatPerWh: c.priceMsatPerWh,
        maxCurrentA: a.maxCurrentA,
        stopLeadMs: 2 * a.meterPollIntervalMs,
      })
    : null;
  const webPayment = a.webPayment ?? (dp ? (s: number) => dp.station.webPaymentQr(dp.evseId, s) : undefined);
  const routes = walkupRoutes({
    config: c,
    runtime,
    store,
    arbiter: a.arbiter,
    totpSecret: connectorTotpSecret(c.totpSecret, connectorId),
    pathPrefix: prefix,
    ...(a.aliasPrefixes ? { aliasPrefixes: a.aliasPrefixes } : {}),
    ...(a.prefixOf ? { prefixOf: a.prefixOf } : {}),
    ...(a.label ? { label: a.label } : {}),
    ...(a.realNowMs ? { realNowMs: a.realNowMs } : {}),
    ...(webPayment ? { webPayment } : {}),
  });
  const report = a.ocpp ? new WalkupOcppReport({ ...a.ocpp, log: a.log }) : null;
  if (report) runtime.onStep((sessionId, before, after, atMs) => report.step(sessionId, before, after, atMs));
  const poller = new MeterPoller(a.meter, a.clock, { intervalMs: a.meterPollIntervalMs });
  poller.on('reading', (r) => {
    runtime.meter(r);
    report?.meter(r, runtime.current());
    directPayment?.meter(r);
  });
  poller.on('error', () => undefined); // the wall daemon's own poller reports meter trouble
  return {
    routes,
    runtime,
    store,
    machineConfig: machine.value,
    directPayment,
    async start() {
      await runtime.start();
      if (directPayment && dp) {
        directPayment.attach();
        dp.station.attachDirectPayment(directPayment, dp.evseId);
      }
      poller.start();
    },
    stop() {
      poller.stop();
      directPayment?.detach();
      runtime.stop();
    },
  };
}
