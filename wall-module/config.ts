/**
 * The wall daemon's configuration (`boltcharge wall --config wall.yaml`): tariff and block sizing, deposit,
 * grace, heartbeat, the cable link, the EVSE, the meter, the Lightning node, the store, the status page and
 * OCPP. `loadWallConfig` validates every key and reports all problems at once, naming each bad key.
 */
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { ConfigReader } from '../daemon/config-reader.js';
import {
  readLink,
  readMeter,
  readServiceSections,
  ROLE_DEFAULTS,
  type ServiceSections,
  type LinkConfig,
  type MeterConfig,
} from '../daemon/config-sections.js';
import {
  PRICE_RANGE_MSAT_PER_WH,
  SELLER_DEFAULTS as D,
  SELLER_RANGES as R,
  tariffPayabilityProblem,
} from '../protocol/config.js';
import type { SplitConfig } from '../payments/split-config.js';
import { readSplitSection } from './payouts/split-section.js';
import { STATION_FIELD_RULES } from './ocpp/station-config.js';
import { readRelay, type RelayConfig } from './relay-config.js';
import { readOfflineSection, type OfflineConfig } from './offline/stock-config.js';
import { readWalkupSection, type WalkupSectionConfig } from './walkup/config.js'; // walk-up

/** What the wall sells and how it invoices. */
export interface TariffConfig {
  /** price in msat per Wh */
  priceMsatPerWh: bigint;
  /** target time between invoices, seconds (blocks are sized from measured power to hit it) */
  invoiceIntervalSec: number;
  /** smallest energy block one invoice buys, Wh */
  minBlockWh: number;
  /** largest energy block one invoice buys, Wh */
  maxBlockWh: number;
  /** blocks to be paid before the first energy flows */
  depositBlocks: number;
  /** unpaid energy tolerated before the power is cut, Wh */
  graceWh: number;
  /** BOLT11 expiry of each invoice, seconds */
  invoiceExpirySec: number;
  /** energize again when a late payment arrives after a non-payment cut */
  resumeAfterPayment: boolean;
  /** time the car may stay cut for non-payment before the session is ended, seconds (0 = no limit) */
  maxSuspendSec: number;
  /** while the power is cut, an invoice unpaid this long is cancelled and reissued (covers a car that never
   *  received it, e.g. after a restart or a lost frame), seconds */
  reissueAfterSec: number;
  /** offline case 3: most energy one car (identity key) may hold on unpaid signed promises, Wh (0 = refused) */
  promiseCapWh: number;
  /** offline case 3: most energy all cars together may hold on unpaid promises, Wh (0 = no site cap) */
  promiseSiteCapWh: number;
}

/** Cable session timing. */
export interface SessionConfig {
  /** silence on the link after which the power is cut and the session ends, ms (pings go every third of it) */
  heartbeatTimeoutMs: number;
  /** how often a meter reading is sent to the car, ms */
  meterReportIntervalMs: number;
  /** the handshake must complete within this, ms */
  handshakeTimeoutMs: number;
  /** resend our hello this often while the car has not answered, ms */
  helloRetryMs: number;
  /** first retry after the node failed to create an invoice, ms (doubles up to invoiceRetryMaxMs) */
  invoiceRetryFirstMs: number;
  /** longest wait between invoice-creation retries, ms */
  invoiceRetryMaxMs: number;
  /** first re-greeting of a plugged-in car whose handshake timed out, ms (doubles up to regreetMaxMs) */
  regreetFirstMs: number;
  /** longest wait between re-greetings, ms */
  regreetMaxMs: number;
}

/** The charger. */
export type EvseConfig = (
  | {
      kind: 'openevse';
      port: string;
      baud: number;
      checksum: 'xor' | 'sum';
      /** current limit offered to the car, A */
      maxCurrentA: number;
      /** largest power the charger delivers, W (sizes the deposit block before any reading) */
      maxPowerW: number;
    }
  | { kind: 'sim'; url: string; maxCurrentA: number; maxPowerW: number }
) & {
  /** the EVSE's own watchdog (heartbeat supervision) falls back to 0 A after this many seconds without a pet */
  watchdogIntervalSec: number;
  /** run on an EVSE without a watchdog (logged loudly); otherwise such an EVSE is refused */
  allowUnsupervised: boolean;
};

/** How a power cut is verified by measured current. */
export interface PowerCutConfig {
  /** the cut is confirmed when measured current is below this, A */
  maxCurrentA: number;
  /** ...within this time after the cut command, ms; otherwise the cut is sent again */
  withinMs: number;
  /** cuts sent again before an unconfirmed cut marks the connector Faulted (default 1; 0 = fault at once) */
  retries: number;
}

/** OCPP reporting to a CSMS (optional; absent = no OCPP). */
export interface OcppConfig {
  enabled: boolean;
  /** CSMS WebSocket URL (without the station id) */
  url: string;
  stationId: string;
  /** protocols to offer, most preferred first */
  protocols: ('ocpp2.0.1' | 'ocpp1.6' | 'ocpp2.1')[];
  password?: string;
  caFile?: string;
  vendorId: string;
  evseId: number;
  meterSampleIntervalSec: number;
  /** BootNotification identity (ocpp helper): model, vendor (≤ 20 chars), serial (≤ 25), firmware (≤ 50) */
  chargePointModel?: string;
  chargePointVendor?: string;
  serialNumber?: string;
  firmwareVersion?: string;
  /** what a CSMS remote start does: vehicle (default), walkup or off */
  remoteStart?: 'vehicle' | 'walkup' | 'off';
}

/**
 * One connector of a site: its own cable link, charger and meter, and its OCPP EVSE id. A wall configured the
 * single-connector way (top-level `link`, `evse`, `meter`) is one connector with id 1.
 */
export interface ConnectorConfig {
  /** 1-based connector id: names its store rows, status page and metrics */
  id: number;
  /** the OCPP EVSE id it is reported under (default: `ocpp.evseId` for a single connector, else its id) */
  evseId: number;
  link: LinkConfig;
  evse: EvseConfig;
  meter: MeterConfig;
  /** how a cut is verified on this connector (default: the top-level `powerCut`) */
  powerCut: PowerCutConfig;
  /**
   * whether walk-up payment runs on this connector when the `walkup:` section is enabled (default true; a
   * `connectors:` entry opts out with `walkup: false`)
   */
  walkup: boolean;
}

/** The whole wall configuration. */
export interface WallConfig extends ServiceSections {
  /**
   * every connector the daemon drives, in configuration order (at least one). `link`, `evse`, `meter` and
   * `powerCut` below are the first connector's (what a single-connector wall uses; a site's walk-up and relay run
   * per connector from this list: `wall-module/site/connector-services.ts`).
   */
  connectors: ConnectorConfig[];
  tariff: TariffConfig;
  session: SessionConfig;
  link: LinkConfig;
  evse: EvseConfig;
  meter: MeterConfig;
  powerCut: PowerCutConfig;
  ocpp?: OcppConfig;
  /** split remittance to other recipients (issue 14; absent = the wall keeps everything) */
  split?: SplitConfig;
  /** the blind relay lending the wall's uplink to a car without signal (offline case 2; absent = off) */
  relay?: RelayConfig;
  /** walk-up payment with a phone wallet (issue 12; absent = off) */
  walkup?: WalkupSectionConfig;
  /** selling while the wall's node is unreachable: the invoice stock (offline case 1b; absent = off) */
  offline?: OfflineConfig;
}

/**
 * Validates a parsed wall configuration.
 *
 * @param r root reader of the document
 * @returns the typed configuration
 * @throws ConfigInvalid listing every bad key with the reason
 */
export function readWallConfig(r: ConfigReader): WallConfig {
  const t = r.section('tariff');
  const minBlockWh = t.int('minBlockWh', D.minBlockWh, R.minBlockWh);
  const maxBlockWh = t.int('maxBlockWh', D.maxBlockWh, R.maxBlockWh);
  if (maxBlockWh < minBlockWh) t.problem('maxBlockWh', `must be >= minBlockWh (${minBlockWh})`);
  const tariff: TariffConfig = {
    priceMsatPerWh: t.bigint('priceMsatPerWh', undefined, PRICE_RANGE_MSAT_PER_WH),
    invoiceIntervalSec: t.int('invoiceIntervalSec', D.targetInvoiceIntervalSec, R.targetInvoiceIntervalSec),
    minBlockWh,
    maxBlockWh,
    depositBlocks: t.int('depositBlocks', D.depositBlocks, R.depositBlocks),
    graceWh: t.int('graceWh', D.graceWh, R.graceWh),
    invoiceExpirySec: t.int('invoiceExpirySec', D.invoiceExpirySec, R.invoiceExpirySec),
    resumeAfterPayment: t.bool('resumeAfterPayment', D.resumeWhenPaid),
    maxSuspendSec: t.int('maxSuspendSec', D.maxSuspendSec, R.maxSuspendSec),
    reissueAfterSec: t.int('reissueAfterSec', D.reissueAfterSec, R.reissueAfterSec),
    promiseCapWh: t.int('promiseCapWh', D.promiseCapWh, R.promiseCapWh),
    promiseSiteCapWh: t.int('promiseSiteCapWh', D.promiseSiteCapWh, R.promiseSiteCapWh),
  };
  if (tariff.priceMsatPerWh > 0n && maxBlockWh >= minBlockWh) {
    const unpayable = tariffPayabilityProblem({ ...tariff, minBlockWh, maxBlockWh });
    if (unpayable) t.problem(unpayable.field, unpayable.message);
  }
  const s = r.section('session');
  const heartbeatTimeoutMs = s.int('heartbeatTimeoutMs', D.heartbeatTimeoutMs, R.heartbeatTimeoutMs);
  const session: SessionConfig = {
    heartbeatTimeoutMs,
    meterReportIntervalMs: s.int('meterReportIntervalMs', D.meterReportIntervalMs, R.meterReportIntervalMs),
    handshakeTimeoutMs: s.int('handshakeTimeoutMs', D.handshakeTimeoutMs, R.handshakeTimeoutMs),
    helloRetryMs: s.int('helloRetryMs', D.helloRetryMs, R.helloRetryMs),
    invoiceRetryFirstMs: s.int('invoiceRetryFirstMs', D.invoiceRetryFirstMs, R.invoiceRetryFirstMs),
    invoiceRetryMaxMs: s.int('invoiceRetryMaxMs', D.invoiceRetryMaxMs, R.invoiceRetryMaxMs),
    regreetFirstMs: s.int('regreetFirstMs', D.regreetFirstMs, R.regreetFirstMs),
    regreetMaxMs: s.int('regreetMaxMs', D.regreetMaxMs, R.regreetMaxMs),
  };
  const powerCut = readPowerCut(r.section('powerCut'));
  const connectors = readConnectors(r, powerCut);
  const first = connectors[0] as ConnectorConfig;
  const { evse, meter } = first;
  const config: WallConfig = {
    tariff,
    session,
    connectors,
    link: first.link,
    evse,
    meter,
    powerCut: first.powerCut,
    ...readServiceSections(
      r,
      'wall',
      connectors.every((c) => c.evse.kind === 'sim' && c.meter.kind === 'sim'),
    ),
  };
  if (r.has('ocpp')) {
    const o = r.section('ocpp');
    const enabled = o.bool('enabled', true);
    const protocols = o.has('protocols')
      ? readProtocols(o)
      : (['ocpp2.1', 'ocpp2.0.1', 'ocpp1.6'] as OcppConfig['protocols']);
    const url = o.string('url');
    if (url && !/^wss?:\/\//.test(url)) o.problem('url', 'must start with ws:// or wss://');
    const vendorId = o.string('vendorId', 'org.boltcharge');
    const stationId = o.string('stationId');
    const password = o.optionalString('password');
    // the station's own rules, reported here with every other problem (not at start)
    const rules = STATION_FIELD_RULES;
    for (const [key, problem] of [
      ['vendorId', rules.vendorId(vendorId)],
      ['stationId', stationId ? rules.identity(stationId) : null],
      ['password', password !== undefined ? rules.password(password) : null],
    ] as const)
      if (problem) o.problem(key, problem);
    const caFile = o.optionalPath('caFile');
    if (caFile !== undefined) {
      const problem = caFileProblem(caFile);
      if (problem) o.problem('caFile', problem);
      else if (url && !url.startsWith('wss://')) o.problem('caFile', 'is only meaningful with a wss:// url');
    }
    config.ocpp = {
      enabled,
      url,
      stationId,
      protocols,
      password,
      caFile,
      vendorId,
      evseId: readOcppEvseId(o, r.has('connectors'), first),
      meterSampleIntervalSec: o.int('meterSampleIntervalSec', 60, { min: 1, max: 3600 }),
      ...readOcppIdentity(o),
    };
  }
  const split = readSplitSection(r);
  if (split) config.split = split;
  if (r.has('relay')) config.relay = readRelay(r.section('relay'), connectors);
  if (r.has('offline')) config.offline = readOfflineSection(r.section('offline'));
  if (r.has('walkup')) config.walkup = readWalkupSection(r.section('walkup')); // walk-up
  r.done();
  return config;
}

/** Largest number of connectors one wall daemon drives. */
export const MAX_CONNECTORS = 500;

/**
 * Reads the connectors: the `connectors:` list (each entry with `id`, `evseId`, `link`, `evse`, `meter`, an
 * optional `powerCut` override and an optional `walkup: false` opt-out of walk-up payment), or the single-connector keys (`link`, `evse`, `meter`, `ocpp.evseId`) as
 * connector 1. Both forms at once are refused. Defaults of every key are those of the single-connector form.
 *
 * @param r root reader
 * @param powerCut the top-level `powerCut` (each connector's default)
 * @returns at least one connector (a placeholder after a problem, so the caller can go on collecting problems)
 */
function readConnectors(r: ConfigReader, powerCut: PowerCutConfig): ConnectorConfig[] {
  if (!r.has('connectors')) return [readConnector(r, { id: 1, evseId: 1, powerCut })];
  for (const k of ['link', 'evse', 'meter'])
    if (r.has(k)) r.problem(k, 'give it inside each entry of connectors (not at the top level as well)');
  const list = r.section('connectors');
  const out: ConnectorConfig[] = [];
  for (let i = 1; list.has(String(i)); i++) {
    const c = list.section(String(i));
    const id = c.int('id', i, { min: 1, max: MAX_CONNECTORS });
    out.push(
      readConnector(c, { id, evseId: c.int('evseId', id, { min: 1, max: MAX_CONNECTORS }), powerCut }),
    );
  }
  if (out.length === 0) r.problem('connectors', 'must list at least one connector');
  if (out.length > MAX_CONNECTORS) r.problem('connectors', `at most ${MAX_CONNECTORS} connectors`);
  const dup = (key: 'id' | 'evseId'): number | undefined =>
    out.map((c) => c[key]).find((v, k, all) => all.indexOf(v) !== k);
  for (const key of ['id', 'evseId'] as const) {
    const d = dup(key);
    if (d !== undefined) r.problem('connectors', `two connectors have ${key} ${d}`);
  }
  const links = out.map((c) => JSON.stringify(c.link));
  if (new Set(links).size !== links.length) r.problem('connectors', 'two connectors share one cable link');
  return out.length > 0 ? out : [readConnector(list.section('1'), { id: 1, evseId: 1, powerCut })];
}

/**
 * Reads one connector's `link`, `evse`, `meter` and optional `powerCut` from a mapping (the root for the
 * single-connector form, an entry of `connectors` otherwise).
 */
function readConnector(
  c: ConfigReader,
  ids: { id: number; evseId: number; powerCut: PowerCutConfig },
): ConnectorConfig {
  return {
    id: ids.id,
    evseId: ids.evseId,
    link: readLink(c.section('link'), 'wall', ROLE_DEFAULTS.wall.canIds),
    evse: readEvse(c.section('evse')),
    meter: readMeter(c.section('meter')),
    powerCut:
      c.has('powerCut') && c.path !== '' ? readPowerCut(c.section('powerCut'), ids.powerCut) : ids.powerCut,
    // in the single-connector form `walkup` is the root's section: only a list entry opts out
    walkup: c.path !== '' ? c.bool('walkup', true) : true,
  };
}

/**
 * The single connector's OCPP EVSE id (`ocpp.evseId`, default 1); with a `connectors:` list each entry names its
 * own and `ocpp.evseId` is refused.
 *
 * @param o the `ocpp` section
 * @param listed whether the connectors are listed
 * @param first the first connector (its evseId is set from the key in the single-connector form)
 * @returns the first connector's EVSE id
 */
function readOcppEvseId(o: ConfigReader, listed: boolean, first: ConnectorConfig): number {
  if (listed) {
    if (o.has('evseId')) o.problem('evseId', 'give evseId inside each entry of connectors');
  } else first.evseId = o.int('evseId', 1, { min: 1, max: 100 });
  return first.evseId;
}

/** Reads a `powerCut` section (defaults: `base`, or the built-in ones). */
function readPowerCut(p: ConfigReader, base?: PowerCutConfig): PowerCutConfig {
  return {
    maxCurrentA: p.number('maxCurrentA', base?.maxCurrentA ?? 0.5, { min: 0, max: 10 }),
    withinMs: p.int('withinMs', base?.withinMs ?? 3000, { min: 100, max: 60_000 }),
    retries: p.int('retries', base?.retries ?? 1, { min: 0, max: 5 }),
  };
}

/** Reads an `evse` section. */
function readEvse(e: ConfigReader): EvseConfig {
  const evseKind = e.oneOf('kind', ['openevse', 'sim'] as const);
  const maxCurrentA = e.number('maxCurrentA', 16, { min: 6, max: 80 });
  const maxPowerW = e.int('maxPowerW', D.maxPowerW, R.maxPowerW);
  const watchdogIntervalSec = e.int('watchdogIntervalSec', 10, { min: 1, max: 3600 });
  const allowUnsupervised = e.bool('allowUnsupervised', false);
  const evse: EvseConfig =
    evseKind === 'sim'
      ? { kind: 'sim', url: e.string('url'), maxCurrentA, maxPowerW, watchdogIntervalSec, allowUnsupervised }
      : {
          kind: 'openevse',
          port: e.string('port'),
          baud: e.int('baud', 115_200, { min: 1200, max: 4_000_000 }),
          checksum: e.oneOf('checksum', ['xor', 'sum'] as const, 'xor'),
          maxCurrentA,
          maxPowerW,
          watchdogIntervalSec,
          allowUnsupervised,
        };
  return evse;
}

/**
 * Checks the CA file a `wss://` CSMS is verified with (security profile 2).
 *
 * @param file absolute path
 * @returns why it is unusable, or undefined when it holds a PEM certificate
 */
function caFileProblem(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
  return text.includes('-----BEGIN CERTIFICATE-----') ? undefined : `${file} holds no PEM certificate`;
}

/** The ocpp helper's keys: BootNotification identity and the remote start mode (all optional). */
function readOcppIdentity(o: ConfigReader): Partial<OcppConfig> {
  const out: Partial<OcppConfig> = {};
  const limits = {
    chargePointModel: 20,
    chargePointVendor: 20,
    serialNumber: 25,
    firmwareVersion: 50,
  } as const;
  for (const [key, max] of Object.entries(limits) as [keyof typeof limits, number][]) {
    const v = o.optionalString(key);
    if (v === undefined) continue;
    if (v.length === 0 || v.length > max) o.problem(key, `must be 1-${max} characters`);
    out[key] = v;
  }
  const remoteStart = o.optionalString('remoteStart');
  if (remoteStart !== undefined) {
    if (remoteStart !== 'vehicle' && remoteStart !== 'walkup' && remoteStart !== 'off')
      o.problem('remoteStart', 'must be vehicle, walkup or off');
    else out.remoteStart = remoteStart;
  }
  return out;
}

function readProtocols(o: ConfigReader): OcppConfig['protocols'] {
  const raw = o.string('protocols');
  const list = raw.split(',').map((s) => s.trim());
  const ok = ['ocpp2.0.1', 'ocpp1.6', 'ocpp2.1'];
  const bad = list.filter((p) => !ok.includes(p));
  if (bad.length > 0 || list.length === 0)
    o.problem('protocols', `must list some of ${ok.join(', ')}, got ${raw}`);
  return list.filter((p) => ok.includes(p)) as OcppConfig['protocols'];
}

/**
 * Loads and validates a wall configuration file.
 *
 * @param file path of the YAML file; relative paths inside resolve against its directory
 * @throws ConfigInvalid listing every bad key with the reason
 */
export function loadWallConfig(file: string): WallConfig {
  const r = ConfigReader.fromFile(file); // size and UTF-8 checks, YAML problems
  return readWallConfig(withConnectorsListed(r, readFileSync(file, 'utf8'), file));
}

/**
 * A reader over a wall YAML document whose `connectors:` list is read entry by entry: the list becomes a mapping
 * keyed by position (`connectors.1`, `connectors.2`, …, which is how problems name the entries).
 *
 * @param text YAML document
 * @param source file name (relative paths resolve against its folder), `<inline>` by default
 * @returns the root reader for `readWallConfig`
 */
export function wallConfigReader(text: string, source = '<inline>'): ConfigReader {
  return withConnectorsListed(ConfigReader.fromYaml(text, source), text, source);
}

function withConnectorsListed(parsed: ConfigReader, text: string, source: string): ConfigReader {
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 100, logLevel: 'silent' });
  } catch {
    return parsed; // the parsed reader reports the YAML problem
  }
  if (typeof doc !== 'object' || doc === null || !('connectors' in doc)) return parsed;
  const list = (doc as { connectors: unknown }).connectors;
  if (!Array.isArray(list)) return parsed;
  const byPosition = Object.fromEntries(list.map((c: unknown, i) => [String(i + 1), c]));
  return ConfigReader.fromYaml(stringify({ ...doc, connectors: byPosition }), source);
}
