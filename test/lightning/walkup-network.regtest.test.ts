// The walk-up opt-in of the regtest network manager, on its own private state folder (the shared network is never
// touched): plain `up` starts no walk-up node; `up({walkup: true})` adds router and phone with the channels
// phone→router→wall and lists them in the connection file; it is idempotent; a crashed phone is rebuilt without
// restarting the base network; `down` stops all five processes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { down, readConnection, status, up } from '../../scripts/regtest/network.js';
import { usePrivateNetworkDir } from '../support/private-network.js';

const privateDir = usePrivateNetworkDir('boltcharge-walkup-');
const log = (line: string): void => void process.stderr.write(`walkup-network: ${line}\n`);

function pidOf(name: string): number {
  return Number(readFileSync(join(privateDir(), `${name}.pid`), 'utf8'));
}

describe('regtest walk-up nodes', () => {
  it('plain up starts only btcd, wall and vehicle; the wall has an invoice-only macaroon', async () => {
    const r = await up({ log });
    log(`plain up from cold: ${(r.elapsedMs / 1000).toFixed(1)} s`);
    expect(r.connection.nodes.router).toBeUndefined();
    expect(r.connection.nodes.phone).toBeUndefined();
    expect(r.connection.nodes.wall.invoiceMacaroon).toMatch(/^[0-9a-f]+$/);
    expect(readFileSync(r.connection.nodes.wall.invoiceMacaroonPath!).toString('hex')).toBe(
      r.connection.nodes.wall.invoiceMacaroon,
    );
  });

  it('up with walkup adds router and phone, phone→router→wall channels, listed in the connection file', async () => {
    const btcdPid = pidOf('btcd');
    const r = await up({ log, walkup: true });
    log(`walk-up nodes added to a running network: ${(r.elapsedMs / 1000).toFixed(1)} s`);
    expect(r.alreadyUp).toBe(false);
    expect(pidOf('btcd')).toBe(btcdPid);
    const file = readConnection();
    expect(file.nodes.router?.pubkey).toMatch(/^0[23][0-9a-f]{64}$/);
    expect(file.nodes.phone?.pubkey).toMatch(/^0[23][0-9a-f]{64}$/);
    expect(file.walkup?.routerWall.capacitySat).toBe(5_000_000);
    expect(file.walkup?.phoneRouter.capacitySat).toBe(5_000_000);
    const s = await status();
    expect(s.nodes.phone?.channels).toHaveLength(1); // the phone's only channel is to the router
    expect(s.nodes.router?.channels.filter((c) => c.active)).toHaveLength(2);
  });

  it('a second up with walkup finds it healthy; plain up leaves the walk-up nodes running', async () => {
    const again = await up({ log, walkup: true });
    expect(again.alreadyUp).toBe(true);
    log(`walk-up health check: ${(again.elapsedMs / 1000).toFixed(1)} s`);
    const phonePid = pidOf('phone');
    const plain = await up({ log });
    expect(plain.alreadyUp).toBe(true);
    expect(plain.connection.nodes.phone?.pubkey).toBe(again.connection.nodes.phone?.pubkey);
    expect(pidOf('phone')).toBe(phonePid);
  });

  it('a crashed phone is rebuilt by up with walkup, without restarting the base network', async () => {
    const [btcdPid, wallPid] = [pidOf('btcd'), pidOf('wall')];
    const oldPhone = readConnection().nodes.phone!.pubkey;
    process.kill(pidOf('phone'), 'SIGKILL');
    const r = await up({ log, walkup: true });
    expect(r.alreadyUp).toBe(false);
    expect([pidOf('btcd'), pidOf('wall')]).toEqual([btcdPid, wallPid]);
    expect(r.connection.nodes.phone!.pubkey).not.toBe(oldPhone);
  });

  it('down stops all five processes', async () => {
    const { stopped } = await down({ log: () => {} });
    expect(stopped.sort()).toEqual(['btcd', 'phone', 'router', 'vehicle', 'wall']);
  });
});
