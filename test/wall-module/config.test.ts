import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigInvalid, ConfigReader } from '../../daemon/config-reader.js';
import { loadWallConfig, readWallConfig } from '../../wall-module/config.js';

const example = fileURLToPath(new URL('../../wall-module/wall.example.yaml', import.meta.url));

function problems(yaml: string): { key: string; reason: string }[] {
  try {
    readWallConfig(ConfigReader.fromYaml(yaml));
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigInvalid);
    return [...(err as ConfigInvalid).problems];
  }
  throw new Error('expected ConfigInvalid');
}

const minimal = `
tariff: { priceMsatPerWh: 100 }
lightning: { connectionFile: conn.json, node: wall }
link: { kind: can, port: /dev/ttyACM0 }
evse: { kind: openevse, port: /dev/ttyUSB0 }
meter: { kind: sdm630, port: /dev/ttyUSB1 }
`;

describe('wall config', () => {
  it('loads the shipped example with its documented values', () => {
    const c = loadWallConfig(example);
    expect(c.tariff.priceMsatPerWh).toBe(100n);
    expect(c.tariff.invoiceIntervalSec).toBe(16);
    expect(c.link).toMatchObject({ kind: 'can', txId: 0x7cd, rxId: 0x7cc, bitrate: 33_333 });
    expect(c.evse).toMatchObject({ kind: 'openevse', checksum: 'xor', maxCurrentA: 16 });
    expect(c.meter).toMatchObject({ kind: 'sdm630', baud: 2400, unitId: 1, parity: 'none' });
    expect(c.lightning).toMatchObject({ kind: 'connectionFile', node: 'wall' });
    // relative paths resolve against the config file's directory
    expect(c.store.path).toBe(fileURLToPath(new URL('../../wall-module/wall.sqlite', import.meta.url)));
    expect(c.ocpp).toBeUndefined();
  });

  it('fills defaults for every optional key', () => {
    const c = readWallConfig(ConfigReader.fromYaml(minimal));
    expect(c.tariff).toMatchObject({
      depositBlocks: 1,
      graceWh: 30,
      resumeAfterPayment: true,
      minBlockWh: 10,
    });
    expect(c.session).toMatchObject({ heartbeatTimeoutMs: 10_000, handshakeTimeoutMs: 30_000 });
    expect(c.evse.maxPowerW).toBe(11_000);
    expect(c.powerCut).toEqual({ maxCurrentA: 0.5, withinMs: 3000, retries: 1 });
    expect(c.status).toEqual({
      enabled: true,
      listen: '127.0.0.1',
      port: 8410,
      allowedHosts: [],
      allowedOrigins: [],
      operatorToken: undefined,
    });
    expect(c.clock.speed).toBe(1);
  });

  it('names every bad key and why, all at once', () => {
    const p = problems(`
tarif: { priceMsatPerWh: 100 }
tariff: { priceMsatPerWh: -5, minBlockWh: 50, maxBlockWh: 20, graceWh: lots }
session: { heartbeatTimeoutMs: 100 }
lightning: { connectionFile: conn.json, node: wall }
link: { kind: ip, port: 15118 }
evse: { kind: openevse }
meter: { kind: sdm999, port: /dev/x }
`);
    const byKey = Object.fromEntries(p.map((x) => [x.key, x.reason]));
    expect(byKey['tarif']).toMatch(/unknown key.*did you mean 'tariff'/);
    expect(byKey['tariff.priceMsatPerWh']).toMatch(/>= 1/);
    expect(byKey['tariff.maxBlockWh']).toMatch(/>= minBlockWh/);
    expect(byKey['tariff.graceWh']).toMatch(/integer/);
    expect(byKey['session.heartbeatTimeoutMs']).toMatch(/>= 300/);
    expect(byKey['link.port']).toMatch(/15118/);
    expect(byKey['evse.port']).toMatch(/required/);
    expect(byKey['meter.kind']).toMatch(/one of sdm120, sdm630, sim/);
  });

  it('requires exactly one way to reach the Lightning node', () => {
    const none = problems(
      minimal.replace('lightning: { connectionFile: conn.json, node: wall }', 'lightning: {}'),
    );
    expect(none.find((x) => x.key.startsWith('lightning.'))?.reason).toMatch(/needs one of/);
    const bad = problems(
      minimal.replace('{ connectionFile: conn.json, node: wall }', '{ lndconnect: "http://x" }'),
    );
    expect(bad).toContainEqual({ key: 'lightning.lndconnect', reason: 'must start with lndconnect://' });
  });

  it('reports YAML syntax errors and unreadable files clearly', () => {
    expect(problems('tariff: [1, 2\n')[0]?.key).toBe('(yaml)');
    expect(() => loadWallConfig('/nonexistent/wall.yaml')).toThrow(/cannot read/);
  });

  it('validates the optional ocpp section', () => {
    const p = problems(
      minimal + 'ocpp: { url: http://csms, stationId: W1, protocols: "ocpp2.0.1, ocpp9" }\n',
    );
    expect(p.map((x) => x.key)).toEqual(['ocpp.protocols', 'ocpp.url']);
    // the station's own rules are part of the same report (not a failure at start)
    const station = problems(
      minimal +
        `ocpp: { url: ws://csms/ocpp, stationId: "wall:1", password: ${'x'.repeat(65)}, vendorId: boltcharge }\n`,
    );
    expect(station.map((x) => x.key).sort()).toEqual(['ocpp.password', 'ocpp.stationId', 'ocpp.vendorId']);
    expect(station.find((x) => x.key === 'ocpp.stationId')?.reason).toMatch(/without ":"/);
    const c = readWallConfig(
      ConfigReader.fromYaml(minimal + 'ocpp: { url: ws://csms/ocpp, stationId: W1 }\n'),
    );
    expect(c.ocpp).toMatchObject({
      protocols: ['ocpp2.1', 'ocpp2.0.1', 'ocpp1.6'],
      vendorId: 'org.boltcharge',
      evseId: 1,
    });
  });

  it('accepts an IP link on the PLC interface or on one explicit address', () => {
    const ip = (link: string) =>
      readWallConfig(ConfigReader.fromYaml(minimal.replace('link: { kind: can, port: /dev/ttyACM0 }', link)))
        .link;
    expect(ip('link: { kind: ip, interface: eth1 }')).toEqual({
      kind: 'ip',
      interface: 'eth1',
      port: 47215,
      listenAddress: undefined,
    });
    expect(ip('link: { kind: ip, listenAddress: "fe80::1%eth1" }')).toMatchObject({
      listenAddress: 'fe80::1%eth1',
    });
    expect(ip('link: { kind: ip, interface: eth1, listenAddress: "fe80::1" }')).toMatchObject({
      interface: 'eth1',
      listenAddress: 'fe80::1',
    });
    expect(ip('link: { kind: ip, listenAddress: "::1", port: 4000 }')).toMatchObject({ port: 4000 });
    const bad = problems(
      minimal.replace(
        'link: { kind: can, port: /dev/ttyACM0 }',
        'link: { kind: ip, listenAddress: wall.local }',
      ),
    );
    expect(bad.find((p) => p.key === 'link.listenAddress')?.reason).toMatch(/literal IP address/);
  });
});
