/**
 * systemd's notification protocol (`sd_notify(3)`): newline-separated `KEY=VALUE` assignments sent as one
 * datagram to the unix socket named by `$NOTIFY_SOCKET` (a leading `@` means the abstract namespace). The
 * daemons send `READY=1` once started (units use `Type=notify`), `WATCHDOG=1` from the session loop at half of
 * `$WATCHDOG_USEC` (units set `WatchdogSec`; a hung loop stops the pings and systemd restarts the daemon), and
 * `STOPPING=1` when they begin to stop.
 *
 * Transport: Node has no unix datagram sockets. When the native addon `unix-dgram` is installed (it is not a
 * dependency: it needs a compiler and an install-script approval), the datagram is sent in-process. Otherwise a
 * small `python3` co-process (present on Debian and Raspberry Pi OS) is started once and kept for the daemon's
 * lifetime: it reads one message per line on stdin and sends it as one datagram. Because it lives in the
 * service's cgroup for as long as the daemon, systemd attributes its messages to the unit (`NotifyAccess=all`,
 * set in the shipped units) without the race that a short-lived `systemd-notify` per message has. Without
 * `$NOTIFY_SOCKET` (not under systemd) everything here is a no-op.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

/** Sends one notification datagram. */
export interface NotifyTransport {
  /** Which transport this is (logged at start). */
  readonly kind: 'unix-dgram' | 'python3';
  /**
   * @param message newline-separated assignments, e.g. `READY=1\nSTATUS=charging`
   * @throws when the datagram cannot be sent (the caller logs and carries on)
   */
  send(message: string): Promise<void>;
  close(): void;
}

/** What `unix-dgram` exports (the part used here). */
interface UnixDgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb?: (err?: Error) => void): void;
  on(event: 'error', cb: (err: Error) => void): void;
  close(): void;
}
interface UnixDgramModule {
  createSocket(type: 'unix_dgram'): UnixDgramSocket;
}

/**
 * Loads the optional `unix-dgram` addon.
 *
 * @returns the module, or null when it is not installed or failed to build
 */
export function loadUnixDgram(): UnixDgramModule | null {
  try {
    return createRequire(import.meta.url)('unix-dgram') as UnixDgramModule;
  } catch {
    return null;
  }
}

/**
 * The socket path as the kernel wants it.
 *
 * @param notifySocket `$NOTIFY_SOCKET` (a path, or `@name` for the abstract namespace)
 * @returns the path, with a leading NUL for abstract names
 */
export function notifySocketPath(notifySocket: string): string {
  return notifySocket.startsWith('@') ? '\0' + notifySocket.slice(1) : notifySocket;
}

/** The co-process: one JSON string per line on stdin → one datagram to the socket in argv[1]. */
const pythonSender = [
  'import json, socket, sys',
  'path = sys.argv[1]',
  "path = '\\0' + path[1:] if path.startswith('@') else path",
  's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
  'for line in sys.stdin:',
  '    s.sendto(json.loads(line).encode(), path)',
].join('\n');

/**
 * A transport to `$NOTIFY_SOCKET`: the `unix-dgram` addon when installed, else a `python3` co-process.
 *
 * @param notifySocket the socket (path or `@abstract`)
 * @param python the Python interpreter (default `python3` on the PATH)
 * @returns the transport
 */
export function notifyTransport(notifySocket: string, python = 'python3'): NotifyTransport {
  const dgram = loadUnixDgram();
  if (dgram) {
    const socket = dgram.createSocket('unix_dgram');
    socket.on('error', () => undefined); // reported per send
    const path = notifySocketPath(notifySocket);
    return {
      kind: 'unix-dgram',
      send: (message) =>
        new Promise<void>((resolve, reject) => {
          const buf = Buffer.from(message, 'utf8');
          socket.send(buf, 0, buf.length, path, (err) => (err ? reject(err) : resolve()));
        }),
      close: () => socket.close(),
    };
  }
  const child = spawn(python, ['-u', '-c', pythonSender, notifySocket], {
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  let failure: Error | null = null;
  child.once('error', (err) => (failure = err));
  child.once('exit', (code) => (failure ??= new Error(`${python} notification helper exited (${code})`)));
  child.stdin.on('error', () => undefined); // surfaced as `failure`
  child.unref();
  return {
    kind: 'python3',
    send: (message) =>
      new Promise<void>((resolve, reject) => {
        if (failure) return reject(failure);
        child.stdin.write(JSON.stringify(message) + '\n', (err) => (err ? reject(err) : resolve()));
      }),
    close: () => {
      child.stdin.end();
    },
  };
}

/** The part of a logger the notifier uses. */
export interface NotifyLog {
  info(msg: string, fields?: object): void;
  warn(msg: string, fields?: object): void;
}

/** Options of `SdNotify.fromEnv`. */
export interface SdNotifyOptions {
  /** environment to read `NOTIFY_SOCKET`, `WATCHDOG_USEC`, `WATCHDOG_PID` from (default `process.env`) */
  env?: NodeJS.ProcessEnv;
  /** this process's pid (default `process.pid`) */
  pid?: number;
  /** real time, ms (default `Date.now`) */
  nowMs?: () => number;
  /** transport factory (tests may force one) */
  transport?: (notifySocket: string) => NotifyTransport;
  log?: NotifyLog;
}

/** A daemon's link to systemd. */
export class SdNotify {
  private lastWatchdogMs = Number.NEGATIVE_INFINITY;
  /** whether `READY=1` went out: no `WATCHDOG=1` before it (the loop ticks while the daemon still starts) */
  private readySent = false;
  private readonly nowMs: () => number;

  private constructor(
    private readonly transport: NotifyTransport | null,
    /** Interval between `WATCHDOG=1` pings, ms (half of `WATCHDOG_USEC`), or null without a watchdog. */
    readonly watchdogPingMs: number | null,
    private readonly log: NotifyLog | undefined,
    nowMs: () => number,
  ) {
    this.nowMs = nowMs;
  }

  /**
   * Reads the environment systemd gives a `Type=notify` service.
   *
   * @param o environment, pid, clock, transport and logger overrides
   * @returns the notifier (inactive when `NOTIFY_SOCKET` is unset)
   */
  static fromEnv(o: SdNotifyOptions = {}): SdNotify {
    const env = o.env ?? process.env;
    const socket = env.NOTIFY_SOCKET;
    const nowMs = o.nowMs ?? Date.now;
    if (!socket) return new SdNotify(null, null, o.log, nowMs);
    const usec = Number(env.WATCHDOG_USEC);
    const forPid = env.WATCHDOG_PID === undefined ? null : Number(env.WATCHDOG_PID);
    const watchdogOn =
      Number.isFinite(usec) && usec > 0 && (forPid === null || forPid === (o.pid ?? process.pid));
    const transport = (o.transport ?? notifyTransport)(socket);
    o.log?.info('systemd notification socket', {
      socket,
      transport: transport.kind,
      watchdogPingMs: watchdogOn ? Math.floor(usec / 2000) : null,
    });
    return new SdNotify(transport, watchdogOn ? Math.floor(usec / 2000) : null, o.log, nowMs);
  }

  /** True when running under systemd with a notification socket. */
  get active(): boolean {
    return this.transport !== null;
  }

  /**
   * `READY=1` (and a `STATUS=` line).
   *
   * @param status human-readable status for `systemctl status`
   */
  ready(status = 'running'): Promise<void> {
    this.readySent = true;
    return this.send(`READY=1\nSTATUS=${status}\nMAINPID=${process.pid}`);
  }

  /**
   * Called from the session loop on every tick: sends `WATCHDOG=1` when half of `WATCHDOG_USEC` has passed
   * since the last ping, once `READY=1` went out. Never throws.
   */
  loopAlive(): void {
    if (this.watchdogPingMs === null || !this.readySent) return;
    const now = this.nowMs();
    if (now - this.lastWatchdogMs < this.watchdogPingMs) return;
    this.lastWatchdogMs = now;
    void this.send('WATCHDOG=1');
  }

  /** `STOPPING=1`. */
  stopping(): Promise<void> {
    return this.send('STOPPING=1\nSTATUS=stopping');
  }

  /** Releases the socket. */
  close(): void {
    this.transport?.close();
  }

  private async send(message: string): Promise<void> {
    if (!this.transport) return;
    try {
      await this.transport.send(message);
    } catch (err) {
      this.log?.warn('sd_notify failed', { message: message.split('\n')[0], error: (err as Error).message });
    }
  }
}
