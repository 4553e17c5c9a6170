/**
 * Hardware smoke test for SocketCanBus (needs a Linux SocketCAN interface; CI machines have none).
 *
 *   tsx scripts/socketcan-smoke.ts <iface> [<peer-iface>] [--bitrate 33333] [--seconds 5]
 *
 * With one interface (e.g. a real adapter on a bus with another node, or `vcan0`): sends a test frame on
 * 0x7CD and prints every frame received for `--seconds`, in candump -L format.
 * With two interfaces on the same bus (e.g. `can0` and `can1` wired together, or two USB adapters): runs a
 * 400-byte ISO-TP message each way through CanIsoTpLink (wall on the first, vehicle on the second) and prints
 * the transfer times. Exit code 0 on success, 1 on failure.
 *
 * Set up an interface first, e.g.: `sudo ip link set can0 type can bitrate 33333 && sudo ip link set can0 up`,
 * or `sudo modprobe vcan && sudo ip link add vcan0 type vcan && sudo ip link set vcan0 up`.
 */
import { parseArgs } from 'node:util';
import { CandumpLogWriter } from '../hardware/can/candump-log.js';
import { canFrame } from '../hardware/can/frame.js';
import { SocketCanBus } from '../hardware/can/socketcan-bus.js';
import { CanIsoTpLink } from '../hardware/link/can-isotp-link.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { bitrate: { type: 'string', default: '33333' }, seconds: { type: 'string', default: '5' } },
});
const [iface, peerIface] = positionals;
if (!iface) {
  console.error('usage: tsx scripts/socketcan-smoke.ts <iface> [<peer-iface>] [--bitrate N] [--seconds N]');
  process.exit(2);
}
const bitrate = Number(values.bitrate);

try {
  if (!peerIface) {
    const bus = new SocketCanBus({ interface: iface, bitrate });
    await bus.open();
    new CandumpLogWriter(process.stdout, { iface }).attach(bus);
    await bus.send(canFrame({ id: 0x7cd, data: [0xb0, 0x17, 0xc4, 0xa2] }));
    console.error(`sent 7CD#B017C4A2 on ${iface}; listening ${values.seconds} s`);
    await new Promise((r) => setTimeout(r, Number(values.seconds) * 1000));
    await bus.close();
  } else {
    const wall = new CanIsoTpLink({ bus: new SocketCanBus({ interface: iface, bitrate }), role: 'wall' });
    const vehicle = new CanIsoTpLink({
      bus: new SocketCanBus({ interface: peerIface, bitrate }),
      role: 'vehicle',
    });
    await wall.open();
    await vehicle.open();
    for (const [from, to, name] of [
      [wall, vehicle, 'wall → vehicle'],
      [vehicle, wall, 'vehicle → wall'],
    ] as const) {
      const message = Uint8Array.from({ length: 400 }, (_, i) => (i * 7) & 0xff);
      const started = performance.now();
      const got = new Promise<Uint8Array>((r) => to.once('message', r));
      await from.send(message);
      const received = await got;
      if (Buffer.compare(received, message) !== 0) throw new Error(`${name}: message corrupted`);
      console.log(`${name}: 400 bytes in ${(performance.now() - started).toFixed(1)} ms`);
    }
    await wall.close();
    await vehicle.close();
  }
  console.error('socketcan smoke test: OK');
} catch (err) {
  console.error(`socketcan smoke test FAILED: ${(err as Error).name}: ${(err as Error).message}`);
  process.exit(1);
}
