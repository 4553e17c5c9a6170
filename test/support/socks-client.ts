/**
 * The car's side of a SOCKS5 CONNECT through the blind relay, for tests: the greeting (no authentication), one
 * CONNECT to an IPv4 destination, and the relay's reply code.
 */
import { once } from 'node:events';
import { createConnection, type Socket } from 'node:net';

/**
 * Reads exactly n bytes from a socket.
 * @param s the socket
 * @param n bytes
 * @returns the bytes (more that arrived stay in the socket)
 * @throws when the socket closes first
 */
export function readBytes(s: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= n) {
        s.off('data', onData);
        s.off('close', onClose);
        if (buf.length > n) s.unshift(buf.subarray(n));
        resolve(buf.subarray(0, n));
      }
    };
    const onClose = (): void => reject(new Error(`closed after ${buf.length} of ${n} bytes`));
    s.on('data', onData);
    s.once('close', onClose);
  });
}

/**
 * Opens a SOCKS5 CONNECT through a relay.
 * @param a.relayHost the relay's address (default 127.0.0.1)
 * @param a.relayPort its port
 * @param a.host the IPv4 destination
 * @param a.port the destination port
 * @param a.localAddress the car's own address (default: the system's choice)
 * @param a.onSocket called with the socket at once (to close it after the test)
 * @returns the socket and the relay's reply code (0: connected)
 * @throws when the relay closes the connection before replying (e.g. the client is not authorized)
 */
export async function socksConnect(a: {
  relayHost?: string;
  relayPort: number;
  host: string;
  port: number;
  localAddress?: string;
  onSocket?: (s: Socket) => void;
}): Promise<{ s: Socket; reply: number }> {
  const s = createConnection({
    host: a.relayHost ?? '127.0.0.1',
    port: a.relayPort,
    ...(a.localAddress ? { localAddress: a.localAddress } : {}),
  });
  s.on('error', () => {}); // a refused client sees a reset: the closed read below says so
  a.onSocket?.(s);
  await once(s, 'connect');
  s.write(Uint8Array.of(5, 1, 0));
  const method = await readBytes(s, 2);
  if (method[0] !== 5 || method[1] !== 0) throw new Error(`SOCKS method refused: ${[...method].join(',')}`);
  const ip = a.host.split('.').map(Number);
  s.write(Uint8Array.of(5, 1, 0, 1, ...ip, a.port >> 8, a.port & 0xff));
  const reply = await readBytes(s, 10);
  return { s, reply: reply[1]! };
}
