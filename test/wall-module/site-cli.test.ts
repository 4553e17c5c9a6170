// The host CLI on a site's store: `boltcharge sessions --connector N` lists one connector's sessions (and the
// list names each session's connector), and `boltcharge clear-fault --connector N` clears that connector's
// fault only (without --connector: every connector's), with the daemon stopped.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../bin/cli/main.js';
import { recordConnectorFault, storedConnectorFault } from '../../daemon/connector-fault.js';
import { ManualClock } from '../../hardware/clock.js';
import { WallStore } from '../../wall-module/store.js';

/** A three-connector site config over `db`. */
function siteYaml(db: string): string {
  const entry = (id: number): string => `
  - id: ${id}
    link: { kind: ip, interface: lo, listenAddress: "::1", port: ${47400 + id} }
    evse: { kind: sim, url: "http://127.0.0.1:1/", maxPowerW: 11000, allowUnsupervised: true }
    meter: { kind: sim, url: "http://127.0.0.1:1/", name: wall, pollIntervalMs: 1000 }`;
  return `
tariff: { priceMsatPerWh: 100 }
lightning: { connectionFile: conn.json, node: wall }
store: { path: "${db}" }
connectors:${entry(1)}${entry(2)}${entry(3)}
`;
}

async function run(...args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await main(args, (s) => void (out += s));
  return { code, out };
}

describe('the host CLI on a site', () => {
  it('lists sessions per connector and clears one connector’s fault', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'site-cli-'));
    const db = join(dir, 'wall.sqlite');
    const config = join(dir, 'wall.yaml');
    writeFileSync(config, siteYaml(db));
    const clock = new ManualClock(Date.UTC(2026, 11, 2, 9, 0, 0));
    const store = WallStore.open(db, clock);
    store.forConnector(1).createSession('aa01', null);
    clock.advance(1000);
    store.forConnector(2).createSession('bb02', null);
    recordConnectorFault(store, 2, { reason: 'stuck relay', sinceMs: clock.now() });
    recordConnectorFault(store, 3, { reason: 'stuck relay', sinceMs: clock.now() });
    store.close();

    const all = await run('sessions', '--config', config, '--json');
    expect(all.code).toBe(0);
    const rows = JSON.parse(all.out) as { id: string; connectorId: number }[];
    expect(rows.map((r) => [r.id, r.connectorId])).toEqual([
      ['bb02', 2],
      ['aa01', 1],
    ]);
    const two = await run('sessions', '--config', config, '--connector', '2');
    expect(two.out).toContain('bb02');
    expect(two.out).not.toContain('aa01');
    expect(two.out).toContain('connector 2');
    expect((await run('sessions', '--config', config, '--connector', 'x')).code).toBe(2);

    const one = await run('clear-fault', '--config', config, '--connector', '2');
    expect(one.code).toBe(0);
    expect(one.out).toContain('connector 2: fault cleared');
    const check = WallStore.open(db, clock);
    expect(storedConnectorFault(check, 2)).toBeNull();
    expect(storedConnectorFault(check, 3)).not.toBeNull();
    check.close();

    const rest = await run('clear-fault', '--config', config);
    expect(rest.out).toContain('connector 1: no fault');
    expect(rest.out).toContain('connector 3: fault cleared');
    expect((await run('clear-fault', '--config', config, '--connector', '9')).code).toBe(2);
  });
});
