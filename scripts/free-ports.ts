/**
 * Free loopback TCP ports for servers that another process binds later (btcd, lnd, the daemons' links and pages).
 *
 * A port the OS hands out for `listen(0)` comes from the ephemeral range (Linux `ip_local_port_range`, by default
 * 32768–60999), the range every outgoing connection's local port is drawn from too. Between the check and the
 * server's bind (lnd binds its P2P port only once its wallet is unlocked, seconds after it starts) any client
 * connection on the machine may take that port, and the server dies with "bind: address already in use" (seen in
 * CI: three regtest networks starting at once). So ports are drawn at random below the ephemeral range, where no
 * outgoing connection lands, and each is checked free by binding it.
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Lowest port drawn (above the well-known and most registered service ports). */
const LOWEST_PORT = 10_000;
/** Fewest ports a worker's slice must hold; with less room below the ephemeral range the OS picks. */
const MIN_RANGE = 1_000;
/** Draws tried per port before giving up. */
const MAX_DRAWS = 200;

/**
 * The first port of the OS's ephemeral range.
 *
 * @returns Linux: from `/proc/sys/net/ipv4/ip_local_port_range`; elsewhere the IANA range's start, 49152
 */
export function ephemeralLowPort(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 49_152;
  } catch {
    return 49_152;
  }
}

/** Binds `port` on loopback (0: the OS picks) and releases it; resolves to the port bound, null when taken. */
function tryBind(port: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolve(null) : reject(err),
    );
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      const addr = s.address();
      const bound = typeof addr === 'object' && addr ? addr.port : null;
      s.close(() => resolve(bound));
    });
  });
}

/** Ports this process handed out (a server may not have bound one yet: it is never handed out twice). */
const handedOut = new Set<number>();
/** Slices of the range: each test worker draws from its own, so two workers never draw the same port. */
const SLICES = 8;

/**
 * The range to draw from: below the ephemeral range, the test worker's slice of it when running under vitest
 * (`VITEST_POOL_ID`), or null when the range below the ephemeral one is too small.
 */
function drawRange(): { lowest: number; highest: number } | null {
  const highest = ephemeralLowPort() - 1;
  if (highest - LOWEST_PORT + 1 < MIN_RANGE * SLICES) return null;
  const worker = Number(process.env.VITEST_POOL_ID);
  if (!Number.isInteger(worker) || worker < 1) return { lowest: LOWEST_PORT, highest };
  const size = Math.floor((highest - LOWEST_PORT + 1) / SLICES);
  const lowest = LOWEST_PORT + ((worker - 1) % SLICES) * size;
  return { lowest, highest: lowest + size - 1 };
}

/**
 * Distinct free loopback TCP ports outside the ephemeral range (the OS's choice when that range leaves too little
 * room below it). Never the same port twice in one process.
 *
 * @param count how many ports
 * @returns the ports, each free when checked
 * @throws Error when no free port is found in `MAX_DRAWS` draws
 */
export async function freePorts(count: number): Promise<number[]> {
  const range = drawRange();
  const out: number[] = [];
  while (out.length < count) {
    let found: number | null = null;
    for (let i = 0; i < MAX_DRAWS && found === null; i++) {
      const candidate = range ? randomInt(range.lowest, range.highest + 1) : 0;
      if (handedOut.has(candidate)) continue;
      found = await tryBind(candidate);
      if (found !== null && handedOut.has(found)) found = null;
    }
    if (found === null)
      throw new Error(
        `no free loopback port${range ? ` in ${range.lowest}–${range.highest}` : ''} after ${MAX_DRAWS} draws`,
      );
    handedOut.add(found);
    out.push(found);
  }
  return out;
}
