// The blind relay on loopback: SOCKS5 CONNECT forwards bytes both ways unchanged; every bound refuses with its
// named reason (an unauthenticated client, a flood of connects, too many connections, a private destination, a
// non-Lightning port, garbage, a silent client); revokeAll() drops every relayed connection at session end.
// Time-based bounds run on a ManualClock.
import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../hardware/clock.js';
import {
  BlindRelay,
  RELAY_DEFAULTS,
  RelayListenRefused,
  type RelayLimits,
} from '../../../hardware/relay/blind-relay.js';
import { DestinationPolicy, RelayRulesInvalid } from '../../../hardware/relay/destination-policy.js';
import { RelayForwarder } from '../../../hardware/relay/relay-forwarder.js';
import { parseGreeting, parseRequest, Reply } from '../../../hardware/relay/socks5.js';
import { readBytes, socksConnect as connectThrough } from '../../support/socks-client.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A TCP echo server on loopback. */
async function echoServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => {
    s.on('error', () => {}); // a reset peer (the car's uplink going away) is part of some tests
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  const a = server.address();
  return { server, port: typeof a === 'object' && a ? a.port : 0 };
}

async function startRelay(
  opts: { authorized?: boolean; limits?: Partial<RelayLimits>; allow?: string[]; ports?: number[] } = {},
): Promise<{ relay: BlindRelay; clock: ManualClock; port: number }> {
  const clock = new ManualClock();
  const relay = new BlindRelay({
    listenHost: '127.0.0.1',
    port: 0,
    rules: { ports: opts.ports ?? [9735], allow: opts.allow ?? [] },
    limits: { ...RELAY_DEFAULTS, ...opts.limits },
    clock,
    authorize: () => opts.authorized ?? true,
  });
  const port = await relay.listen();
  cleanups.push(() => relay.close());
  return { relay, clock, port };
}

/** Opens a SOCKS5 CONNECT through the relay; returns the socket and the reply code. */
async function socksConnect(
  relayPort: number,
  host: string,
  port: number,
): Promise<{ s: Socket; reply: number }> {
  return connectThrough({ relayPort, host, port, onSocket: (s) => cleanups.push(() => void s.destroy()) });
}

describe('SOCKS5 codec', () => {
  it('parses greetings and CONNECT requests for IPv4, IPv6 and names', () => {
    expect(parseGreeting(Uint8Array.of(5))).toEqual({ kind: 'incomplete' });
    expect(parseGreeting(Uint8Array.of(5, 2, 0, 2))).toEqual({
      kind: 'greeting',
      methods: [0, 2],
      consumedBytes: 4,
    });
    expect(parseGreeting(Uint8Array.of(4, 1, 0))).toEqual({ kind: 'malformed', reason: 'NOT_SOCKS5' });
    expect(parseRequest(Uint8Array.of(5, 1, 0, 1, 203, 0, 113, 7, 0x26, 0x07))).toEqual({
      kind: 'connect',
      destination: { addressType: 'ipv4', host: '203.0.113.7', port: 9735 },
      consumedBytes: 10,
    });
    const v6 = Uint8Array.of(
      5,
      1,
      0,
      4,
      0x20,
      0x01,
      0x0d,
      0xb8,
      ...new Array<number>(11).fill(0),
      1,
      0x26,
      0x07,
    );
    expect(parseRequest(v6)).toMatchObject({ destination: { addressType: 'ipv6', host: '2001:db8::1' } });
    const name = Buffer.from('node.example');
    expect(parseRequest(Uint8Array.of(5, 1, 0, 3, name.length, ...name, 0x26, 0x07))).toMatchObject({
      destination: { addressType: 'domain', host: 'node.example', port: 9735 },
    });
    expect(parseRequest(Uint8Array.of(5, 2, 0, 1, 1, 2, 3, 4, 0, 80))).toMatchObject({
      kind: 'unsupported',
      reply: Reply.commandNotSupported,
    });
    expect(parseRequest(Uint8Array.of(5, 1, 0, 3, 2, 0x0a, 0x41, 0, 80))).toEqual({
      kind: 'malformed',
      reason: 'DOMAIN_NOT_PRINTABLE',
    });
  });
});

describe('destination policy', () => {
  it("lends the uplink, not the wall's networks", () => {
    const p = new DestinationPolicy({ ports: [9735], allow: ['192.168.1.10/32:8334'] });
    expect(p.check('203.0.113.7', 9735)).toBeNull();
    expect(p.check('2001:db8::1', 9735)).toBeNull();
    expect(p.check('203.0.113.7', 22)).toBe('RELAY_PORT_REFUSED');
    for (const ip of [
      '127.0.0.1',
      '10.1.2.3',
      '192.168.1.1',
      '169.254.1.1',
      '::1',
      'fe80::1',
      'fd00::1',
      '::ffff:10.0.0.1',
    ])
      expect(p.check(ip, 9735), ip).toBe('RELAY_DESTINATION_REFUSED');
    expect(p.check('192.168.1.10', 8334)).toBeNull();
    expect(p.check('192.168.1.10', 9735)).toBe('RELAY_DESTINATION_REFUSED');
    expect(() => new DestinationPolicy({ ports: [0], allow: [] })).toThrow(RelayRulesInvalid);
    expect(() => new DestinationPolicy({ ports: [9735], allow: ['example.com'] })).toThrow(RelayRulesInvalid);
  });
});

describe('BlindRelay', () => {
  it('refuses to listen on every interface', () => {
    const base = {
      port: 0,
      rules: { ports: [9735], allow: [] },
      limits: RELAY_DEFAULTS,
      clock: new ManualClock(),
    };
    for (const listenHost of ['::', '0.0.0.0', 'localhost'])
      expect(() => new BlindRelay({ ...base, listenHost, authorize: () => true })).toThrow(
        RelayListenRefused,
      );
  });

  it('forwards bytes both ways unchanged and counts them; revokeAll closes the connection', async () => {
    const echo = await echoServer();
    const { relay, port } = await startRelay({ allow: ['127.0.0.1/32'] });
    const { s, reply } = await socksConnect(port, '127.0.0.1', echo.port);
    expect(reply).toBe(Reply.succeeded);
    const payload = Buffer.from(Array.from({ length: 5000 }, (_, i) => i & 0xff));
    s.write(payload);
    expect((await readBytes(s, payload.length)).equals(payload)).toBe(true);
    expect(relay.stats()).toMatchObject({ opened: 1, bytesUp: 5000, bytesDown: 5000, active: 1 });
    const closed = once(s, 'close');
    relay.revokeAll();
    await closed;
  });

  it('refuses a client that is not the authenticated car', async () => {
    const { relay, port } = await startRelay({ authorized: false });
    const s = createConnection({ host: '127.0.0.1', port });
    s.on('error', () => {});
    await once(s, 'close');
    expect(relay.stats().refused).toEqual({ RELAY_UNAUTHENTICATED: 1 });
  });

  it('refuses private destinations and other ports with SOCKS "not allowed"', async () => {
    const echo = await echoServer();
    const { relay, port } = await startRelay();
    expect((await socksConnect(port, '127.0.0.1', echo.port)).reply).toBe(Reply.notAllowed);
    expect((await socksConnect(port, '203.0.113.9', 22)).reply).toBe(Reply.notAllowed);
    expect(relay.stats().refused).toEqual({ RELAY_DESTINATION_REFUSED: 1, RELAY_PORT_REFUSED: 1 });
  });

  it('bounds a flood: connects per minute, then connections at once', async () => {
    const { relay, port, clock } = await startRelay({
      limits: { maxConnectsPerMinute: 3, maxConnections: 2 },
    });
    const sockets: Socket[] = [];
    for (let i = 0; i < 2; i++) {
      const s = createConnection({ host: '127.0.0.1', port });
      s.on('error', () => {});
      cleanups.push(() => void s.destroy());
      await once(s, 'connect');
      sockets.push(s);
    }
    await new Promise((r) => setTimeout(r, 50));
    const third = createConnection({ host: '127.0.0.1', port });
    third.on('error', () => {});
    await once(third, 'close');
    expect(relay.stats().refused).toEqual({ RELAY_CONNECTION_LIMIT: 1 });
    sockets[0]!.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const fourth = createConnection({ host: '127.0.0.1', port }); // 3rd accepted attempt this minute
    fourth.on('error', () => {});
    cleanups.push(() => void fourth.destroy());
    await once(fourth, 'connect');
    sockets[1]!.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const fifth = createConnection({ host: '127.0.0.1', port });
    fifth.on('error', () => {});
    await once(fifth, 'close');
    expect(relay.stats().refused).toMatchObject({ RELAY_CONNECT_RATE: 1 });
    await clock.advance(60_000);
    fourth.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const sixth = createConnection({ host: '127.0.0.1', port });
    sixth.on('error', () => {});
    cleanups.push(() => void sixth.destroy());
    await once(sixth, 'connect');
    await new Promise((r) => setTimeout(r, 50));
    expect(sixth.destroyed).toBe(false);
  });

  it('closes garbage and silent clients with named reasons', async () => {
    const { relay, port, clock } = await startRelay();
    const garbage = createConnection({ host: '127.0.0.1', port });
    garbage.on('error', () => {});
    await once(garbage, 'connect');
    garbage.write('GET / HTTP/1.1\r\n\r\n');
    await once(garbage, 'close');
    const silent = createConnection({ host: '127.0.0.1', port });
    silent.on('error', () => {});
    await once(silent, 'connect');
    await new Promise((r) => setTimeout(r, 50));
    const closed = once(silent, 'close');
    await clock.advance(RELAY_DEFAULTS.handshakeTimeoutMs);
    await closed;
    expect(relay.stats().refused).toEqual({ RELAY_MALFORMED: 1, RELAY_HANDSHAKE_TIMEOUT: 1 });
  });
});

describe('RelayForwarder (the car side)', () => {
  it('gives the car a local port that reaches the destination through the relay, and fails closed', async () => {
    const echo = await echoServer();
    let authorized = true;
    const clock = new ManualClock();
    const relay = new BlindRelay({
      listenHost: '127.0.0.1',
      port: 0,
      rules: { ports: [9735], allow: ['127.0.0.1/32'] },
      limits: RELAY_DEFAULTS,
      clock,
      authorize: () => authorized,
    });
    const relayPort = await relay.listen();
    cleanups.push(() => relay.close());
    const forwarder = new RelayForwarder('127.0.0.1', relayPort, [
      { listenHost: '127.0.0.1', listenPort: 0, toHost: '127.0.0.1', toPort: echo.port },
    ]);
    const [local] = await forwarder.start();
    cleanups.push(() => forwarder.close());
    const s = createConnection({ host: '127.0.0.1', port: local! });
    cleanups.push(() => void s.destroy());
    s.write('ping through the wall');
    expect((await readBytes(s, 21)).toString()).toBe('ping through the wall');
    authorized = false; // the session ended
    relay.revokeAll();
    await once(s, 'close');
    const refused = once(forwarder, 'refused');
    const again = createConnection({ host: '127.0.0.1', port: local! });
    again.on('error', () => {});
    await once(again, 'close');
    expect((await refused)[0]).toMatchObject({ reply: 'no-relay' });
    expect(relay.stats().refused).toEqual({ RELAY_UNAUTHENTICATED: 1 });
  });
});

describe('RelayForwarder: the car’s own uplink, then the relay', () => {
  it('connects directly while the car has an uplink; once it is gone, resets those and goes through the relay', async () => {
    const echo = await echoServer();
    const { relay, port: relayPort } = await startRelay({ allow: ['127.0.0.1/32'] });
    const forwarder = new RelayForwarder('127.0.0.1', relayPort, [
      { listenHost: '127.0.0.1', listenPort: 0, toHost: '192.0.2.1', toPort: 9 }, // as the wall would reach it
    ]);
    const [local] = await forwarder.start();
    cleanups.push(() => forwarder.close());
    // the uplink: the same destination port on another address (here the echo server on loopback)
    forwarder.setUplink(() => ({ host: '127.0.0.1', port: echo.port }));
    const direct = createConnection({ host: '127.0.0.1', port: local! });
    direct.on('error', () => {}); // reset when the uplink goes
    cleanups.push(() => void direct.destroy());
    direct.write('over my own uplink');
    expect((await readBytes(direct, 18)).toString()).toBe('over my own uplink');
    expect(relay.stats().opened).toBe(0); // the relay saw nothing

    // the signal is gone: the direct connection is reset, a new one asks the relay (which refuses 192.0.2.1:9)
    const closed = new Promise((r) => direct.once('close', r)); // after ECONNRESET (events.once would reject)
    forwarder.setUplink(null);
    await closed;
    const refused = once(forwarder, 'refused');
    const relayed = createConnection({ host: '127.0.0.1', port: local! });
    relayed.on('error', () => {});
    await once(relayed, 'close');
    expect((await refused)[0]).toMatchObject({ destination: '192.0.2.1:9', reply: Reply.notAllowed });
  });
});
