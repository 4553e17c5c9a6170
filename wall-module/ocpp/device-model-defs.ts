/**
 * The variables of a boltcharge wall as an OCPP station: the standard components of OCPP 2.0.1/2.1 part 2
 * (ChargingStation, EVSE, Connector, OCPPCommCtrlr, TxCtrlr, AuthCtrlr, SampledDataCtrlr, AlignedDataCtrlr,
 * DisplayMessageCtrlr, WebPaymentsCtrlr per EVSE, SecurityCtrlr) with the OCPP 1.6 Core keys mapped onto them,
 * and the `BoltchargeCtrlr` vendor component with the Lightning tariff (price, invoice cadence, grace).
 *
 * A variable the station cannot honour at run time is ReadOnly with the value that describes what it does
 * (e.g. `StopTxOnEVSideDisconnect` is always true: unplugging ends the Lightning session).
 */
import type { Database } from 'better-sqlite3';
import { readStoredVariable, type VariableDef } from './device-model.js';
import type { ResolvedStationConfig } from './station-config.js';

/** The Lightning tariff the vendor component shows (from the wall's `tariff` config). */
export interface TariffVariables {
  /** msat per Wh (bigint: never through `Number`) */
  priceMsatPerWh: bigint;
  /** target seconds between invoices (cadence) */
  invoiceIntervalSec: number;
  /** unpaid energy tolerated before a cut, Wh */
  graceWh: number;
}

/** Live values the read-only status variables show. */
export interface LiveState {
  /** 2.x AvailabilityState of an EVSE (`Available`, `Occupied`, `Unavailable`, `Faulted`); evseId 0 = station */
  availability(evseId: number): string;
  /** heartbeat interval in use, s */
  heartbeatSec(): number;
  /** meter report interval in use, s */
  meterIntervalSec(): number;
}

/** Name of the vendor component. */
export const VENDOR_COMPONENT = 'BoltchargeCtrlr';

const fixed = (v: string) => () => v;
const bool = (v: boolean) => () => (v ? 'true' : 'false');
const MEASURANDS = ['Energy.Active.Import.Register', 'Power.Active.Import'] as const;
const AVAILABILITY = ['Available', 'Occupied', 'Reserved', 'Unavailable', 'Faulted'] as const;

/**
 * Builds the station's variable definitions.
 *
 * @param config resolved station configuration
 * @param tariff the wall's tariff (absent: the vendor component is not offered)
 * @param live live state for status variables
 * @returns definitions in report order
 */
export function stationVariables(
  config: ResolvedStationConfig,
  tariff: TariffVariables | undefined,
  live: LiveState,
): VariableDef[] {
  const defs: VariableDef[] = [];
  const cs = (v: Omit<VariableDef, 'component'>) => defs.push({ component: 'ChargingStation', ...v });
  cs({
    variable: 'AvailabilityState',
    mutability: 'ReadOnly',
    dataType: 'OptionList',
    valuesList: AVAILABILITY,
    initial: () => live.availability(0),
    summary: true,
  });
  cs({
    variable: 'Available',
    mutability: 'ReadOnly',
    dataType: 'boolean',
    initial: bool(true),
    summary: true,
  });
  cs({
    variable: 'Model',
    mutability: 'ReadOnly',
    dataType: 'string',
    initial: fixed(config.chargePointModel),
    summary: true,
  });
  cs({
    variable: 'VendorName',
    mutability: 'ReadOnly',
    dataType: 'string',
    initial: fixed(config.chargePointVendor),
    summary: true,
  });
  if (config.serialNumber !== undefined)
    cs({
      variable: 'SerialNumber',
      mutability: 'ReadOnly',
      dataType: 'string',
      initial: fixed(config.serialNumber),
      summary: true,
    });
  if (config.firmwareVersion !== undefined)
    cs({
      variable: 'FirmwareVersion',
      mutability: 'ReadOnly',
      dataType: 'string',
      initial: fixed(config.firmwareVersion),
      summary: true,
    });
  cs({ variable: 'SupplyPhases', mutability: 'ReadOnly', dataType: 'integer', initial: fixed('1') });
  cs({
    variable: 'NumberOfConnectors',
    mutability: 'ReadOnly',
    dataType: 'integer',
    initial: fixed(String(config.evses.length)),
    key16: 'NumberOfConnectors',
  });
  cs({
    variable: 'PhaseRotation',
    mutability: 'ReadOnly',
    dataType: 'string',
    initial: fixed('NotApplicable'),
    key16: 'ConnectorPhaseRotation',
  });
  cs({
    variable: 'SupportedFeatureProfiles',
    mutability: 'ReadOnly',
    dataType: 'MemberList',
    valuesList: ['Core', 'RemoteTrigger'],
    initial: fixed('Core,RemoteTrigger'),
    key16: 'SupportedFeatureProfiles',
  });
  for (const e of config.evses) {
    const where = [
      { component: 'EVSE', evseId: e.evseId },
      { component: 'Connector', evseId: e.evseId, connectorId: e.connectorId },
    ];
    for (const w of where) {
      defs.push({
        ...w,
        variable: 'AvailabilityState',
        mutability: 'ReadOnly',
        dataType: 'OptionList',
        valuesList: AVAILABILITY,
        initial: () => live.availability(e.evseId),
        summary: true,
      });
      defs.push({
        ...w,
        variable: 'Available',
        mutability: 'ReadOnly',
        dataType: 'boolean',
        initial: bool(true),
        summary: true,
      });
    }
    defs.push({
      component: 'Connector',
      evseId: e.evseId,
      connectorId: e.connectorId,
      variable: 'ConnectorType',
      mutability: 'ReadOnly',
      dataType: 'string',
      initial: fixed('cType1'),
    });
  }
  const comm = (v: Omit<VariableDef, 'component'>) => defs.push({ component: 'OCPPCommCtrlr', ...v });
  comm({
    variable: 'HeartbeatInterval',
    mutability: 'ReadWrite',
    dataType: 'integer',
    unit: 's',
    min: 1n,
    max: 86_400n,
    initial: () => String(live.heartbeatSec()),
    key16: 'HeartbeatInterval',
  });
  comm({
    variable: 'WebSocketPingInterval',
    mutability: 'ReadWrite',
    dataType: 'integer',
    unit: 's',
    min: 0n,
    max: 3600n,
    initial: fixed(String(config.pingIntervalSec)),
    rebootRequired: true,
    key16: 'WebSocketPingInterval',
  });
  comm({
    variable: 'MessageTimeout',
    variableInstance: 'Default',
    mutability: 'ReadOnly',
    dataType: 'integer',
    unit: 's',
    initial: fixed(String(Math.ceil(config.callTimeoutMs / 1000))),
  });
  comm({
    variable: 'MessageAttempts',
    variableInstance: 'TransactionEvent',
    mutability: 'ReadOnly',
    dataType: 'integer',
    initial: fixed(String(config.maxAttempts)),
    key16: 'TransactionMessageAttempts',
  });
  comm({
    variable: 'MessageAttemptInterval',
    variableInstance: 'TransactionEvent',
    mutability: 'ReadOnly',
    dataType: 'integer',
    unit: 's',
    initial: fixed(String(Math.ceil(config.backoff.initialMs / 1000))),
    key16: 'TransactionMessageRetryInterval',
  });
  comm({
    variable: 'ResetRetries',
    mutability: 'ReadOnly',
    dataType: 'integer',
    initial: fixed('0'),
    key16: 'ResetRetries',
  });
  comm({
    variable: 'NetworkConfigurationPriority',
    mutability: 'ReadOnly',
    dataType: 'SequenceList',
    valuesList: ['0'],
    initial: fixed('0'),
  });
  comm({
    variable: 'NetworkProfileConnectionAttempts',
    mutability: 'ReadOnly',
    dataType: 'integer',
    initial: fixed('1'),
  });
  comm({
    variable: 'OfflineThreshold',
    mutability: 'ReadOnly',
    dataType: 'integer',
    unit: 's',
    initial: fixed('60'),
  });
  comm({
    variable: 'FileTransferProtocols',
    mutability: 'ReadOnly',
    dataType: 'MemberList',
    valuesList: ['HTTPS'],
    initial: fixed('HTTPS'),
  });
  comm({
    variable: 'GetConfigurationMaxKeys',
    mutability: 'ReadOnly',
    dataType: 'integer',
    initial: fixed('100'),
    key16: 'GetConfigurationMaxKeys',
  });
  const tx = (v: Omit<VariableDef, 'component'>) => defs.push({ component: 'TxCtrlr', ...v });
  tx({
    variable: 'EVConnectionTimeOut',
    mutability: 'ReadWrite',
    dataType: 'integer',
    unit: 's',
    min: 1n,
    max: 3600n,
    initial: fixed('120'),
    key16: 'ConnectionTimeOut',
  });
  tx({
    variable: 'StopTxOnEVSideDisconnect',
    mutability: 'ReadOnly',
    dataType: 'boolean',
    initial: bool(true),
    key16: 'StopTransactionOnEVSideDisconnect',
  });
  tx({
    variable: 'StopTxOnInvalidId',
    mutability: 'ReadOnly',
    dataType: 'boolean',
    initial: bool(false),
    key16: 'StopTransactionOnInvalidId',
  });
  tx({
    variable: 'TxStartPoint',
    mutability: 'ReadOnly',
    dataType: 'MemberList',
    valuesList: ['EVConnected', 'EnergyTransfer'],
    initial: fixed('EVConnected'),
  });
  tx({
    variable: 'TxStopPoint',
    mutability: 'ReadOnly',
    dataType: 'MemberList',
    valuesList: ['EVConnected'],
    initial: fixed('EVConnected'),
  });
  tx({
    variable: 'UnlockOnEVSideDisconnect',
    mutability: 'ReadOnly',
    dataType: 'boolean',
    initial: bool(true),
    key16: 'UnlockConnectorOnEVSideDisconnect',
  });
  const auth = (v: Omit<VariableDef, 'component'>) => defs.push({ component: 'AuthCtrlr', ...v });
  auth({ variable: 'Enabled', mutability: 'ReadOnly', dataType: 'boolean', initial: bool(false) });
  auth({
    variable: 'AuthorizeRemoteStart',
    mutability: 'ReadOnly',
    dataType: 'boolean',
    initial: bool(false),
    key16: 'AuthorizeRemoteTxRequests',
  });
  auth({
    variable: 'LocalAuthorizeOffline',
    mutability: 'ReadOnly',
    dataType: 'boolean',
    initial: bool(true),
    key16: 'LocalAuthorizeOffline',
  });
  auth({
    variable: 'LocalPreAuthorize',
    mutability: 'ReadOnly',
    dataType: 'boolean',
    initial: bool(false),
    key16: 'LocalPreAuthorize',
  });
  const sampled = (v: Omit<VariableDef, 'component'>) => defs.push({ component: 'SampledDataCtrlr', ...v });
  sampled({
    variable: 'TxUpdatedInterval',
    mutability: 'ReadWrite',
    dataType: 'integer',
    unit: 's',
    min: 1n,
    max: 3600n,
    initial: () => String(live.meterIntervalSec()),
    key16: 'MeterValueSampleInterval',
  });
  sampled({
    variable: 'TxUpdatedMeasurands',
    mutability: 'ReadOnly',
    dataType: 'MemberList',
    valuesList: MEASURANDS,
    initial: fixed(MEASURANDS.join(',')),
    key16: 'MeterValuesSampledData',
  });
  sampled({
    variable: 'TxEndedMeasurands',
    mutability: 'ReadOnly',
    dataType: 'MemberList',
    valuesList: MEASURANDS,
    initial: fixed(MEASURANDS[0]),
    key16: 'StopTxnSampledData',
  });
  sampled({
    variable: 'TxEndedInterval',
    mutability: 'ReadOnly',
    dataType: 'integer',
    unit: 's',
    initial: fixed('0'),
  });
  const aligned = (v: Omit<VariableDef, 'component'>) => defs.push({ component: 'AlignedDataCtrlr', ...v });
  aligned({
    variable: 'Interval',
    mutability: 'ReadOnly',
    dataType: 'integer',
    unit: 's',
    initial: fixed('0'),
    key16: 'ClockAlignedDataInterval',
  });
  aligned({
    variable: 'Measurands',
    mutability: 'ReadOnly',
    dataType: 'MemberList',
    valuesList: MEASURANDS,
    initial: fixed(''),
    key16: 'MeterValuesAlignedData',
  });
  aligned({
    variable: 'TxEndedMeasurands',
    mutability: 'ReadOnly',
    dataType: 'MemberList',
    valuesList: MEASURANDS,
    initial: fixed(''),
    key16: 'StopTxnAlignedData',
  });
  const display = (v: Omit<VariableDef, 'component'>) =>
    defs.push({ component: 'DisplayMessageCtrlr', ...v });
  display({ variable: 'Available', mutability: 'ReadOnly', dataType: 'boolean', initial: bool(true) });
  display({ variable: 'DisplayMessages', mutability: 'ReadOnly', dataType: 'integer', initial: fixed('50') });
  display({
    variable: 'SupportedFormats',
    mutability: 'ReadOnly',
    dataType: 'MemberList',
    valuesList: ['ASCII', 'HTML', 'URI', 'UTF8', 'QRCODE'],
    initial: fixed('ASCII,HTML,URI,UTF8,QRCODE'),
  });
  display({
    variable: 'SupportedPriorities',
    mutability: 'ReadOnly',
    dataType: 'MemberList',
    valuesList: ['AlwaysFront', 'InFront', 'NormalCycle'],
    initial: fixed('AlwaysFront,InFront,NormalCycle'),
  });
  display({
    variable: 'QRCodeDisplayCapable',
    mutability: 'ReadOnly',
    dataType: 'boolean',
    initial: bool(true),
  });
  for (const e of config.evses) {
    const web = (v: Omit<VariableDef, 'component' | 'evseId'>) =>
      defs.push({ component: 'WebPaymentsCtrlr', evseId: e.evseId, ...v });
    web({ variable: 'Enabled', mutability: 'ReadWrite', dataType: 'boolean', initial: bool(false) });
    web({
      variable: 'URLTemplate',
      mutability: 'ReadWrite',
      dataType: 'string',
      maxLength: 2000,
      initial: fixed(''),
    });
    web({
      variable: 'ValidityTime',
      mutability: 'ReadWrite',
      dataType: 'integer',
      unit: 's',
      min: 1n,
      max: 3600n,
      initial: fixed('60'),
    });
    web({
      variable: 'SharedSecret',
      mutability: 'WriteOnly',
      dataType: 'string',
      maxLength: 64,
      initial: fixed(''),
      security: true,
    });
    web({
      variable: 'Length',
      mutability: 'ReadWrite',
      dataType: 'integer',
      min: 6n,
      max: 10n,
      initial: fixed('8'),
    });
  }
  const sec = (v: Omit<VariableDef, 'component'>) => defs.push({ component: 'SecurityCtrlr', ...v });
  const profile = config.password === undefined ? 0 : config.url.startsWith('wss:') ? 2 : 1;
  sec({
    variable: 'SecurityProfile',
    mutability: 'ReadOnly',
    dataType: 'integer',
    initial: fixed(String(profile)),
  });
  sec({ variable: 'Identity', mutability: 'ReadOnly', dataType: 'string', initial: fixed(config.identity) });
  sec({
    variable: 'BasicAuthPassword',
    mutability: 'WriteOnly',
    dataType: 'string',
    maxLength: 64,
    initial: fixed(''),
    rebootRequired: true,
    security: true,
  });
  sec({
    variable: 'OrganizationName',
    mutability: 'ReadOnly',
    dataType: 'string',
    initial: fixed(config.chargePointVendor),
  });
  sec({ variable: 'CertificateEntries', mutability: 'ReadOnly', dataType: 'integer', initial: fixed('0') });
  if (tariff) {
    const vendor = (v: Omit<VariableDef, 'component'>) => defs.push({ component: VENDOR_COMPONENT, ...v });
    vendor({
      variable: 'PriceMsatPerWh',
      mutability: 'ReadWrite',
      dataType: 'integer',
      unit: 'msat/Wh',
      min: 1n,
      max: 10n ** 15n,
      initial: fixed(tariff.priceMsatPerWh.toString()),
      rebootRequired: true,
      key16: 'BoltchargePriceMsatPerWh',
      summary: true,
    });
    vendor({
      variable: 'InvoiceIntervalSec',
      mutability: 'ReadWrite',
      dataType: 'integer',
      unit: 's',
      min: 1n,
      max: 3600n,
      initial: fixed(String(tariff.invoiceIntervalSec)),
      rebootRequired: true,
      key16: 'BoltchargeInvoiceIntervalSec',
    });
    vendor({
      variable: 'GraceWh',
      mutability: 'ReadWrite',
      dataType: 'integer',
      unit: 'Wh',
      min: 0n,
      max: 1_000_000n,
      initial: fixed(String(tariff.graceWh)),
      rebootRequired: true,
      key16: 'BoltchargeGraceWh',
    });
  }
  return defs;
}

/** The vendor variables a restart applies to the wall's tariff, by tariff field. */
export const TARIFF_VARIABLES = {
  priceMsatPerWh: { component: VENDOR_COMPONENT, variable: 'PriceMsatPerWh' },
  invoiceIntervalSec: { component: VENDOR_COMPONENT, variable: 'InvoiceIntervalSec' },
  graceWh: { component: VENDOR_COMPONENT, variable: 'GraceWh' },
} as const;

/**
 * Applies the tariff a CSMS set (SetVariables / ChangeConfiguration answered `RebootRequired`) over the
 * configured one; the daemon calls it at start-up, before the seller is built.
 *
 * @param db wall-store database
 * @param tariff the configured tariff
 * @returns the tariff to run with (a field the CSMS never set keeps its configured value)
 */
export function tariffWithCsmsChanges<T extends TariffVariables>(db: Database, tariff: T): T {
  const price = readStoredVariable(db, TARIFF_VARIABLES.priceMsatPerWh);
  const interval = readStoredVariable(db, TARIFF_VARIABLES.invoiceIntervalSec);
  const grace = readStoredVariable(db, TARIFF_VARIABLES.graceWh);
  return {
    ...tariff,
    ...(price !== undefined ? { priceMsatPerWh: BigInt(price) } : {}),
    ...(interval !== undefined ? { invoiceIntervalSec: Number(interval) } : {}),
    ...(grace !== undefined ? { graceWh: Number(grace) } : {}),
  };
}
