import { describe, expect, it } from 'vitest';
import { ConfigReader } from '../../daemon/config-reader.js';
import { readStatus } from '../../daemon/config-sections.js';

describe('status config', () => {
  it('reads the Host/Origin allow-lists and the operator token, refusing short tokens and non-lists', () => {
    const ok = ConfigReader.fromYaml(
      'status:\n  allowedHosts: [charger.local]\n  allowedOrigins: [https://proxy.example.org]\n  operatorToken: 0123456789abcdef\n',
      'x.yaml',
    );
    expect(readStatus(ok.section('status'), 8410)).toMatchObject({
      allowedHosts: ['charger.local'],
      allowedOrigins: ['https://proxy.example.org'],
      operatorToken: '0123456789abcdef',
    });
    ok.done();
    const bad = ConfigReader.fromYaml(
      'status:\n  allowedHosts: charger.local\n  operatorToken: short\n',
      'x.yaml',
    );
    readStatus(bad.section('status'), 8410);
    expect(() => bad.done()).toThrow(
      /status\.allowedHosts[\s\S]*status\.operatorToken|status\.operatorToken[\s\S]*status\.allowedHosts/,
    );
  });
});
