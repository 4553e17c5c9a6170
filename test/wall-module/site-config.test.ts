// The wall config's `connectors:` list: each entry's link, charger, meter, EVSE id and power-cut override; the
// single-connector form is connector 1 (with ocpp.evseId); mistakes are refused with the entry named.
import { describe, expect, it } from 'vitest';
import { ConfigInvalid } from '../../daemon/config-reader.js';
import { readWallConfig, wallConfigReader } from '../../wall-module/config.js';

const base = `
tariff: { priceMsatPerWh: 100 }
lightning: { connectionFile: conn.json, node: wall }
`;
const entry = (id: number, extra = ''): string => `
  - id: ${id}${extra}
    link: { kind: ip, interface: lo, listenAddress: "::1", port: ${47500 + id} }
    evse: { kind: sim, url: "http://127.0.0.1:1/", maxPowerW: 22000, allowUnsupervised: true }
    meter: { kind: sim, url: "http://127.0.0.1:1/", name: wall }`;

const problems = (yaml: string): string[] => {
  try {
    readWallConfig(wallConfigReader(yaml));
  } catch (err) {
    if (err instanceof ConfigInvalid) return err.problems.map((p) => `${p.key}: ${p.reason}`);
    throw err;
  }
  return [];
};

describe('the connectors list', () => {
  it('reads each connector, with defaults defined once and per-connector overrides', () => {
    const c = readWallConfig(
      wallConfigReader(`${base}powerCut: { withinMs: 4000 }
connectors:${entry(1)}${entry(2, '\n    evseId: 7\n    powerCut: { retries: 3 }')}
`),
    );
    expect(c.connectors.map((x) => [x.id, x.evseId])).toEqual([
      [1, 1],
      [2, 7],
    ]);
    expect(c.connectors[0]!.powerCut).toEqual({ maxCurrentA: 0.5, withinMs: 4000, retries: 1 });
    expect(c.connectors[1]!.powerCut).toEqual({ maxCurrentA: 0.5, withinMs: 4000, retries: 3 });
    expect(c.connectors[1]!.evse.maxPowerW).toBe(22000);
    // the top-level device keys are the first connector's (what a single-connector wall's code reads)
    expect(c.evse).toBe(c.connectors[0]!.evse);
  });

  it('the single-connector form is connector 1 on ocpp.evseId', () => {
    const c = readWallConfig(
      wallConfigReader(`${base}
link: { kind: ip, interface: lo, listenAddress: "::1" }
evse: { kind: sim, url: "http://127.0.0.1:1/", allowUnsupervised: true }
meter: { kind: sim, url: "http://127.0.0.1:1/", name: wall }
ocpp: { url: "ws://127.0.0.1:1", stationId: S, evseId: 3 }
`),
    );
    expect(c.connectors).toHaveLength(1);
    expect(c.connectors[0]).toMatchObject({ id: 1, evseId: 3 });
    expect(c.ocpp?.evseId).toBe(3);
  });

  it('refuses duplicate ids, a shared link, both forms at once and an empty list, naming the entry', () => {
    expect(problems(`${base}connectors:${entry(1)}${entry(1)}`)).toContainEqual(
      expect.stringContaining('two connectors have id 1'),
    );
    expect(
      problems(`${base}connectors:${entry(1)}
  - id: 2
    link: { kind: ip, interface: lo, listenAddress: "::1", port: 47501 }
    evse: { kind: sim, url: "http://127.0.0.1:1/", allowUnsupervised: true }
    meter: { kind: sim, url: "http://127.0.0.1:1/", name: wall }`),
    ).toContainEqual(expect.stringContaining('share one cable link'));
    expect(
      problems(`${base}evse: { kind: sim, url: "http://127.0.0.1:1/" }
connectors:${entry(1)}`),
    ).toContainEqual(expect.stringContaining('evse: give it inside each entry'));
    expect(problems(`${base}connectors: []`)).toContainEqual(expect.stringContaining('at least one'));
    expect(
      problems(`${base}connectors:${entry(1)}
  - id: 2
    link: { kind: ip, interface: lo, listenAddress: "::1", port: 47600 }
    evse: { kind: sim, allowUnsupervised: true }
    meter: { kind: sim, url: "http://127.0.0.1:1/", name: wall }`),
    ).toContainEqual(expect.stringMatching(/^connectors\.2\.evse\.url/));
  });

  it('runs walk-up on every connector unless an entry opts out with walkup: false', () => {
    const walkup = `walkup: { priceMsatPerWh: 200, publicBaseUrl: "https://charger.example.com", totpSecret: "site-secret-0123456789" }
`;
    const c = readWallConfig(
      wallConfigReader(`${base}${walkup}connectors:${entry(1)}${entry(2, '\n    walkup: false')}${entry(3, '\n    walkup: true')}
`),
    );
    expect(c.walkup?.enabled).toBe(true);
    expect(c.connectors.map((x) => [x.id, x.walkup])).toEqual([
      [1, true],
      [2, false],
      [3, true],
    ]);
    // the single-connector form: `walkup:` is the section, the one connector runs it
    const single = readWallConfig(
      wallConfigReader(`${base}${walkup}
link: { kind: ip, interface: lo, listenAddress: "::1" }
evse: { kind: sim, url: "http://127.0.0.1:1/", allowUnsupervised: true }
meter: { kind: sim, url: "http://127.0.0.1:1/", name: wall }
`),
    );
    expect(single.connectors[0]!.walkup).toBe(true);
    // a non-boolean opt-out is refused with the entry named
    expect(problems(`${base}${walkup}connectors:${entry(1, '\n    walkup: maybe')}`)).toContainEqual(
      expect.stringContaining('connectors.1.walkup'),
    );
  });
});
