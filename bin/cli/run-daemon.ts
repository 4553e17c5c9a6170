/**
 * `boltcharge wall|vehicle --config F`: validates the configuration, checks the Lightning credentials, opens
 * the devices and the store, starts the daemon, prints one JSON line `{"ready":true,...}` on stdout (with the
 * status page URL) and runs until SIGINT/SIGTERM (exit 0) or until the machine fails safe (exit 1).
 *
 * Start order: configuration → Lightning credentials (no file is created before they are checked) → EVSE
 * (wall; paused on any later start failure) → store (locked, integrity-checked) → link, meter → daemon. A start
 * failure closes everything opened so far, in reverse order, and throws: `main` prints one clear line and
 * returns the exit code (2 configuration, 3 store, 1 anything else).
 *
 * Under systemd (`Type=notify`) it also sends READY=1, WATCHDOG=1 from the session loop and STOPPING=1
 * (`daemon/sd-notify.ts`); the status server serves Prometheus `/metrics` (`daemon/metrics.ts`).
 */
import { clockFromConfig } from '../../daemon/clock-from-config.js';
import { storeUnusableFrom } from '../../daemon/database.js';
import { createLogger, type DaemonLogger } from '../../daemon/logger.js';
import { lightningFromConfig } from '../../daemon/lightning-from-config.js';
import { linkFromConfig } from '../../daemon/link-from-config.js';
import type { FailSafe } from '../../daemon/machine-runner.js';
import { meterFromConfig } from '../../daemon/meter-from-config.js';
import { DaemonMetrics } from '../../daemon/metrics.js';
import { SdNotify } from '../../daemon/sd-notify.js';
import { loadVehicleConfig } from '../../vehicle-module/config.js';
import { VehicleStore } from '../../vehicle-module/store.js';
import { VehicleDaemon } from '../../vehicle-module/vehicle-daemon.js';
import { loadWallConfig } from '../../wall-module/config.js';
import { evseFromConfig } from '../../wall-module/evse-from-config.js';
import { ocppObserver } from '../../wall-module/ocpp-observer.js';
import { WallStore } from '../../wall-module/store.js';
import type { WallParts } from '../../wall-module/wall-daemon.js';
import { SiteDaemon } from '../../wall-module/site/site-daemon.js';
import { CurrentEvse, CurrentMeter } from '../../wall-module/site/current-devices.js';
import { migrateOcppTables } from '../../wall-module/ocpp/index.js';
import { attachPayouts, statementReport } from '../../wall-module/payouts/attach.js'; // split
import { payoutRoutes } from '../../wall-module/payouts/status-route.js';
import { tariffWithCsmsChanges } from '../../wall-module/ocpp/device-model-defs.js'; // ocpp control
import { siteStationControl, walkupStationControl } from '../../wall-module/ocpp/station-control.js'; // ocpp control
import { ConnectorArbiter } from '../../wall-module/connector-arbiter.js';
import type { CableLink } from '../../hardware/link/cable-link.js';
import {
  attachSiteWalkups,
  ConnectorSessionEnds,
  startSiteRelays,
} from '../../wall-module/site/connector-services.js'; // walk-up and relay on every connector
import { ExitCode } from './exit-codes.js';
import { openDaemonStore } from './open-store.js';

/** Faults a test injects into a daemon started the normal way (never set by the CLI). */
export interface DaemonInjection {
  /** replaces the wall's seller step (e.g. one that throws on a chosen event) */
  wallStep?: WallParts['step'];
}

/** What run-daemon needs of a started daemon. */
interface RunningDaemon {
  readonly statusUrl: string | null;
  readonly failSafe: FailSafe;
  stop(): Promise<void>;
}

/** Things opened during a start, closed in reverse order (each close is tried; failures are ignored). */
class OpenedParts {
  private readonly closers: (() => Promise<void> | void)[] = [];
  /** Registers how to close something just opened. */
  add(close: () => Promise<void> | void): void {
    this.closers.push(close);
  }
  /** Closes everything, newest first. */
  async closeAll(): Promise<void> {
    for (const close of this.closers.splice(0).reverse()) {
      try {
        await close();
      } catch {
        // closing after a failure: keep closing the rest
      }
    }
  }
}

/**
 * Starts one daemon and waits for a stop signal or a fail-safe.
 *
 * @param role which daemon
 * @param configFile its YAML configuration
 * @param inject faults for tests (see `DaemonInjection`)
 * @returns exit code once the daemon has stopped: 0 after a signal, 1 after the machine failed safe
 * @throws ConfigInvalid, LightningConfigUnusable, SellerConfigRefused (exit 2), StoreUnusable, StoreTooNew,
 *   StoreLocked (exit 3), anything else (exit 1) — after closing what the start had opened
 */
export async function runDaemon(
  role: 'wall' | 'vehicle',
  configFile: string,
  inject: DaemonInjection = {},
): Promise<number> {
  const opened = new OpenedParts();
  const notify = SdNotify.fromEnv();
  opened.add(() => notify.close());
  let started: { daemon: RunningDaemon; log: DaemonLogger };
  try {
    started =
      role === 'wall'
        ? await startWall(configFile, opened, notify, inject)
        : await startVehicle(configFile, opened, notify);
  } catch (err) {
    await opened.closeAll();
    throw err;
  }
  const { daemon, log } = started;
  // a bug anywhere outside the machine (an emitter, a timer) fails safe too, instead of dying with power on
  const onUncaught = (err: unknown): void => void daemon.failSafe.fail(err);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  let onSignal: () => void = () => {};
  const signalled = new Promise<'signal'>((resolve) => {
    onSignal = () => resolve('signal');
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  process.stdout.write(
    JSON.stringify({ ready: true, role, pid: process.pid, statusUrl: daemon.statusUrl }) + '\n',
  );
  await notify.ready();
  const outcome = await Promise.race([signalled, daemon.failSafe.failed]);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  await notify.stopping();
  await daemon.stop().catch((err: Error) => log.error('stop failed', { error: err.message }));
  await opened.closeAll();
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUncaught);
  log.flush();
  if (outcome === 'signal') return ExitCode.OK;
  const safe = role === 'wall' ? 'power cut' : 'payments stopped';
  process.stderr.write(`boltcharge ${role}: failed safe (${safe}, daemon stopped): ${outcome.message}\n`);
  return ExitCode.FAILURE;
}

async function startWall(
  configFile: string,
  opened: OpenedParts,
  notify: SdNotify,
  inject: DaemonInjection,
): Promise<{ daemon: RunningDaemon; log: DaemonLogger }> {
  const config = loadWallConfig(configFile);
  const clock = clockFromConfig(config.clock);
  const log = createLogger({ name: 'wall', level: config.log.level, file: config.log.file, clock });
  const node = lightningFromConfig(config.lightning);
  opened.add(() => node.close());
  // every connector's charger first: a start that fails after this leaves them paused (nothing would supervise)
  // each connector's EVSE and meter as its daemon and walk-up hold them: the connector's current device (a
  // connector started again on fresh devices swaps them in, see `reopen` below); the closers reach the current one
  const evses: CurrentEvse[] = [];
  for (const c of config.connectors) {
    const evse = new CurrentEvse(await evseFromConfig(c.evse, clock));
    opened.add(() => evse.pause().finally(() => evse.close()));
    evses.push(evse);
  }
  const store = openDaemonStore(
    config.store.path,
    (close) => opened.add(close),
    () => WallStore.open(config.store.path, clock, migrateOcppTables),
  );
  const devices = config.connectors.map((c, i) => {
    const link = linkFromConfig(c.link, 'wall');
    opened.add(() => link.close());
    const meter = new CurrentMeter(meterFromConfig(c.meter, clock));
    opened.add(() => meter.close());
    // one arbiter per connector: the cable session, a walk-up session and OCPP availability share it
    return { config: c, link, meter, evse: evses[i]!, arbiter: new ConnectorArbiter() };
  });
  const tariff = config.ocpp?.enabled ? tariffWithCsmsChanges(store.db, config.tariff) : config.tariff; // ocpp control
  const evseIds = config.connectors.map((c) => c.evseId);
  const ocpp = config.ocpp?.enabled
    ? ocppObserver(config.ocpp, store, clock, log, tariff, evseIds)
    : undefined; // ocpp control
  let site: SiteDaemon | null = null;
  // relay: each connector's relay is revoked when ITS session ends; it serves the connector's current link (a
  // connector started again after a failure runs on a new one)
  const sessionEnds = new ConnectorSessionEnds();
  const links = new Map<number, CableLink>(devices.map((d) => [d.config.id, d.link]));
  // walk-up on every connector that did not opt out (`walkup: false`): each its own EVSE, meter, arbiter, OCPP
  // EVSE, TOTP secret and paths (`/connectors/<id>/walkup`; the first connector also `/walkup`); a walk-up
  // failure fails its connector only
  const walkups = config.walkup?.enabled
    ? await attachSiteWalkups({
        config: config.walkup,
        connectors: devices,
        node,
        db: store.db,
        clock,
        log,
        failConnector: (id, err) => void site?.connectors.get(id)?.failSafe.fail(err),
        ...(ocpp ? { ocpp: ocpp.station } : {}),
      })
    : null; // walk-up
  const metrics = new DaemonMetrics({
    role: 'wall',
    db: store.db,
    snapshot: () => (site && site.connectors.size > 0 ? site.primary.snapshot() : null),
    connectors: () =>
      [...(site?.connectors ?? [])].map(([id, d]) => ({ connectorId: id, snapshot: d.snapshot() })),
    downConnectors: () => [...(site?.downConnectors.values() ?? [])],
    probeNode: () => node.getIdentity().then(() => true),
  });
  // systemd's watchdog is petted once every running connector's loop ticked since the last pet
  const ticked = new Set<number>();
  const loopTick = (id: number): void => {
    ticked.add(id);
    const running =
      config.connectors.length - (site?.failedConnectors.size ?? 0) - (site?.downConnectors.size ?? 0);
    if (ticked.size < running) return;
    ticked.clear();
    notify.loopAlive();
  };
  site = await SiteDaemon.start({
    config: { ...config, tariff }, // ocpp control: a price/cadence/grace the CSMS set applies from this start
    clock,
    log,
    store,
    node,
    connectors: devices.map((d, i) => ({
      ...d,
      // a connector whose start failed (or that failed safe) is started again on fresh devices (the failed start
      // or the stop closed them); its walk-up follows them (the same CurrentEvse / CurrentMeter, swapped)
      reopen: async () => {
        const meter = meterFromConfig(d.config.meter, clock);
        const evse = await evseFromConfig(d.config.evse, clock).catch(async (err: unknown) => {
          await meter.close().catch(() => {});
          throw err;
        });
        const link = linkFromConfig(d.config.link, 'wall');
        opened.add(() => link.close());
        links.set(d.config.id, link);
        d.meter.swap(meter);
        d.evse.swap(evse);
        return { link, meter: d.meter, evse: d.evse };
      },
      observers: [
        ...(ocpp ? [i === 0 ? ocpp : ocpp.forEvse(d.config.evseId)] : []),
        { loopTick: () => loopTick(d.config.id) },
        sessionEnds.observer(d.config.id),
      ],
    })),
    routes: [metrics.route(), ...(walkups?.routes ?? []), ...(config.split ? payoutRoutes(store.db) : [])],
    walkupPath: (id) => walkups?.pathOf(id),
    step: inject.wallStep,
  }).catch((err: unknown) => {
    throw storeUnusableFrom(err, config.store.path) ?? err;
  });
  const running = site;
  // a later start failure (a walk-up's recovery, a relay's listen) stops the site too: its connectors stop and the
  // EVSEs are paused by their closers below, and the CLI exits non-zero (stop is idempotent: a normal shutdown
  // has stopped it already)
  opened.add(() => running.stop());
  const primary = running.primary;
  // ocpp control: CSMS remote stop / availability / reset reach the EVSE's connector; Reset = graceful stop; a
  // remote start (`remoteStart: walkup`) and the remote stop of a walk-up reach the walk-up of its EVSE
  ocpp?.attachControl(
    walkupStationControl(
      siteStationControl(
        running.byEvseId, // a connector that joins later is reached too
        () => process.kill(process.pid, 'SIGTERM'),
      ),
      walkups?.runtimesByEvseId ?? new Map(),
    ),
  );
  if (walkups) opened.add(() => walkups.stop()); // walk-up
  await walkups?.start(); // walk-up: recovery asks the node, after the wall paused the EVSEs at boot
  if (running.connectors.size === 1) log.setContext(() => ({ sessionId: primary.state.sessionId }));
  // relay (offline: the car without signal uses the wall's uplink) — on every IP connector, for its own
  // authenticated car only
  if (config.relay?.enabled) {
    const relays = await startSiteRelays({
      config: config.relay,
      connectors: devices.map((d) => ({
        id: d.config.id,
        link: () => links.get(d.config.id) ?? d.link,
        authenticatedSessionId: () => running.connectors.get(d.config.id)?.authenticatedSessionId() ?? null,
      })),
      sessionEnds,
      clock,
      log,
    });
    for (const relay of relays.values()) opened.add(() => relay.stop());
  }
  // split: payouts run beside the connectors; charging never waits on them
  if (config.split)
    opened.add(
      attachPayouts({
        split: config.split,
        db: store.db,
        wallNode: node,
        now: () => clock.now(),
        log,
        // the CSMS gets every statement (DataTransfer SplitSettled; NotifySettlement too on OCPP 2.1)
        onStatement: (payoutId, signed) => {
          const report = statementReport(payoutId, signed);
          if (report) ocpp?.splitSettled(report);
        },
      }),
    ); // split
  return { daemon: running, log };
}

async function startVehicle(
  configFile: string,
  opened: OpenedParts,
  notify: SdNotify,
): Promise<{ daemon: RunningDaemon; log: DaemonLogger }> {
  const config = loadVehicleConfig(configFile);
  const clock = clockFromConfig(config.clock);
  const log = createLogger({ name: 'vehicle', level: config.log.level, file: config.log.file, clock });
  const node = lightningFromConfig(config.lightning);
  opened.add(() => node.close());
  const store = openDaemonStore(
    config.store.path,
    (close) => opened.add(close),
    () => VehicleStore.open(config.store.path, clock),
  );
  const link = linkFromConfig(config.link, 'vehicle');
  opened.add(() => link.close());
  const meter = meterFromConfig(config.meter, clock);
  opened.add(() => meter.close());
  let daemon: VehicleDaemon | null = null;
  const metrics = new DaemonMetrics({
    role: 'vehicle',
    db: store.db,
    snapshot: () => daemon?.snapshot() ?? null,
    probeNode: () => node.getIdentity().then(() => true),
  });
  daemon = await VehicleDaemon.start({
    config,
    clock,
    log,
    store,
    node,
    link,
    meter,
    routes: [metrics.route()],
    onLoopTick: () => notify.loopAlive(),
  }).catch((err: unknown) => {
    throw storeUnusableFrom(err, config.store.path) ?? err;
  });
  const running = daemon;
  log.setContext(() => ({ sessionId: running.state.sessionId }));
  return { daemon: running, log };
}
