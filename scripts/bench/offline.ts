/**
 * `npm run bench -- offline [--json]`: payments per minute a car without signal achieves through the wall's blind
 * relay over the IP (PLC) link, on real regtest nodes in a network namespace (scripts/offline/relay-rig.ts), and
 * the relayed bytes each payment costs. Over CAN there is no relay (ISO-TP on the pilot line carries messages,
 * not a byte stream): the CAN figures are the ceiling a byte tunnel could reach at the bus's ISO-TP goodput
 * (8-byte frames of 7 payload bytes, 135 bits each with worst-case stuffing), reported as such — not a feature.
 */
import { startRelayRig } from '../offline/relay-rig.js';

export const description = 'car without signal: payments per minute through the wall relay (IP), CAN ceiling';

/** Payments in the measured run (after one warm-up payment that connects the peer). */
const PAYMENTS = 20;
/** Bits of one classic CAN frame with 8 data bytes, worst-case bit stuffing. */
const CAN_FRAME_BITS = 135;

/** ISO-TP goodput in bytes/s at a bus bitrate (consecutive frames of 7 payload bytes). */
function isotpGoodputBytesPerSec(bitrate: number): number {
  return (bitrate / CAN_FRAME_BITS) * 7;
}

export async function run(): Promise<Record<string, unknown>> {
  const rig = await startRelayRig({ log: (line) => process.stderr.write(`bench offline: ${line}\n`) });
  try {
    const warm = await rig.pay('router', 1_000);
    if (!warm.paid) throw new Error(`warm-up payment failed: ${warm.error}`);
    const before = rig.relayStats();
    const started = Date.now();
    const latencies: number[] = [];
    for (let i = 0; i < PAYMENTS; i++) {
      const t = Date.now();
      const p = await rig.pay('router', 1_000 + i);
      if (!p.paid || !p.settledAtWall) throw new Error(`payment ${i} failed: ${p.error}`);
      latencies.push(Date.now() - t);
    }
    const elapsedMs = Date.now() - started;
    const after = rig.relayStats();
    const bytesPerPayment = Math.round(
      (after.bytesUp + after.bytesDown - before.bytesUp - before.bytesDown) / PAYMENTS,
    );
    latencies.sort((a, b) => a - b);
    const canCeiling = (bitrate: number): number =>
      Math.floor((isotpGoodputBytesPerSec(bitrate) * 60) / Math.max(1, bytesPerPayment));
    return {
      payments: PAYMENTS,
      ipPaymentsPerMin: Math.round((PAYMENTS * 60_000) / elapsedMs),
      ipPayMsP50: latencies[Math.floor(latencies.length / 2)],
      ipPayMsMax: latencies[latencies.length - 1],
      relayedBytesPerPayment: bytesPerPayment,
      canRelaySupported: false,
      can33kCeilingPaymentsPerMin: canCeiling(33_333),
      can500kCeilingPaymentsPerMin: canCeiling(500_000),
      refusals: rig.refusals.length,
    };
  } finally {
    await rig.close();
  }
}
