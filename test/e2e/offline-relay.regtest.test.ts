// Offline case 2 (charger online, car without signal), on real nodes: the car's lnd runs in a network namespace
// whose only network is the cable link (a veth pair, as a PLC modem's Ethernet) and reaches the chain backend and
// its channel partner only through the wall's blind relay. It pays a wall invoice multi-hop (car → router →
// wall). The relay lends the uplink, not the host: a connection to the wall's own lnd gRPC port is refused with
// RELAY_DESTINATION_REFUSED, and nothing but the authenticated car may use it. Fails (never skips) when
// namespaces cannot be made.
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

  beforeAll(async () => {
    net = await walkupNetwork();
    car = await startExtraNode('offline-car');
    await fundNodeOnChain({ to: car.connection, amountSat: 3_000_000 });
    await openChannelBetween({ from: car.connection, to: net.router, capacitySat: 2_000_000 });
    ns = await createNamespaceBesideHost();
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
    // and only the chain backend and the router's peer port are opened to it on this host's loopback
    relay = new BlindRelay({
      listenHost: `${ns.hostLinkLocal}%${ns.hostIf}`,
      port: 0,
      rules: {
        ports: [9735],
        allow: [`127.0.0.1/32:${portOf(btcdRpc)}`, `127.0.0.1/32:${portOf(routerP2p)}`],
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
        ...['--to', btcdRpc, '--to', routerP2p, '--to', wallGrpc],
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const lines = new Lines(carScript);
    const { ports } = (await lines.next(30_000)) as { ports: number[] };
    const [btcdLocal, routerLocal, wallGrpcLocal] = ports as [number, number, number];

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

    const wall = authenticatedLndGrpc({
      cert: net.wall.cert,
      macaroon: net.wall.macaroon,
      socket: net.wall.socket,
    }).lnd;
    const invoice = await createInvoice({ lnd: wall, tokens: 5_000, description: 'offline relay test' });
    carScript.stdin!.write(
      `${JSON.stringify({
        cmd: 'pay',
        lnd: { socket: car.connection.socket, cert: car.connection.cert, macaroon: car.connection.macaroon },
        peer: { pubkey: net.router.pubkey, port: routerLocal },
        request: invoice.request,
        maxFeeSat: 50,
      })}\n`,
    );
    const paid = (await lines.next(300_000)) as {
      paid: boolean;
      secret?: string;
      hops?: number;
      error?: string;
    };
    expect(paid.error).toBeUndefined();
    expect(paid.paid).toBe(true);
    expect(paid.hops).toBe(2);
    expect(createHash('sha256').update(Buffer.from(paid.secret!, 'hex')).digest('hex')).toBe(invoice.id);
    expect((await getInvoice({ lnd: wall, id: invoice.id })).is_confirmed).toBe(true);

    const stats = relay.stats();
    expect(stats.opened).toBeGreaterThanOrEqual(2); // chain backend + channel partner
    expect(stats.bytesUp).toBeGreaterThan(0);
    expect(stats.bytesDown).toBeGreaterThan(0);
    expect(refusals.filter((r) => r !== 'RELAY_DESTINATION_REFUSED')).toEqual([]);
  }, 600_000);
});
