/**
 * The car's side of the blind relay: local TCP forwards that reach the Lightning network through the wall's
 * SOCKS5 relay (blind-relay.ts) when the car has no uplink of its own. Each forward listens on a loopback
 * port of the car and, for every connection, asks the relay to CONNECT to one fixed destination, then pipes the
 * bytes. The car's lnd then uses the local ports as its peers' addresses (`lncli connect key@127.0.0.1:19735`)
 * and as its chain backend (`btcd.rpchost` / `bitcoind.rpchost`); its traffic stays end-to-end encrypted (BOLT 8
 * to peers, TLS to the chain backend), the wall sees only bytes.
 *
 * Works with any node software (no SOCKS support needed in the node), and a forward fails closed: when the relay
 * refuses (session over, bound reached, destination refused) the local connection is closed with the reason in
 * the `refused` event.
 */
import { EventEmitter } from 'node:events';
import { createConnection, createServer, isIP, type Server, type Socket } from 'node:net';
import { SystemClock, type Clock } from '../clock.js';
import { METHOD_NO_AUTH, Reply, SOCKS_VERSION } from './socks5.js';

/** One forward: a local listening address and the destination the relay connects to. */
export interface RelayForward {
  /** local literal address to listen on (e.g. `127.0.0.1`) */
  listenHost: string;
  /** local port (0 = any; see `ports()`) */
  listenPort: number;
  /** destination host (IP literal or name, resolved by the wall) */
  toHost: string;
  /** destination TCP port */
  toPort: number;
}

/** Events of the forwarder. */
export interface RelayForwarderEvents {
  /** the relay refused or failed a CONNECT (SOCKS reply code, or `no-relay` when the relay is unreachable) */
  refused: [{ destination: string; reply: number | 'no-relay' }];
  opened: [{ destination: string }];
}

/** How long to wait for the relay's replies before giving up on a connection, ms. */
const RELAY_REPLY_TIMEOUT_MS = 15_000;

/** A set of local forwards through one relay. */
export class RelayForwarder extends EventEmitter<RelayForwarderEvents> {
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  /** while the car has an uplink of its own: where each forward connects directly instead (null = relay) */
  private uplink: ((f: RelayForward) => { host: string; port: number }) | null = null;
  private readonly direct = new Set<Socket>();

  /**
    @param relayHost the wall's relay address (IPv6 link-local with zone, e.g. `fe80::1%eth1`, or a literal)
    @param relayPort the wall's relay port
    @param forwards the local forwards
    @param clock time source of the reply timeout (default real time)
  */
  constructor(
    private readonly relayHost: string,
    private readonly relayPort: number,
    private readonly forwards: RelayForward[],
    private readonly clock: Clock = new SystemClock(),
  ) {
    super();
  }

  /** Opens every local listener. @returns the bound local ports, in `forwards` order */
  async start(): Promise<number[]> {
    const ports: number[] = [];
    for (const f of this.forwards) {
      if (isIP(f.listenHost) === 0)
        throw new RangeError(`forward listenHost must be a literal IP: ${f.listenHost}`);
      const server = createServer((local) => this.handle(local, f));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(f.listenPort, f.listenHost, () => resolve());
      });
      this.servers.push(server);
      const a = server.address();
      ports.push(typeof a === 'object' && a !== null ? a.port : 0);
    }
    return ports;
  }

  /**
   * Routes new connections over the car's own uplink (`route` gives each forward's direct address) or, with
   * null, through the wall's relay. Going to the relay resets the connections made over the uplink (the
   * uplink is gone: the node reconnects through the same local port, now relayed).
   *
   * @param route the direct address of a forward's destination, or null for the relay
   */
  setUplink(route: ((f: RelayForward) => { host: string; port: number }) | null): void {
    this.uplink = route;
    if (route === null) for (const s of this.direct) s.resetAndDestroy();
  }

  /** Closes the listeners and every forwarded connection. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }

  private handle(local: Socket, f: RelayForward): void {
    if (this.uplink !== null) return this.handleDirect(local, this.uplink(f));
    const destination = `${f.toHost}:${f.toPort}`;
    local.on('error', () => {});
    local.pause();
    const relay = createConnection({ host: this.relayHost, port: this.relayPort });
    relay.on('error', () => {});
    for (const s of [local, relay]) {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    }
    relay.setNoDelay(true);
    local.setNoDelay(true);
    let buf = Buffer.alloc(0);
    let stage: 'method' | 'reply' | 'open' = 'method';
    const timer = this.clock.setTimer(RELAY_REPLY_TIMEOUT_MS, () => fail('no-relay'));
    let failed = false;
    const fail = (reply: number | 'no-relay'): void => {
      if (failed) return;
      failed = true;
      timer.cancel();
      this.emit('refused', { destination, reply });
      relay.destroy();
      local.destroy();
    };
    relay.once('connect', () => relay.write(Uint8Array.of(SOCKS_VERSION, 1, METHOD_NO_AUTH)));
    relay.once('close', () => {
      if (stage !== 'open') fail('no-relay');
      local.destroy();
    });
    local.once('close', () => relay.destroy());
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      if (stage === 'method') {
        if (buf.length < 2) return;
        if (buf[0] !== SOCKS_VERSION || buf[1] !== METHOD_NO_AUTH) return fail(Reply.generalFailure);
        buf = buf.subarray(2);
        relay.write(connectRequest(f.toHost, f.toPort));
        stage = 'reply';
      }
      if (stage === 'reply') {
        if (buf.length < 10) return;
        if (buf[1] !== Reply.succeeded) return fail(buf[1]!);
        stage = 'open';
        timer.cancel();
        relay.off('data', onData);
        const rest = buf.subarray(10);
        if (rest.length > 0) local.write(rest);
        this.emit('opened', { destination });
        relay.pipe(local);
        local.pipe(relay);
        local.resume();
      }
    };
    relay.on('data', onData);
  }

  /** Pipes a local connection straight to its destination over the car's own uplink. */
  private handleDirect(local: Socket, to: { host: string; port: number }): void {
    const remote = createConnection({ host: to.host, port: to.port });
    for (const s of [local, remote]) {
      s.on('error', () => {});
      this.sockets.add(s);
      this.direct.add(s);
      s.once('close', () => {
        this.sockets.delete(s);
        this.direct.delete(s);
        local.destroy();
        remote.destroy();
      });
    }
    local.pipe(remote);
    remote.pipe(local);
  }
}

/** A SOCKS5 CONNECT request for an IP literal or a name. */
function connectRequest(host: string, port: number): Uint8Array {
  const p = [port >> 8, port & 0xff];
  if (isIP(host) === 4) return Uint8Array.of(5, 1, 0, 1, ...host.split('.').map(Number), ...p);
  if (isIP(host) === 6) {
    const full = expandIpv6(host);
    return Uint8Array.of(5, 1, 0, 4, ...full, ...p);
  }
  const name = Buffer.from(host, 'ascii');
  if (name.length > 255) throw new RangeError(`destination name longer than 255 bytes: ${host}`);
  return Uint8Array.of(5, 1, 0, 3, name.length, ...name, ...p);
}

/** 16 bytes of an IPv6 literal (no zone). */
function expandIpv6(host: string): number[] {
  const [head, tail] = host.split('::') as [string, string | undefined];
  const parse = (s: string | undefined): number[] => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = parse(head);
  const t = parse(tail);
  const groups = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}
