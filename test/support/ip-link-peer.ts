// A CableLink IpLink endpoint as a process, for tests that put wall and vehicle in different network
// namespaces (`ip netns exec <ns> tsx test/support/ip-link-peer.ts --role wall --interface veth0`).
// stdout: JSON lines {"event":"up"} / {"event":"down","reason"} / {"event":"message","hex"} / {"event":"sent"}
//         / {"event":"error","message"} / {"event":"open","port"} (the wall's TCP port); stdin: {"send":"<hex>"} per line; EOF closes.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { IpLink } from '../../hardware/link/ip-link.js';

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    interface: { type: 'string' },
    'discovery-port': { type: 'string' },
  },
});
const out = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
const link = new IpLink({
  role: values.role === 'wall' ? 'wall' : 'vehicle',
  interface: values.interface,
  discoveryPort: values['discovery-port'] ? Number(values['discovery-port']) : undefined,
  reconnectIntervalMs: 300,
  discoveryIntervalMs: 200,
});
link.on('up', () => out({ event: 'up' }));
link.on('down', (reason) => out({ event: 'down', reason }));
link.on('message', (m) => out({ event: 'message', hex: Buffer.from(m).toString('hex') }));
link.on('error', (e) => out({ event: 'error', message: e.message }));
await link.open();
out({ event: 'open', port: link.listeningPort });
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const cmd = JSON.parse(line) as { send: string };
  link.send(Buffer.from(cmd.send, 'hex')).then(
    () => out({ event: 'sent' }),
    (e: unknown) => out({ event: 'error', message: (e as Error).message }),
  );
});
rl.on('close', () => void link.close().then(() => process.exit(0)));
