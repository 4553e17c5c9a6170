// Regenerates test/vectors/payment-proof.json: `npx tsx test/vectors/generate-payment-proof.ts`. Only when the
// paymentProof wire format changes on purpose (a new protocol version).
import { writeFileSync } from 'node:fs';
import { buildPaymentProofVectors } from './payment-proof.js';

writeFileSync(
  new URL('payment-proof.json', import.meta.url),
  JSON.stringify(buildPaymentProofVectors(), null, 2) + '\n',
);
console.log('wrote payment-proof.json');
