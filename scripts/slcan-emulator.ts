/**
 * SLCAN adapter emulator as a process (for the demo and manual testing).
 *
 *   tsx scripts/slcan-emulator.ts [--bitrate 33333] [--data-bitrate N] [--dir DIR]
 *                                 [--adapter wall[:cr|z|none]] [--adapter vehicle[:cr|z|none]] ...
 *
 * Defaults: 33 333 bit/s (single-wire CAN on the pilot line), adapters `wall` and `vehicle` with ack style `cr`,
 * PTY links in a fresh temporary directory. Once the PTYs are ready it prints exactly one JSON line on stdout:
 *
 *   {"ready":true,"bitrate":33333,"adapters":{"wall":"/tmp/boltcharge-slcan-x/wall","vehicle":"…/vehicle"}}
 *
 * Open those paths as SLCAN serial devices. The process runs until SIGINT or SIGTERM, then closes the ports,
 * stops socat, removes the temporary directory and exits 0. Errors go to stderr with exit code 1.
 */
import { parseArgs } from 'node:util';
import { SlcanEmulator, type EmulatedAdapterSpec } from '../hardware/can/slcan-emulator.js';

const { values } = parseArgs({
  options: {
    bitrate: { type: 'string', default: '33333' },
    'data-bitrate': { type: 'string' },
    dir: { type: 'string' },
    adapter: { type: 'string', multiple: true },
  },
});

const bitrate = Number(values.bitrate);
const adapters: EmulatedAdapterSpec[] = (values.adapter ?? ['wall', 'vehicle']).map((spec) => {
  const [name = '', ackStyle = 'cr'] = spec.split(':');
  if (ackStyle !== 'cr' && ackStyle !== 'z' && ackStyle !== 'none') {
    console.error(`slcan-emulator: ack style of '${spec}' must be cr, z or none`);
    process.exit(1);
  }
  return { name, ackStyle };
});

const emulator = new SlcanEmulator({
  bitrate,
  dataBitrate: values['data-bitrate'] === undefined ? undefined : Number(values['data-bitrate']),
  dir: values.dir,
  adapters,
});
try {
  const paths = await emulator.start();
  process.stdout.write(`${JSON.stringify({ ready: true, bitrate, adapters: paths })}\n`);
} catch (err) {
  console.error(`slcan-emulator: ${(err as Error).message}`);
  await emulator.stop();
  process.exit(1);
}

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await emulator.stop();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
