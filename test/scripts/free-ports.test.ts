// Ports handed to btcd, lnd and the daemons come from below the ephemeral range: an outgoing connection's local
// port (drawn from that range) can never take one between the check and the server's bind (CI once lost a
// regtest network to "bind: address already in use" on an lnd P2P port picked with listen(0)).
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ephemeralLowPort, freePorts } from '../../scripts/free-ports.js';

describe('free ports for servers started later', () => {
  it('are distinct, free, below the ephemeral range, and never handed out twice', async () => {
    const first = await freePorts(6);
    const second = await freePorts(6);
    const all = [...first, ...second];
    expect(new Set(all).size).toBe(12);
    for (const port of all) {
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port).toBeLessThan(ephemeralLowPort());
    }
    // each can be bound by the server it is meant for
    for (const port of all) {
      const s = createServer();
      await new Promise<void>((ok, fail) => {
        s.once('error', fail);
        s.listen(port, '127.0.0.1', ok);
      });
      await new Promise((r) => s.close(r));
    }
  });

  it('two test workers draw from disjoint slices, so they never race for one port', async () => {
    const saved = process.env.VITEST_POOL_ID;
    try {
      process.env.VITEST_POOL_ID = '1';
      const one = await freePorts(20);
      process.env.VITEST_POOL_ID = '2';
      const two = await freePorts(20);
      expect(Math.max(...one)).toBeLessThan(Math.min(...two));
    } finally {
      if (saved === undefined) delete process.env.VITEST_POOL_ID;
      else process.env.VITEST_POOL_ID = saved;
    }
  });
});
