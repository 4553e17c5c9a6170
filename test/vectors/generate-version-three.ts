// Regenerates test/vectors/version-three.json: `npx tsx test/vectors/generate-version-three.ts`. Only when the
// version-3 wire format changes on purpose (a new protocol version).
import { writeFileSync } from 'node:fs';
import { buildVersionThreeVectors } from './version-three.js';

writeFileSync(
  new URL('version-three.json', import.meta.url),
  JSON.stringify(buildVersionThreeVectors(), null, 2) + '\n',
);
console.log('wrote version-three.json');
