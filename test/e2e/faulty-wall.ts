/**
 * The wall daemon started exactly as `boltcharge wall --config F` starts it (bin/cli/run-daemon.ts), with one
 * injected fault: the seller step throws on the first meter event once the session has delivered `atWh`.
 * Every throw is counted on stderr (`injected fault #n`) so a test can check it happened once.
 *
 *   node --import tsx test/e2e/faulty-wall.ts <atWh> --config wall.yaml
 */
import { runDaemon } from '../../bin/cli/run-daemon.js';
import { sellerStep, type SellerEvent, type SellerState } from '../../protocol/index.js';

const atWh = Number(process.argv[2]);
const configFile = process.argv[4];
if (!Number.isFinite(atWh) || process.argv[3] !== '--config' || !configFile) {
  process.stderr.write('usage: faulty-wall.ts <atWh> --config <wall.yaml>\n');
  process.exit(2);
}
let thrown = 0;
const step = (state: SellerState, event: SellerEvent): ReturnType<typeof sellerStep> => {
  if (event.type === 'meter' && state.phase === 'charging' && state.deliveredWh >= atWh) {
    thrown++;
    process.stderr.write(`injected fault #${thrown}\n`);
    throw new RangeError(`injected: the seller step threw at ${state.deliveredWh} Wh`);
  }
  return sellerStep(state, event);
};
process.exit(await runDaemon('wall', configFile, { wallStep: step }));
