// Interim demo (`npm run demo`): brings the regtest Lightning network up, has the wall node invoice the vehicle
// node, pays it, and prints the settlement seen by the wall with its latency. The full charging demo replaces
// this later.
//
// Usage: npm run demo -- [--json] [--count <n>] [--stop]
//   --json       print one JSON line instead of text
//   --count <n>  pay n invoices one after the other (default 1)
//   --stop       stop the network afterwards (default: leave it up, so the next run is fast)
import type { SettlementEvent } from '../lightning/lightning-node.js';
import { LndNode } from '../lightning/lnd-node.js';
import { down, up, type NodeConnection } from './regtest/network.js';

const AMOUNT_MSAT = 250_000n; // 250 sat: one block of energy in the demo
const PAY = { maxFeeMsat: 5_000n, timeoutMs: 60_000 };

function node(c: NodeConnection): LndNode {
  return new LndNode({ connection: { socket: c.socket, cert: c.cert, macaroon: c.macaroon } });
}

async function main(argv: string[]): Promise<void> {
  const json = argv.includes('--json');
  const stop = argv.includes('--stop');
  const countArg = argv.indexOf('--count');
  const count = countArg >= 0 ? Number(argv[countArg + 1]) : 1;
  if (!Number.isInteger(count) || count < 1 || count > 1000) throw new RangeError('--count must be 1..1000');
  const say = (line: string): void => {
    if (!json) console.log(line);
  };

  const net = await up({ log: json ? () => {} : (line) => console.error(`regtest: ${line}`) });
  say(
    `regtest network ${net.alreadyUp ? 'already up' : 'started'} in ${(net.elapsedMs / 1000).toFixed(1)} s ` +
      `(wall ${net.connection.nodes.wall.pubkey.slice(0, 12)}…, vehicle ${net.connection.nodes.vehicle.pubkey.slice(0, 12)}…)`,
  );
  const wall = node(net.connection.nodes.wall);
  const vehicle = node(net.connection.nodes.vehicle);
  const waiting = new Map<string, (e: SettlementEvent) => void>();
  const unsubscribe = wall.onSettled((e) => waiting.get(e.paymentHash)?.(e));
  const payments: {
    paymentHash: string;
    amountMsat: string;
    feeMsat: string;
    preimage: string;
    payMs: number;
    settledLatencyMs: number;
  }[] = [];
  try {
    for (let i = 0; i < count; i += 1) {
      const invoice = await wall.createInvoice({
        amountMsat: AMOUNT_MSAT,
        memo: `boltcharge demo: energy block ${i + 1}`,
        expirySec: 600,
      });
      if (i === 0) say(`wall invoice: ${invoice.bolt11.slice(0, 60)}…`);
      const settled = new Promise<SettlementEvent>((resolve) => waiting.set(invoice.paymentHash, resolve));
      const t0 = performance.now();
      const paid = await vehicle.pay(invoice.bolt11, PAY);
      const payMs = performance.now() - t0;
      const event = await withTimeout(settled, 60_000, 'settlement event on wall');
      const settledLatencyMs = performance.now() - t0;
      waiting.delete(invoice.paymentHash);
      payments.push({
        paymentHash: invoice.paymentHash,
        amountMsat: event.amountMsat.toString(),
        feeMsat: paid.feeMsat.toString(),
        preimage: event.preimage,
        payMs: round(payMs),
        settledLatencyMs: round(settledLatencyMs),
      });
      say(
        `paid ${event.amountMsat} msat (fee ${paid.feeMsat} msat), hash ${invoice.paymentHash.slice(0, 16)}…: ` +
          `vehicle pay() ${round(payMs)} ms, invoice→settled on wall ${round(settledLatencyMs)} ms ` +
          `(preimage ${event.preimage.slice(0, 16)}… matches: ${event.preimage === paid.preimage})`,
      );
    }
    const latencies = payments.map((p) => p.settledLatencyMs).sort((a, b) => a - b);
    const median = latencies[Math.floor(latencies.length / 2)]!;
    const balances = await vehicle.getBalances();
    if (json) {
      console.log(
        JSON.stringify({
          network: 'regtest',
          networkAlreadyUp: net.alreadyUp,
          networkUpMs: round(net.elapsedMs),
          payments,
          medianSettledLatencyMs: median,
          vehicleChannelLocalMsat: balances.channelLocalMsat.toString(),
        }),
      );
    } else {
      if (count > 1) say(`median invoice→settled latency over ${count} payments: ${median} ms`);
      say(`vehicle can still send ${balances.channelLocalMsat} msat over its channel`);
      say(stop ? 'stopping the network' : "network left running; stop it with 'npm run regtest -- down'");
    }
  } finally {
    unsubscribe();
    await wall.close();
    await vehicle.close();
    if (stop) await down({ log: () => {} });
  }
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    process.exit(1);
  },
);
