import { describe, expect, it } from 'vitest';
import { ConfigReader, ConfigInvalid } from '../../daemon/config-reader.js';
import { RELAY_DEFAULTS } from '../../hardware/relay/blind-relay.js';
import type { LinkConfig } from '../../daemon/config-sections.js';
import { readWallConfig, wallConfigReader } from '../../wall-module/config.js';
import { DEFAULT_RELAY_PORT, readRelay, type RelayConnector } from '../../wall-module/relay-config.js';

const ipLink = (listenAddress: string, port = 47215): LinkConfig => ({
  kind: 'ip',
  interface: undefined,
  port,
  listenAddress,
});
const canLink: LinkConfig = {
  kind: 'can',
  port: '/dev/ttyACM0',
  bitrate: 33_333,
  serialBaud: 115_200,
  txId: 1,
  rxId: 2,
};

function read(yaml: string, link: 'can' | 'ip' | RelayConnector[] = 'ip') {
  const r = ConfigReader.fromYaml(yaml);
  const connectors =
    typeof link === 'string' ? [{ id: 1, link: link === 'ip' ? ipLink('::1') : canLink }] : link;
  const relay = readRelay(r.section('relay'), connectors);
  r.done();
  return relay;
}

/** The problems of reading `yaml` with these connectors (none: the relay's config). */
function refused(yaml: string, link: 'can' | 'ip' | RelayConnector[]): string[] {
  try {
    read(yaml, link);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigInvalid);
    return (err as ConfigInvalid).problems.map((p) => `${p.key}: ${p.reason}`);
  }
  return [];
}

describe('relay config', () => {
  it('is off unless enabled, and takes its defaults from the relay', () => {
    expect(read('')).toEqual({ enabled: false });
    expect(read('relay: {enabled: true}')).toEqual({
      enabled: true,
      port: DEFAULT_RELAY_PORT,
      rules: { ports: [9735], allow: [] },
      limits: RELAY_DEFAULTS,
    });
  });

  it('names every bad key, and refuses a CAN link', () => {
    const bad = (yaml: string, link: 'can' | 'ip' = 'ip') => {
      try {
        read(yaml, link);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigInvalid);
        return (err as ConfigInvalid).problems.map((p) => p.key);
      }
      throw new Error('accepted');
    };
    expect(bad('relay: {enabled: true}', 'can')).toEqual(['relay.enabled']);
    expect(bad("relay: {enabled: true, allow: ['example.com'], port: 0, maxBytes: 1}")).toEqual([
      'relay.port',
      'relay.allow',
      'relay.maxBytes',
    ]);
  });

  it('runs on a site with any IP connector, and refuses two IP connectors on one listen address, naming them', () => {
    // a CAN connector beside an IP one: the relay serves the IP one
    expect(
      refused('relay: {enabled: true}', [
        { id: 1, link: canLink },
        { id: 2, link: ipLink('127.0.0.2') },
      ]),
    ).toEqual([]);
    // every IP connector on its own address: one relay each, on the same port
    expect(
      refused('relay: {enabled: true}', [
        { id: 1, link: ipLink('127.0.0.1', 47301) },
        { id: 2, link: ipLink('127.0.0.2', 47302) },
      ]),
    ).toEqual([]);
    // no IP connector at all
    expect(
      refused('relay: {enabled: true}', [
        { id: 1, link: canLink },
        { id: 2, link: { ...canLink, port: '/dev/ttyACM1' } },
      ]),
    ).toEqual([expect.stringContaining('relay.enabled: the relay needs the IP (PLC) link')]);
    // two links on one address (different link ports): the relays would collide on the relay port
    expect(
      refused('relay: {enabled: true}', [
        { id: 1, link: ipLink('::1', 47301) },
        { id: 3, link: ipLink('::1', 47303) },
      ]),
    ).toEqual([expect.stringContaining('relay.enabled: connectors 1 and 3 both listen on ::1')]);
    // the same link-local interface, named two ways
    expect(
      refused('relay: {enabled: true}', [
        { id: 1, link: { kind: 'ip', interface: 'eth1', port: 1, listenAddress: 'fe80::1' } },
        { id: 2, link: { kind: 'ip', interface: undefined, port: 2, listenAddress: 'FE80::1%eth1' } },
      ]),
    ).toEqual([expect.stringContaining('connectors 1 and 2 both listen on')]);
    // a disabled relay does not care
    expect(
      refused('relay: {enabled: false}', [
        { id: 1, link: ipLink('::1', 47301) },
        { id: 2, link: ipLink('::1', 47302) },
      ]),
    ).toEqual([]);
  });

  it('the wall config reads the relay against every connector', () => {
    const yaml = (second: string): string => `
tariff: { priceMsatPerWh: 100 }
lightning: { connectionFile: conn.json, node: wall }
relay: { enabled: true }
connectors:
  - id: 1
    link: { kind: ip, listenAddress: "127.0.0.1", port: 47301 }
    evse: { kind: sim, url: "http://127.0.0.1:1/", allowUnsupervised: true }
    meter: { kind: sim, url: "http://127.0.0.1:1/", name: wall1 }
  - id: 2
    link: { kind: ip, listenAddress: "${second}", port: 47302 }
    evse: { kind: sim, url: "http://127.0.0.1:1/", allowUnsupervised: true }
    meter: { kind: sim, url: "http://127.0.0.1:1/", name: wall2 }
`;
    expect(readWallConfig(wallConfigReader(yaml('127.0.0.2'))).relay).toMatchObject({ enabled: true });
    expect(() => readWallConfig(wallConfigReader(yaml('127.0.0.1')))).toThrow(
      /relay\.enabled.*connectors 1 and 2 both listen on 127\.0\.0\.1/s,
    );
  });
});
