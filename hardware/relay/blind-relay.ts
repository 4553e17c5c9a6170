/**
 * The blind relay (offline case 2: the charger is online, the car has no mobile signal). The wall lends its
 * uplink to the car's Lightning node over the cable's IP link: a SOCKS5 CONNECT proxy (socks5.ts) on the wall's
 * link address, so the car's lnd reaches its peers (and, if the host allows, its chain backend) through the
 * wall. The wall only forwards bytes: Lightning's transport (BOLT 8, Noise_XK) keeps them end-to-end encrypted
 * between the car's node and its peers; the wall neither reads nor alters them (altering them only breaks the
 * car's connection).
 *
 * Bounds (every one a config key, every refusal a named reason in the `refused` event and `stats()`):
 * - RELAY_UNAUTHENTICATED: the client is not the car of the live, authenticated cable session (`authorize`:
 *   the wall daemon answers with the IP link's current peer address while a session is open).
 * - RELAY_CONNECTION_LIMIT: `maxConnections` relayed connections at once (all cars of this connector together).
 * - RELAY_CONNECT_RATE: `maxConnectsPerMinute` CONNECT attempts per rolling minute (a flood).
 * - RELAY_DESTINATION_REFUSED / RELAY_PORT_REFUSED: destination-policy.ts (public addresses on Lightning's port
 *   by default; never the wall's own networks unless allowed); names are resolved by the relay and every address
 *   checked, and the relay connects to the address it checked.
 * - RELAY_MALFORMED / RELAY_UNSUPPORTED: not SOCKS5 CONNECT; RELAY_HANDSHAKE_TIMEOUT: no complete request within
 *   `handshakeTimeoutMs`; RELAY_UPSTREAM_FAILED: the destination did not answer within `connectTimeoutMs`.
 * - `maxBytesPerSec`: one token bucket for all relayed bytes, both directions; a sender over budget is paused.
 * - `idleTimeoutMs`: a relayed connection with no bytes either way is closed.
 * `revokeAll()` closes every relayed connection at once (the wall daemon calls it when the session ends).
 *
 * The listener binds one literal address (never all interfaces), like the IP link.
 */
import { lookup } from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import { createConnection, createServer, isIP, type Server, type Socket } from 'node:net';
import type { Clock, TimerHandle } from '../clock.js';
import { ByteBucket, PerMinuteWindow } from './byte-budget.js';
import { DestinationPolicy, type DestinationRules } from './destination-policy.js';
import {
  encodeMethodReply,
  encodeReply,
  METHOD_NO_AUTH,
  METHOD_NONE_ACCEPTABLE,
  parseGreeting,
  parseRequest,
  Reply,
  type Destination,
  type ReplyCode,
} from './socks5.js';

/** Every reason the relay refuses or ends a connection. */
export type RelayRefusal =
  | 'RELAY_UNAUTHENTICATED'
  | 'RELAY_CONNECTION_LIMIT'
  | 'RELAY_CONNECT_RATE'
  | 'RELAY_DESTINATION_REFUSED'
  | 'RELAY_PORT_REFUSED'
  | 'RELAY_MALFORMED'
  | 'RELAY_UNSUPPORTED'
  | 'RELAY_HANDSHAKE_TIMEOUT'
  | 'RELAY_UPSTREAM_FAILED';

/** Relay limits (config `relay:`; defaults in RELAY_DEFAULTS). */
export interface RelayLimits {
  /** relayed connections open at once */
  maxConnections: number;
  /** CONNECT attempts per rolling minute */
  maxConnectsPerMinute: number;
  /** relayed bytes per second, both directions together */
  maxBytesPerSec: number;
  /** from accept to a complete CONNECT request, ms */
  handshakeTimeoutMs: number;
  /** connecting to the destination, ms */
  connectTimeoutMs: number;
  /** a relayed connection silent both ways for this long is closed, ms */
  idleTimeoutMs: number;
}

/** Defaults: enough for one Lightning node's few peers and its chain backend (lnd opens several RPC connections
 *  to btcd) over a PLC link. */
export const RELAY_DEFAULTS: RelayLimits = {
  maxConnections: 16,
  maxConnectsPerMinute: 30,
  maxBytesPerSec: 256 * 1024,
  handshakeTimeoutMs: 5_000,
  connectTimeoutMs: 10_000,
  idleTimeoutMs: 10 * 60_000,
};

/** What the relay needs. */
export interface BlindRelayOptions {
  /** literal address to listen on (IPv6 link-local scoped `fe80::1%eth1`, or another literal); never `::`/`0.0.0.0` */
  listenHost: string;
  /** TCP port (0 = any free port; see `port()`) */
  port: number;
  rules: DestinationRules;
  limits: RelayLimits;
  clock: Clock;
  /** whether this client address belongs to the live authenticated cable session */
  authorize(remoteAddress: string): boolean;
  /** name resolution (default: every A/AAAA record through the system resolver) */
  resolve?(host: string): Promise<string[]>;
}

/** Counters (for metrics and the status page). */
export interface RelayStats {
  active: number;
  opened: number;
  bytesUp: number;
  bytesDown: number;
  refused: Partial<Record<RelayRefusal, number>>;
}

/** Events of the relay. */
export interface BlindRelayEvents {
  refused: [{ reason: RelayRefusal; remote: string; detail: string }];
  opened: [{ remote: string; destination: string }];
  closed: [{ remote: string; destination: string; bytesUp: number; bytesDown: number }];
}

/** The listen address would expose the relay beyond one interface. */
export class RelayListenRefused extends Error {
  override readonly name = 'RelayListenRefused';
}

/** The relay server. */
export class BlindRelay extends EventEmitter<BlindRelayEvents> {
  private readonly server: Server;
  private readonly policy: DestinationPolicy;
  private readonly bucket: ByteBucket;
  private readonly connects: PerMinuteWindow;
  /** the car's connections (relayed or still negotiating): what `maxConnections` bounds */
  private readonly clients = new Set<Socket>();
  /** the relay's connections to destinations */
  private readonly upstreams = new Set<Socket>();
  private readonly counters: RelayStats = { active: 0, opened: 0, bytesUp: 0, bytesDown: 0, refused: {} };

  /** @throws RelayRulesInvalid (bad rules), RelayListenRefused (bad listen address) */
  constructor(private readonly options: BlindRelayOptions) {
    super();
    const host = options.listenHost.split('%', 1)[0] ?? '';
    if (isIP(host) === 0) throw new RelayListenRefused(`relay listen address must be a literal IP: ${host}`);
    if (host === '0.0.0.0' || /^[0:]+$/.test(host))
      throw new RelayListenRefused(`relay listen address ${host} would listen on every interface`);
    this.policy = new DestinationPolicy(options.rules);
    this.bucket = new ByteBucket(options.limits.maxBytesPerSec, options.clock.now());
    this.connects = new PerMinuteWindow(options.limits.maxConnectsPerMinute);
    this.server = createServer((s) => this.accept(s));
  }

  /** Starts listening. @returns the bound port */
  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.listenHost, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.port();
  }

  /** @returns the bound port */
  port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  /** @returns a copy of the counters */
  stats(): RelayStats {
    return { ...this.counters, refused: { ...this.counters.refused }, active: this.clients.size };
  }

  /** Closes every relayed and half-open connection (the session ended: its authorisation is gone). */
  revokeAll(): void {
    for (const s of [...this.clients, ...this.upstreams]) s.destroy();
  }

  /** Stops listening and closes everything. */
  async close(): Promise<void> {
    this.revokeAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private refuse(socket: Socket, reason: RelayRefusal, detail: string, reply?: ReplyCode): void {
    this.counters.refused[reason] = (this.counters.refused[reason] ?? 0) + 1;
    this.emit('refused', { reason, remote: socket.remoteAddress ?? '?', detail });
    if (reply !== undefined && socket.writable) socket.end(encodeReply(reply));
    else socket.destroy();
  }

  private accept(client: Socket): void {
    const remote = client.remoteAddress ?? '';
    client.on('error', () => {});
    if (!this.options.authorize(remote))
      return this.refuse(client, 'RELAY_UNAUTHENTICATED', `${remote} is not the car of the live session`);
    if (this.clients.size >= this.options.limits.maxConnections)
      return this.refuse(client, 'RELAY_CONNECTION_LIMIT', `${this.clients.size} connections open`);
    if (!this.connects.tryRecord(this.options.clock.now()))
      return this.refuse(client, 'RELAY_CONNECT_RATE', 'too many connection attempts this minute');
    this.clients.add(client);
    client.once('close', () => this.clients.delete(client));
    client.setNoDelay(true);
    let buffered = Buffer.alloc(0);
    let phase: 'greeting' | 'request' | 'connecting' = 'greeting';
    const timer = this.options.clock.setTimer(this.options.limits.handshakeTimeoutMs, () => {
      if (phase !== 'connecting')
        this.refuse(client, 'RELAY_HANDSHAKE_TIMEOUT', `no request within the timeout`);
    });
    client.once('close', () => timer.cancel());
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      if (phase === 'greeting') {
        const g = parseGreeting(buffered);
        if (g.kind === 'incomplete') return;
        if (g.kind === 'malformed') return this.refuse(client, 'RELAY_MALFORMED', g.reason);
        if (!g.methods.includes(METHOD_NO_AUTH)) {
          client.end(encodeMethodReply(METHOD_NONE_ACCEPTABLE));
          return this.refuse(client, 'RELAY_UNSUPPORTED', 'no acceptable authentication method');
        }
        client.write(encodeMethodReply(METHOD_NO_AUTH));
        buffered = buffered.subarray(g.consumedBytes);
        phase = 'request';
      }
      if (phase === 'request') {
        const r = parseRequest(buffered);
        if (r.kind === 'incomplete') return;
        if (r.kind === 'malformed')
          return this.refuse(client, 'RELAY_MALFORMED', r.reason, Reply.generalFailure);
        if (r.kind === 'unsupported') return this.refuse(client, 'RELAY_UNSUPPORTED', r.what, r.reply);
        phase = 'connecting';
        timer.cancel();
        client.off('data', onData);
        client.pause();
        const early = buffered.subarray(r.consumedBytes);
        void this.connectFor(client, r.destination, early);
      }
    };
    client.on('data', onData);
  }

  private async connectFor(client: Socket, dest: Destination, early: Buffer): Promise<void> {
    const label = `${dest.host}:${dest.port}`;
    let addresses: string[];
    try {
      addresses = dest.addressType === 'domain' ? await this.resolve(dest.host) : [dest.host];
    } catch {
      return this.refuse(
        client,
        'RELAY_UPSTREAM_FAILED',
        `cannot resolve ${dest.host}`,
        Reply.hostUnreachable,
      );
    }
    if (addresses.length === 0)
      return this.refuse(
        client,
        'RELAY_UPSTREAM_FAILED',
        `${dest.host} has no address`,
        Reply.hostUnreachable,
      );
    for (const a of addresses) {
      const refusal = this.policy.check(a, dest.port);
      if (refusal !== null) return this.refuse(client, refusal, `${label} (${a})`, Reply.notAllowed);
    }
    if (client.destroyed) return;
    const upstream = createConnection({ host: addresses[0]!, port: dest.port });
    upstream.on('error', () => {});
    this.upstreams.add(upstream);
    upstream.once('close', () => this.upstreams.delete(upstream));
    const connectTimer = this.options.clock.setTimer(this.options.limits.connectTimeoutMs, () => {
      upstream.destroy();
    });
    const connected = await new Promise<boolean>((resolve) => {
      upstream.once('connect', () => resolve(true));
      upstream.once('close', () => resolve(false));
      client.once('close', () => resolve(false));
    });
    connectTimer.cancel();
    if (!connected || client.destroyed) {
      upstream.destroy();
      if (!client.destroyed)
        this.refuse(client, 'RELAY_UPSTREAM_FAILED', `${label} did not answer`, Reply.hostUnreachable);
      return;
    }
    upstream.setNoDelay(true);
    client.write(encodeReply(Reply.succeeded));
    this.counters.opened++;
    const remote = client.remoteAddress ?? '?';
    this.emit('opened', { remote, destination: label });
    let up = 0;
    let down = 0;
    let idle: TimerHandle | null = null;
    const touch = (): void => {
      idle?.cancel();
      idle = this.options.clock.setTimer(this.options.limits.idleTimeoutMs, () => {
        client.destroy();
        upstream.destroy();
      });
    };
    const pipe = (from: Socket, to: Socket, count: (n: number) => void): void => {
      from.on('data', (chunk: Buffer) => {
        count(chunk.length);
        touch();
        to.write(chunk);
        const waitMs = this.bucket.spend(chunk.length, this.options.clock.now());
        if (waitMs > 0) {
          from.pause();
          this.options.clock.setTimer(waitMs, () => from.resume());
        }
      });
      from.once('close', () => to.destroy());
    };
    pipe(client, upstream, (n) => {
      up += n;
      this.counters.bytesUp += n;
    });
    pipe(upstream, client, (n) => {
      down += n;
      this.counters.bytesDown += n;
    });
    client.once('close', () => {
      idle?.cancel();
      this.emit('closed', { remote, destination: label, bytesUp: up, bytesDown: down });
    });
    touch();
    if (early.length > 0) client.emit('data', early);
    client.resume();
  }

  private async resolve(host: string): Promise<string[]> {
    if (this.options.resolve) return this.options.resolve(host);
    const all = await lookup(host, { all: true });
    return all.map((a) => a.address);
  }
}
