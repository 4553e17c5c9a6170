/**
 * Protocol core figures: AEAD frames per second, handshakes per second (both machines, real crypto and
 * signatures), BOLT11 decode+check per second, and machine steps per second over a simulated charging
 * session. Measures only; asserts nothing.
 */
import { performance } from 'node:perf_hooks';
import { decodeInvoice, openFrame, sealMessage } from '../../protocol/index.js';
import { buildHandshake } from '../../test/vectors/build.js';
import { makeInvoice, sha256hex, Sim, WALL_KEY } from '../../test/protocol/harness.js';

export const description = 'cable protocol core: seal/open, handshake, BOLT11 checks, session machine steps';

function rate(n: number, ms: number): number {
  return Math.round((n / ms) * 1000);
}

export async function run(): Promise<Record<string, unknown>> {
  const hs = buildHandshake();
  let wall = hs.wall;
  let vehicle = { ...hs.vehicle, recvNext: 1 };
  const frames = 5000;
  let t = performance.now();
  for (let i = 0; i < frames; i++) {
    const s = sealMessage(wall, {
      type: 'meter',
      energyWh: i,
      registerWh: i,
      powerW: 7200,
      voltageMv: 230_000,
      currentMa: 31_000,
      atMs: i,
    });
    if (!s.ok) throw new Error(s.error.message);
    wall = s.value.channel;
    const o = openFrame(vehicle, s.value.frame);
    if (!o.ok) throw new Error(o.error.message);
    vehicle = o.value.channel;
  }
  const sealOpenPerSec = rate(frames, performance.now() - t);

  const handshakes = 50;
  t = performance.now();
  for (let i = 0; i < handshakes; i++) {
    const sim = new Sim();
    sim.plug();
  }
  const handshakesPerSec = rate(handshakes, performance.now() - t);

  const bolt = makeInvoice({
    key: WALL_KEY,
    amountMsat: 3200n,
    paymentHash: sha256hex('b'),
    timestampSec: 1_760_000_000,
  });
  const decodes = 1000;
  t = performance.now();
  for (let i = 0; i < decodes; i++) if (!decodeInvoice(bolt).ok) throw new Error('decode');
  const bolt11DecodesPerSec = rate(decodes, performance.now() - t);

  const sim = new Sim();
  sim.plug();
  t = performance.now();
  sim.advance(600_000);
  const elapsed = performance.now() - t;
  const steps = sim.sellerEffects.length + sim.buyerEffects.length;
  return {
    sealOpenPerSec,
    handshakesPerSec,
    bolt11DecodesPerSec,
    simulatedSessionMinutes: 10,
    simulatedSessionWallMs: Math.round(elapsed),
    invoicesInSimulatedSession: sim.seller.invoices.length,
    effectsPerSec: rate(steps, elapsed),
  };
}
