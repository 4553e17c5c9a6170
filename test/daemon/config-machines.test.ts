// The YAML readers and the session machines agree: defaults are defined once (protocol/config.ts), and every
// configuration the wall or vehicle reader accepts is one the seller or buyer machine accepts too — so a daemon
// never starts from a config its machine then refuses (the `invoiceIntervalSec: 1.5` hang of issue 10).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigInvalid, ConfigReader } from '../../daemon/config-reader.js';
import {
  BUYER_DEFAULTS,
  buyerConfig,
  MAX_MSAT,
  MIN_INVOICE_MSAT,
  PRICE_RANGE_MSAT_PER_WH,
  SELLER_DEFAULTS,
  sellerConfig,
  smallestInvoiceBlockWh,
} from '../../protocol/config.js';
import { evaluateOffer } from '../../protocol/buyer.js';
import { blockBeforeLimit, offerFor } from '../../protocol/seller.js';
import { buyerConfigOf, readVehicleConfig, type VehicleConfig } from '../../vehicle-module/config.js';
import { readWallConfig, type WallConfig } from '../../wall-module/config.js';

const PUB = '02' + '11'.repeat(32);

/** The wall daemon's mapping of its config onto the seller machine's (wall-module/wall-daemon.ts). */
function seller(c: WallConfig) {
  return sellerConfig({
    nodePubkey: PUB,
    network: 'regtest',
    priceMsatPerWh: c.tariff.priceMsatPerWh,
    targetInvoiceIntervalSec: c.tariff.invoiceIntervalSec,
    minBlockWh: c.tariff.minBlockWh,
    maxBlockWh: c.tariff.maxBlockWh,
    depositBlocks: c.tariff.depositBlocks,
    graceWh: c.tariff.graceWh,
    maxPowerW: c.evse.maxPowerW,
    heartbeatTimeoutMs: c.session.heartbeatTimeoutMs,
    handshakeTimeoutMs: c.session.handshakeTimeoutMs,
    helloRetryMs: c.session.helloRetryMs,
    resumeWhenPaid: c.tariff.resumeAfterPayment,
    invoiceExpirySec: c.tariff.invoiceExpirySec,
    meterReportIntervalMs: c.session.meterReportIntervalMs,
  });
}

/** The vehicle daemon's mapping of its config onto the buyer machine's (vehicle-module/config.ts). */
function buyer(c: VehicleConfig) {
  return buyerConfigOf(c, { network: 'regtest', nodePubkey: PUB, spentTodayMsat: c.limits.dailyBudgetMsat });
}

const wallRest = `
lightning: { connectionFile: conn.json, node: wall }
link: { kind: can, port: /dev/ttyACM0 }
meter: { kind: sim, url: "http://127.0.0.1:1/", name: wall }
`;
const vehicleRest = `
lightning: { connectionFile: conn.json, node: vehicle }
link: { kind: can, port: /dev/ttyACM0 }
meter: { kind: sim, url: "http://127.0.0.1:1/", name: vehicle }
`;

/** Reads a config; undefined when the reader refuses it. */
function tryRead<T>(read: (r: ConfigReader) => T, yaml: string): T | undefined {
  try {
    return read(ConfigReader.fromYaml(yaml));
  } catch (err) {
    if (err instanceof ConfigInvalid) return undefined;
    throw err;
  }
}

/** A YAML scalar a hand-edited config might hold: in range, at the edges, fractional, negative or huge. */
const scalar = fc.oneof(
  fc.integer({ min: -5, max: 2_000 }),
  fc.integer({ min: 0, max: 5_000_000 }),
  fc.constantFrom(0, 1, 1.5, 3.3333, -1, 2 ** 53, 1e21, 65_535, 65_536, 4_294_967_296),
  fc.double({ min: 0, max: 1e6, noNaN: true }),
  fc.constantFrom('"9223372036854775808"', '"18446744073709551616"', '"2100000000000000000"', '"12"'),
);
const fields = <K extends string>(keys: readonly K[]) =>
  fc.record(
    Object.fromEntries(
      keys.map((k) => [
        k,
        fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: scalar }),
      ]),
    ) as Record<K, fc.Arbitrary<number | string | undefined>>,
  );
/** A YAML flow mapping of the defined entries; later objects' defined values override earlier ones. */
const yamlMap = (...layers: Record<string, number | string | undefined>[]): string => {
  const merged: Record<string, number | string> = {};
  for (const layer of layers) for (const [k, v] of Object.entries(layer)) if (v !== undefined) merged[k] = v;
  return `{ ${Object.entries(merged)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ')} }`;
};

describe('defaults are defined once', () => {
  it("the wall reader's defaults are the seller machine's", () => {
    const c = readWallConfig(
      ConfigReader.fromYaml(`tariff: { priceMsatPerWh: 100 }\nevse: { kind: sim, url: u }\n${wallRest}`),
    );
    const s = seller(c);
    const bare = sellerConfig({ nodePubkey: PUB, network: 'regtest', priceMsatPerWh: 100n });
    expect(s).toEqual(bare);
    expect(c.tariff).toMatchObject({
      maxBlockWh: SELLER_DEFAULTS.maxBlockWh,
      depositBlocks: SELLER_DEFAULTS.depositBlocks,
      graceWh: SELLER_DEFAULTS.graceWh,
    });
    expect(c.evse.maxPowerW).toBe(SELLER_DEFAULTS.maxPowerW);
  });

  it("the vehicle reader's defaults are the buyer machine's", () => {
    const c = readVehicleConfig(
      ConfigReader.fromYaml(
        `limits: { maxPriceMsatPerWh: 150, sessionBudgetMsat: 1000000, dailyBudgetMsat: 1000000 }\n${vehicleRest}`,
      ),
    );
    const b = buyer(c);
    const bare = buyerConfig({
      network: 'regtest',
      maxPriceMsatPerWh: 150n,
      sessionBudgetMsat: 1_000_000n,
      spentTodayMsat: 1_000_000n,
    });
    expect(b).toEqual(bare);
    expect(c.limits.maxBlockWh).toBe(BUYER_DEFAULTS.maxBlockWh);
  });
});

describe('smallestInvoiceBlockWh', () => {
  it('bounds every block the seller sizes before a limit at least min away (the config check relies on it)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 0, max: 200 }),
        fc.nat(),
        fc.integer({ min: 0, max: 1_000 }),
        (minBlockWh, extra, pick, beyond) => {
          const maxBlockWh = minBlockWh + extra;
          const blockWh = minBlockWh + (pick % (extra + 1));
          const toLimitWh = minBlockWh + beyond;
          const got = blockBeforeLimit(blockWh, toLimitWh, minBlockWh, maxBlockWh);
          expect(got).toBeGreaterThanOrEqual(smallestInvoiceBlockWh(minBlockWh, maxBlockWh));
        },
      ),
      { numRuns: 1_000 },
    );
    expect(smallestInvoiceBlockWh(20, 30)).toBe(11);
    expect(smallestInvoiceBlockWh(10, 19)).toBe(10);
    expect(MIN_INVOICE_MSAT).toBe(1000n);
  });
});

describe('every configuration a reader accepts, its machine accepts', () => {
  it('wall: random tariff, session and evse values', () => {
    let accepted = 0;
    fc.assert(
      fc.property(
        fields([
          'priceMsatPerWh',
          'invoiceIntervalSec',
          'minBlockWh',
          'maxBlockWh',
          'depositBlocks',
          'graceWh',
          'invoiceExpirySec',
        ] as const),
        fields([
          'heartbeatTimeoutMs',
          'meterReportIntervalMs',
          'handshakeTimeoutMs',
          'helloRetryMs',
        ] as const),
        fields(['maxPowerW', 'maxCurrentA'] as const),
        (tariff, session, evse) => {
          const yaml =
            `tariff: ${yamlMap({ priceMsatPerWh: 100 }, tariff)}\nsession: ${yamlMap(session)}\n` +
            `evse: ${yamlMap(evse, { kind: 'sim', url: 'u' })}\n${wallRest}`;
          const c = tryRead(readWallConfig, yaml);
          if (c === undefined) return;
          accepted++;
          const s = seller(c);
          expect(s.ok, `${yaml}\n${s.ok ? '' : s.error.message}`).toBe(true);
        },
      ),
      { numRuns: 1_000 },
    );
    expect(accepted).toBeGreaterThan(20);
  });

  it('vehicle: random limits and session values', () => {
    let accepted = 0;
    fc.assert(
      fc.property(
        fields([
          'maxPriceMsatPerWh',
          'maxBlockWh',
          'maxPrepaidWh',
          'sessionBudgetMsat',
          'dailyBudgetMsat',
          'targetEnergyWh',
          'meterTolerancePpm',
          'meterToleranceWh',
          'maxFeeMsat',
          'maxFeePpm',
          'meterTolerancePct',
          'maxRoutingFeePct',
        ] as const),
        fields([
          'heartbeatTimeoutMs',
          'handshakeTimeoutMs',
          'receiptTimeoutMs',
          'meterReportIntervalMs',
          'invoiceExpiryMarginSec',
        ] as const),
        (limits, session) => {
          const yaml =
            `limits: ${yamlMap({ maxPriceMsatPerWh: 150, sessionBudgetMsat: 1000, dailyBudgetMsat: '"2100000000000000000"' }, limits)}\n` +
            `session: ${yamlMap(session)}\n${vehicleRest}`;
          const c = tryRead(readVehicleConfig, yaml);
          if (c === undefined) return;
          accepted++;
          const b = buyer(c);
          expect(b.ok, `${yaml}\n${b.ok ? '' : b.error.message}`).toBe(true);
        },
      ),
      { numRuns: 1_000 },
    );
    expect(accepted).toBeGreaterThan(20);
  });
});

describe('money a vehicle config accepts fits the store (signed 64-bit)', () => {
  it('the highest price limit declines an offer at 2^63 msat/Wh (which crashed the vehicle in SQLite)', () => {
    const c = readVehicleConfig(
      ConfigReader.fromYaml(
        `limits: { maxPriceMsatPerWh: ${PRICE_RANGE_MSAT_PER_WH.max}, sessionBudgetMsat: "${MAX_MSAT}", ` +
          `dailyBudgetMsat: "${MAX_MSAT}" }\n${vehicleRest}`,
      ),
    );
    const b = buyer(c);
    if (!b.ok) throw new Error(b.error.message);
    const car = { ...b.value, spentTodayMsat: 0n };
    const wall = sellerConfig({ nodePubkey: PUB, network: 'regtest', priceMsatPerWh: 100n });
    if (!wall.ok) throw new Error(wall.error.message);
    const offer = { ...offerFor(wall.value), priceMsatPerWh: 1n << 63n };
    expect(evaluateOffer(car, offer)).toMatchObject({ accept: false });
    expect(evaluateOffer(car, { ...offer, priceMsatPerWh: PRICE_RANGE_MSAT_PER_WH.max })).toMatchObject({
      accept: true,
    });
    // and the largest amounts a config allows stay inside SQLite's integers even when added up
    expect(MAX_MSAT * 4n).toBeLessThan(1n << 63n);
    expect(PRICE_RANGE_MSAT_PER_WH.max * 1_000_000n * 100n).toBeLessThan(1n << 63n);
  });
});
