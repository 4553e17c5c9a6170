// Network probes run inside a network namespace (`ip netns exec <ns> tsx test/support/net-probe.ts '<json>'`)
// for the IP link exposure tests. The argument is a JSON array of probes; stdout is one JSON array of results:
//   { "tcp": { "host", "port", "localAddress"? } } → { "connected": bool, "code"?, "bytes", "closedByPeer" }
//     (when connected, sends one length-prefixed frame and waits up to 1.5 s for the peer to close)
//   { "discovery": { "interface", "port" } } → { "answered": bool } (a BCDISC?1 request to ff02::b0c:1)
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { createConnection } from 'node:net';

type Probe =
  | { tcp: { host: string; port: number; localAddress?: string } }
  | { discovery: { interface: string; port: number } };

const WAIT_MS = 1500;

function tcp(p: { host: string; port: number; localAddress?: string }): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const s = createConnection({ host: p.host, port: p.port, localAddress: p.localAddress });
    let bytes = 0;
    let connected = false;
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ connected, bytes, closedByPeer: false, code: connected ? undefined : 'TIMEOUT' });
    }, WAIT_MS * 2);
    s.on('data', (d: Buffer) => (bytes += d.length));
    s.on('connect', () => {
      connected = true;
      s.write(Buffer.from([0, 0, 0, 1, 0xee]));
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ connected, bytes, closedByPeer: connected, code: err.code });
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ connected, bytes, closedByPeer: connected });
    });
  });
}

function discovery(p: { interface: string; port: number }): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const udp = createSocket({ type: 'udp6' });
    const nonce = randomBytes(8);
    const done = (answered: boolean): void => {
      clearTimeout(timer);
      udp.close();
      resolve({ answered });
    };
    const timer = setTimeout(() => done(false), WAIT_MS);
    udp.on('message', (msg) => {
      if (msg.subarray(8, 16).equals(nonce)) done(true);
    });
    udp.bind(0, '::', () => {
      udp.setMulticastInterface(`::%${p.interface}`);
      udp.send(Buffer.concat([Buffer.from('BCDISC?1'), nonce]), p.port, `ff02::b0c:1%${p.interface}`);
    });
  });
}

const probes = JSON.parse(process.argv[2] ?? '[]') as Probe[];
const results: Record<string, unknown>[] = [];
for (const p of probes) results.push('tcp' in p ? await tcp(p.tcp) : await discovery(p.discovery));
process.stdout.write(`${JSON.stringify(results)}\n`);
