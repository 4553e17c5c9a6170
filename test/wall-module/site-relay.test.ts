// The blind relay on every IP connector of a site (wall-module/site/connector-services.ts), on loopback: two real
// wall IP links on their own addresses (127.0.0.1 and 127.0.0.2), a car on each (its own source address); each
// connector's relay lends the uplink only to its own authenticated car, and is revoked when ITS connector's
// session ends while the other connector's relayed connection goes on. Two links on one address are refused at
// start, naming the connectors. The relay's own bounds are test/hardware/relay/blind-relay.test.ts; the proof
// with a real car's lnd is test/e2e/offline-relay.regtest.test.ts.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../hardware/clock.js';
import { IpLink } from '../../hardware/link/ip-link.js';
import { RELAY_DEFAULTS } from '../../hardware/relay/blind-relay.js';
import { Reply } from '../../hardware/relay/socks5.js';
import type { RelayConfig } from '../../wall-module/relay-config.js';
import type { RunningRelay } from '../../wall-module/relay-service.js';
import {
  ConnectorSessionEnds,
  RelayAddressShared,
  startSiteRelays,
} from '../../wall-module/site/connector-services.js';
import { readBytes, socksConnect } from '../support/socks-client.js';
import { memoryLog } from './in-process-rig.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A TCP echo server on 127.0.0.1 (the relayed destination). */
async function echoServer(): Promise<number> {
  const server: Server = createServer((s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  const a = server.address();
  return typeof a === 'object' && a ? a.port : 0;
}

/** A wall IP link listening on `address` (any free port). */
async function wallLink(address: string): Promise<IpLink> {
  const link = new IpLink({ role: 'wall', listenAddress: address, tcpPort: 0 });
  await link.open();
  cleanups.push(() => link.close());
  return link;
}

/** A car on the link: a TCP connection from its own source address, adopted by the wall's link. */
async function plugCar(link: IpLink, carAddress: string): Promise<void> {
  const s = createConnection({
    host: link.listenAddress(),
    port: link.listeningPort!,
    localAddress: carAddress,
  });
  s.on('error', () => {});
  cleanups.push(() => void s.destroy());
  for (let i = 0; i < 200 && link.peerAddress() !== carAddress; i++)
    await new Promise((r) => setTimeout(r, 5));
  expect(link.peerAddress()).toBe(carAddress);
}

/** Whether `carAddress` gets bytes relayed through `relayHost:relay.port` to the echo server. */
async function relayed(
  relayHost: string,
  relay: RunningRelay,
  carAddress: string,
  echoPort: number,
): Promise<{ ok: true; s: Socket } | { ok: false }> {
  let socket: Socket | undefined;
  try {
    const { s, reply } = await socksConnect({
      relayHost,
      relayPort: relay.port,
      host: '127.0.0.1',
      port: echoPort,
      localAddress: carAddress,
      onSocket: (x) => {
        socket = x;
        cleanups.push(() => void x.destroy());
      },
    });
    if (reply !== Reply.succeeded) return { ok: false };
    s.write('ping');
    expect((await readBytes(s, 4)).toString()).toBe('ping');
    return { ok: true, s };
  } catch {
    socket?.destroy();
    return { ok: false };
  }
}

describe('the blind relay on every IP connector of a site', () => {
  it("lends each connector's uplink to its own authenticated car only, revoked when that connector's session ends", async () => {
    const echoPort = await echoServer();
    const config: RelayConfig = {
      enabled: true,
      port: 0, // the configured port on each link's address (0 here: any free one per address)
      rules: { ports: [9735], allow: [`127.0.0.1/32:${echoPort}`] },
      limits: RELAY_DEFAULTS,
    };
    const links = new Map([
      [1, await wallLink('127.0.0.1')],
      [2, await wallLink('127.0.0.2')],
    ]);
    const car = new Map([
      [1, '127.0.0.11'],
      [2, '127.0.0.12'],
    ]);
    await plugCar(links.get(1)!, car.get(1)!);
    await plugCar(links.get(2)!, car.get(2)!);
    const authenticated = new Map<number, string | null>([
      [1, 'session-1'],
      [2, null],
    ]);
    const sessionEnds = new ConnectorSessionEnds();
    const log = memoryLog();
    const relays = await startSiteRelays({
      config,
      connectors: [1, 2].map((id) => ({
        id,
        link: () => links.get(id)!,
        authenticatedSessionId: () => authenticated.get(id) ?? null,
      })),
      sessionEnds,
      clock: new ManualClock(),
      log,
    });
    for (const r of relays.values()) cleanups.push(() => r.stop());
    expect([...relays.keys()]).toEqual([1, 2]);
    const relay1 = relays.get(1)!;
    const relay2 = relays.get(2)!;

    // connector 1's car through connector 1's relay: relayed
    const first = await relayed('127.0.0.1', relay1, car.get(1)!, echoPort);
    expect(first.ok).toBe(true);
    // connector 2's car (no authenticated session yet) is refused on its own relay, and on connector 1's
    expect((await relayed('127.0.0.2', relay2, car.get(2)!, echoPort)).ok).toBe(false);
    expect((await relayed('127.0.0.1', relay1, car.get(2)!, echoPort)).ok).toBe(false);
    // connector 2's session authenticates: its car is relayed by its own relay, never by connector 1's; connector
    // 1's car is not relayed by connector 2's relay
    authenticated.set(2, 'session-2');
    const second = await relayed('127.0.0.2', relay2, car.get(2)!, echoPort);
    expect(second.ok).toBe(true);
    expect((await relayed('127.0.0.1', relay1, car.get(2)!, echoPort)).ok).toBe(false);
    expect((await relayed('127.0.0.2', relay2, car.get(1)!, echoPort)).ok).toBe(false);
    const refusals = log.lines.filter((l) => l.includes('relay refused'));
    expect(refusals.length).toBe(4);
    expect(refusals.every((l) => l.includes('RELAY_UNAUTHENTICATED'))).toBe(true);
    expect(refusals.some((l) => l.includes('"connectorId":1') && l.includes('127.0.0.12'))).toBe(true);
    expect(refusals.some((l) => l.includes('"connectorId":2') && l.includes('127.0.0.11'))).toBe(true);

    // connector 1's session ends: its relayed connection is closed; connector 2's goes on
    if (!first.ok || !second.ok) throw new Error('unreachable');
    const closed1 = new Promise<void>((r) => first.s.once('close', () => r()));
    authenticated.set(1, null);
    sessionEnds.observer(1).sessionEnded?.('session-1', 'unplugged', { energyWh: 0, paidMsat: 0n });
    await closed1;
    expect(second.s.destroyed).toBe(false);
    second.s.write('pong');
    expect((await readBytes(second.s, 4)).toString()).toBe('pong');
    expect((await relayed('127.0.0.1', relay1, car.get(1)!, echoPort)).ok).toBe(false);
  });

  it('refuses two IP connectors whose links listen on one address, naming them', async () => {
    const a = await wallLink('127.0.0.3');
    const b = new IpLink({ role: 'wall', listenAddress: '127.0.0.3', tcpPort: 0 });
    const start = startSiteRelays({
      config: { enabled: true, port: 0, rules: { ports: [9735], allow: [] }, limits: RELAY_DEFAULTS },
      connectors: [
        { id: 4, link: () => a, authenticatedSessionId: () => null },
        { id: 7, link: () => b, authenticatedSessionId: () => null },
      ],
      sessionEnds: new ConnectorSessionEnds(),
      clock: new ManualClock(),
      log: memoryLog(),
    });
    await expect(start).rejects.toBeInstanceOf(RelayAddressShared);
    await expect(start).rejects.toThrow(/connectors 4 and 7 both listen on 127\.0\.0\.3/);
  });
});
