/**
 * `boltcharge doctor --config F [--json]`: checks an installation without changing anything — the configuration,
 * the Lightning node (reachable, synced, macaroon permissions), the serial devices, the EVSE (firmware version,
 * heartbeat supervision), disk space for the store, and the clock.
 *
 * Exit code: 0 when every check passed (warnings allowed), 2 on a usage error, otherwise the OR of the failed
 * problem classes:
 *    4 configuration invalid or unreadable (other checks are skipped)
 *    8 Lightning node unreachable, not synced, or its macaroon lacks a needed permission
 *   16 a serial device is missing or not readable and writable by this user
 *   32 the EVSE does not answer, or has no watchdog while `evse.allowUnsupervised` is not set
 *   64 less than 200 MB or 5 % free where the store lives, or its directory is not writable
 *  128 the system clock is not synchronised (NTP) or implausible
 * e.g. 24 = node and serial problems.
 */
import { accessSync, constants, existsSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { authenticatedLndGrpc, verifyAccess } from 'lightning';
import { parse } from 'yaml';
import { lightningFromConfig } from '../../daemon/lightning-from-config.js';
import { RemoteEvse } from '../../daemon/sim-remote.js';
import type { Evse } from '../../hardware/evse/evse.js';
import { OpenEvse } from '../../hardware/evse/openevse.js';
import type { LndNode } from '../../lightning/lnd-node.js';
import { loadVehicleConfig, type VehicleConfig } from '../../vehicle-module/config.js';
import { loadWallConfig, type WallConfig } from '../../wall-module/config.js';

/** Problem classes and their exit-code bits. */
export const DoctorProblem = {
  config: 4,
  node: 8,
  serial: 16,
  evse: 32,
  disk: 64,
  clock: 128,
} as const;
export type DoctorClass = keyof typeof DoctorProblem;

/** One check's outcome. */
export interface DoctorCheck {
  class: DoctorClass;
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
}

/** Free space below which the store's disk is a problem. */
const minFreeBytes = 200 * 1024 * 1024;
const minFreeFraction = 0.05;
/** Permissions each daemon's macaroon needs (lnd `entity:action`). */
const neededPermissions: Record<'wall' | 'vehicle', string[]> = {
  wall: ['info:read', 'invoices:read', 'invoices:write', 'message:write'],
  vehicle: ['info:read', 'offchain:read', 'offchain:write', 'message:read'],
};

/**
 * Runs every check and prints the report.
 *
 * @param configFile the daemon's YAML configuration (undefined = usage error)
 * @param opts `json` for one JSON object; `out` where the report goes
 * @returns the exit code (see the file comment)
 */
export async function runDoctor(
  configFile: string | undefined,
  opts: { json: boolean; out: (text: string) => void },
): Promise<number> {
  if (!configFile) {
    process.stderr.write('boltcharge doctor: --config <file> is required\n');
    return 2;
  }
  const checks = await diagnose(configFile);
  let code = 0;
  for (const c of checks) if (c.status === 'fail') code |= DoctorProblem[c.class];
  if (opts.json) opts.out(JSON.stringify({ exitCode: code, checks }) + '\n');
  else {
    for (const c of checks)
      opts.out(`${c.status.toUpperCase().padEnd(4)}  ${c.name.padEnd(22)} ${c.detail}\n`);
    opts.out(code === 0 ? 'all checks passed\n' : `problems found: exit code ${code}\n`);
  }
  return code;
}

/**
 * Runs the checks.
 *
 * @param configFile the daemon's YAML configuration
 * @returns every check, in order
 */
export async function diagnose(configFile: string): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const add = (c: DoctorCheck): void => void checks.push(c);
  let role: 'wall' | 'vehicle';
  let config: WallConfig | VehicleConfig;
  try {
    const doc = parse(readFileSync(configFile, 'utf8')) as Record<string, unknown> | null;
    role = doc && ('evse' in doc || 'tariff' in doc) ? 'wall' : 'vehicle';
    config = role === 'wall' ? loadWallConfig(configFile) : loadVehicleConfig(configFile);
    add({
      class: 'config',
      name: 'config',
      status: 'ok',
      detail: `${role} configuration ${configFile} is valid`,
    });
  } catch (err) {
    add({ class: 'config', name: 'config', status: 'fail', detail: (err as Error).message });
    return checks;
  }
  checks.push(...(await checkNode(role, config)));
  checks.push(...checkSerial(config));
  if (role === 'wall') checks.push(await checkEvse(config as WallConfig));
  checks.push(checkDisk(config.store.path));
  checks.push(checkClock());
  return checks;
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_r, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function errorText(err: unknown): string {
  if (Array.isArray(err)) return err.slice(0, 2).join(' ');
  return err instanceof Error ? err.message : String(err);
}

async function checkNode(
  role: 'wall' | 'vehicle',
  config: WallConfig | VehicleConfig,
): Promise<DoctorCheck[]> {
  let node: LndNode;
  try {
    node = lightningFromConfig(config.lightning);
  } catch (err) {
    return [{ class: 'node', name: 'lightning node', status: 'fail', detail: errorText(err) }];
  }
  const out: DoctorCheck[] = [];
  try {
    const id = await withTimeout(node.getIdentity(), 10_000, 'getIdentity');
    out.push({
      class: 'node',
      name: 'lightning node',
      status: id.synced ? 'ok' : 'fail',
      detail:
        `${id.alias ?? ''} ${id.pubkey} on ${id.network}${id.synced ? '' : ' (NOT synced to chain)'}`.trim(),
    });
  } catch (err) {
    return [
      { class: 'node', name: 'lightning node', status: 'fail', detail: `unreachable: ${errorText(err)}` },
    ];
  }
  const c = node.connection;
  const { lnd } = authenticatedLndGrpc({ socket: c.socket, cert: c.cert, macaroon: c.macaroon });
  const macaroon = Buffer.from(c.macaroon, 'hex').toString('base64');
  const missing: string[] = [];
  try {
    for (const permission of neededPermissions[role]) {
      const r = await withTimeout(
        verifyAccess({ lnd, macaroon, permissions: [permission] }),
        10_000,
        'verify',
      );
      if (!r.is_valid) missing.push(permission);
    }
    out.push({
      class: 'node',
      name: 'macaroon permissions',
      status: missing.length === 0 ? 'ok' : 'fail',
      detail:
        missing.length === 0
          ? `has ${neededPermissions[role].join(', ')}`
          : `missing ${missing.join(', ')} (the ${role} daemon needs ${neededPermissions[role].join(', ')})`,
    });
  } catch (err) {
    // an invoice-only macaroon may not be allowed to ask (needs macaroon:read): not a failure by itself
    out.push({
      class: 'node',
      name: 'macaroon permissions',
      status: 'warn',
      detail: `could not verify (${errorText(err)}); needs ${neededPermissions[role].join(', ')}`,
    });
  }
  return out;
}

function serialPaths(config: WallConfig | VehicleConfig): { what: string; path: string }[] {
  const paths: { what: string; path: string }[] = [];
  if (config.link.kind === 'can') paths.push({ what: 'cable link (SLCAN)', path: config.link.port });
  if (config.meter.kind !== 'sim') paths.push({ what: 'energy meter', path: config.meter.port });
  if ('evse' in config && config.evse.kind === 'openevse')
    paths.push({ what: 'EVSE (RAPI)', path: config.evse.port });
  return paths;
}

function checkSerial(config: WallConfig | VehicleConfig): DoctorCheck[] {
  return serialPaths(config).map(({ what, path }) => {
    const name = `serial ${what}`;
    if (!existsSync(path)) return { class: 'serial', name, status: 'fail', detail: `${path} does not exist` };
    if (!statSync(path).isCharacterDevice())
      return { class: 'serial', name, status: 'fail', detail: `${path} is not a character device` };
    try {
      accessSync(path, constants.R_OK | constants.W_OK);
    } catch {
      return {
        class: 'serial',
        name,
        status: 'fail',
        detail: `${path} is not readable and writable by uid ${process.getuid?.()} (group dialout?)`,
      };
    }
    return { class: 'serial', name, status: 'ok', detail: `${path} present and accessible` };
  });
}

async function checkEvse(config: WallConfig): Promise<DoctorCheck> {
  const e = config.evse;
  let evse: Evse | null = null;
  try {
    let firmware = 'simulated charger';
    if (e.kind === 'openevse') {
      if (!existsSync(e.port))
        return { class: 'evse', name: 'EVSE watchdog', status: 'fail', detail: `${e.port} does not exist` };
      const open = new OpenEvse({ path: e.port, baudRate: e.baud, checksum: e.checksum, timeoutMs: 1000 });
      evse = open;
      await withTimeout(open.open(), 10_000, 'EVSE');
      const gv = await open.rapi.command('GV');
      firmware = `OpenEVSE firmware ${gv[0] ?? '?'} (RAPI ${gv[1] ?? '?'})`;
    } else evse = await withTimeout(RemoteEvse.connect(e.url), 10_000, 'simulated EVSE');
    const wd = await withTimeout(evse.watchdogStatus(), 10_000, 'watchdog status');
    if (wd === null)
      return {
        class: 'evse',
        name: 'EVSE watchdog',
        status: e.allowUnsupervised ? 'warn' : 'fail',
        detail:
          `${firmware}: no heartbeat supervision (firmware without HEARTBEAT_SUPERVISION)` +
          (e.allowUnsupervised
            ? '; running unsupervised is allowed by the config'
            : '; the wall will refuse it'),
      };
    const missed = wd.missed === 'unacknowledged' ? '; a missed heartbeat is unacknowledged' : '';
    return {
      class: 'evse',
      name: 'EVSE watchdog',
      status: 'ok',
      detail: `${firmware}: heartbeat supervision present (interval now ${wd.intervalSec} s, fallback ${wd.fallbackCurrentA} A${missed})`,
    };
  } catch (err) {
    return {
      class: 'evse',
      name: 'EVSE watchdog',
      status: 'fail',
      detail: `EVSE not answering: ${errorText(err)}`,
    };
  } finally {
    await evse?.close().catch(() => undefined);
  }
}

function checkDisk(storePath: string): DoctorCheck {
  const dir = dirname(resolve(storePath));
  let probe = dir;
  while (!existsSync(probe) && dirname(probe) !== probe) probe = dirname(probe);
  try {
    accessSync(probe, constants.W_OK);
  } catch {
    return {
      class: 'disk',
      name: 'store disk',
      status: 'fail',
      detail: `${probe} is not writable by this user`,
    };
  }
  const s = statfsSync(probe);
  const free = s.bavail * s.bsize;
  const fraction = s.blocks > 0 ? s.bavail / s.blocks : 0;
  const mb = Math.floor(free / (1024 * 1024));
  const ok = free >= minFreeBytes && fraction >= minFreeFraction;
  return {
    class: 'disk',
    name: 'store disk',
    status: ok ? 'ok' : 'fail',
    detail: `${mb} MB free (${(fraction * 100).toFixed(1)} %) at ${probe}${ok ? '' : ': below 200 MB or 5 %'}`,
  };
}

function checkClock(): DoctorCheck {
  const year = new Date().getUTCFullYear();
  if (year < 2024)
    return {
      class: 'clock',
      name: 'clock',
      status: 'fail',
      detail: `system time ${new Date().toISOString()}`,
    };
  try {
    const synced = execFileSync('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    }).trim();
    return synced === 'yes'
      ? {
          class: 'clock',
          name: 'clock',
          status: 'ok',
          detail: `NTP synchronised, ${new Date().toISOString()}`,
        }
      : { class: 'clock', name: 'clock', status: 'fail', detail: 'not NTP synchronised (timedatectl)' };
  } catch {
    return {
      class: 'clock',
      name: 'clock',
      status: 'warn',
      detail: `cannot ask timedatectl (no systemd here?); system time ${new Date().toISOString()}`,
    };
  }
}
