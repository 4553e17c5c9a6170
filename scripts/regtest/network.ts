// The regtest Lightning network: btcd (regtest, TLS RPC) and two lnd nodes, `wall` and `vehicle`, with a
// vehicle→wall channel. Used by `npm run regtest`, the vitest global setup, the demo and end-to-end tests.
// Opt-in walk-up topology (`up({walkup: true})`, `npm run regtest -- up --walkup`): two more lnd nodes, `router`
// (channel router→wall) and `phone` (its only channel phone→router), so a phone's payment to the wall is
// multi-hop with real CLTV deltas.
// Opt-in split topology (`up({split: true})`, `npm run regtest -- up --split`): a third lnd node `operator`
// with a wall→operator channel, the payee of split payouts (issue 14).
//
// State lives in `.regtest/network/` (git-ignored): pid files, logs, data folders, the miner key and the
// connection file `connection.json` that daemons, tests and the demo read.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  addPeer,
  authenticatedLndGrpc,
  closeChannel,
  createInvoice,
  createChainAddress,
  getChainBalance,
  getChannelBalance,
  getChannels,
  getWalletInfo,
  grantAccess,
  openChannel,
  payViaPaymentRequest,
  sendToChainAddress,
  sendToChainAddresses,
  type AuthenticatedLnd,
} from 'lightning';
import { INVOICE_ONLY_PERMISSIONS, LND_HOLD_EXPIRY_DELTA_BLOCKS } from '../../lightning/lnd-hold-invoices.js';
import { btcdRpc, type BtcdRpcConfig } from './btcd-rpc.js';
import { createMiningKey, signP2pkhSpend, type MiningKey } from './coinbase-wallet.js';
import {
  placedCommand,
  placedLndArgs,
  startChainBackendInNamespace,
  waitForNodeInNamespace,
  type NamespacedChainBackend,
  type NodePlacement,
} from './placement.js';
import { runningPid, startDaemon, stopDaemon } from './processes.js';
import { freePorts } from '../free-ports.js';

/** Names of the two nodes every network has. */
export type NodeName = 'wall' | 'vehicle';

/** Names of the opt-in walk-up nodes. */
export type WalkupNodeName = 'router' | 'phone';

/** Name of the opt-in split node (the operator who receives a share of every payment). */
export type SplitNodeName = 'operator';

/** How to reach one lnd node (what `lightning/connection.ts` accepts, plus facts about the node). */
export interface NodeConnection {
  /** gRPC `host:port` */
  socket: string;
  /** base64 of lnd's TLS certificate PEM (what ln-service takes) */
  cert: string;
  /** admin macaroon, hex */
  macaroon: string;
  /** file paths of the same certificate and macaroon */
  certPath: string;
  macaroonPath: string;
  /** node identity public key, hex */
  pubkey: string;
  /** peer-to-peer `host:port` */
  p2pSocket: string;
  network: 'regtest';
  /** wall only: an invoice-only macaroon (hex) baked with `INVOICE_ONLY_PERMISSIONS` (can create, settle,
    cancel and watch invoices; can never spend), and its file */
  invoiceMacaroon?: string;
  invoiceMacaroonPath?: string;
}

/** A channel of the network: its funding outpoint and capacity. */
export interface ChannelRef {
  capacitySat: number;
  fundingTxid: string;
  fundingVout: number;
}

/** The connection file `.regtest/network/connection.json`. */
export interface NetworkConnection {
  version: 1;
  network: 'regtest';
  createdAt: string;
  btcd: { rpcHost: string; rpcUser: string; rpcPass: string; rpcCertPath: string; p2pHost: string };
  nodes: Record<NodeName, NodeConnection> &
    Partial<Record<WalkupNodeName, NodeConnection>> &
    Partial<Record<SplitNodeName, NodeConnection>>;
  /** the vehicle→wall channel */
  channel: ChannelRef;
  /** present when the walk-up nodes are up: the router→wall and phone→router channels */
  walkup?: { routerWall: ChannelRef; phoneRouter: ChannelRef };
  /** present when the operator node is up: the wall→operator channel */
  split?: { wallOperator: ChannelRef };
}

/** What `up()` did. */
export interface UpResult {
  connection: NetworkConnection;
  connectionPath: string;
  /** true when the network was already up and healthy (nothing was started) */
  alreadyUp: boolean;
  elapsedMs: number;
}

/** What `status()` found. */
export interface NetworkStatus {
  up: boolean;
  processes: Record<string, number | undefined>;
  blockHeight?: number;
  tipAgeSec?: number;
  nodes: Partial<
    Record<
      NodeName | WalkupNodeName | SplitNodeName,
      {
        pubkey: string;
        synced: boolean;
        onchainSat: number;
        channelLocalMsat: string;
        channelRemoteMsat: string;
        channels: { active: boolean; capacitySat: number; localSat: number; remoteSat: number }[];
      }
    >
  >;
  problems: string[];
}

/** Where `up()` prints progress; default stderr. */
export type Logger = (line: string) => void;

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHANNEL_SAT = 10_000_000;
const MIN_VEHICLE_LOCAL_SAT = 2_000_000;
const VEHICLE_FUNDING_SAT = 1_000_000_000n; // 10 BTC
const WALL_FUNDING_SAT = 100_000_000n; // 1 BTC
const FUNDING_FEE_SAT = 10_000n;
const SEGWIT_SAFE_HEIGHT = 532; // segwit activates at 432 on btcd regtest
const TIP_REFRESH_SEC = 30 * 60; // lnd calls a tip older than 2 h unsynced; refresh well before
const NODE_NAMES: NodeName[] = ['wall', 'vehicle'];
const WALKUP_NODE_NAMES: WalkupNodeName[] = ['router', 'phone'];
const SPLIT_NODE_NAMES: SplitNodeName[] = ['operator'];
const WALKUP_CHANNEL_SAT = 5_000_000;
const WALKUP_FUNDING_SAT = 20_000_000; // each of router and phone: channel + fees
const MIN_PHONE_LOCAL_SAT = 1_000_000;
const ANNOUNCEMENT_CONFS = 6;
const OPERATOR_CHANNEL_SAT = 5_000_000;
const MIN_WALL_TO_OPERATOR_SAT = 1_000_000; // public channels are announced (and routable by others) after 6 confirmations

/** The folder holding the network's state (override with BOLTCHARGE_REGTEST_DIR). */
export function networkDir(): string {
  return process.env.BOLTCHARGE_REGTEST_DIR ?? join(repoRoot, '.regtest', 'network');
}

/** The regtest binaries folder (override with BOLTCHARGE_REGTEST_BIN). */
export function binDir(): string {
  return process.env.BOLTCHARGE_REGTEST_BIN ?? join(repoRoot, '.regtest', 'bin');
}

/** Path of the connection file. */
export function connectionFilePath(): string {
  return join(networkDir(), 'connection.json');
}

/** The regtest toolchain is missing: names what is missing and how to build it. */
export class RegtestToolsMissing extends Error {
  override readonly name = 'RegtestToolsMissing';
}

/** Checks that lnd, lncli, btcd and btcctl are built; throws RegtestToolsMissing naming what is missing. */
export function checkTools(): void {
  const missing = ['lnd', 'btcd'].filter((b) => !existsSync(join(binDir(), b)));
  if (missing.length > 0) {
    throw new RegtestToolsMissing(
      `regtest toolchain missing: ${missing.join(', ')} not found in ${binDir()}. ` +
        `Build it with 'bash scripts/build-regtest-tools.sh' (needs Go >= 1.24; 'npm test' and 'npm run demo' ` +
        `do this through scripts/setup.mjs).`,
    );
  }
}

/** Reads the connection file written by `up()`.

  {
    [path]: <Connection File Path String> (default: `connectionFilePath()`)
  }

  @returns <NetworkConnection>
  @throws Error when the file is missing (the network was never brought up)
*/
export function readConnection(path = connectionFilePath()): NetworkConnection {
  if (!existsSync(path)) {
    throw new Error(`no regtest connection file at ${path}: run 'npm run regtest -- up' first`);
  }
  return JSON.parse(readFileSync(path, 'utf8')) as NetworkConnection;
}

/** Brings the network up, or confirms it is up. Idempotent: when every process is running and both nodes
  answer with an active channel it only refreshes a stale chain tip and returns. When the vehicle's side of
  the channel has fallen below 2,000,000 sat (drained by many runs) the network is rebuilt.

  A half-started or crashed network is stopped and started again from scratch.

  With `split`, also brings up (or confirms) the operator node with a wall→operator channel, rebuilt alone
  when unhealthy or when the wall's side has fallen below 1,000,000 sat.

  With `walkup`, also brings up (or confirms) the walk-up nodes `router` and `phone` with router→wall and
  phone→router channels; they are rebuilt alone when unhealthy or when the phone's side has fallen below
  1,000,000 sat. Without it, walk-up nodes already running are left alone (plain `up` stays fast).

  {
    [log]: <Progress Line Function> (default: stderr)
    [walkup]: <Also Bring Up The Router And Phone Nodes Bool> (default false)
    [split]: <Also Bring Up The Operator Node Bool> (default false)
  }

  @returns <UpResult>
  @throws RegtestToolsMissing when binaries are not built; Error when a step times out (names the step and log)
*/
export async function up(opts: { log?: Logger; walkup?: boolean; split?: boolean } = {}): Promise<UpResult> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`regtest: ${line}\n`));
  const started = performance.now();
  checkTools();
  mkdirSync(networkDir(), { recursive: true });
  return withLock(async () => {
    const healthy = await healthyConnection();
    if (healthy) {
      await refreshTip(healthy);
      const walkup = opts.walkup ? await ensureWalkup(healthy, log) : { connection: healthy, started: false };
      const split = opts.split
        ? await ensureOperator(walkup.connection, log)
        : { connection: walkup.connection, started: false };
      return {
        connection: split.connection,
        connectionPath: connectionFilePath(),
        alreadyUp: !walkup.started && !split.started,
        elapsedMs: performance.now() - started,
      };
    }
    await stopAll(log);
    const base = await coldStart(log);
    const withWalkup = opts.walkup ? (await ensureWalkup(base, log)).connection : base;
    const connection = opts.split ? (await ensureOperator(withWalkup, log)).connection : withWalkup;
    return {
      connection,
      connectionPath: connectionFilePath(),
      alreadyUp: false,
      elapsedMs: performance.now() - started,
    };
  });
}

/** Stops every process the network started (found through pid files, also after a crash) and keeps the
  state folder for inspection; the next `up()` starts afresh.

  @returns {stopped: [<Daemon Name String>]}
*/
export async function down(opts: { log?: Logger } = {}): Promise<{ stopped: string[] }> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`regtest: ${line}\n`));
  if (!existsSync(networkDir())) return { stopped: [] };
  return withLock(async () => ({ stopped: await stopAll(log) }));
}

/** Mines `n` blocks (rewards go to the miner key) and returns the new height. */
export async function mine(n: number): Promise<{ height: number }> {
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new RangeError(`mine: n must be 1..10000, got ${n}`);
  const rpc = btcdConfig(readConnection());
  await btcdRpc(rpc, 'generate', [n], 300_000);
  return { height: await btcdRpc<number>(rpc, 'getblockcount') };
}

/** Reports processes, block height, balances and channel state; never throws for a down network. */
export async function status(): Promise<NetworkStatus> {
  const dir = networkDir();
  const result: NetworkStatus = { up: false, processes: {}, nodes: {}, problems: [] };
  for (const name of ['btcd', ...NODE_NAMES]) result.processes[name] = runningPid(dir, name);
  for (const name of listPidNames(dir)) result.processes[name] = runningPid(dir, name);
  let connection: NetworkConnection;
  try {
    connection = readConnection();
  } catch (err) {
    result.problems.push((err as Error).message);
    return result;
  }
  try {
    const rpc = btcdConfig(connection);
    result.blockHeight = await btcdRpc<number>(rpc, 'getblockcount', [], 5_000);
    result.tipAgeSec = await tipAgeSec(rpc);
  } catch (err) {
    result.problems.push(`btcd: ${(err as Error).message}`);
  }
  const present = [
    ...NODE_NAMES,
    ...[...WALKUP_NODE_NAMES, ...SPLIT_NODE_NAMES].filter((n) => connection.nodes[n] !== undefined),
  ];
  for (const name of present) {
    const node = connection.nodes[name];
    if (!node) continue;
    const lnd = lndOf(node);
    try {
      const [info, chain, bal, chans] = await Promise.race([
        Promise.all([
          getWalletInfo({ lnd }),
          getChainBalance({ lnd }),
          getChannelBalance({ lnd }),
          getChannels({ lnd }),
        ]),
        sleep(10_000).then(() => Promise.reject(new Error('no answer within 10 s'))),
      ]);
      result.nodes[name] = {
        pubkey: info.public_key,
        synced: info.is_synced_to_chain,
        onchainSat: chain.chain_balance,
        channelLocalMsat: bal.channel_balance_mtokens ?? String(bal.channel_balance * 1000),
        channelRemoteMsat: bal.inbound_mtokens ?? String((bal.inbound ?? 0) * 1000),
        channels: chans.channels.map((c) => ({
          active: c.is_active,
          capacitySat: c.capacity,
          localSat: c.local_balance,
          remoteSat: c.remote_balance,
        })),
      };
    } catch (err) {
      result.problems.push(`${name}: ${describe(err)}`);
    } finally {
      closeLnd(lnd);
    }
  }
  const wall = result.nodes.wall;
  const vehicle = result.nodes.vehicle;
  result.up =
    result.problems.length === 0 &&
    !!wall?.synced &&
    !!vehicle?.synced &&
    (vehicle?.channels.some((c) => c.active) ?? false);
  return result;
}

/** An additional lnd node on the same btcd, for tests that stop, restart or break a node without touching
  `wall` and `vehicle`. Its pid file lives in the network folder, so `down()` stops it too. */
export interface ExtraNode {
  name: string;
  connection: NodeConnection;
  /** stops the lnd process (SIGTERM, then SIGKILL) */
  stop(): Promise<void>;
  /** starts it again on the same ports and data (no-op when running); `placement` runs it in a network
    namespace (scripts/regtest/placement.ts): then it is ready once lncli inside the namespace gets an answer
    and `connection.socket` is reachable only from inside that namespace */
  start(placement?: NodePlacement): Promise<void>;
  /** closes its channels (cooperatively when possible, so partners keep no dead channel), stops it and deletes
    its data */
  destroy(): Promise<void>;
}

/** Starts an extra lnd node `extra-<name>` connected to the network's btcd; the network must be up.

  @returns <ExtraNode>
*/
export async function startExtraNode(name: string): Promise<ExtraNode> {
  if (!/^[a-z0-9-]{1,32}$/.test(name))
    throw new RangeError(`extra node name must be [a-z0-9-]{1,32}: ${name}`);
  const connection = readConnection();
  const dir = networkDir();
  const id = `extra-${name}`;
  const nodeDir = join(dir, id);
  await stopDaemon(dir, id);
  rmSync(nodeDir, { recursive: true, force: true });
  mkdirSync(nodeDir, { recursive: true });
  const [rpcPort, p2pPort] = await freePorts(2);
  const args = lndArgs({ nodeDir, alias: id, rpcPort: rpcPort!, p2pPort: p2pPort!, btcd: connection.btcd });
  launchLnd(dir, id, nodeDir, args);
  const node = await waitForLnd(nodeDir, `localhost:${rpcPort}`, `127.0.0.1:${p2pPort}`, id);
  const stop = async (): Promise<void> => {
    await stopDaemon(dir, id);
  };
  return {
    name: id,
    connection: node,
    stop,
    start: async (placement = {}) => {
      if (runningPid(dir, id) === undefined) launchLnd(dir, id, nodeDir, args, placement);
      await waitForPlacedLnd(nodeDir, node, id, rpcPort!, placement);
    },
    destroy: async () => {
      if (runningPid(dir, id) !== undefined) await closeAllChannels(node, connection).catch(() => undefined);
      await stop();
      rmSync(nodeDir, { recursive: true, force: true });
    },
  };
}

/** Opens a channel between two nodes of the network and waits until both sides see it active.

  {
    from: <Funding NodeConnection> (needs confirmed on-chain funds, e.g. `vehicle`)
    to: <Partner NodeConnection>
    capacitySat: <Channel Capacity Sat Number>
  }

  @returns {fundingTxid: <Hex String>, fundingVout: <Number>}
*/
export async function openChannelBetween(args: {
  from: NodeConnection;
  to: NodeConnection;
  capacitySat: number;
}): Promise<{ fundingTxid: string; fundingVout: number }> {
  const connection = readConnection();
  const rpc = btcdConfig(connection);
  const from = lndOf(args.from);
  const to = lndOf(args.to);
  try {
    await retry('connect the peers', 10, () =>
      addPeer({ lnd: from, public_key: args.to.pubkey, socket: args.to.p2pSocket }),
    );
    const opened = await retry('open the channel', 10, () =>
      openChannel({
        lnd: from,
        partner_public_key: args.to.pubkey,
        partner_socket: args.to.p2pSocket,
        local_tokens: args.capacitySat,
        chain_fee_tokens_per_vbyte: 2,
      }),
    );
    await btcdRpc(rpc, 'generate', [3]);
    await waitFor('the new channel to become active', 90_000, networkDir(), async () => {
      const [a, b] = await Promise.all([getChannels({ lnd: from }), getChannels({ lnd: to })]);
      const isNew = (c: { transaction_id: string; is_active: boolean }) =>
        c.transaction_id === opened.transaction_id && c.is_active;
      return a.channels.some(isNew) && b.channels.some(isNew) ? true : undefined;
    });
    await proveChannelCarriesPayments(from, to);
    return { fundingTxid: opened.transaction_id, fundingVout: opened.transaction_vout };
  } finally {
    closeLnd(from);
    closeLnd(to);
  }
}

/** Sends on-chain funds from the network's `vehicle` wallet to another node (e.g. an extra node that is to
  fund a channel of its own), mines a confirmation and waits until the node sees the confirmed balance.

  {
    to: <Receiving NodeConnection>
    amountSat: <Amount Sat Number>
  }

  @returns {txid: <Funding Transaction Id Hex String>}
*/
export async function fundNodeOnChain(args: {
  to: NodeConnection;
  amountSat: number;
}): Promise<{ txid: string }> {
  if (!Number.isInteger(args.amountSat) || args.amountSat < 10_000)
    throw new RangeError(`fundNodeOnChain: amountSat must be an integer >= 10000, got ${args.amountSat}`);
  const connection = readConnection();
  const rpc = btcdConfig(connection);
  const from = lndOf(connection.nodes.vehicle);
  const to = lndOf(args.to);
  try {
    const before = (await getChainBalance({ lnd: to })).chain_balance;
    const { address } = await createChainAddress({ lnd: to, format: 'p2wpkh' });
    const sent = await retry('send on-chain funds from the vehicle wallet', 10, () =>
      sendToChainAddress({ lnd: from, address, tokens: args.amountSat, fee_tokens_per_vbyte: 2 }),
    );
    await btcdRpc(rpc, 'generate', [1]);
    await waitFor(`${args.amountSat} sat to confirm at ${args.to.pubkey}`, 60_000, networkDir(), async () => {
      const [info, bal] = await Promise.all([getWalletInfo({ lnd: to }), getChainBalance({ lnd: to })]);
      return info.is_synced_to_chain && bal.chain_balance >= before + args.amountSat ? true : undefined;
    });
    return { txid: sent.id };
  } finally {
    closeLnd(from);
    closeLnd(to);
  }
}

/** "active" in getChannels can precede the channel link being ready to carry HTLCs ("insufficient balance"
  for a moment); a first 1-sat payment, retried, proves the channel is usable. */
async function proveChannelCarriesPayments(from: AuthenticatedLnd, to: AuthenticatedLnd): Promise<void> {
  await retry('make a first payment over the new channel', 30, async () => {
    const invoice = await createInvoice({ lnd: to, tokens: 1, description: 'boltcharge regtest readiness' });
    return payViaPaymentRequest({
      lnd: from,
      request: invoice.request,
      max_fee: 0,
      pathfinding_timeout: 10_000,
    });
  });
}

/** Closes every channel of `node` and mines the closing transactions: cooperatively when the channel is active
  and the partner answers within 30 s, else by force (the partner's balance is spendable at once either way). */
async function closeAllChannels(node: NodeConnection, connection: NetworkConnection): Promise<void> {
  const lnd = lndOf(node);
  try {
    const { channels } = await getChannels({ lnd });
    for (const c of channels) {
      const cooperative = c.is_active
        ? await Promise.race([
            closeChannel({ lnd, id: c.id, tokens_per_vbyte: 2 }).then(() => true),
            sleep(30_000).then(() => false),
          ]).catch(() => false)
        : false;
      if (!cooperative) await closeChannel({ lnd, id: c.id, is_force_close: true });
    }
    if (channels.length > 0) await btcdRpc(btcdConfig(connection), 'generate', [1]);
  } finally {
    closeLnd(lnd);
  }
}

/** Waits until `node` has an active channel with `partnerPubkey` (e.g. after the partner restarted). */
export async function waitForActiveChannel(
  node: NodeConnection,
  partnerPubkey: string,
  timeoutMs = 90_000,
): Promise<void> {
  const lnd = lndOf(node);
  try {
    await waitFor(`an active channel with ${partnerPubkey}`, timeoutMs, networkDir(), async () => {
      const { channels } = await getChannels({ lnd, is_active: true });
      return channels.some((c) => c.partner_public_key === partnerPubkey) ? true : undefined;
    });
  } finally {
    closeLnd(lnd);
  }
}

// ---- walk-up topology: phone → router → wall ----------------------------------------------------------

/** Brings up (or confirms) the walk-up nodes on a healthy base network; runs under the network lock.
  Healthy = both processes run, the phone has an active channel to the router with at least 1,000,000 sat on
  its side and the router an active channel to the wall. Otherwise the two nodes are rebuilt from scratch:
  funded on-chain from the vehicle wallet in one transaction, channels opened and confirmed 6 blocks deep (so
  they are announced), and a first phone→wall payment proves the route. */
async function ensureWalkup(
  base: NetworkConnection,
  log: Logger,
): Promise<{ connection: NetworkConnection; started: boolean }> {
  const dir = networkDir();
  let connection = base;
  if (!connection.nodes.wall.invoiceMacaroon) {
    connection = withNode(connection, 'wall', {
      ...connection.nodes.wall,
      ...(await bakeInvoiceOnlyMacaroon(connection.nodes.wall, join(dir, 'wall'))),
    });
    writeConnection(connection);
  }
  if (await walkupHealthy(connection)) return { connection, started: false };

  const t0 = performance.now();
  const lap = (what: string): void =>
    log(`walk-up: ${what} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  // A running router closes its channels first, so the wall keeps no dead channel (and gets its share back).
  const oldRouter = connection.nodes.router;
  if (oldRouter && runningPid(dir, 'router') !== undefined) {
    await closeAllChannels(oldRouter, connection).catch(() => undefined);
  }
  await Promise.all(WALKUP_NODE_NAMES.map((n) => stopDaemon(dir, n)));
  for (const n of WALKUP_NODE_NAMES) rmSync(join(dir, n), { recursive: true, force: true });
  const { walkup: _stale, ...rest } = connection;
  const { router: _r, phone: _p, ...others } = rest.nodes;
  connection = { ...rest, nodes: others };
  writeConnection(connection);

  const ports = await freePorts(4);
  const started: Partial<Record<WalkupNodeName, NodeConnection>> = {};
  await Promise.all(
    WALKUP_NODE_NAMES.map(async (name, i) => {
      const nodeDir = join(dir, name);
      const [rpcPort, p2pPort] = [ports[2 * i]!, ports[2 * i + 1]!];
      launchLnd(
        dir,
        name,
        nodeDir,
        lndArgs({ nodeDir, alias: name, rpcPort, p2pPort, btcd: connection.btcd }),
      );
      started[name] = await waitForLnd(nodeDir, `localhost:${rpcPort}`, `127.0.0.1:${p2pPort}`, name);
    }),
  );
  const router = started.router!;
  const phone = started.phone!;
  lap('router and phone answer');

  const rpc = btcdConfig(connection);
  const vehicleLnd = lndOf(connection.nodes.vehicle);
  const routerLnd = lndOf(router);
  const phoneLnd = lndOf(phone);
  const wallLnd = lndOf(connection.nodes.wall);
  try {
    const [routerAddr, phoneAddr] = await Promise.all(
      [routerLnd, phoneLnd].map((lnd) => createChainAddress({ lnd, format: 'p2wpkh' })),
    );
    await retry('fund router and phone from the vehicle wallet', 10, () =>
      sendToChainAddresses({
        lnd: vehicleLnd,
        fee_tokens_per_vbyte: 2,
        send_to: [
          { address: routerAddr!.address, tokens: WALKUP_FUNDING_SAT },
          { address: phoneAddr!.address, tokens: WALKUP_FUNDING_SAT },
        ],
      }),
    );
    await btcdRpc(rpc, 'generate', [1]);
    await Promise.all(
      [routerLnd, phoneLnd].map((lnd, i) =>
        waitFor(
          `${WALKUP_NODE_NAMES[i]} to see its confirmed funds`,
          90_000,
          lndLog(dir, WALKUP_NODE_NAMES[i]!),
          async () => {
            const [info, bal] = await Promise.all([getWalletInfo({ lnd }), getChainBalance({ lnd })]);
            return info.is_synced_to_chain && bal.chain_balance >= WALKUP_FUNDING_SAT ? true : undefined;
          },
        ),
      ),
    );
    lap('router and phone funded');

    const open = async (
      fromLnd: AuthenticatedLnd,
      to: NodeConnection,
      what: string,
    ): Promise<{ transaction_id: string; transaction_vout: number }> => {
      await retry(`connect ${what}`, 10, () =>
        addPeer({ lnd: fromLnd, public_key: to.pubkey, socket: to.p2pSocket }),
      );
      return retry(`open the ${what} channel`, 10, () =>
        openChannel({
          lnd: fromLnd,
          partner_public_key: to.pubkey,
          partner_socket: to.p2pSocket,
          local_tokens: WALKUP_CHANNEL_SAT,
          chain_fee_tokens_per_vbyte: 2,
          description: `boltcharge regtest ${what}`,
        }),
      );
    };
    const [routerWall, phoneRouter] = await Promise.all([
      open(routerLnd, connection.nodes.wall, 'router→wall'),
      open(phoneLnd, router, 'phone→router'),
    ]);
    await btcdRpc(rpc, 'generate', [ANNOUNCEMENT_CONFS]);
    const isActive = (txid: string) => (c: { transaction_id: string; is_active: boolean }) =>
      c.transaction_id === txid && c.is_active;
    await waitFor('the walk-up channels to become active', 120_000, lndLog(dir, 'router'), async () => {
      const [r, p, w] = await Promise.all([routerLnd, phoneLnd, wallLnd].map((lnd) => getChannels({ lnd })));
      return r!.channels.some(isActive(routerWall.transaction_id)) &&
        r!.channels.some(isActive(phoneRouter.transaction_id)) &&
        p!.channels.some(isActive(phoneRouter.transaction_id)) &&
        w!.channels.some(isActive(routerWall.transaction_id))
        ? true
        : undefined;
    });
    lap('walk-up channels active');
    // The phone learns the router→wall channel from gossip; a paid invoice proves the two-hop route works.
    await retry('make a first phone→router→wall payment', 90, async () => {
      const invoice = await createInvoice({
        lnd: wallLnd,
        tokens: 1,
        description: 'boltcharge walk-up readiness',
      });
      return payViaPaymentRequest({
        lnd: phoneLnd,
        request: invoice.request,
        max_fee: 10,
        pathfinding_timeout: 10_000,
      });
    });
    lap('phone pays the wall through the router');

    connection = {
      ...connection,
      nodes: { ...connection.nodes, router, phone },
      walkup: {
        routerWall: {
          capacitySat: WALKUP_CHANNEL_SAT,
          fundingTxid: routerWall.transaction_id,
          fundingVout: routerWall.transaction_vout,
        },
        phoneRouter: {
          capacitySat: WALKUP_CHANNEL_SAT,
          fundingTxid: phoneRouter.transaction_id,
          fundingVout: phoneRouter.transaction_vout,
        },
      },
    };
    writeConnection(connection);
    return { connection, started: true };
  } finally {
    [vehicleLnd, routerLnd, phoneLnd, wallLnd].forEach(closeLnd);
  }
}

/** True when the walk-up nodes of the connection file run and their channels are active and not drained. */
async function walkupHealthy(connection: NetworkConnection): Promise<boolean> {
  const { router, phone } = connection.nodes;
  const dir = networkDir();
  if (!router || !phone || !connection.walkup) return false;
  if (WALKUP_NODE_NAMES.some((n) => runningPid(dir, n) === undefined)) return false;
  const routerLnd = lndOf(router);
  const phoneLnd = lndOf(phone);
  try {
    const answers = await Promise.race([
      Promise.all([
        getChannels({ lnd: routerLnd, is_active: true }),
        getChannels({ lnd: phoneLnd, is_active: true }),
      ]),
      sleep(10_000).then(() => undefined),
    ]);
    if (!answers) return false;
    const [r, p] = answers;
    const toWall = r.channels.some((c) => c.partner_public_key === connection.nodes.wall.pubkey);
    const phoneLocal = p.channels
      .filter((c) => c.partner_public_key === router.pubkey)
      .reduce((sum, c) => sum + c.local_balance, 0);
    return toWall && phoneLocal >= MIN_PHONE_LOCAL_SAT;
  } catch {
    return false;
  } finally {
    closeLnd(routerLnd);
    closeLnd(phoneLnd);
  }
}

// ---- split topology: wall → operator ------------------------------------------------------------------

/** Brings up (or confirms) the operator node on a healthy base network; runs under the network lock.
  Healthy = its process runs and the wall has an active channel to it with at least 1,000,000 sat on the wall's
  side. Otherwise it is rebuilt: started afresh, the wall opens a 5,000,000-sat channel to it from its own
  on-chain funds, and a first wall→operator payment proves the channel. */
async function ensureOperator(
  base: NetworkConnection,
  log: Logger,
): Promise<{ connection: NetworkConnection; started: boolean }> {
  const dir = networkDir();
  let connection = base;
  if (await operatorHealthy(connection)) return { connection, started: false };
  const t0 = performance.now();
  const lap = (what: string): void =>
    log(`split: ${what} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  const old = connection.nodes.operator;
  if (old && runningPid(dir, 'operator') !== undefined) {
    await closeAllChannels(old, connection).catch(() => undefined);
  }
  await stopDaemon(dir, 'operator');
  rmSync(join(dir, 'operator'), { recursive: true, force: true });
  const { split: _stale, ...rest } = connection;
  const { operator: _o, ...others } = rest.nodes;
  connection = { ...rest, nodes: others };
  writeConnection(connection);

  const [rpcPort, p2pPort] = await freePorts(2);
  const nodeDir = join(dir, 'operator');
  launchLnd(
    dir,
    'operator',
    nodeDir,
    lndArgs({ nodeDir, alias: 'operator', rpcPort: rpcPort!, p2pPort: p2pPort!, btcd: connection.btcd }),
  );
  const operator = await waitForLnd(nodeDir, `localhost:${rpcPort}`, `127.0.0.1:${p2pPort}`, 'operator');
  lap('operator answers');
  const opened = await openChannelBetween({
    from: connection.nodes.wall,
    to: operator,
    capacitySat: OPERATOR_CHANNEL_SAT,
  });
  lap('wall→operator channel active and carries payments');
  connection = {
    ...connection,
    nodes: { ...connection.nodes, operator },
    split: { wallOperator: { capacitySat: OPERATOR_CHANNEL_SAT, ...opened } },
  };
  writeConnection(connection);
  return { connection, started: true };
}

/** True when the operator node of the connection file runs and the wall has a usable channel to it. */
async function operatorHealthy(connection: NetworkConnection): Promise<boolean> {
  const operator = connection.nodes.operator;
  if (!operator || !connection.split || runningPid(networkDir(), 'operator') === undefined) return false;
  const wallLnd = lndOf(connection.nodes.wall);
  try {
    const answer = await Promise.race([
      getChannels({ lnd: wallLnd, is_active: true }),
      sleep(10_000).then(() => undefined),
    ]);
    const local = (answer?.channels ?? [])
      .filter((c) => c.partner_public_key === operator.pubkey)
      .reduce((sum, c) => sum + c.local_balance, 0);
    return local >= MIN_WALL_TO_OPERATOR_SAT;
  } catch {
    return false;
  } finally {
    closeLnd(wallLnd);
  }
}

/** Stops and starts the operator node on the same ports and data (for tests of an unreachable payee).

  @returns {stop: <Stop Function>, start: <Start And Wait Until It Answers Function>}
  @throws Error when the operator node is not part of the network (bring it up with `up({split: true})`)
*/
export function operatorControl(): { stop(): Promise<void>; start(): Promise<void> } {
  const connection = readConnection();
  const operator = connection.nodes.operator;
  if (!operator) throw new Error("regtest: no operator node; run 'npm run regtest -- up --split'");
  const dir = networkDir();
  const nodeDir = join(dir, 'operator');
  const rpcPort = Number(operator.socket.split(':').pop());
  const p2pPort = Number(operator.p2pSocket.split(':').pop());
  return {
    stop: async () => {
      await stopDaemon(dir, 'operator');
    },
    start: async () => {
      if (runningPid(dir, 'operator') === undefined) {
        launchLnd(
          dir,
          'operator',
          nodeDir,
          lndArgs({ nodeDir, alias: 'operator', rpcPort, p2pPort, btcd: connection.btcd }),
        );
      }
      await waitForLnd(nodeDir, operator.socket, operator.p2pSocket, 'operator');
    },
  };
}

/** Bakes an invoice-only macaroon (`INVOICE_ONLY_PERMISSIONS`; like `lncli bakemacaroon invoices:read
  invoices:write info:read`) on a node with its admin macaroon and writes it beside the node's data.

  @returns {invoiceMacaroon: <Hex String>, invoiceMacaroonPath: <Path String>}
*/
async function bakeInvoiceOnlyMacaroon(
  node: NodeConnection,
  nodeDir: string,
): Promise<{ invoiceMacaroon: string; invoiceMacaroonPath: string }> {
  const lnd = lndOf(node);
  try {
    const granted = await retry('bake an invoice-only macaroon', 10, () =>
      grantAccess({ lnd, permissions: [...INVOICE_ONLY_PERMISSIONS] }),
    );
    const macaroon = Buffer.from(granted.macaroon, 'base64');
    const invoiceMacaroonPath = join(nodeDir, 'invoice-only.macaroon');
    writeFileSync(invoiceMacaroonPath, macaroon, { mode: 0o600 });
    return { invoiceMacaroon: macaroon.toString('hex'), invoiceMacaroonPath };
  } finally {
    closeLnd(lnd);
  }
}

function withNode(
  connection: NetworkConnection,
  name: NodeName | WalkupNodeName | SplitNodeName,
  node: NodeConnection,
): NetworkConnection {
  return { ...connection, nodes: { ...connection.nodes, [name]: node } };
}

/** Writes the connection file atomically (readers never see half a file). */
function writeConnection(connection: NetworkConnection): void {
  const tmp = `${connectionFilePath()}.tmp`;
  writeFileSync(tmp, JSON.stringify(connection, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, connectionFilePath());
}

// ---------------------------------------------------------------------------------------------------------

async function coldStart(log: Logger): Promise<NetworkConnection> {
  const dir = networkDir();
  const t0 = performance.now();
  const lap = (what: string): void => log(`${what} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  for (const entry of [
    'btcd',
    ...NODE_NAMES,
    ...WALKUP_NODE_NAMES,
    ...SPLIT_NODE_NAMES,
    'connection.json',
    'miner.json',
  ]) {
    rmSync(join(dir, entry), { recursive: true, force: true });
  }
  for (const entry of readdirSync(dir)) {
    if (entry.startsWith('extra-')) rmSync(join(dir, entry), { recursive: true, force: true });
  }
  const [btcdRpcPort, btcdP2pPort, wallRpc, wallP2p, vehicleRpc, vehicleP2p] = await freePorts(6);
  const miner: MiningKey = createMiningKey();
  writeFileSync(join(dir, 'miner.json'), JSON.stringify(miner, null, 2), { mode: 0o600 });
  const btcdDir = join(dir, 'btcd');
  mkdirSync(btcdDir, { recursive: true });
  const btcd = {
    rpcHost: `127.0.0.1:${btcdRpcPort}`,
    rpcUser: 'boltcharge',
    rpcPass: randomBytes(12).toString('hex'),
    rpcCertPath: join(btcdDir, 'rpc.cert'),
    p2pHost: `127.0.0.1:${btcdP2pPort}`,
  };

  log(`starting btcd (rpc ${btcd.rpcHost})`);
  writeFileSync(join(btcdDir, 'btcd.conf'), '');
  startDaemon({
    dir,
    name: 'btcd',
    bin: join(binDir(), 'btcd'),
    args: [
      '--regtest',
      `--configfile=${join(btcdDir, 'btcd.conf')}`,
      `--datadir=${join(btcdDir, 'data')}`,
      `--logdir=${join(btcdDir, 'logs')}`,
      `--rpccert=${btcd.rpcCertPath}`,
      `--rpckey=${join(btcdDir, 'rpc.key')}`,
      `--rpcuser=${btcd.rpcUser}`,
      `--rpcpass=${btcd.rpcPass}`,
      `--rpclisten=${btcd.rpcHost}`,
      `--listen=${btcd.p2pHost}`,
      `--miningaddr=${miner.address}`,
      '--txindex',
      '--nodnsseed',
      '--debuglevel=info',
    ],
  });
  const rpcCert = await waitFor('btcd RPC certificate', 30_000, join(dir, 'btcd.out.log'), async () =>
    existsSync(btcd.rpcCertPath) ? readFileSync(btcd.rpcCertPath, 'utf8') : undefined,
  );
  const rpc: BtcdRpcConfig = { host: btcd.rpcHost, user: btcd.rpcUser, pass: btcd.rpcPass, certPem: rpcCert };
  await waitFor('btcd RPC', 30_000, join(dir, 'btcd.out.log'), async () => {
    try {
      return (await btcdRpc<number>(rpc, 'getblockcount', [], 2_000)) + 1;
    } catch {
      return undefined;
    }
  });
  lap('btcd up');

  const nodePorts: Record<NodeName, [number, number]> = {
    wall: [wallRpc!, wallP2p!],
    vehicle: [vehicleRpc!, vehicleP2p!],
  };
  for (const name of NODE_NAMES) {
    const nodeDir = join(dir, name);
    mkdirSync(nodeDir, { recursive: true });
    const [rpcPort, p2pPort] = nodePorts[name];
    launchLnd(dir, name, nodeDir, lndArgs({ nodeDir, alias: name, rpcPort, p2pPort, btcd }));
  }
  log('started lnd wall and vehicle; mining past segwit activation');
  await btcdRpc(rpc, 'generate', [SEGWIT_SAFE_HEIGHT], 300_000);
  lap(`mined ${SEGWIT_SAFE_HEIGHT} blocks`);

  const nodes = {} as Record<NodeName, NodeConnection>;
  await Promise.all(
    NODE_NAMES.map(async (name) => {
      const [rpcPort, p2pPort] = nodePorts[name];
      nodes[name] = await waitForLnd(join(dir, name), `localhost:${rpcPort}`, `127.0.0.1:${p2pPort}`, name);
    }),
  );
  lap('lnd nodes answer');

  const wallLnd = lndOf(nodes.wall);
  const vehicleLnd = lndOf(nodes.vehicle);
  try {
    const [vehicleAddr, wallAddr] = await Promise.all([
      createChainAddress({ lnd: vehicleLnd, format: 'np2wpkh' }),
      createChainAddress({ lnd: wallLnd, format: 'np2wpkh' }),
    ]);
    const block1 = await btcdRpc<string>(rpc, 'getblockhash', [1]);
    const coinbase = (await btcdRpc<{ tx: string[] }>(rpc, 'getblock', [block1, 1])).tx[0]!;
    const rewardSat = 5_000_000_000n;
    const raw = signP2pkhSpend({
      key: miner,
      txid: coinbase,
      vout: 0,
      outputs: [
        { address: vehicleAddr.address, amountSat: VEHICLE_FUNDING_SAT },
        { address: wallAddr.address, amountSat: WALL_FUNDING_SAT },
        {
          address: miner.address,
          amountSat: rewardSat - VEHICLE_FUNDING_SAT - WALL_FUNDING_SAT - FUNDING_FEE_SAT,
        },
      ],
    });
    const fundingTxid = await btcdRpc<string>(rpc, 'sendrawtransaction', [raw]);
    await btcdRpc(rpc, 'generate', [1]);
    log(`funded vehicle ${VEHICLE_FUNDING_SAT} sat and wall ${WALL_FUNDING_SAT} sat (tx ${fundingTxid})`);
    await waitFor('vehicle wallet to see its confirmed funds', 60_000, lndLog(dir, 'vehicle'), async () => {
      const [info, bal] = await Promise.all([
        getWalletInfo({ lnd: vehicleLnd }),
        getChainBalance({ lnd: vehicleLnd }),
      ]);
      return info.is_synced_to_chain && BigInt(bal.chain_balance) >= VEHICLE_FUNDING_SAT ? true : undefined;
    });
    await waitFor('wall to sync to the chain', 60_000, lndLog(dir, 'wall'), async () =>
      (await getWalletInfo({ lnd: wallLnd })).is_synced_to_chain ? true : undefined,
    );
    lap('wallets funded and synced');

    await addPeer({ lnd: vehicleLnd, public_key: nodes.wall.pubkey, socket: nodes.wall.p2pSocket });
    const opened = await retry('open the vehicle→wall channel', 10, () =>
      openChannel({
        lnd: vehicleLnd,
        partner_public_key: nodes.wall.pubkey,
        partner_socket: nodes.wall.p2pSocket,
        local_tokens: CHANNEL_SAT,
        chain_fee_tokens_per_vbyte: 2,
        description: 'boltcharge regtest vehicle→wall',
      }),
    );
    log(`channel funding tx ${opened.transaction_id}:${opened.transaction_vout}; mining confirmations`);
    await btcdRpc(rpc, 'generate', [3]);
    await waitFor('the vehicle→wall channel to become active', 90_000, lndLog(dir, 'vehicle'), async () => {
      const [v, w] = await Promise.all([getChannels({ lnd: vehicleLnd }), getChannels({ lnd: wallLnd })]);
      return v.channels.some((c) => c.is_active) && w.channels.some((c) => c.is_active) ? true : undefined;
    });
    await proveChannelCarriesPayments(vehicleLnd, wallLnd);
    lap('channel active and carries payments');
    nodes.wall = { ...nodes.wall, ...(await bakeInvoiceOnlyMacaroon(nodes.wall, join(dir, 'wall'))) };

    const connection: NetworkConnection = {
      version: 1,
      network: 'regtest',
      createdAt: new Date().toISOString(),
      btcd,
      nodes,
      channel: {
        capacitySat: CHANNEL_SAT,
        fundingTxid: opened.transaction_id,
        fundingVout: opened.transaction_vout,
      },
    };
    writeConnection(connection);
    return connection;
  } finally {
    closeLnd(wallLnd);
    closeLnd(vehicleLnd);
  }
}

/** Starts lnd as daemon `name` with its data in `nodeDir` (an empty lnd.conf keeps ~/.lnd out of it), on the
  host or at a placement (a network namespace, other chain backend / listen addresses). */
function launchLnd(
  dir: string,
  name: string,
  nodeDir: string,
  args: string[],
  placement: NodePlacement = {},
): void {
  mkdirSync(nodeDir, { recursive: true });
  if (!existsSync(join(nodeDir, 'lnd.conf'))) writeFileSync(join(nodeDir, 'lnd.conf'), '');
  const command = placedCommand(join(binDir(), 'lnd'), placedLndArgs(args, placement), placement);
  startDaemon({ dir, name, ...command });
}

/** Waits for a (re)started lnd: over gRPC on the host, or with lncli inside its namespace (synced to chain,
  since a node moved there must have reached its chain backend from there). */
async function waitForPlacedLnd(
  nodeDir: string,
  node: NodeConnection,
  name: string,
  rpcPort: number,
  placement: NodePlacement,
): Promise<void> {
  if (placement.netns === undefined) {
    await waitForLnd(nodeDir, node.socket, node.p2pSocket, name);
    return;
  }
  await waitForNodeInNamespace({
    netns: placement.netns,
    lncliPath: join(binDir(), 'lncli'),
    nodeDir,
    rpcPort,
    synced: true,
    timeoutMs: 90_000,
  });
}

/** Starts a chain backend inside a namespace that follows the network's btcd through `upstreamP2p` (the
  namespace's uplink to the host's btcd peer port), same RPC port and credentials: a node placed there with
  `btcdRpcHost: 127.0.0.1:<the network's btcd RPC port>` keeps answering when the uplink is cut (see
  placement.ts `startChainBackendInNamespace`).

  {
    netns: <Namespace Name String>
    upstreamP2p: <host:port> of the network btcd's peer port, reachable from the namespace
  }

  @returns <NamespacedChainBackend> (stop it before deleting the namespace)
*/
export async function startNamespaceChainBackend(args: {
  netns: string;
  upstreamP2p: string;
}): Promise<NamespacedChainBackend> {
  const connection = readConnection();
  const height = await btcdRpc<number>(btcdConfig(connection), 'getblockcount', []);
  return startChainBackendInNamespace({
    netns: args.netns,
    stateDir: networkDir(),
    btcdPath: join(binDir(), 'btcd'),
    btcctlPath: join(binDir(), 'btcctl'),
    rpc: connection.btcd,
    rpcKeyPath: join(networkDir(), 'btcd', 'rpc.key'),
    upstreamP2p: args.upstreamP2p,
    height,
    timeoutMs: 60_000,
  });
}

/** Restarts one of the network's nodes (`wall`, `vehicle`, or a walk-up / split node) at a placement, same data,
  key, ports and channels: into a network namespace for offline tests, and back (`{}`) afterwards. The connection
  file is unchanged; inside the namespace the node's gRPC socket is reachable only from that namespace.

  {
    name: <Node Name String>
    placement: <Node Placement Object> ({} = back on the host)
  }

  @returns <NodeConnection> (from the connection file)
  @throws Error when the node is unknown or does not become ready (synced, when in a namespace)
*/
export async function relaunchNode(args: {
  name: NodeName | WalkupNodeName | SplitNodeName;
  placement: NodePlacement;
}): Promise<NodeConnection> {
  const connection = readConnection();
  const node = connection.nodes[args.name];
  if (!node) throw new Error(`regtest: no node ${args.name} in the connection file`);
  const dir = networkDir();
  const nodeDir = join(dir, args.name);
  const portOf = (hostPort: string): number => Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));
  const rpcPort = portOf(node.socket);
  const lnd = lndArgs({
    nodeDir,
    alias: args.name,
    rpcPort,
    p2pPort: portOf(node.p2pSocket),
    btcd: connection.btcd,
  });
  await stopDaemon(dir, args.name);
  launchLnd(dir, args.name, nodeDir, lnd, args.placement);
  await waitForPlacedLnd(nodeDir, node, args.name, rpcPort, args.placement);
  return node;
}

function lndArgs(a: {
  nodeDir: string;
  alias: string;
  rpcPort: number;
  p2pPort: number;
  btcd: NetworkConnection['btcd'];
}): string[] {
  return [
    `--lnddir=${a.nodeDir}`,
    `--configfile=${join(a.nodeDir, 'lnd.conf')}`,
    `--alias=${a.alias}`,
    '--bitcoin.regtest',
    '--bitcoin.node=btcd',
    `--btcd.rpchost=${a.btcd.rpcHost}`,
    `--btcd.rpcuser=${a.btcd.rpcUser}`,
    `--btcd.rpcpass=${a.btcd.rpcPass}`,
    `--btcd.rpccert=${a.btcd.rpcCertPath}`,
    '--noseedbackup',
    '--nobootstrap',
    '--norest',
    '--trickledelay=50',
    '--bitcoin.defaultchanconfs=1',
    '--accept-keysend',
    // lnd cancels a held HTLC this many blocks before its CLTV expiry (walk-up deposits): set explicitly
    `--invoices.holdexpirydelta=${LND_HOLD_EXPIRY_DELTA_BLOCKS}`,
    `--rpclisten=127.0.0.1:${a.rpcPort}`,
    `--listen=127.0.0.1:${a.p2pPort}`,
    `--externalip=127.0.0.1:${a.p2pPort}`,
    '--debuglevel=info',
  ];
}

/** Waits until an lnd node answers over gRPC and returns its connection. */
async function waitForLnd(
  nodeDir: string,
  socket: string,
  p2pSocket: string,
  name: string,
): Promise<NodeConnection> {
  const certPath = join(nodeDir, 'tls.cert');
  const macaroonPath = join(nodeDir, 'data', 'chain', 'bitcoin', 'regtest', 'admin.macaroon');
  const logPath = join(dirname(nodeDir), `${name}.out.log`);
  await waitFor(`lnd ${name} to write its TLS cert and admin macaroon`, 60_000, logPath, async () =>
    existsSync(certPath) && existsSync(macaroonPath) ? true : undefined,
  );
  const partial = {
    socket,
    p2pSocket,
    certPath,
    macaroonPath,
    cert: readFileSync(certPath).toString('base64'),
    macaroon: readFileSync(macaroonPath).toString('hex'),
    network: 'regtest' as const,
  };
  const lnd = lndOf({ ...partial, pubkey: '' });
  try {
    const pubkey = await waitFor(`lnd ${name} to answer getinfo`, 60_000, logPath, async () => {
      try {
        return (await getWalletInfo({ lnd })).public_key;
      } catch {
        return undefined;
      }
    });
    return { ...partial, pubkey };
  } finally {
    closeLnd(lnd);
  }
}

/** True-ish connection when everything is running and healthy. */
async function healthyConnection(): Promise<NetworkConnection | undefined> {
  const dir = networkDir();
  if (!existsSync(connectionFilePath())) return undefined;
  if (['btcd', ...NODE_NAMES].some((n) => runningPid(dir, n) === undefined)) return undefined;
  const connection = readConnection();
  const lnds = NODE_NAMES.map((n) => lndOf(connection.nodes[n]));
  try {
    const answers = await Promise.race([
      Promise.all(lnds.map((lnd) => getChannels({ lnd, is_active: true }))),
      sleep(10_000).then(() => undefined),
    ]);
    if (!answers?.every((a) => a.channels.length > 0)) return undefined;
    // Tests and demos drain the vehicle→wall channel a little on every run; start afresh before it runs dry.
    const vehicleLocal = answers[1]!.channels.reduce((sum, c) => sum + c.local_balance, 0);
    return vehicleLocal >= MIN_VEHICLE_LOCAL_SAT ? connection : undefined;
  } catch {
    return undefined;
  } finally {
    lnds.forEach(closeLnd);
  }
}

/** Mines one block when the tip is old, so lnd keeps calling itself synced (it distrusts tips older than 2 h). */
async function refreshTip(connection: NetworkConnection): Promise<void> {
  const rpc = btcdConfig(connection);
  if ((await tipAgeSec(rpc)) > TIP_REFRESH_SEC) await btcdRpc(rpc, 'generate', [1]);
}

async function tipAgeSec(rpc: BtcdRpcConfig): Promise<number> {
  const hash = await btcdRpc<string>(rpc, 'getbestblockhash', [], 5_000);
  const header = await btcdRpc<{ time: number }>(rpc, 'getblockheader', [hash, true], 5_000);
  return Math.round(Date.now() / 1000 - header.time);
}

async function stopAll(log: Logger): Promise<string[]> {
  const dir = networkDir();
  const names = listPidNames(dir);
  const order = [
    ...names.filter((n) => n.startsWith('extra-') || n.startsWith('btcd-')), // btcd-<netns>: placement.ts
    ...[...SPLIT_NODE_NAMES, ...WALKUP_NODE_NAMES, ...NODE_NAMES].filter((n) => names.includes(n)),
    ...names.filter((n) => n === 'btcd'),
  ];
  const stopped: string[] = [];
  // lnd nodes (and namespaces' chain backends) stop in parallel, the network's btcd last
  const lnds = order.filter((n) => n !== 'btcd');
  await Promise.all(
    lnds.map(async (n) => {
      if (await stopDaemon(dir, n)) stopped.push(n);
    }),
  );
  if (order.includes('btcd') && (await stopDaemon(dir, 'btcd'))) stopped.push('btcd');
  if (stopped.length > 0) log(`stopped ${stopped.join(', ')}`);
  return stopped;
}

function listPidNames(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.pid'))
    .map((f) => f.slice(0, -4));
}

/** Serialises up/down across processes with an exclusive lock file holding the owner's pid. */
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = join(networkDir(), 'lock');
  const deadline = Date.now() + 600_000;
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch {
      const owner = Number(readFileSyncQuiet(lock));
      if (!Number.isInteger(owner) || owner <= 0 || !alive(owner)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`regtest network is locked by pid ${owner} (${lock})`);
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

function readFileSyncQuiet(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `probe` until it returns a value; on timeout throws naming the step and the log to read. */
async function waitFor<T>(
  what: string,
  timeoutMs: number,
  logPath: string,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let value: T | undefined;
    try {
      value = await probe();
    } catch {
      value = undefined;
    }
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`regtest: timed out after ${timeoutMs} ms waiting for ${what}; see ${logPath}`);
    await sleep(200);
  }
}

/** Retries an lnd call that can fail while the node settles (e.g. "not synced yet", peer not connected). */
async function retry<T>(what: string, attempts: number, fn: () => Promise<T>): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i += 1) {
    try {
      return await fn();
    } catch (err) {
      last = err;
      await sleep(1_000);
    }
  }
  throw new Error(`regtest: could not ${what}: ${describe(last)}`);
}

function lndLog(dir: string, name: string): string {
  return join(dir, name, 'logs', 'bitcoin', 'regtest', 'lnd.log');
}

function btcdConfig(connection: NetworkConnection): BtcdRpcConfig {
  return {
    host: connection.btcd.rpcHost,
    user: connection.btcd.rpcUser,
    pass: connection.btcd.rpcPass,
    certPem: readFileSync(connection.btcd.rpcCertPath, 'utf8'),
  };
}

function lndOf(node: NodeConnection): AuthenticatedLnd {
  return authenticatedLndGrpc({ cert: node.cert, macaroon: node.macaroon, socket: node.socket }).lnd;
}

/** Closes the gRPC channels of an ln-service lnd object so the process can exit. */
export function closeLnd(lnd: AuthenticatedLnd): void {
  for (const client of Object.values(lnd) as { close?: () => void }[]) {
    try {
      client?.close?.();
    } catch {
      // already closed
    }
  }
}

function describe(err: unknown): string {
  if (Array.isArray(err)) {
    const details = (err[2] as { err?: { details?: string } } | undefined)?.err?.details;
    return `${String(err[1])}${details ? `: ${details}` : ''}`;
  }
  return err instanceof Error ? err.message : String(err);
}
