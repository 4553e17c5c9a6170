#!/usr/bin/env -S node --optimize-for-size
// boltcharge command-line entry point.
// - `--optimize-for-size` (in the shebang: V8 refuses it in NODE_OPTIONS): V8 keeps a 2 MB young generation and
//   grows the heap slowly. A 100-connector site wall under load peaked at 134 MB RSS with it against 188 MB
//   without (`npm run bench -- site --json`, compiled build), at 0 late invoices; docs/OPERATING.md.
// - Installed package (`npm pack` / `npm install -g`): runs the JavaScript that `npm run build` compiled into
//   dist/ (the package ships no TypeScript, and needs no tsx).
// - Checkout (the TypeScript sources sit beside this file): runs the sources through tsx, so a stale dist/ from
//   an earlier build never shadows the code under test. BOLTCHARGE_USE_DIST=1 runs dist/ in a checkout (to
//   measure the compiled build).
// After `main` resolves the process exits with its code, so a failed start really ends the process even when
// handles (serial ports, sockets, timers) are still open.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const compiled = join(here, '..', 'dist', 'bin', 'cli', 'main.js');
const source = join(here, 'cli', 'main.ts');
const useDist = existsSync(compiled) && (!existsSync(source) || process.env.BOLTCHARGE_USE_DIST === '1');

let main;
if (useDist) {
  ({ main } = await import(pathToFileURL(compiled).href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(pathToFileURL(source).href));
}
const code = await main(process.argv.slice(2));
process.exit(code);
