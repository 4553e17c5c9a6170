// A child process running the split payout engine on a wall store file against the real wall node, for
// kill -9 tests (issue 14). It kills itself with SIGKILL at a seeded point of the Nth payment (before the node is
// asked to pay, or after the node paid but before the result is stored), or runs until every accrual is paid
// out and exits 0.
//
// Environment: SPLIT_CHILD = JSON {storeFile, wall: {socket, cert, macaroon}, split: <split section>, caPem,
// crash: {phase: 'beforePay' | 'afterPay', n} | null}
import { SystemClock } from '../../hardware/clock.js';
import { LndPayouts, type PayoutNode } from '../../lightning/lnd-payouts.js';
import { readSplitConfig } from '../../payments/split-config.js';
import { PayoutEngine } from '../../wall-module/payouts/payout-engine.js';
import { PayoutLedger } from '../../wall-module/payouts/payout-ledger.js';
import { WallStore } from '../../wall-module/store.js';

interface ChildArgs {
  storeFile: string;
  wall: { socket: string; cert: string; macaroon: string };
  split: unknown;
  caPem: string;
  crash: { phase: 'beforePay' | 'afterPay'; n: number } | null;
}

const args = JSON.parse(process.env.SPLIT_CHILD ?? '{}') as ChildArgs;
const die = (): never => {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
};

/** The real node, with a SIGKILL at the seeded point. */
function crashing(inner: PayoutNode): PayoutNode {
  let pays = 0;
  return {
    getPubkey: () => inner.getPubkey(),
    lookupPayment: (h) => inner.lookupPayment(h),
    signMessage: (t) => inner.signMessage(t),
    close: () => inner.close(),
    keysend: (a) => inner.keysend(a),
    payInvoice: async (a) => {
      pays += 1;
      if (args.crash?.phase === 'beforePay' && pays === args.crash.n) die();
      const paid = await inner.payInvoice(a);
      if (args.crash?.phase === 'afterPay' && pays === args.crash.n) die();
      return paid;
    },
  };
}

async function main(): Promise<void> {
  const split = readSplitConfig(args.split);
  if (!split.ok) throw new Error(split.error.name);
  const store = WallStore.open(args.storeFile, new SystemClock());
  const ledger = new PayoutLedger(store.db);
  const node = crashing(new LndPayouts({ connection: args.wall }));
  const engine = new PayoutEngine({
    ledger,
    node,
    config: split.value,
    network: 'regtest',
    now: () => Date.now(),
    lnurl: { caPem: args.caPem, timeoutMs: 10_000 },
  });
  await engine.start();
  for (let round = 0; round < 600; round++) {
    engine.poll();
    await engine.idle();
    const open = ledger.payouts().filter((p) => p.status !== 'settled');
    if (
      open.length === 0 &&
      ledger.unaccruedPayments(1).length === 0 &&
      ledger.unsignedSettled().length === 0
    )
      break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await engine.stop();
  await node.close();
  store.close();
  process.stdout.write(JSON.stringify({ done: true }) + '\n');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`payout child: ${String(err)}\n`);
    process.exit(1);
  },
);
