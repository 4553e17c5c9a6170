// IpLink: length-prefixed framing, then real TCP on ::1 (explicit peer address): messages both ways, a
// dropped wall detected and the vehicle reconnecting, an oversized frame refused.
import { createConnection, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  LinkConnectionRefused,
  LinkDown,
  LinkError,
  LinkMessageTooLong,
} from '../../hardware/link/errors.js';
import { IpLink } from '../../hardware/link/ip-link.js';
import { encodeLengthPrefixed, LengthPrefixedDecoder } from '../../hardware/link/length-prefixed.js';

describe('length-prefixed framing', () => {
  it('decodes messages split and glued across chunks; refuses a length over the maximum', () => {
    const a = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const b = Uint8Array.of(1, 2, 3);
    const stream = Buffer.concat([
      encodeLengthPrefixed(a),
      encodeLengthPrefixed(b),
      encodeLengthPrefixed(new Uint8Array(0)),
    ]);
    expect(Buffer.from(encodeLengthPrefixed(b)).toString('hex')).toBe('00000003010203');
    const dec = new LengthPrefixedDecoder(1000);
    const got: Uint8Array[] = [];
    for (let i = 0; i < stream.length; i += 7) got.push(...dec.push(stream.subarray(i, i + 7)));
    expect(got).toEqual([a, b]);
    expect(() => new LengthPrefixedDecoder(10).push(Uint8Array.of(0, 0, 0, 11))).toThrow(LinkMessageTooLong);
  });
});

const links: IpLink[] = [];
afterEach(async () => {
  for (const l of links.splice(0)) await l.close();
});
function once<T extends unknown[]>(link: IpLink, event: 'up' | 'down' | 'message'): Promise<T> {
  return new Promise((resolve) => link.once(event, (...args: unknown[]) => resolve(args as T)));
}

describe('IpLink over TCP on ::1', () => {
  it('refuses port 15118, a vehicle with neither interface nor peer address, and a wall listening on all', () => {
    expect(() => new IpLink({ role: 'wall', listenAddress: '::1', discoveryPort: 15118 })).toThrow(LinkError);
    expect(() => new IpLink({ role: 'vehicle' })).toThrow(LinkError);
    expect(() => new IpLink({ role: 'wall' })).toThrow(/PLC interface or a listenAddress/);
    for (const any of ['::', '0.0.0.0', '0:0::0', 'localhost'])
      expect(() => new IpLink({ role: 'wall', listenAddress: any })).toThrow(LinkError);
  });

  it('a wall on an interface without a link-local address (or no such interface) fails to open', async () => {
    await expect(new IpLink({ role: 'wall', interface: 'nosuchif0' }).open()).rejects.toThrow(
      /does not exist/,
    );
  });

  it('carries messages both ways, detects a dropped wall and reconnects', async () => {
    const wall = new IpLink({ role: 'wall', listenAddress: '::1', discoveryPort: 0 });
    links.push(wall);
    await wall.open();
    const port = wall.listeningPort!;
    const vehicle = new IpLink({
      role: 'vehicle',
      peerAddress: '::1',
      peerPort: port,
      reconnectIntervalMs: 100,
    });
    links.push(vehicle);
    await expect(vehicle.send(Uint8Array.of(1))).rejects.toBeInstanceOf(LinkDown);
    const ups = Promise.all([once(wall, 'up'), once(vehicle, 'up')]);
    await vehicle.open();
    await ups;
    expect(wall.isUp && vehicle.isUp).toBe(true);
    const big = Uint8Array.from({ length: 60_000 }, (_, i) => (i * 31) & 0xff);
    const got = once<[Uint8Array]>(vehicle, 'message');
    await wall.send(big);
    expect((await got)[0]).toEqual(big);
    const inbox: Uint8Array[] = [];
    wall.on('message', (m) => inbox.push(m));
    for (let i = 0; i < 50; i++) await vehicle.send(Uint8Array.of(i, i, i));
    while (inbox.length < 50) await new Promise((r) => setTimeout(r, 10));
    expect(inbox.map((m) => m[0])).toEqual([...Array(50).keys()]);
    // the wall goes away: the vehicle sees the link down, then reconnects to a new wall on the same port
    const down = once<[string]>(vehicle, 'down');
    await wall.close();
    expect((await down)[0]).toBe('peer disconnected');
    const wall2 = new IpLink({ role: 'wall', listenAddress: '::1', tcpPort: port, discoveryPort: 0 });
    links.push(wall2);
    const up2 = once(vehicle, 'up');
    await wall2.open();
    await up2;
    const got2 = once<[Uint8Array]>(wall2, 'message');
    await vehicle.send(Uint8Array.of(0x42));
    expect((await got2)[0]).toEqual(Uint8Array.of(0x42));
  });

  it('a peer announcing an oversized frame is disconnected with LinkMessageTooLong', async () => {
    const wall = new IpLink({ role: 'wall', listenAddress: '::1', discoveryPort: 0, maxMessageBytes: 1000 });
    links.push(wall);
    await wall.open();
    const errors: Error[] = [];
    wall.on('error', (e) => errors.push(e));
    const raw = createConnection({ host: '::1', port: wall.listeningPort! });
    await new Promise((r) => raw.once('connect', r));
    raw.resume(); // drain the wall's heartbeats
    const closed = new Promise((r) => raw.once('close', r));
    raw.write(Buffer.from([0, 0, 0x10, 0]));
    await closed;
    expect(errors[0]).toBeInstanceOf(LinkMessageTooLong);
    expect(wall.isUp).toBe(false);
  });
});

/** Connects a raw TCP client from `localAddress`; resolves once connected. `received` collects what arrives. */
async function rawClient(
  port: number,
  host: string,
  localAddress: string,
): Promise<Socket & { received: Buffer[] }> {
  const raw = Object.assign(createConnection({ host, port, localAddress }), { received: [] as Buffer[] });
  raw.on('error', () => {});
  raw.on('data', (d: Buffer) => raw.received.push(d)); // also drains, so the wall's close is seen
  await new Promise((r) => raw.once('connect', r));
  return raw;
}

describe('IpLink: one car connection per connector', () => {
  it('an attacker connecting from another address while the car is live is refused and cuts nothing', async () => {
    const wall = new IpLink({ role: 'wall', listenAddress: '127.0.0.1', discoveryPort: 0 });
    links.push(wall);
    await wall.open();
    const refusals: Error[] = [];
    wall.on('error', (e) => refusals.push(e));
    const downs: string[] = [];
    wall.on('down', (r) => downs.push(r));
    const car = new IpLink({ role: 'vehicle', peerAddress: '127.0.0.1', peerPort: wall.listeningPort! });
    links.push(car);
    const ups = Promise.all([once(wall, 'up'), once(car, 'up')]);
    await car.open();
    await ups;
    // the attacker, from 127.0.0.2, connects again and again and sends a frame each time
    for (let i = 0; i < 5; i++) {
      const raw = await rawClient(wall.listeningPort!, '127.0.0.1', '127.0.0.2');
      raw.write(encodeLengthPrefixed(Uint8Array.of(0xee)));
      await new Promise((r) => raw.once('close', r));
      expect(Buffer.concat(raw.received).length).toBe(0); // not even a heartbeat: refused at once
    }
    expect(refusals).toHaveLength(5);
    expect(refusals.every((e) => e instanceof LinkConnectionRefused)).toBe(true);
    expect((refusals[0] as LinkConnectionRefused).remote).toMatch(/^\[127\.0\.0\.2\]:\d+$/);
    expect(downs).toEqual([]);
    expect(wall.isUp && car.isUp).toBe(true);
    // the car's session carries on, and nothing of the attacker's reached the wall
    const inbox: Uint8Array[] = [];
    wall.on('message', (m) => inbox.push(m));
    await car.send(Uint8Array.of(1, 2, 3));
    const back = once<[Uint8Array]>(car, 'message');
    await wall.send(Uint8Array.of(4));
    expect((await back)[0]).toEqual(Uint8Array.of(4));
    while (inbox.length < 1) await new Promise((r) => setTimeout(r, 10));
    expect(inbox).toEqual([Uint8Array.of(1, 2, 3)]);
  });

  it('a connection that fell silent is dropped and the next connection takes the connector', async () => {
    const wall = new IpLink({
      role: 'wall',
      listenAddress: '::1',
      discoveryPort: 0,
      heartbeatIntervalMs: 100_000, // the silence check below must come from the new connection's arrival
      peerTimeoutMs: 300,
    });
    links.push(wall);
    await wall.open();
    const port = wall.listeningPort!;
    const events: string[] = [];
    wall.on('up', () => events.push('up'));
    wall.on('down', (r) => events.push(`down:${r}`));
    wall.on('error', (e) => events.push(`error:${e.name}`));
    // a "car" that never sends anything (its cable was pulled right after connecting)
    const dead = await rawClient(port, '::1', '::1');
    while (!events.includes('up')) await new Promise((r) => setTimeout(r, 10));
    const second = await rawClient(port, '::1', '::1'); // within the timeout: refused
    await new Promise((r) => second.once('close', r));
    expect(events).toEqual(['up', 'error:LinkConnectionRefused']);
    await new Promise((r) => setTimeout(r, 400));
    const fresh = await rawClient(port, '::1', '::1'); // the first has been silent > 300 ms: replaced
    while (events.length < 4) await new Promise((r) => setTimeout(r, 10));
    expect(events.slice(2)).toEqual(['down:peer silent', 'up']);
    const got = once<[Uint8Array]>(wall, 'message');
    fresh.write(encodeLengthPrefixed(Uint8Array.of(9)));
    expect((await got)[0]).toEqual(Uint8Array.of(9));
    await new Promise((r) => dead.once('close', r)); // the silent connection was closed by the wall
    fresh.destroy();
  });
});
