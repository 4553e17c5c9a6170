// The car's side of the offline relay test, run inside the car's network namespace (whose only network is the
// cable link to the wall): local forwards through the wall's blind relay (RelayForwarder), then, on command,
// the car's lnd (running in the same namespace) connects to its channel partner through a forward and pays.
//
// Usage: relay-car.ts --relay <fe80::…%if> --relay-port <n> --to <host:port[@localPort]> [--to …] [--uplink <host>]
// `@localPort` fixes a forward's local port (default any). `--uplink <host>`: the car still has its own uplink,
// and forwards connect directly to `<host>:<destination port>` (the namespace's uplink gateway) until told
// otherwise. Prints {"ports":[…]} (the local port of each forward, in order), then answers one JSON command per
// stdin line:
//   {"cmd":"uplink","host":<host>|null} → {"uplink":<host>|null} (null: from now on through the relay; connections
//    made over the uplink are reset)
//   {"cmd":"connect","lnd":{socket,cert,macaroon},"peer":{"pubkey":…,"port":<local forward port>}}
//   → {"connected":true,"ms":<real ms until the channel with the peer was active>} or {"connected":false,"error":…}
//   {"cmd":"pay","lnd":{socket,cert,macaroon},"peer":{"pubkey":…,"port":<local forward port>},
//    "request":<bolt11>,"maxFeeSat":<n>}
//   → {"paid":true,"feeMsat":"…","secret":"…","hops":n} or {"paid":false,"error":"…"}
//   {"cmd":"probe","port":<local forward port>} → {"probe":"open"|"closed"} (does a connection stay open 1 s?)
import { createConnection } from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import {
  addPeer,
  authenticatedLndGrpc,
  getChannels,
  getWalletInfo,
  payViaPaymentRequest,
  type AuthenticatedLnd,
} from 'lightning';
import { RelayForwarder } from '../../hardware/relay/relay-forwarder.js';

const { values } = parseArgs({
  options: {
    relay: { type: 'string' },
    'relay-port': { type: 'string' },
    to: { type: 'string', multiple: true },
    uplink: { type: 'string' },
  },
});
const forwards = (values.to ?? []).map((t) => {
  const [hostPort, local] = t.split('@') as [string, string | undefined];
  const i = hostPort.lastIndexOf(':');
  return {
    listenHost: '127.0.0.1',
    listenPort: Number(local ?? 0),
    toHost: hostPort.slice(0, i),
    toPort: Number(hostPort.slice(i + 1)),
  };
});
const forwarder = new RelayForwarder(values.relay!, Number(values['relay-port']), forwards);
const uplinkVia = (host: string) => (f: { toPort: number }) => ({ host, port: f.toPort });
if (values.uplink !== undefined) forwarder.setUplink(uplinkVia(values.uplink));
forwarder.on('refused', (e) => process.stderr.write(`relay refused ${JSON.stringify(e)}\n`));
const ports = await forwarder.start();
process.stdout.write(`${JSON.stringify({ ports })}\n`);

interface PayCommand {
  cmd: 'pay';
  lnd: { socket: string; cert: string; macaroon: string };
  peer: { pubkey: string; port: number };
  request: string;
  maxFeeSat: number;
}

async function until<T>(
  what: string,
  timeoutMs: number,
  fn: () => Promise<T | undefined>,
  pollMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = String((err as Error)?.message ?? JSON.stringify(err));
    }
    if (Date.now() > deadline) throw new Error(`timeout waiting for ${what} ${last}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

interface ConnectCommand {
  cmd: 'connect';
  lnd: { socket: string; cert: string; macaroon: string };
  peer: { pubkey: string; port: number };
}

/** Connects the car's lnd to its channel partner through a local forward and waits for the channel. */
async function connect(lnd: AuthenticatedLnd, peer: ConnectCommand['peer'], pollMs: number): Promise<void> {
  const active = async (): Promise<boolean> =>
    (await getChannels({ lnd, is_active: true })).channels.some(
      (ch) => ch.partner_public_key === peer.pubkey,
    );
  await until(
    'the peer connection through the relay',
    60_000,
    async () => {
      if (await active()) return true;
      await addPeer({ lnd, public_key: peer.pubkey, socket: `127.0.0.1:${peer.port}`, timeout: 10_000 });
      return true;
    },
    pollMs,
  );
  await until(
    'the channel to the peer to be active',
    120_000,
    async () => ((await active()) ? true : undefined),
    pollMs,
  );
}

async function pay(c: PayCommand): Promise<unknown> {
  const { lnd } = authenticatedLndGrpc(c.lnd);
  await until('the car lnd to answer and sync through the relay', 120_000, async () =>
    (await getWalletInfo({ lnd })).is_synced_to_chain ? true : undefined,
  );
  await connect(lnd, c.peer, 500);
  const paid = await until('the payment', 120_000, async () =>
    payViaPaymentRequest({ lnd, request: c.request, max_fee: c.maxFeeSat, pathfinding_timeout: 30_000 }),
  );
  return { paid: true, feeMsat: paid.fee_mtokens, secret: paid.secret, hops: paid.hops.length };
}

/** Connects to a local forward and reports whether the relay kept the connection open. */
async function probe(port: number): Promise<unknown> {
  const s = createConnection({ host: '127.0.0.1', port });
  s.on('error', () => {});
  const closed = await new Promise<boolean>((resolve) => {
    s.once('close', () => resolve(true));
    setTimeout(() => resolve(false), 1000);
  });
  s.destroy();
  return { probe: closed ? 'closed' : 'open' };
}

for await (const line of createInterface({ input: process.stdin })) {
  const c = JSON.parse(line) as
    PayCommand | ConnectCommand | { cmd: 'probe'; port: number } | { cmd: 'uplink'; host: string | null };
  if (c.cmd === 'probe') {
    process.stdout.write(`${JSON.stringify(await probe(c.port))}\n`);
    continue;
  }
  if (c.cmd === 'uplink') {
    forwarder.setUplink(c.host === null ? null : uplinkVia(c.host));
    process.stdout.write(`${JSON.stringify({ uplink: c.host })}\n`);
    continue;
  }
  if (c.cmd === 'connect') {
    const started = Date.now();
    try {
      await connect(authenticatedLndGrpc(c.lnd).lnd, c.peer, 100);
      process.stdout.write(`${JSON.stringify({ connected: true, ms: Date.now() - started })}\n`);
    } catch (err) {
      process.stdout.write(
        `${JSON.stringify({ connected: false, error: String((err as Error).message) })}\n`,
      );
    }
    continue;
  }
  try {
    process.stdout.write(`${JSON.stringify(await pay(c))}\n`);
  } catch (err) {
    process.stdout.write(
      `${JSON.stringify({ paid: false, error: String((err as Error).message ?? err) })}\n`,
    );
  }
}
await forwarder.close();
