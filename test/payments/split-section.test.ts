// The wall configuration's `split:` section through the daemon's config reader (issue 14): a valid section is
// read (tlsCaFile resolved against the config's folder), a bad one is reported under `split` by name.
import { describe, expect, it } from 'vitest';
import { ConfigInvalid, ConfigReader } from '../../daemon/config-reader.js';
import { readSplitSection } from '../../wall-module/payouts/split-section.js';

const operatorKey = '02' + 'ab'.repeat(32);
const yaml = (split: string): ConfigReader =>
  ConfigReader.fromYaml(`split:\n${split}`, '/etc/boltcharge/wall.yaml');

describe('wall config split section', () => {
  it('reads the section and resolves tlsCaFile', () => {
    const r = yaml(`  recipients:
    - { name: host, remainder: true, shares: 90 }
    - { name: operator, shares: 10, destination: op@pay.example.com, payeePubkey: '${operatorKey}' }
  maxFeeMsat: 2000
  tlsCaFile: ca.pem
`);
    const split = readSplitSection(r);
    r.done();
    expect(split?.split.recipients.map((x) => x.name)).toEqual(['host', 'operator']);
    expect(split?.policy.maxFeeMsat).toBe(2000n);
    expect(split?.tlsCaFile).toBe('/etc/boltcharge/ca.pem');
  });
  it('is absent without a split key', () => {
    const r = ConfigReader.fromYaml('{}');
    expect(readSplitSection(r)).toBeUndefined();
    r.done();
  });
  it('reports an LNURL destination without a pinned payee as a config problem', () => {
    const r = yaml(`  recipients:
    - { name: host, remainder: true }
    - { name: operator, shares: 10, destination: op@pay.example.com }
`);
    expect(readSplitSection(r)).toBeUndefined();
    expect(() => r.done()).toThrow(ConfigInvalid);
    expect(() => r.done()).toThrow(/split.*payeePubkey/);
  });
});
