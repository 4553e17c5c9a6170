/**
 * `npm run fuzz [-- --inputs N] [--seed S] [--only a,b] [--json]`
 *
 * Feeds random and mutated hostile input to every parser (cable frames, message bodies, the secure channel,
 * BOLT11, node signatures, stored state, the config readers, SLCAN, ISO-TP, RAPI, the IP link stream, SDM
 * registers) and random events to both session machines: `--inputs` per target (default 100,000). Prints
 * inputs/s per target and every crash (an exception that is not the module's own typed error, with the input
 * shrunk by fast-check); `--json` prints one JSON object `{ inputsPerTarget, seed, targets: [...], crashes }`.
 * Exit code 1 when anything crashed, 2 on bad arguments. Targets live in `scripts/fuzz/targets.ts`.
 */
import { parseArgs } from 'node:util';
import { FUZZ_TARGETS, fuzzTarget, type FuzzResult } from './fuzz/targets.js';

let values;
try {
  ({ values } = parseArgs({
    options: {
      inputs: { type: 'string' },
      seed: { type: 'string' },
      only: { type: 'string' },
      json: { type: 'boolean' },
    },
  }));
} catch (err) {
  console.error(`fuzz: ${(err as Error).message}`);
  process.exit(2);
}
const inputs = Number(values.inputs ?? 100_000);
const seed = Number(values.seed ?? Date.now() % 2 ** 31);
if (!Number.isSafeInteger(inputs) || inputs < 1 || !Number.isSafeInteger(seed)) {
  console.error('fuzz: --inputs must be a positive integer and --seed an integer');
  process.exit(2);
}
const names = FUZZ_TARGETS.map((t) => t.name);
const only = values.only?.split(',').map((s) => s.trim());
const unknown = only?.filter((n) => !names.includes(n)) ?? [];
if (unknown.length > 0) {
  console.error(`fuzz: unknown target(s) ${unknown.join(', ')}; targets: ${names.join(', ')}`);
  process.exit(2);
}
const results: FuzzResult[] = [];
for (const target of FUZZ_TARGETS) {
  if (only && !only.includes(target.name)) continue;
  const r = fuzzTarget(target, inputs, seed);
  results.push(r);
  if (!values.json) {
    console.log(
      `${r.target.padEnd(14)} ${String(r.inputs).padStart(8)} inputs ${String(r.inputsPerSec).padStart(9)}/s  ` +
        (r.crash ? `CRASH ${r.crash.error}\n  input: ${r.crash.input}\n${r.crash.stack ?? ''}` : 'ok'),
    );
  }
}
const crashes = results.filter((r) => r.crash).length;
if (values.json) console.log(JSON.stringify({ inputsPerTarget: inputs, seed, targets: results, crashes }));
else console.log(`${crashes === 0 ? 'no crashes' : `${crashes} target(s) crashed`} (seed ${seed})`);
process.exitCode = crashes === 0 ? 0 : 1;
