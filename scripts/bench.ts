/**
 * `npm run bench -- [name ...] [--json] [--<option> <value> ...]`
 *
 * Runs the benchmarks in `scripts/bench/<name>.ts` (all of them when no name is given) and prints their
 * figures: a readable block per benchmark, or with `--json` one JSON object `{ "<name>": figures, ... }`.
 * Options with a value (e.g. `site --connectors 100`) are read by the benchmark itself from `process.argv`.
 * Each benchmark module exports `description: string` and `run(): Promise<Record<string, unknown>>`.
 * Benchmarks measure; they never assert a speed.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface BenchModule {
  description: string;
  run(): Promise<Record<string, unknown>>;
}

const dir = join(dirname(fileURLToPath(import.meta.url)), 'bench');
const args = process.argv.slice(2);
const json = args.includes('--json');
const available = readdirSync(dir)
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -3))
  .sort();
// names are the words that are neither an option nor an option's value (`--connectors 100`)
const wanted = args.filter(
  (a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1]!.startsWith('--') && args[i - 1] !== '--json'),
);
for (const name of wanted) {
  if (!available.includes(name)) {
    console.error(`bench: unknown benchmark '${name}'; available: ${available.join(', ') || '(none)'}`);
    process.exit(2);
  }
}
const results: Record<string, Record<string, unknown>> = {};
for (const name of wanted.length > 0 ? wanted : available) {
  const mod = (await import(pathToFileURL(join(dir, `${name}.ts`)).href)) as BenchModule;
  if (!json) console.log(`== ${name}: ${mod.description}`);
  results[name] = await mod.run();
  if (!json) console.log(JSON.stringify(results[name], null, 2));
}
if (json) console.log(JSON.stringify(results));
