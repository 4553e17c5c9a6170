/**
 * `npm run demo`: the full boltcharge demo (see scripts/charge-demo.ts for options and the JSON line).
 */
import { chargeDemo } from './charge-demo.js';
import { offlineDemo } from './demo/offline.js'; // offline
import { walkupDemo } from './demo/walkup.js'; // walk-up

const argv = process.argv.slice(2); // walk-up: `--walkup` runs scripts/demo/walkup.ts
const offline = argv.some((a) => a === '--offline' || a.startsWith('--offline=')); // offline: scripts/demo/offline.ts
process.exitCode = argv.includes('--walkup')
  ? await walkupDemo(argv)
  : offline
    ? await offlineDemo(argv)
    : await chargeDemo(argv);
