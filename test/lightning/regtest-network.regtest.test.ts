// The regtest network manager on its own state folder (a second, private network, so the shared one is never
// touched): up is idempotent, status shows an active channel, a crashed node is recovered, down leaves no
// process behind.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { down, mine, readConnection, status, up, type UpResult } from '../../scripts/regtest/network.js';
import { usePrivateNetworkDir } from '../support/private-network.js';

const privateDir = usePrivateNetworkDir('boltcharge-regtest-');
let dir: string;
let first: UpResult;

/** Pids of live processes whose command line names our private state folder. */
function processesOf(folder: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z') continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(folder)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

beforeAll(() => {
  dir = privateDir();
});

describe('regtest network manager', () => {
  it('up starts btcd and two lnd nodes with an active vehicle→wall channel and writes the connection file', async () => {
    first = await up({ log: () => {} });
    expect(first.alreadyUp).toBe(false);
    expect(first.connectionPath).toBe(join(dir, 'connection.json'));
    const c = readConnection(first.connectionPath);
    expect(c.network).toBe('regtest');
    for (const name of ['wall', 'vehicle'] as const) {
      expect(c.nodes[name].pubkey).toMatch(/^0[23][0-9a-f]{64}$/);
      expect(c.nodes[name].socket).toMatch(/:\d+$/);
      expect(Buffer.from(c.nodes[name].cert, 'base64').toString()).toContain('BEGIN CERTIFICATE');
      expect(c.nodes[name].macaroon).toMatch(/^[0-9a-f]+$/);
    }
    expect(c.channel.capacitySat).toBeGreaterThanOrEqual(5_000_000);
  });

  it('a second up finds it healthy and starts nothing', async () => {
    const pidsBefore = processesOf(dir).sort();
    const again = await up({ log: () => {} });
    expect(again.alreadyUp).toBe(true);
    expect(again.connection.nodes.wall.pubkey).toBe(first.connection.nodes.wall.pubkey);
    expect(processesOf(dir).sort()).toEqual(pidsBefore);
  });

  it('status reports height, balances and the active channel; mine adds blocks', async () => {
    const s = await status();
    expect(s.up).toBe(true);
    expect(s.problems).toEqual([]);
    expect(s.blockHeight).toBeGreaterThanOrEqual(532);
    const vehicleChannels = s.nodes.vehicle!.channels;
    expect(vehicleChannels).toHaveLength(1);
    expect(vehicleChannels[0]).toMatchObject({
      active: true,
      capacitySat: first.connection.channel.capacitySat,
    });
    expect(s.nodes.vehicle!.onchainSat).toBeGreaterThan(0);
    const mined = await mine(2);
    expect(mined.height).toBe(s.blockHeight! + 2);
  });

  it('after a node crashes, status says down and up rebuilds a working network', async () => {
    const wallPid = Number(readFileSync(join(dir, 'wall.pid'), 'utf8'));
    process.kill(wallPid, 'SIGKILL');
    while (processesOf(dir).includes(wallPid)) await new Promise((r) => setTimeout(r, 50));
    expect((await status()).up).toBe(false);
    const recovered = await up({ log: () => {} });
    expect(recovered.alreadyUp).toBe(false);
    expect((await status()).up).toBe(true);
  });

  it('down stops every process it started and leaves none behind', async () => {
    expect(processesOf(dir).length).toBe(3);
    const { stopped } = await down({ log: () => {} });
    expect(stopped.sort()).toEqual(['btcd', 'vehicle', 'wall']);
    expect(processesOf(dir)).toEqual([]);
    expect((await status()).up).toBe(false);
    expect((await down({ log: () => {} })).stopped).toEqual([]);
  });
});
