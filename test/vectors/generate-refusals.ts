// Regenerates test/vectors/connector-refusals.json (see build-refusals.ts).
import { writeFileSync } from 'node:fs';
import { buildRefusalVectors } from './build-refusals.js';

writeFileSync(
  new URL('connector-refusals.json', import.meta.url),
  JSON.stringify(buildRefusalVectors(), null, 2) + '\n',
);
console.log('wrote connector-refusals.json');
