// Offline case 2 (charger online, car without signal), on real nodes: the car's lnd runs in a network namespace
// whose only network is the cable link (a veth pair, as a PLC modem's Ethernet) and reaches the chain backend and
// its channel partner only through the wall's blind relay. It pays a wall invoice multi-hop (car → router →
// wall). The relay lends the uplink, not the host: a connection to the wall's own lnd gRPC port is refused with
// RELAY_DESTINATION_REFUSED, and nothing but the authenticated car may use it.
// Offline case 1a (a direct channel between the car's and the wall's nodes): the same car then pays the wall
// over their direct channel, the two nodes' peer connection running over the cable link (one hop, no fee).
// Fails (never skips) when namespaces cannot be made.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { openSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { authenticatedLndGrpc, createInvoice, getInvoice } from 'lightning';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SystemClock } from '../../hardware/clock.js';
import { BlindRelay, RELAY_DEFAULTS, type RelayRefusal } from '../../hardware/relay/blind-relay.js';
import {
  binDir,
  fundNodeOnChain,
  networkDir,
  openChannelBetween,
  startExtraNode,
  type ExtraNode,
} from '../../scripts/regtest/network.js';
import { runningPid } from '../../scripts/regtest/processes.js';
import { createNamespaceBesideHost, type NamespaceBesideHost } from '../support/netns.js';
import { walkupNetwork, type WalkupNetwork } from '../support/walkup-network.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tsx = join(repo, 'node_modules', '.bin', 'tsx');

/** JSON lines from a child process, awaited one by one. */
class Lines {
  private readonly queue: Record<string, unknown>[] = [];
  private wake: (() => void) | null = null;
  constructor(child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      this.queue.push(JSON.parse(l) as Record<string, unknown>);
      this.wake?.();
    });
  }
  async next(timeoutMs: number): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      if (Date.now() > deadline) throw new Error('timeout waiting for the car script');
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 500);
      });
    }
    return this.queue.shift()!;
  }
}

describe('offline case 2: the car pays through the wall’s blind relay', () => {
  let net: WalkupNetwork;
  let car: ExtraNode;
  let ns: NamespaceBesideHost;
  let relay: BlindRelay;
  let carLnd: ChildProcess | undefined;
  let carScript: ChildProcess | undefined;
  const refusals: RelayRefusal[] = [];
  let wall: ReturnType<typeof authenticatedLndGrpc>['lnd'];
  let lines: Lines;
  let routerLocal = 0;
  let wallP2pLocal = 0;

  /** Pays a fresh wall invoice from the car (inside its namespace) after connecting to `peer` through `port`. */
  async function carPays(peer: string, port: number, tokens: number) {
    const invoice = await createInvoice({ lnd: wall, tokens, description: 'offline relay test' });
    carScript!.stdin!.write(
      `${JSON.stringify({
        cmd: 'pay',
        lnd: { socket: car.connection.socket, cert: car.connection.cert, macaroon: car.connection.macaroon },
        peer: { pubkey: peer, port },
        request: invoice.request,
        maxFeeSat: 50,
      })}\n`,
    );
    const paid = (await lines.next(300_000)) as {
      paid: boolean;
      secret?: string;
      hops?: number;
      feeMsat?: string;
      error?: string;
    };
    expect(paid.error).toBeUndefined();
    expect(paid.paid).toBe(true);
    expect(createHash('sha256').update(Buffer.from(paid.secret!, 'hex')).digest('hex')).toBe(invoice.id);
    expect((await getInvoice({ lnd: wall, id: invoice.id })).is_confirmed).toBe(true);
    return paid;
  }

  beforeAll(async () => {
    net = await walkupNetwork();
    car = await startExtraNode('offline-car');
    await fundNodeOnChain({ to: car.connection, amountSat: 5_000_000 });
    await openChannelBetween({ from: car.connection, to: net.router, capacitySat: 2_000_000 });
    await openChannelBetween({ from: car.connection, to: net.wall, capacitySat: 2_000_000 });
    ns = await createNamespaceBesideHost();
    wall = authenticatedLndGrpc({
      cert: net.wall.cert,
      macaroon: net.wall.macaroon,
      socket: net.wall.socket,
    }).lnd;
  }, 300_000);

  afterAll(async () => {
    carScript?.stdin?.end();
    carScript?.kill('SIGTERM');
    if (carLnd && carLnd.exitCode === null) {
      const exited = new Promise((r) => carLnd!.once('exit', r));
      carLnd.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    }
    await relay?.close();
    ns?.destroy();
    if (car) {
      await car.start(); // back on the host's network, so its channel closes cooperatively
      await car.destroy();
    }
  }, 120_000);

  it('syncs, reconnects and pays multi-hop with no network but the cable', async () => {
    const btcdRpc = net.connection.btcd.rpcHost;
    const routerP2p = net.router.p2pSocket;
    const wallGrpc = net.wall.socket.replace(/^localhost:/, '127.0.0.1:');
    const portOf = (hostPort: string): number => Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));

    // the wall (host namespace) offers the relay on its end of the cable; only the car's address may use it,
    // and only the chain backend and the peer ports of the router and the wall's own node are opened to it here
    relay = new BlindRelay({
      listenHost: `${ns.hostLinkLocal}%${ns.hostIf}`,
      port: 0,
      rules: {
        ports: [9735],
        allow: [btcdRpc, routerP2p, net.wall.p2pSocket].map((hp) => `127.0.0.1/32:${portOf(hp)}`),
      },
      limits: RELAY_DEFAULTS,
      clock: new SystemClock(),
      authorize: (remote) => remote.split('%')[0] === ns.nsLinkLocal,
    });
    relay.on('refused', (e) => {
      refusals.push(e.reason);
      process.stderr.write(`relay refused ${e.reason}: ${e.detail}\n`);
    });
    const relayPort = await relay.listen();

    // the car's forwards (inside its namespace) to the chain backend, its channel partner, and — an attack —
    // the wall's own lnd gRPC
    carScript = spawn(
      'ip',
      [
        ...['netns', 'exec', ns.ns, tsx, join(repo, 'test', 'support', 'relay-car.ts')],
        ...['--relay', `${ns.hostLinkLocal}%${ns.nsIf}`, '--relay-port', String(relayPort)],
        ...['--to', btcdRpc, '--to', routerP2p, '--to', wallGrpc, '--to', net.wall.p2pSocket],
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    lines = new Lines(carScript);
    const { ports } = (await lines.next(30_000)) as { ports: number[] };
    const [btcdLocal, , wallGrpcLocal] = ports as [number, number, number, number];
    routerLocal = ports[1]!;
    wallP2pLocal = ports[3]!;

    // move the car's lnd into the namespace: same data, chain backend through the relay
    const pid = runningPid(networkDir(), car.name);
    expect(pid).toBeDefined();
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(1);
    await car.stop();
    const carArgs = args.map((a) =>
      a.startsWith('--btcd.rpchost=') ? `--btcd.rpchost=127.0.0.1:${btcdLocal}` : a,
    );
    const log = openSync(join(networkDir(), `${car.name}-netns.out.log`), 'a');
    carLnd = spawn('ip', ['netns', 'exec', ns.ns, join(binDir(), 'lnd'), ...carArgs], {
      stdio: ['ignore', log, log],
    });

    // the attack first: the relay must not open the host's own services to the car
    carScript.stdin!.write(`${JSON.stringify({ cmd: 'probe', port: wallGrpcLocal })}\n`);
    expect(await lines.next(30_000)).toEqual({ probe: 'closed' });
    expect(refusals).toContain('RELAY_DESTINATION_REFUSED');

    // the wall's node is not the car's peer yet: the direct channel is inactive, so this goes car → router → wall
    const paid = await carPays(net.router.pubkey, routerLocal, 5_000);
    expect(paid.hops).toBe(2);

    const stats = relay.stats();
    expect(stats.opened).toBeGreaterThanOrEqual(2); // chain backend + channel partner
    expect(stats.bytesUp).toBeGreaterThan(0);
    expect(stats.bytesDown).toBeGreaterThan(0);
    expect(refusals.filter((r) => r !== 'RELAY_DESTINATION_REFUSED')).toEqual([]);
  }, 600_000);

  it('case 1a: pays the wall over their direct channel, the peer connection running over the cable', async () => {
    const paid = await carPays(net.wall.pubkey, wallP2pLocal, 7_000);
    expect(paid.hops).toBe(1);
    expect(paid.feeMsat).toBe('0');
    expect(refusals.filter((r) => r !== 'RELAY_DESTINATION_REFUSED')).toEqual([]);
  }, 300_000);
});
