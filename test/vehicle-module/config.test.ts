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
      maxFeeMsat: 10_000n,
      maxFeePpm: 10_000,
      meterTolerancePpm: 30_000,
    });
    expect(c.warnings).toEqual([]);
    expect(c.link).toMatchObject({ kind: 'can', txId: 0x7cc, rxId: 0x7cd });
    expect(c.auth.identity).toBe('ephemeral');
    expect(c.notifications).toEqual({ log: true });
  });

  it('reads the former percent and routing-fee keys as ppm and msat, with a warning naming the new key', () => {
    const c = readVehicleConfig(
      ConfigReader.fromYaml(
        base.replace(
          'dailyBudgetMsat: 2000000 }',
          'dailyBudgetMsat: 2000000, meterTolerancePct: 2.5, maxRoutingFeePct: 0.5, maxRoutingFeeMsat: 7000 }',
        ),
      ),
    );
    expect(c.limits).toMatchObject({ meterTolerancePpm: 25_000, maxFeePpm: 5_000, maxFeeMsat: 7_000n });
    expect(c.warnings.map((w) => w.key)).toEqual([
      'limits.meterTolerancePct',
      'limits.maxRoutingFeeMsat',
      'limits.maxRoutingFeePct',
    ]);
    expect(c.warnings[0]!.reason).toBe(
      "was renamed 'meterTolerancePpm' (percent × 10000 = ppm): write meterTolerancePpm: 25000",
    );
  });

  it('refuses a renamed key given under both names, and a former percent key out of range', () => {
    const read = (limits: string) => () =>
      readVehicleConfig(
        ConfigReader.fromYaml(
          base.replace('dailyBudgetMsat: 2000000 }', `dailyBudgetMsat: 2000000, ${limits} }`),
        ),
      );
    expect(read('maxFeePpm: 100, maxRoutingFeePct: 1')).toThrow(
      /limits\.maxRoutingFeePct: was renamed 'maxFeePpm': set only 'maxFeePpm'/,
    );
    expect(read('meterTolerancePct: 150')).toThrow(/limits\.meterTolerancePct: must be <= /);
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
