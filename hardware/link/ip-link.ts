/**
 * `IpLink`: a {@link CableLink} over IP, for HomePlug Green PHY (PLC) modems: once SLAC pairing is done (by the
 * modem tooling, out of scope), the modem is an Ethernet link carrying IPv6 between wall and vehicle.
 *
 * Like ISO 15118 (SDP on UDP 15118, then TCP) but on ports of our own — never 15118:
 * 1. Discovery: the vehicle sends `BCDISC?1` + 8-byte nonce to the link-local multicast group
 *    `ff02::b0c:1` (DEFAULT_MULTICAST_GROUP), UDP port 51815 (DEFAULT_DISCOVERY_PORT), on the given interface,
 *    every `discoveryIntervalMs`, until the wall answers unicast `BCDISC!1` + the same nonce + its TCP port
 *    (uint16 BE).
 * 2. Transport: the vehicle connects over TCP to the answering address; messages are length-prefixed
 *    (uint32 BE length + bytes, see length-prefixed.ts). TCP keep-alive is on; Nagle is off.
 * 3. Reconnects: the vehicle rediscovers and reconnects `reconnectIntervalMs` after the connection drops.
 *
 * Exposure (the wall): the listener binds one address only, never all interfaces: `listenAddress`, or else the
 * IPv6 link-local address of `interface` (the PLC modem's Ethernet), so nothing on the host's other networks
 * can reach it. Discovery binds the multicast group scoped to `interface` (the kernel then takes only datagrams
 * that arrived on that interface); without `interface`, or with a `listenAddress` that is not link-local, there
 * is no discovery (the vehicle needs `peerAddress`). The vehicle likewise discovers through its interface's link-local address only and takes answers only from
 * link-local addresses (the wall on the same segment), so nothing on its other networks can pose as the wall.
 *
 * One car per connector: while the wall's connection is live and healthy (something arrived within
 * `peerTimeoutMs`), every further connection is refused at once (closed, `error` LinkConnectionRefused); it
 * never displaces the live one, so a stranger cannot cut a session by connecting. A connection that has fallen
 * silent (or closed) is dropped (`down`), and the next connection takes its place (`up`). The link does not read
 * the cable protocol: the new connection must still complete the authenticated handshake / open the session's
 * secure channel before the daemon accepts anything it says (a stranger holding the slot after the car's
 * connection died can only delay the car, whose session then ends on the heartbeat timeout with the power cut).
 * For tests (or fixed installations) the vehicle may skip discovery with `peerAddress`/`peerPort` (e.g. `::1`).
 *
 * Liveness: up while a TCP connection is established. Both sides send an empty frame (length 0, ignored by
 * the receiver) every `heartbeatIntervalMs`; a connection on which nothing arrived for `peerTimeoutMs` is
 * dropped ("peer silent") — a pulled cable would otherwise stay "up" for minutes of TCP keep-alive probes.
 * Down (with the reason) when the connection closes, errors or falls silent.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { createConnection, createServer, isIP, type Server, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { emitErrorIfObserved } from '../can/bus.js';
import { SystemClock, type Clock, type TimerHandle } from '../clock.js';
import type { CableLink, CableLinkEvents } from './cable-link.js';
import type { CableRole } from './can-isotp-link.js';
import { LinkConnectionRefused, LinkDown, LinkError, LinkMessageTooLong } from './errors.js';
import { encodeLengthPrefixed, LengthPrefixedDecoder } from './length-prefixed.js';

/** Link-local multicast group of our discovery (unassigned by IANA; chosen for boltcharge). */
export const DEFAULT_MULTICAST_GROUP = 'ff02::b0c:1';
/** UDP port of our discovery (not ISO 15118's 15118). */
export const DEFAULT_DISCOVERY_PORT = 51_815;

const REQUEST_MAGIC = Buffer.from('BCDISC?1', 'ascii');
const RESPONSE_MAGIC = Buffer.from('BCDISC!1', 'ascii');
/** An empty length-prefixed frame: the heartbeat. */
const HEARTBEAT = Buffer.alloc(4);

/** Options of {@link IpLink}. */
export interface IpLinkOptions {
  /** `wall` listens and answers discovery; `vehicle` discovers and connects. */
  role: CableRole;
  /** Network interface facing the PLC modem (e.g. `eth1`): scopes link-local multicast and addresses. */
  interface?: string;
  /** Default {@link DEFAULT_MULTICAST_GROUP}. */
  multicastGroup?: string;
  /** Default {@link DEFAULT_DISCOVERY_PORT}. Must not be 15118. */
  discoveryPort?: number;
  /** Wall: TCP port to listen on (0 = any free port, announced through discovery); default 0. */
  tcpPort?: number;
  /** Wall: the one address to listen on (never an unspecified address such as `::`); default the IPv6
   *  link-local address of `interface`. The wall needs one of the two. */
  listenAddress?: string;
  /** Vehicle: connect here instead of discovering (e.g. `::1`, `fe80::1%eth1`). */
  peerAddress?: string;
  /** Vehicle: TCP port with `peerAddress`. */
  peerPort?: number;
  /** Vehicle: discovery request period, ms; default 500. */
  discoveryIntervalMs?: number;
  /** Vehicle: delay before reconnecting after a drop, ms; default 1000. */
  reconnectIntervalMs?: number;
  /** TCP keep-alive initial delay, ms; default 1000. */
  keepAliveMs?: number;
  /** Period of the empty heartbeat frame, ms; default 1000. */
  heartbeatIntervalMs?: number;
  /** Drop a connection silent for this long, ms; default 3500. */
  peerTimeoutMs?: number;
  /** Largest message sent or accepted, bytes; default 65 536. */
  maxMessageBytes?: number;
  /** Default SystemClock. */
  clock?: Clock;
}

export class IpLink extends EventEmitter<CableLinkEvents> implements CableLink {
  private readonly role: CableRole;
  private readonly iface: string | undefined;
  private readonly group: string;
  private readonly discoveryPort: number;
  private readonly maxMessageBytes: number;
  private readonly clock: Clock;
  private server: Server | undefined;
  private udp: UdpSocket | undefined;
  private socket: Socket | undefined;
  /** Time anything last arrived on `socket`, ms. */
  private lastRxMs = 0;
  /** Drops `socket` as silent (set while it is the link's connection). */
  private dropSilent: (() => void) | undefined;
  private closed = false;
  private retryTimer: TimerHandle | undefined;
  private discoveryTimer: TimerHandle | undefined;
  private nonce = Buffer.alloc(8);

  /** @param options role, interface, ports; see {@link IpLinkOptions} */
  constructor(private readonly options: IpLinkOptions) {
    super();
    this.role = options.role;
    this.iface = options.interface;
    this.group = options.multicastGroup ?? DEFAULT_MULTICAST_GROUP;
    this.discoveryPort = options.discoveryPort ?? DEFAULT_DISCOVERY_PORT;
    if (this.discoveryPort === 15118) throw new LinkError('port 15118 belongs to ISO 15118 SDP; use our own');
    this.maxMessageBytes = options.maxMessageBytes ?? 65_536;
    this.clock = options.clock ?? new SystemClock();
    if (this.role === 'vehicle' && options.peerAddress === undefined && this.iface === undefined)
      throw new LinkError('vehicle IpLink needs an interface for discovery, or peerAddress/peerPort');
    if (this.role === 'wall') {
      if (options.listenAddress === undefined && this.iface === undefined)
        throw new LinkError(
          'wall IpLink needs the PLC interface or a listenAddress (it never listens on all)',
        );
      if (options.listenAddress !== undefined) checkListenAddress(options.listenAddress);
    }
  }

  get isUp(): boolean {
    return this.socket !== undefined;
  }

  /** The wall's TCP port once listening (useful with `tcpPort: 0`). */
  get listeningPort(): number | undefined {
    const a = this.server?.address();
    return typeof a === 'object' && a ? a.port : undefined;
  }

  /**
   * Wall: listens on TCP and answers discovery. Vehicle: starts discovering/connecting (resolves immediately;
   * `up` follows when connected).
   * @throws the socket error when the wall cannot listen or bind the discovery port
   */
  async open(): Promise<void> {
    if (this.closed) throw new LinkDown('link is closed');
    if (this.role === 'wall') await this.openWall();
    else this.connectVehicle();
  }

  /**
   * Sends one message on the TCP connection.
   * @param bytes 1..maxMessageBytes
   * @returns resolves when written to the socket
   * @throws LinkDown when not connected; LinkMessageTooLong
   */
  send(bytes: Uint8Array): Promise<void> {
    const socket = this.socket;
    if (!socket) return Promise.reject(new LinkDown('IP link is not connected'));
    if (bytes.length === 0) return Promise.reject(new LinkError('cannot send an empty message'));
    if (bytes.length > this.maxMessageBytes)
      return Promise.reject(new LinkMessageTooLong(bytes.length, this.maxMessageBytes));
    return new Promise((resolve, reject) =>
      socket.write(encodeLengthPrefixed(bytes), (err) =>
        err ? reject(new LinkDown(`write failed: ${err.message}`, { cause: err })) : resolve(),
      ),
    );
  }

  /** Closes sockets and timers; emits `down('closed')` if up. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.retryTimer?.cancel();
    this.discoveryTimer?.cancel();
    const socket = this.socket;
    this.socket = undefined;
    this.dropSilent = undefined;
    socket?.destroy();
    if (socket) this.emit('down', 'closed');
    this.udp?.close();
    this.udp = undefined;
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- wall ----

  private async openWall(): Promise<void> {
    const host = this.listenHost();
    const server = createServer((socket) => this.offer(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port: this.options.tcpPort ?? 0 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => emitErrorIfObserved(this, err));
    // discovery answers come from the interface's link-local address: offered only when the wall listens there
    const given = this.options.listenAddress;
    if (this.iface === undefined || (given !== undefined && !/^fe80:/i.test(given))) return;
    const udp = createSocket({ type: 'udp6', reuseAddr: true });
    this.udp = udp;
    udp.on('error', (err) => emitErrorIfObserved(this, err));
    udp.on('message', (msg, rinfo) => this.answerDiscovery(msg, rinfo));
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      // bound to the group scoped to the interface: the kernel ties the socket to that interface
      udp.bind(this.discoveryPort, `${this.group}%${this.iface}`, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    udp.addMembership(this.group, `::%${this.iface}`);
  }

  /**
   * The wall's listening address: `listenAddress` (scoped to `interface` when link-local), or the interface's
   * IPv6 link-local address.
   * @throws LinkError when the interface does not exist or has no link-local address
   */
  private listenHost(): string {
    const given = this.options.listenAddress;
    if (given !== undefined) return this.scoped(given);
    return linkLocalOf(this.iface as string);
  }

  /**
   * A new TCP connection to the wall: adopted when there is no live connection, refused while the live one is
   * healthy; a live connection silent for longer than `peerTimeoutMs` is dropped first.
   */
  private offer(socket: Socket): void {
    if (this.closed) return void socket.destroy();
    if (this.socket !== undefined && this.clock.now() - this.lastRxMs > (this.options.peerTimeoutMs ?? 3500))
      this.dropSilent?.();
    if (this.socket !== undefined) {
      const remote = `[${socket.remoteAddress ?? '?'}]:${socket.remotePort ?? 0}`;
      socket.on('error', () => {});
      socket.destroy();
      emitErrorIfObserved(this, new LinkConnectionRefused(remote));
      return;
    }
    this.adopt(socket);
  }

  private answerDiscovery(msg: Buffer, rinfo: RemoteInfo): void {
    if (msg.length !== 16 || !msg.subarray(0, 8).equals(REQUEST_MAGIC)) return;
    const port = this.listeningPort;
    if (port === undefined || !this.udp) return;
    const reply = Buffer.concat([RESPONSE_MAGIC, msg.subarray(8, 16), Buffer.from([port >> 8, port & 0xff])]);
    this.udp.send(reply, rinfo.port, this.scoped(rinfo.address));
  }

  /**
   * The peer's address on the link while a connection is live (the car, on the wall), without zone; null when
   * there is none. The wall daemon lends the blind relay to this address only while its session is authenticated.
   */
  peerAddress(): string | null {
    const a = this.socket?.remoteAddress;
    return a === undefined ? null : (a.split('%', 1)[0] ?? a);
  }

  /**
   * The literal address the wall listens on (the interface's scoped link-local address, or `listenAddress`),
   * for services offered on the same link (the blind relay).
   * @throws LinkError when the interface does not exist or has no link-local address
   */
  listenAddress(): string {
    return this.listenHost();
  }

  // ---- vehicle ----

  private connectVehicle(): void {
    if (this.closed) return;
    if (this.options.peerAddress !== undefined) {
      this.dial(this.options.peerAddress, this.options.peerPort ?? 0);
      return;
    }
    this.discover();
  }

  private discover(): void {
    this.udp?.close();
    this.udp = undefined;
    // the request leaves, and answers are taken, only through the PLC interface (bound to its link-local
    // address); answers from anything but a link-local address (not the wall beside us) are ignored
    let local: string;
    try {
      local = linkLocalOf(this.iface as string);
    } catch (err) {
      emitErrorIfObserved(this, err as Error);
      this.scheduleReconnect();
      return;
    }
    const udp = createSocket({ type: 'udp6', reuseAddr: true });
    this.udp = udp;
    this.nonce = randomBytes(8);
    const request = Buffer.concat([REQUEST_MAGIC, this.nonce]);
    udp.on('error', (err) => emitErrorIfObserved(this, err));
    udp.on('message', (msg, rinfo) => {
      if (msg.length !== 18 || !msg.subarray(0, 8).equals(RESPONSE_MAGIC)) return;
      if (!msg.subarray(8, 16).equals(this.nonce) || !/^fe80:/i.test(rinfo.address)) return;
      this.discoveryTimer?.cancel();
      udp.close();
      if (this.udp === udp) this.udp = undefined;
      this.dial(this.scoped(rinfo.address), msg.readUInt16BE(16));
    });
    udp.bind(0, local, () => {
      try {
        udp.setMulticastInterface(`::%${this.iface}`);
      } catch (err) {
        emitErrorIfObserved(this, new LinkError(`interface ${this.iface}: ${(err as Error).message}`));
        udp.close();
        if (this.udp === udp) this.udp = undefined;
        this.scheduleReconnect();
        return;
      }
      const tick = (): void => {
        if (this.closed || this.udp !== udp) return;
        udp.send(request, this.discoveryPort, `${this.group}%${this.iface}`, (err) => {
          if (err) emitErrorIfObserved(this, err);
        });
        this.discoveryTimer = this.clock.setTimer(this.options.discoveryIntervalMs ?? 500, tick);
      };
      tick();
    });
  }

  private dial(host: string, port: number): void {
    const socket = createConnection({ host, port });
    const onEarlyError = (err: Error): void => {
      emitErrorIfObserved(this, new LinkError(`connect to [${host}]:${port} failed: ${err.message}`));
      this.scheduleReconnect();
    };
    socket.once('error', onEarlyError);
    socket.once('connect', () => {
      socket.off('error', onEarlyError);
      if (this.closed) return socket.destroy();
      this.adopt(socket);
    });
  }

  private scheduleReconnect(): void {
    if (this.closed || this.role !== 'vehicle') return;
    this.retryTimer?.cancel();
    this.retryTimer = this.clock.setTimer(this.options.reconnectIntervalMs ?? 1000, () =>
      this.connectVehicle(),
    );
  }

  // ---- both ----

  /** Makes `socket` the link's connection (there is none: the wall's `offer` and the vehicle's dial ensure it). */
  private adopt(socket: Socket): void {
    if (this.closed || this.socket !== undefined) return void socket.destroy();
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, this.options.keepAliveMs ?? 1000);
    const decoder = new LengthPrefixedDecoder(this.maxMessageBytes);
    let downReason = 'peer disconnected';
    this.lastRxMs = this.clock.now();
    const heartbeatMs = this.options.heartbeatIntervalMs ?? 1000;
    const timeoutMs = this.options.peerTimeoutMs ?? 3500;
    let heartbeat: TimerHandle | undefined;
    const release = (): void => {
      heartbeat?.cancel();
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.dropSilent = undefined;
      this.emit('down', downReason);
      this.scheduleReconnect();
    };
    this.dropSilent = () => {
      downReason = 'peer silent';
      socket.destroy();
      release();
    };
    const beat = (): void => {
      if (socket.destroyed) return;
      if (this.clock.now() - this.lastRxMs > timeoutMs) return this.dropSilent?.();
      socket.write(HEARTBEAT);
      heartbeat = this.clock.setTimer(heartbeatMs, beat);
    };
    beat();
    socket.on('data', (chunk: Buffer) => {
      if (this.socket !== socket) return;
      this.lastRxMs = this.clock.now();
      let messages: Uint8Array[];
      try {
        messages = decoder.push(chunk);
      } catch (err) {
        emitErrorIfObserved(this, err as Error);
        socket.destroy(err as Error);
        return;
      }
      for (const m of messages) this.emit('message', m);
    });
    socket.on('error', (err) => emitErrorIfObserved(this, err));
    socket.on('close', release);
    this.emit('up');
  }

  /** Adds the interface scope to a link-local address that lacks one. */
  private scoped(address: string): string {
    if (this.iface !== undefined && /^fe80:/i.test(address) && !address.includes('%'))
      return `${address}%${this.iface}`;
    return address;
  }
}

/**
 * Refuses a wall listen address that is not one literal address: a name, or an unspecified address (`::`,
 * `0.0.0.0`) that would listen on every interface.
 * @throws LinkError
 */
function checkListenAddress(address: string): void {
  const host = address.split('%', 1)[0] ?? '';
  const family = isIP(host);
  if (family === 0) throw new LinkError(`listenAddress must be a literal IP address, got ${address}`);
  if (host === '0.0.0.0' || (family === 6 && /^[0:]+$/.test(host)))
    throw new LinkError(`listenAddress ${address} would listen on every interface`);
}

/**
 * The IPv6 link-local address of a network interface, scoped (`fe80::…%eth1`).
 * @param iface interface name
 * @throws LinkError when the interface does not exist or has no link-local address (yet)
 */
function linkLocalOf(iface: string): string {
  const addresses = networkInterfaces()[iface];
  if (addresses === undefined) throw new LinkError(`network interface ${iface} does not exist`);
  const local = addresses.find((a) => a.family === 'IPv6' && /^fe80:/i.test(a.address));
  if (local === undefined)
    throw new LinkError(`network interface ${iface} has no IPv6 link-local address (is it up?)`);
  return `${local.address}%${iface}`;
}
