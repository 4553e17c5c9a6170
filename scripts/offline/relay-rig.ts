/**
 * A car without signal, on real regtest nodes: an extra lnd ("the car") with channels to the router and to the
 * wall, moved into a network namespace whose only interface is the cable's veth to the host (the wall's side),
 * reaching its chain backend and its peers only through the wall's blind relay. Shared by the offline e2e test
 * and `npm run bench -- offline`.
 *
 * The car's side runs in the namespace as a child process (test/support/relay-car.ts: the relay forwards and a
 * Lightning client of the car's lnd), driven by JSON lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { authenticatedLndGrpc, createInvoice, getInvoice } from 'lightning';
import { SystemClock } from '../../hardware/clock.js';
import {
  BlindRelay,
  RELAY_DEFAULTS,
  type RelayRefusal,
  type RelayStats,
} from '../../hardware/relay/blind-relay.js';
import { createNamespaceBesideHost, type NamespaceBesideHost } from '../../test/support/netns.js';
import {
  fundNodeOnChain,
  openChannelBetween,
  startExtraNode,
  up,
  type ExtraNode,
  type NodeConnection,
} from '../regtest/network.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** What the car reports for one payment. */
export interface CarPayment {
  paid: boolean;
  secret?: string;
  hops?: number;
  feeMsat?: string;
  error?: string;
  /** the wall invoice's payment hash */
  paymentHash: string;
  /** whether the wall's node shows it settled */
  settledAtWall: boolean;
}

/** The running rig. */
export interface RelayRig {
  wall: NodeConnection;
  router: NodeConnection;
  /** every refusal the relay made, in order */
  refusals: RelayRefusal[];
  relayStats(): RelayStats;
  /** the car pays a fresh wall invoice of `tokens` sat, connecting first to `peer` ('router' or 'wall') */
  pay(peer: 'router' | 'wall', tokens: number): Promise<CarPayment>;
  /** the car tries to reach the wall's own lnd gRPC port through the relay: 'closed' when refused */
  probeWallGrpc(): Promise<'open' | 'closed'>;
  close(): Promise<void>;
}

/** JSON lines from a child process, awaited one by one (`next(timeoutMs)` throws on timeout). */
export class Lines {
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
      if (Date.now() > deadline) throw new Error('timeout waiting for the car process');
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 500);
      });
    }
    return this.queue.shift()!;
  }
}

const portOf = (hostPort: string): number => Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));

/** Builds the rig on the walk-up regtest network (brought up if needed).

  {
    log: <Progress Line Function>
  }

  @returns <RelayRig>
  @throws Error naming the step that failed (namespaces need root and iproute2)
*/
export async function startRelayRig(args: { log: (line: string) => void }): Promise<RelayRig> {
  const { connection } = await up({ walkup: true, log: args.log });
  const { wall, router } = connection.nodes;
  if (!router) throw new Error('regtest: the walk-up network has no router');
  let car: ExtraNode | undefined;
  let ns: NamespaceBesideHost | undefined;
  let relay: BlindRelay | undefined;
  let carScript: ChildProcess | undefined;
  let carInNamespace = false;
  const close = async (): Promise<void> => {
    carScript?.stdin?.end();
    carScript?.kill('SIGTERM');
    if (carInNamespace) await car?.stop();
    await relay?.close();
    ns?.destroy();
    if (car) {
      await car.start(); // back on the host's network, so its channels close cooperatively
      await car.destroy();
    }
  };
  try {
    car = await startExtraNode('offline-car');
    await fundNodeOnChain({ to: car.connection, amountSat: 5_000_000 });
    await openChannelBetween({ from: car.connection, to: router, capacitySat: 2_000_000 });
    await openChannelBetween({ from: car.connection, to: wall, capacitySat: 2_000_000 });
    ns = await createNamespaceBesideHost();
    const btcdRpc = connection.btcd.rpcHost;
    const wallGrpc = wall.socket.replace(/^localhost:/, '127.0.0.1:');

    // the wall (host namespace) offers the relay on its end of the cable; only the car's address may use it,
    // and only the chain backend and the peer ports of the router and the wall's own node are opened to it here
    const refusals: RelayRefusal[] = [];
    relay = new BlindRelay({
      listenHost: `${ns.hostLinkLocal}%${ns.hostIf}`,
      port: 0,
      rules: {
        ports: [9735],
        allow: [btcdRpc, router.p2pSocket, wall.p2pSocket].map((hp) => `127.0.0.1/32:${portOf(hp)}`),
      },
      limits: RELAY_DEFAULTS,
      clock: new SystemClock(),
      authorize: (remote) => remote.split('%')[0] === ns!.nsLinkLocal,
    });
    relay.on('refused', (e) => {
      refusals.push(e.reason);
      args.log(`relay refused ${e.reason}: ${e.detail}`);
    });
    const relayPort = await relay.listen();

    // the car's forwards (inside its namespace): chain backend, router, wall's gRPC (an attack), wall's peer port
    carScript = spawn(
      'ip',
      [
        ...['netns', 'exec', ns.ns, join(repo, 'node_modules', '.bin', 'tsx')],
        join(repo, 'test', 'support', 'relay-car.ts'),
        ...['--relay', `${ns.hostLinkLocal}%${ns.nsIf}`, '--relay-port', String(relayPort)],
        ...['--to', btcdRpc, '--to', router.p2pSocket, '--to', wallGrpc, '--to', wall.p2pSocket],
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const lines = new Lines(carScript);
    const { ports } = (await lines.next(60_000)) as { ports: number[] };
    const [btcdLocal, routerLocal, wallGrpcLocal, wallP2pLocal] = ports as [number, number, number, number];

    // move the car's lnd into the namespace: same data, chain backend through the relay
    await car.stop();
    await car.start({ netns: ns.ns, btcdRpcHost: `127.0.0.1:${btcdLocal}` });
    carInNamespace = true;

    const wallLnd = authenticatedLndGrpc({
      cert: wall.cert,
      macaroon: wall.macaroon,
      socket: wall.socket,
    }).lnd;
    const carConnection = car.connection;
    const send = (command: object): void => void carScript!.stdin!.write(`${JSON.stringify(command)}\n`);
    return {
      wall,
      router,
      refusals,
      relayStats: () => relay!.stats(),
      async pay(peer, tokens) {
        const invoice = await createInvoice({
          lnd: wallLnd,
          tokens,
          description: 'boltcharge offline relay',
        });
        const target = peer === 'router' ? router : wall;
        send({
          cmd: 'pay',
          lnd: { socket: carConnection.socket, cert: carConnection.cert, macaroon: carConnection.macaroon },
          peer: { pubkey: target.pubkey, port: peer === 'router' ? routerLocal : wallP2pLocal },
          request: invoice.request,
          maxFeeSat: 50,
        });
        const paid = (await lines.next(300_000)) as Omit<CarPayment, 'paymentHash' | 'settledAtWall'>;
        const settledAtWall = (await getInvoice({ lnd: wallLnd, id: invoice.id })).is_confirmed;
        return { ...paid, paymentHash: invoice.id, settledAtWall };
      },
      async probeWallGrpc() {
        send({ cmd: 'probe', port: wallGrpcLocal });
        return ((await lines.next(30_000)) as { probe: 'open' | 'closed' }).probe;
      },
      close,
    };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}
