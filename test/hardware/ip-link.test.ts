// IpLink: length-prefixed framing, then real TCP on ::1 (explicit peer address): messages both ways, a
// dropped wall detected and the vehicle reconnecting, an oversized frame refused.
import { createConnection } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LinkDown, LinkError, LinkMessageTooLong } from '../../hardware/link/errors.js';
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
  it('refuses port 15118 and a vehicle with neither interface nor peer address', () => {
    expect(() => new IpLink({ role: 'wall', discoveryPort: 15118 })).toThrow(LinkError);
    expect(() => new IpLink({ role: 'vehicle' })).toThrow(LinkError);
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
