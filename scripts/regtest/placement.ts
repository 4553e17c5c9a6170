/**
 * Where a regtest lnd runs: the host's network (the default), or a network namespace (offline tests: a node
 * whose only network is the cable link). A node moved into a namespace keeps its data, key, ports and
 * channels; only the addresses it reaches and listens on change:
 *   - `btcdRpcHost`: its chain backend as seen from inside the namespace (a forward through an uplink or the
 *     wall's relay);
 *   - `listenHost`: the address its Lightning peer port listens on (e.g. `0.0.0.0`, so the peer across the cable
 *     can reach it on the cable's address).
 * Its gRPC port stays on 127.0.0.1 inside the namespace: a daemon in the same namespace reaches it with the
 * network's connection file unchanged; from the host it is unreachable, so readiness is checked with lncli run
 * inside the namespace.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { startDaemon, stopDaemon } from './processes.js';

const run = promisify(execFile);

/** Where and how a node runs (all absent = on the host, as started by the network). */
export interface NodePlacement {
  /** network namespace name (`ip netns`); absent = the host's */
  netns?: string;
  /** chain backend `host:port` as seen from where the node runs; absent = the network's btcd */
  btcdRpcHost?: string;
  /** address its peer port listens on; absent = 127.0.0.1 */
  listenHost?: string;
}

/** The node did not become ready inside its namespace. */
export class NamespacedNodeNotReady extends Error {
  override name = 'NamespacedNodeNotReady';
}

/** Rewrites lnd's arguments for a placement (same data and ports).

  @param args the node's lnd arguments on the host
  @param placement where it runs
  @returns the arguments to use
*/
export function placedLndArgs(args: string[], placement: NodePlacement): string[] {
  return args.map((a) => {
    if (placement.btcdRpcHost !== undefined && a.startsWith('--btcd.rpchost='))
      return `--btcd.rpchost=${placement.btcdRpcHost}`;
    if (placement.listenHost !== undefined && a.startsWith('--listen=')) {
      const port = a.slice(a.lastIndexOf(':') + 1);
      return `--listen=${placement.listenHost}:${port}`;
    }
    return a;
  });
}

/** The program and arguments that start lnd at a placement.

  @param lndPath path of the lnd binary
  @param args lnd's arguments (already placed)
  @param placement where it runs
  @returns {bin, args} for a process spawn
*/
export function placedCommand(
  lndPath: string,
  args: string[],
  placement: NodePlacement,
): { bin: string; args: string[] } {
  // `ip netns exec` execs the program in place (same pid), so the pid file names lnd itself
  return placement.netns === undefined
    ? { bin: lndPath, args }
    : { bin: 'ip', args: ['netns', 'exec', placement.netns, lndPath, ...args] };
}

/** Waits until an lnd inside a namespace answers getinfo (and, if asked, is synced to the chain), asking with
  lncli run inside the namespace.

  {
    netns: <Namespace Name String>
    lncliPath: <Path String>
    nodeDir: <lnd Folder Path String>
    rpcPort: <gRPC Port Number> (on 127.0.0.1 inside the namespace)
    synced: <Also Wait Until Synced To Chain Bool>
    timeoutMs: <Real Milliseconds Number>
  }

  @returns {public_key, synced_to_chain}
  @throws NamespacedNodeNotReady with lncli's last answer
*/
export async function waitForNodeInNamespace(a: {
  netns: string;
  lncliPath: string;
  nodeDir: string;
  rpcPort: number;
  synced: boolean;
  timeoutMs: number;
}): Promise<{ public_key: string; synced_to_chain: boolean }> {
  const deadline = Date.now() + a.timeoutMs;
  let last = '';
  for (;;) {
    try {
      const { stdout } = await run(
        'ip',
        [
          ...['netns', 'exec', a.netns, a.lncliPath, '--network=regtest'],
          `--rpcserver=127.0.0.1:${a.rpcPort}`,
          `--tlscertpath=${join(a.nodeDir, 'tls.cert')}`,
          `--macaroonpath=${join(a.nodeDir, 'data', 'chain', 'bitcoin', 'regtest', 'admin.macaroon')}`,
          'getinfo',
        ],
        { timeout: 10_000 },
      );
      const info = JSON.parse(stdout) as { identity_pubkey: string; synced_to_chain: boolean };
      if (!a.synced || info.synced_to_chain)
        return { public_key: info.identity_pubkey, synced_to_chain: info.synced_to_chain };
      last = 'not synced to chain yet';
    } catch (err) {
      const e = err as Error & { stderr?: string };
      last = (e.stderr || e.message).trim();
    }
    if (Date.now() > deadline)
      throw new NamespacedNodeNotReady(`lnd in namespace ${a.netns} not ready: ${last}`);
    await sleep(500);
  }
}

/** A chain backend (btcd) running inside a namespace. */
export interface NamespacedChainBackend {
  /** daemon name of its pid file */
  name: string;
  stop(): Promise<void>;
}

/** Starts a btcd inside a namespace that follows the network's btcd as a peer (through the namespace's uplink),
  with the same RPC port, credentials and TLS certificate, so a node moved there keeps its chain arguments and
  still gets answers when the uplink is gone (a charger with its own chain backend: offline, it sees no new
  blocks but its node keeps answering). Returns once it has the host btcd's height.

  {
    netns: <Namespace Name String>
    stateDir: <Network State Folder Path String> (pid file, data in `btcd-<netns>/`)
    btcdPath, btcctlPath: <Binary Path String>
    rpc: {rpcHost, rpcUser, rpcPass, rpcCertPath}: the network btcd's RPC settings (its port is reused)
    rpcKeyPath: <TLS Key Path String> of the network btcd
    upstreamP2p: <host:port> the network btcd's peer port as reached from the namespace
    height: <Block Height Number> to reach
    timeoutMs: <Real Milliseconds Number>
  }

  @returns <NamespacedChainBackend>
  @throws NamespacedNodeNotReady when it does not reach the height in time (it is stopped then)
*/
export async function startChainBackendInNamespace(a: {
  netns: string;
  stateDir: string;
  btcdPath: string;
  btcctlPath: string;
  rpc: { rpcHost: string; rpcUser: string; rpcPass: string; rpcCertPath: string };
  rpcKeyPath: string;
  upstreamP2p: string;
  height: number;
  timeoutMs: number;
}): Promise<NamespacedChainBackend> {
  const name = `btcd-${a.netns}`;
  const dir = join(a.stateDir, name);
  const rpcPort = a.rpc.rpcHost.slice(a.rpc.rpcHost.lastIndexOf(':') + 1);
  const rpcArgs = [
    `--rpcuser=${a.rpc.rpcUser}`,
    `--rpcpass=${a.rpc.rpcPass}`,
    `--rpccert=${a.rpc.rpcCertPath}`,
  ];
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'btcd.conf'), '');
  startDaemon({
    dir: a.stateDir,
    name,
    bin: 'ip',
    args: [
      ...['netns', 'exec', a.netns, a.btcdPath, '--regtest'],
      `--configfile=${join(dir, 'btcd.conf')}`,
      `--datadir=${join(dir, 'data')}`,
      `--logdir=${join(dir, 'logs')}`,
      `--rpckey=${a.rpcKeyPath}`,
      ...rpcArgs,
      `--rpclisten=127.0.0.1:${rpcPort}`,
      '--nolisten',
      `--connect=${a.upstreamP2p}`,
      '--nodnsseed',
    ],
  });
  const stop = async (): Promise<void> => void (await stopDaemon(a.stateDir, name));
  const deadline = Date.now() + a.timeoutMs;
  let last = '';
  for (;;) {
    try {
      const { stdout } = await run('ip', [
        ...['netns', 'exec', a.netns, a.btcctlPath, '--regtest', '--rpcserver=127.0.0.1:' + rpcPort],
        ...rpcArgs,
        'getblockcount',
      ]);
      const height = Number(stdout.trim());
      if (height >= a.height) return { name, stop };
      last = `at height ${height} of ${a.height}`;
    } catch (err) {
      const e = err as Error & { stderr?: string };
      last = (e.stderr || e.message).trim();
    }
    if (Date.now() > deadline) {
      await stop();
      throw new NamespacedNodeNotReady(`btcd in namespace ${a.netns} not synced: ${last}`);
    }
    await sleep(300);
  }
}
