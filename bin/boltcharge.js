#!/usr/bin/env node
// boltcharge command-line entry point. The code is TypeScript run through tsx (no build step): register tsx's
// ESM loader, then hand over to the CLI module.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
