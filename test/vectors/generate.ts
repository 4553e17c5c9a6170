// Regenerates test/vectors/*.json: `npx tsx test/vectors/generate.ts && npx prettier --write test/vectors`. Only run it when the wire format
// changes on purpose; the vectors test fails when the code no longer produces these bytes.
import { writeFileSync } from 'node:fs';
import { buildHandshake, buildMessageVectors } from './build.js';

const dir = new URL('.', import.meta.url);
writeFileSync(new URL('handshake.json', dir), JSON.stringify(buildHandshake().vector, null, 2) + '\n');
writeFileSync(new URL('messages.json', dir), JSON.stringify(buildMessageVectors(), null, 2) + '\n');
console.log('wrote handshake.json and messages.json');
