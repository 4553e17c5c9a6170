/**
 * `npm run demo`: the full boltcharge demo (see scripts/charge-demo.ts for options and the JSON line).
 */
import { chargeDemo } from './charge-demo.js';

process.exitCode = await chargeDemo(process.argv.slice(2));
