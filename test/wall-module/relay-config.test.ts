import { describe, expect, it } from 'vitest';
import { ConfigReader, ConfigInvalid } from '../../daemon/config-reader.js';
import { RELAY_DEFAULTS } from '../../hardware/relay/blind-relay.js';
import { DEFAULT_RELAY_PORT, readRelay } from '../../wall-module/relay-config.js';

function read(yaml: string, link: 'can' | 'ip' = 'ip') {
  const r = ConfigReader.fromYaml(yaml);
  const relay = readRelay(r.section('relay'), link);
  r.done();
  return relay;
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
});
