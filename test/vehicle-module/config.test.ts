import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigInvalid, ConfigReader } from '../../daemon/config-reader.js';
import { loadVehicleConfig, readVehicleConfig } from '../../vehicle-module/config.js';

const example = fileURLToPath(new URL('../../vehicle-module/vehicle.example.yaml', import.meta.url));

const base = `
limits: { maxPriceMsatPerWh: 150, sessionBudgetMsat: 1000000, dailyBudgetMsat: 2000000 }
lightning: { socket: "127.0.0.1:10009", macaroon: admin.macaroon }
link: { kind: ip, interface: eth1 }
meter: { kind: sim, url: "http://127.0.0.1:1/", name: vehicle }
`;

describe('vehicle config', () => {
  it('loads the shipped example', () => {
    const c = loadVehicleConfig(example);
    expect(c.limits).toMatchObject({
      maxPriceMsatPerWh: 150n,
      sessionBudgetMsat: 5_000_000_000n,
      maxRoutingFeeMsat: 10_000n,
      maxRoutingFeePct: 1,
      meterTolerancePct: 3,
    });
    expect(c.link).toMatchObject({ kind: 'can', txId: 0x7cc, rxId: 0x7cd });
    expect(c.auth.identity).toBe('ephemeral');
    expect(c.notifications).toEqual({ log: true });
  });

  it('accepts budgets beyond 2^53 msat as quoted integers', () => {
    const c = readVehicleConfig(
      ConfigReader.fromYaml(base.replace('dailyBudgetMsat: 2000000', 'dailyBudgetMsat: "90071992547409930"')),
    );
    expect(c.limits.dailyBudgetMsat).toBe(90_071_992_547_409_930n);
    expect(c.link).toEqual({ kind: 'ip', port: 47215, interface: 'eth1', peerAddress: undefined });
    expect(c.lightning).toMatchObject({ kind: 'direct', socket: '127.0.0.1:10009' });
  });

  it('names bad limits, webhook and identity keys', () => {
    let err: ConfigInvalid | undefined;
    try {
      readVehicleConfig(
        ConfigReader.fromYaml(`
limits: { maxPriceMsatPerWh: 1.5, sessionBudgetMsat: 10, dailyBudgetMsat: 5, maxBlockWh: 3000, maxPrepaidWh: 100 }
auth: { identity: public }
notifications: { webhook: { url: "ftp://x", attempts: 0 }, email: me }
lightning: { socket: "nohost", macaroon: m }
link: { kind: ip, interface: eth1 }
meter: { kind: sim, url: u, name: v }
`),
      );
    } catch (e) {
      err = e as ConfigInvalid;
    }
    expect(err).toBeInstanceOf(ConfigInvalid);
    const keys = err!.problems.map((p) => p.key);
    expect(keys).toEqual(
      expect.arrayContaining([
        'limits.maxPriceMsatPerWh',
        'limits.dailyBudgetMsat',
        'limits.maxBlockWh',
        'auth.identity',
        'notifications.webhook.url',
        'notifications.webhook.attempts',
        'notifications.email',
        'lightning.socket',
      ]),
    );
    expect(err!.message).toMatch(/limits\.maxBlockWh: must be <= maxPrepaidWh \(100\)/);
  });
});
