/**
 * A charging rig for the demo and the end-to-end tests: a simulated car, charger and two meters (served to the
 * daemons over `sim-bridge.ts`), the cable (emulated SLCAN adapters on socat PTYs, or IP on loopback), and the
 * two daemons as real child processes started through the CLI (`bin/boltcharge.js wall|vehicle --config`),
 * paying each other through the real regtest Lightning network.
 *
 * Time: everything shares one accelerated timeline (`clock.speed`, common anchor), so 20 kWh at 11 kW takes
 * minutes. The link and the Lightning nodes run on real time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync, type WriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { Clock } from '../../hardware/clock.js';
import { SlcanEmulator } from '../../hardware/can/slcan-emulator.js';
import { createSimWorld, type SimWorld, type SimWorldOptions } from '../../hardware/sim/sim-world.js';
import { clockFromConfig } from '../../daemon/clock-from-config.js';
import type { StatusSnapshot } from '../../daemon/status-server.js';
import { freePorts } from '../free-ports.js';
import { startSimBridge, type SimBridge } from './sim-bridge.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(repoRoot, 'bin', 'boltcharge.js');

/**
 * The Node/V8 flags the installed CLI runs with: those of `bin/boltcharge.js`'s shebang
 * (`#!/usr/bin/env -S node <flags>`), so a rig that spawns `node bin/boltcharge.js` can run as the CLI does.
 */
export function cliNodeFlags(): string[] {
  const first = readFileSync(bin, 'utf8').split('\n', 1)[0]!;
  const m = /^#!\/usr\/bin\/env -S node(?<flags>(?: --[\w-]+(?:=\S+)?)*)$/u.exec(first);
  if (!m) throw new Error(`unexpected shebang in ${bin}: ${first}`);
  return m.groups!['flags']!.split(' ').filter(Boolean);
}

/** A JSON-ish config overlay merged into a generated daemon config. */
export type Overlay = Record<string, unknown>;

/** Options of a rig. */
export interface RigOptions {
  /** working directory (configs, databases, logs) */
  dir: string;
  /** regtest connection file */
  connectionFile: string;
  /** cable medium */
  link: 'can' | 'ip';
  /** CAN bitrate, bit/s (default 500 000) */
  bitrate?: number;
  /** time acceleration (default 1) */
  speed?: number;
  /** overlays merged into the generated wall / vehicle configs */
  wall?: Overlay;
  vehicle?: Overlay;
  /** simulated world parameters */
  world?: Omit<SimWorldOptions, 'clock'>;
  /** more emulated SLCAN adapters on the same CAN bus (e.g. an attacker injecting frames); CAN only */
  extraAdapters?: string[];
  /** IP link over real interfaces (a veth cable between namespaces): each side's interface, discovery on it;
    absent = loopback (`::1`) */
  ipInterfaces?: { wall: string; vehicle: string };
  /** address the simulated hardware (sim bridge) listens on (default 127.0.0.1): a daemon in a namespace
    reaches it across the cable's IPv4 */
  bridgeHost?: string;
}

/** Deep-merges plain objects (overlay wins). */
function merge(base: Overlay, over: Overlay | undefined): Overlay {
  if (!over) return base;
  const out: Overlay = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? merge(b as Overlay, v as Overlay)
        : v;
  }
  return out;
}

/** A free TCP port on loopback, outside the ephemeral range (`scripts/free-ports.ts`). */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

/** One daemon child process, restartable. */
export class DaemonProcess {
  private child: ChildProcess | null = null;
  private log: WriteStream | null = null;
  /** status page URL from the ready line */
  statusUrl = '';
  /** number of times started */
  starts = 0;
  private exitPromise: Promise<number | null> = Promise.resolve(null);
  /** exit code of the last run (null while running, or after a signal) */
  lastExitCode: number | null = null;

  /**
   * @param role which daemon
   * @param configFile its YAML config
   * @param logFile where its stdout/stderr go (appended across restarts)
   * @param entry node arguments before `--config` (default: the CLI, `bin/boltcharge.js <role>`); tests use it
   *   to run a daemon with an injected fault
   */
  constructor(
    readonly role: 'wall' | 'vehicle',
    readonly configFile: string,
    readonly logFile: string,
    public entry: string[] = [bin, role],
  ) {}

  /** network namespace the daemon runs in (`ip netns exec`, which keeps the pid); undefined = the host's */
  netns: string | undefined;

  /** pid of the running process, if any */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Starts the daemon and waits for its ready line.
   *
   * @param timeoutMs give up after this long
   */
  async start(timeoutMs = 60_000): Promise<void> {
    this.starts++;
    this.log ??= createWriteStream(this.logFile, { flags: 'a' });
    this.log.write(`\n==== start #${this.starts} ${new Date().toISOString()}\n`);
    const command = [process.execPath, ...this.entry, '--config', this.configFile];
    const [file, ...args] =
      this.netns === undefined ? command : ['ip', 'netns', 'exec', this.netns, ...command];
    const child = spawn(file!, args, {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.lastExitCode = null;
    this.exitPromise = new Promise((r) =>
      child.once('exit', (code) => {
        this.lastExitCode = code;
        r(code);
      }),
    );
    child.stderr?.pipe(this.log, { end: false });
    await new Promise<void>((resolveReady, reject) => {
      let buf = '';
      const timer = setTimeout(
        () => reject(new Error(`${this.role} not ready within ${timeoutMs} ms; see ${this.logFile}`)),
        timeoutMs,
      );
      child.stdout?.on('data', (d: Buffer) => {
        this.log?.write(d);
        buf += d.toString();
        const line = buf.split('\n').find((l) => l.startsWith('{"ready":true'));
        if (line) {
          clearTimeout(timer);
          this.statusUrl = (JSON.parse(line) as { statusUrl: string }).statusUrl;
          resolveReady();
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${this.role} exited (${code ?? signal}) before ready; see ${this.logFile}`));
      });
    });
  }

  /**
   * Waits for the process to exit by itself.
   *
   * @param timeoutMs give up after this long (real ms)
   * @returns its exit code (null after a signal)
   * @throws Error when it is still running after `timeoutMs`
   */
  async exited(timeoutMs: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.role} still running after ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exitPromise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends SIGKILL (a crash) and waits for the exit. */
  async kill9(): Promise<void> {
    if (!this.running) return;
    this.child?.kill('SIGKILL');
    await this.exitPromise;
  }

  /** Stops gracefully (SIGTERM), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child?.kill('SIGTERM');
    const t = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    await this.exitPromise;
    clearTimeout(t);
  }

  /** The daemon's status snapshot (bigints as strings). */
  async status(): Promise<StatusSnapshot & Record<string, unknown>> {
    const r = await fetch(new URL('api/status', this.statusUrl));
    return (await r.json()) as StatusSnapshot & Record<string, unknown>;
  }

  /** Closes the log file. */
  close(): void {
    this.log?.end();
    this.log = null;
  }
}

/** The car owner's limits every demo and bench car uses (the vehicle YAML `limits:` section). */
export const DEMO_VEHICLE_LIMITS = {
  maxPriceMsatPerWh: 150,
  maxBlockWh: 2000,
  maxPrepaidWh: 4000,
  sessionBudgetMsat: 10_000_000_000,
  dailyBudgetMsat: 20_000_000_000,
  meterTolerancePpm: 30_000,
  meterToleranceWh: 20,
  maxFeeMsat: 10_000,
  maxFeePpm: 10_000,
} as const;

/** The running rig. */
export class ChargeRig {
  readonly clock: Clock;
  readonly world: SimWorld;
  readonly wall: DaemonProcess;
  readonly vehicle: DaemonProcess;
  private constructor(
    readonly options: RigOptions,
    clock: Clock,
    world: SimWorld,
    private readonly bridge: SimBridge,
    readonly emulator: SlcanEmulator | null,
    readonly files: { wallConfig: string; vehicleConfig: string; wallDb: string; vehicleDb: string },
  ) {
    this.clock = clock;
    this.world = world;
    this.wall = new DaemonProcess('wall', files.wallConfig, join(options.dir, 'wall.log'));
    this.vehicle = new DaemonProcess('vehicle', files.vehicleConfig, join(options.dir, 'vehicle.log'));
  }

  /**
   * Builds the rig: world, bridge, cable, configs. Daemons are started with `startDaemons()`.
   *
   * @param o rig options
   */
  static async create(o: RigOptions): Promise<ChargeRig> {
    mkdirSync(o.dir, { recursive: true });
    const speed = o.speed ?? 1;
    // protocol timeouts run on the accelerated clock, but the link and the nodes run on real time: keep at
    // least a few real seconds for each
    const realMs = (ms: number, floor: number): number => Math.max(floor, Math.round(ms * speed));
    const anchorMs = Date.now();
    const clockSection = { speed, anchorMs };
    const clock = clockFromConfig(clockSection);
    const world = createSimWorld({
      clock,
      stepMs: 1000,
      ...o.world,
      charger: { startEnabled: false, phases: 3, maxCurrentA: 16, ...o.world?.charger },
    });
    const bridge = await startSimBridge(world, 0, o.bridgeHost);
    let emulator: SlcanEmulator | null = null;
    let wallLink: Overlay;
    let vehicleLink: Overlay;
    const bitrate = o.bitrate ?? 500_000;
    if (o.link === 'can') {
      emulator = new SlcanEmulator({
        bitrate,
        adapters: [
          { name: 'wall' },
          { name: 'vehicle' },
          ...(o.extraAdapters ?? []).map((name) => ({ name })),
        ],
        dir: join(o.dir, 'pty'),
      });
      mkdirSync(join(o.dir, 'pty'), { recursive: true });
      const paths = await emulator.start();
      wallLink = { kind: 'can', port: paths.wall, bitrate };
      vehicleLink = { kind: 'can', port: paths.vehicle, bitrate };
    } else {
      const port = await freePort();
      const ifs = o.ipInterfaces;
      wallLink = ifs ? { kind: 'ip', port, interface: ifs.wall } : { kind: 'ip', port, listenAddress: '::1' };
      vehicleLink = ifs
        ? { kind: 'ip', port, interface: ifs.vehicle }
        : { kind: 'ip', port, peerAddress: '::1' };
    }
    const files = {
      wallConfig: join(o.dir, 'wall.yaml'),
      vehicleConfig: join(o.dir, 'vehicle.yaml'),
      wallDb: join(o.dir, 'wall.sqlite'),
      vehicleDb: join(o.dir, 'vehicle.sqlite'),
    };
    const wall = merge(
      {
        tariff: {
          priceMsatPerWh: 100,
          invoiceIntervalSec: 16,
          depositBlocks: 2,
          graceWh: 30,
          invoiceExpirySec: 86_400,
        },
        session: {
          heartbeatTimeoutMs: realMs(3000, 10_000),
          handshakeTimeoutMs: realMs(10_000, 30_000),
          helloRetryMs: realMs(500, 1000),
          meterReportIntervalMs: realMs(250, 2000),
        },
        lightning: { connectionFile: o.connectionFile, node: 'wall' },
        link: wallLink,
        evse: { kind: 'sim', url: bridge.url, maxCurrentA: 16, maxPowerW: 11_000 },
        meter: { kind: 'sim', url: bridge.url, name: 'wall', pollIntervalMs: realMs(100, 1000) },
        powerCut: { maxCurrentA: 0.5, withinMs: 5000 },
        store: { path: files.wallDb },
        status: { listen: '127.0.0.1', port: 0 },
        log: { level: 'info' },
        clock: clockSection,
      },
      o.wall,
    );
    const vehicle = merge(
      {
        limits: DEMO_VEHICLE_LIMITS,
        session: {
          heartbeatTimeoutMs: realMs(3000, 10_000),
          handshakeTimeoutMs: realMs(10_000, 30_000),
          receiptTimeoutMs: realMs(5000, 10_000),
          meterReportIntervalMs: realMs(250, 2000),
          invoiceExpiryMarginSec: 10,
        },
        lightning: { connectionFile: o.connectionFile, node: 'vehicle' },
        link: vehicleLink,
        meter: { kind: 'sim', url: bridge.url, name: 'vehicle', pollIntervalMs: realMs(100, 1000) },
        store: { path: files.vehicleDb },
        status: { listen: '127.0.0.1', port: 0 },
        log: { level: 'info' },
        clock: clockSection,
      },
      o.vehicle,
    );
    writeFileSync(files.wallConfig, stringify(wall));
    writeFileSync(files.vehicleConfig, stringify(vehicle));
    return new ChargeRig(o, clock, world, bridge, emulator, files);
  }

  /** Starts both daemons (wall first). */
  async startDaemons(): Promise<void> {
    await this.wall.start();
    await this.vehicle.start();
  }

  /**
   * Polls until `pred` holds or the timeout passes.
   *
   * @param what description for the timeout error
   * @param pred condition
   * @param timeoutMs real milliseconds
   * @param pollMs real milliseconds between checks (a check that asks the daemons' status pages makes each
   *   daemon build a snapshot on its event loop: the demo and the benches ask less often than the tests)
   */
  async until(
    what: string,
    pred: () => Promise<boolean> | boolean,
    timeoutMs = 120_000,
    pollMs = 100,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        if (await pred()) return;
      } catch {
        // daemon restarting: try again
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /** Stops daemons, cable, bridge and world. Idempotent. */
  async stop(): Promise<void> {
    await Promise.all([this.wall.stop(), this.vehicle.stop()]);
    this.wall.close();
    this.vehicle.close();
    await this.emulator?.stop();
    await this.bridge.close();
    this.world.stop();
  }
}
