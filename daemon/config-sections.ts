/**
 * Configuration sections both daemons share: the Lightning node, the cable link, the energy meter, the store,
 * the status page, logging and the clock. Each reader takes a `ConfigReader` positioned on its section.
 */
import { isIP } from 'node:net';
import type { ConfigReader } from './config-reader.js';

/** How to reach the daemon's own Lightning node (LND). Exactly one form is used. */
export type LightningConfig =
  | { kind: 'connectionFile'; file: string; node: string }
  | { kind: 'lndconnect'; uri: string }
  | { kind: 'direct'; socket: string; certPath?: string; macaroonPath: string };

/** Cable link: CAN ISO-TP over an SLCAN adapter, or IP over a PLC modem. */
export type LinkConfig =
  | {
      kind: 'can';
      /** serial device of the SLCAN adapter, e.g. /dev/ttyACM0 */
      port: string;
      /** CAN bitrate in bit/s (33333 for single-wire CAN on the pilot line) */
      bitrate: number;
      /** serial baud rate of the adapter */
      serialBaud: number;
      /** CAN id this daemon transmits on */
      txId: number;
      /** CAN id this daemon receives on */
      rxId: number;
    }
  | {
      kind: 'ip';
      /** network interface facing the PLC modem (e.g. `eth1`): the wall listens on its IPv6 link-local address
       *  and answers discovery only there; the vehicle discovers the wall through it */
      interface?: string;
      /** TCP port of boltcharge's own protocol (never 15118): the wall listens on it, the vehicle connects to it
       *  when `peerAddress` is set (otherwise the wall announces it through discovery) */
      port: number;
      /** wall only: the one address to listen on (e.g. `fe80::1%eth1`, `::1` for a loopback demo); never an
       *  unspecified address such as `::`. Absent = the link-local address of `interface` */
      listenAddress?: string;
      /** vehicle only: the wall's address, skipping discovery */
      peerAddress?: string;
    };

/** The daemon's energy meter. */
export type MeterConfig =
  | {
      kind: 'sdm120' | 'sdm630';
      port: string;
      baud: number;
      parity: 'none' | 'even' | 'odd';
      unitId: number;
      timeoutMs: number;
      /** how often the meter is read, ms */
      pollIntervalMs: number;
    }
  | {
      kind: 'sim';
      /** URL of the simulated world's device bridge (demo and tests) */
      url: string;
      /** which simulated meter this daemon reads */
      name: string;
      pollIntervalMs: number;
    };

/** Where the daemon keeps its SQLite database. */
export interface StoreConfig {
  path: string;
}

/** The local status page and JSON API. */
export interface StatusConfig {
  enabled: boolean;
  /** address to bind; keep it on loopback unless a reverse proxy protects it */
  listen: string;
  /** TCP port; 0 = pick a free port (printed at start) */
  port: number;
  /** Host names served besides the listen address and loopback names (e.g. `charger.local`) */
  allowedHosts: string[];
  /** Origins allowed besides same-origin (e.g. a reverse proxy's `https://charger.example.org`) */
  allowedOrigins: string[];
  /** token for the dashboard's actions (stop, clear fault, availability); absent = read-only */
  operatorToken?: string;
}

/** Log destination and verbosity. */
export interface LogConfig {
  level: 'debug' | 'info' | 'warn' | 'error';
  /** JSON-lines file; absent = stderr only */
  file?: string;
}

/**
 * The daemon's clock. `speed` > 1 (an integer) runs time faster than real time (simulated hardware only). `anchorMs` lets
 * several processes share one accelerated timeline: time = anchor + (real now − anchor) × speed.
 */
export interface ClockConfig {
  speed: number;
  anchorMs?: number;
}

/** Reads the `lightning` section. */
export function readLightning(r: ConfigReader): LightningConfig {
  const forms = ['connectionFile', 'lndconnect', 'socket'].filter((k) => r.has(k));
  if (forms.length !== 1) {
    r.problem(
      forms.length === 0 ? 'connectionFile' : forms.join('+'),
      forms.length === 0
        ? 'the lightning section needs one of connectionFile (+ node), lndconnect, or socket + macaroon (+ cert)'
        : 'give only one of connectionFile, lndconnect, socket',
    );
  }
  if (r.has('lndconnect')) {
    const uri = r.string('lndconnect');
    if (uri && !uri.startsWith('lndconnect://')) r.problem('lndconnect', 'must start with lndconnect://');
    return { kind: 'lndconnect', uri };
  }
  if (r.has('socket')) {
    const socket = r.string('socket');
    if (socket && !/^[^\s:]+:\d+$|^\[[0-9a-fA-F:]+\]:\d+$/.test(socket))
      r.problem('socket', `must be host:port, got ${JSON.stringify(socket)}`);
    return { kind: 'direct', socket, certPath: r.optionalPath('cert'), macaroonPath: r.filePath('macaroon') };
  }
  return { kind: 'connectionFile', file: r.filePath('connectionFile', ''), node: r.string('node', '') };
}

/**
 * Reads the `link` section.
 *
 * IP link rules (a real PLC installation has one Ethernet interface facing the modem, and nothing else on the
 * host's networks may reach the cable protocol): the wall needs `interface` (it listens on that interface's
 * link-local address and answers discovery only there) or an explicit `listenAddress`, never an unspecified
 * address; the vehicle needs `interface` (discovery) or `peerAddress`.
 *
 * @param r reader on the section
 * @param role which daemon reads it (the wall listens, the vehicle connects)
 * @param defaults the role's CAN ids
 */
export function readLink(
  r: ConfigReader,
  role: 'wall' | 'vehicle',
  defaults: { txId: number; rxId: number },
): LinkConfig {
  const kind = r.oneOf('kind', ['can', 'ip'] as const);
  if (kind === 'ip') {
    const port = r.int('port', 47215, { min: 1, max: 65535 });
    if (port === 15118) r.problem('port', '15118 belongs to ISO 15118; boltcharge uses its own port');
    const iface = r.optionalString('interface');
    if (iface !== undefined && !/^[A-Za-z0-9_.:@-]{1,15}$/.test(iface))
      r.problem('interface', `must be a network interface name, got ${JSON.stringify(iface)}`);
    const ownKey = role === 'wall' ? 'listenAddress' : 'peerAddress';
    const otherKey = role === 'wall' ? 'peerAddress' : 'listenAddress';
    if (r.has(otherKey)) {
      r.optionalString(otherKey);
      r.problem(
        otherKey,
        role === 'wall'
          ? 'the wall listens: set listenAddress (its own address) or interface'
          : 'the vehicle connects: set peerAddress (the wall) or interface',
      );
    }
    const address = r.optionalString(ownKey);
    if (address !== undefined) {
      const problem = ipAddressProblem(address, iface);
      if (problem) r.problem(ownKey, problem);
    }
    if (iface === undefined && address === undefined)
      r.problem(
        'interface',
        role === 'wall'
          ? 'an IP link needs the PLC interface (the wall listens only on its link-local address) or listenAddress'
          : 'an IP link needs the PLC interface (to discover the wall) or peerAddress',
      );
    return {
      kind,
      interface: iface,
      port,
      ...(role === 'wall' ? { listenAddress: address } : { peerAddress: address }),
    };
  }
  const txId = r.int('txId', defaults.txId, { min: 0, max: 0x1fffffff });
  const rxId = r.int('rxId', defaults.rxId, { min: 0, max: 0x1fffffff });
  if (txId === rxId) r.problem('rxId', 'must differ from txId');
  return {
    kind,
    port: r.string('port'),
    bitrate: r.int('bitrate', 33_333, { min: 5_000, max: 1_000_000 }),
    serialBaud: r.int('serialBaud', 115_200, { min: 1_200, max: 4_000_000 }),
    txId,
    rxId,
  };
}

/**
 * Checks an address of the IP link: a literal IP address, not unspecified (`::`, `0.0.0.0`: all interfaces), and
 * a link-local one scoped to an interface (`%eth1`, or `interface` given).
 * @param address as written in the config
 * @param iface the configured interface, if any
 * @returns why it is unusable, or undefined
 */
function ipAddressProblem(address: string, iface: string | undefined): string | undefined {
  const [host = '', scope] = address.split('%', 2);
  const family = isIP(host);
  if (family === 0) return `must be a literal IP address, got ${JSON.stringify(address)}`;
  const unspecified =
    family === 4 ? host === '0.0.0.0' : /^[0:]+$/.test(host) || /^::ffff:0\.0\.0\.0$/i.test(host);
  if (unspecified) return `${address} means every interface; give the PLC interface's own address`;
  if (family === 6 && /^fe[89ab]/i.test(host) && scope === undefined && iface === undefined)
    return `a link-local address needs its interface (${host}%eth1, or set interface)`;
  return undefined;
}

/** Reads the `meter` section. */
export function readMeter(r: ConfigReader): MeterConfig {
  const kind = r.oneOf('kind', ['sdm120', 'sdm630', 'sim'] as const);
  const pollIntervalMs = r.int('pollIntervalMs', 1000, { min: 50, max: 60_000 });
  if (kind === 'sim') return { kind, url: r.string('url'), name: r.string('name'), pollIntervalMs };
  return {
    kind,
    port: r.string('port'),
    baud: r.int('baud', 2400, { min: 1200, max: 115_200 }),
    parity: r.oneOf('parity', ['none', 'even', 'odd'] as const, 'none'),
    unitId: r.int('unitId', 1, { min: 1, max: 247 }),
    timeoutMs: r.int('timeoutMs', 1000, { min: 50, max: 30_000 }),
    pollIntervalMs,
  };
}

/** Reads the `store` section. */
export function readStore(r: ConfigReader, defaultFile: string): StoreConfig {
  return { path: r.filePath('path', defaultFile) };
}

/** Reads the `status` section. */
export function readStatus(r: ConfigReader, defaultPort: number): StatusConfig {
  return {
    enabled: r.bool('enabled', true),
    listen: r.string('listen', '127.0.0.1'),
    port: r.int('port', defaultPort, { min: 0, max: 65535 }),
    allowedHosts: r.stringList('allowedHosts'),
    allowedOrigins: r.stringList('allowedOrigins'),
    operatorToken: readOperatorToken(r),
  };
}

/** The operator token: at least 16 characters (it guards actions that stop sessions). */
function readOperatorToken(r: ConfigReader): string | undefined {
  const token = r.optionalString('operatorToken');
  if (token !== undefined && token.length < 16) r.problem('operatorToken', 'must be at least 16 characters');
  return token;
}

/** Reads the `log` section. */
export function readLog(r: ConfigReader): LogConfig {
  return {
    level: r.oneOf('level', ['debug', 'info', 'warn', 'error'] as const, 'info'),
    file: r.optionalWritableFile('file'),
  };
}

/**
 * Reads the `clock` section.
 *
 * @param r reader on the section
 * @param simulatedHardware true when every device whose timing is physical (charger, meter) is simulated: only
 *   then may time run faster than real time (real hardware's timeouts, ramps and energy are in real seconds)
 */
export function readClock(r: ConfigReader, simulatedHardware: boolean): ClockConfig {
  // an integer: an accelerated clock must still yield whole milliseconds (stored and encoded as integers)
  const speed = r.int('speed', 1, { min: 1, max: 10_000 });
  if (speed !== 1 && !simulatedHardware)
    r.problem(
      'speed',
      'must be 1 with real hardware: time may only be accelerated with a simulated charger and meter',
    );
  const anchorMs = r.has('anchorMs')
    ? r.int('anchorMs', undefined, { min: 0, max: 8_640_000_000_000_000 })
    : undefined;
  return { speed, anchorMs };
}

/** The sections every daemon's configuration has besides its hardware: node, store, status, log, clock. */
export interface ServiceSections {
  lightning: LightningConfig;
  store: StoreConfig;
  status: StatusConfig;
  log: LogConfig;
  clock: ClockConfig;
}

/** The sections every one-connector daemon's configuration has (the service sections, its link and meter). */
export interface DaemonSections extends ServiceSections {
  link: LinkConfig;
  meter: MeterConfig;
}

/** Each role's defaults: the CAN ids it sends and receives on, its store file and its status port. */
export const ROLE_DEFAULTS = {
  wall: { canIds: { txId: 0x7cd, rxId: 0x7cc }, storeFile: 'wall.sqlite', statusPort: 8410 },
  vehicle: { canIds: { txId: 0x7cc, rxId: 0x7cd }, storeFile: 'vehicle.sqlite', statusPort: 8420 },
} as const;

/**
 * Reads the service sections (`lightning`, `store`, `status`, `log`, `clock`) with the role's defaults. One
 * reader serves both daemons' configurations.
 *
 * @param r root reader of the document
 * @param role which daemon
 * @param hardwareSimulated whether all of the role's hardware (meters, the wall's chargers) is simulated: an
 *   accelerated clock needs all of it simulated
 * @returns the sections
 */
export function readServiceSections(
  r: ConfigReader,
  role: 'wall' | 'vehicle',
  hardwareSimulated: boolean,
): ServiceSections {
  const d = ROLE_DEFAULTS[role];
  return {
    lightning: readLightning(r.section('lightning')),
    store: readStore(r.section('store'), d.storeFile),
    status: readStatus(r.section('status'), d.statusPort),
    log: readLog(r.section('log')),
    clock: readClock(r.section('clock'), hardwareSimulated),
  };
}

/**
 * Reads the sections of a one-connector daemon (`meter`, `link` and the service sections) with the role's
 * defaults.
 *
 * @param r root reader of the document
 * @param role which daemon
 * @param otherHardwareSimulated whether the role's other hardware is simulated too (the wall: its EVSE; the
 *   vehicle has none): an accelerated clock needs all of it simulated
 * @returns the sections
 */
export function readDaemonSections(
  r: ConfigReader,
  role: 'wall' | 'vehicle',
  otherHardwareSimulated = true,
): DaemonSections {
  const meter = readMeter(r.section('meter'));
  return {
    link: readLink(r.section('link'), role, ROLE_DEFAULTS[role].canIds),
    meter,
    ...readServiceSections(r, role, otherHardwareSimulated && meter.kind === 'sim'),
  };
}
