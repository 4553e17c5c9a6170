/**
 * `boltcharge wall|vehicle --config F`: validates the configuration, opens the store, the Lightning node, the
 * link and the devices, starts the daemon, prints one JSON line `{"ready":true,...}` on stdout (with the status
 * page URL) and runs until SIGINT/SIGTERM. Under systemd (`Type=notify`) it also sends READY=1, WATCHDOG=1 from
 * the session loop and STOPPING=1 (`daemon/sd-notify.ts`); the status server serves Prometheus `/metrics`.
 */
import { clockFromConfig } from '../../daemon/clock-from-config.js';
import { createLogger, type DaemonLogger } from '../../daemon/logger.js';
import { DaemonMetrics } from '../../daemon/metrics.js';
import { SdNotify } from '../../daemon/sd-notify.js';
import { lightningFromConfig } from '../../daemon/lightning-from-config.js';
import { linkFromConfig } from '../../daemon/link-from-config.js';
import { meterFromConfig } from '../../daemon/meter-from-config.js';
import { loadVehicleConfig } from '../../vehicle-module/config.js';
import { VehicleStore } from '../../vehicle-module/store.js';
import { VehicleDaemon } from '../../vehicle-module/vehicle-daemon.js';
import { loadWallConfig } from '../../wall-module/config.js';
import { evseFromConfig } from '../../wall-module/evse-from-config.js';
import { ocppObserver } from '../../wall-module/ocpp-observer.js';
import { WallStore } from '../../wall-module/store.js';
import { WallDaemon } from '../../wall-module/wall-daemon.js';
import { migrateOcppTables } from '../../wall-module/ocpp/index.js';

/**
 * Starts one daemon and waits for a stop signal.
 *
 * @param role which daemon
 * @param configFile its YAML configuration
 * @returns exit code once the daemon has stopped
 * @throws ConfigInvalid when the configuration is invalid (the CLI prints every bad key and exits 2)
 */
export async function runDaemon(role: 'wall' | 'vehicle', configFile: string): Promise<number> {
  const notify = SdNotify.fromEnv();
  const { daemon, log } =
    role === 'wall' ? await startWall(configFile, notify) : await startVehicle(configFile, notify);
  process.stdout.write(
    JSON.stringify({ ready: true, role, pid: process.pid, statusUrl: daemon.statusUrl }) + '\n',
  );
  await notify.ready();
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await notify.stopping();
  await daemon.stop();
  notify.close();
  log.flush();
  return 0;
}

async function startWall(
  configFile: string,
  notify: SdNotify,
): Promise<{ daemon: WallDaemon; log: DaemonLogger }> {
  const config = loadWallConfig(configFile);
  const clock = clockFromConfig(config.clock);
  const log = createLogger({ name: 'wall', level: config.log.level, file: config.log.file, clock });
  const store = WallStore.open(config.store.path, clock, migrateOcppTables);
  const observers = config.ocpp?.enabled ? [ocppObserver(config.ocpp, store, clock, log)] : [];
  const node = lightningFromConfig(config.lightning);
  let daemon: WallDaemon | null = null;
  const metrics = new DaemonMetrics({
    role: 'wall',
    db: store.db,
    snapshot: () => daemon?.snapshot() ?? null,
    probeNode: () => node.getIdentity().then(() => true),
  });
  daemon = await WallDaemon.start({
    config,
    clock,
    log,
    store,
    node,
    link: linkFromConfig(config.link, 'wall'),
    evse: await evseFromConfig(config.evse, clock),
    meter: meterFromConfig(config.meter, clock),
    observers: [...observers, { loopTick: () => notify.loopAlive() }],
    routes: [metrics.route()],
  });
  const running = daemon;
  log.setContext(() => ({ sessionId: running.state.sessionId }));
  return { daemon, log };
}

async function startVehicle(
  configFile: string,
  notify: SdNotify,
): Promise<{ daemon: VehicleDaemon; log: DaemonLogger }> {
  const config = loadVehicleConfig(configFile);
  const clock = clockFromConfig(config.clock);
  const log = createLogger({ name: 'vehicle', level: config.log.level, file: config.log.file, clock });
  const store = VehicleStore.open(config.store.path, clock);
  const node = lightningFromConfig(config.lightning);
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
    link: linkFromConfig(config.link, 'vehicle'),
    meter: meterFromConfig(config.meter, clock),
    routes: [metrics.route()],
    onLoopTick: () => notify.loopAlive(),
  });
  const running = daemon;
  log.setContext(() => ({ sessionId: running.state.sessionId }));
  return { daemon, log };
}
