/**
 * The station fixture of the OCPP tests: a test CSMS (a real ocpp-rpc server), a fresh wall database and an
 * OcppStation on a manual clock pointed at that CSMS. Started per test, torn down station first, then the
 * CSMS, then the database.
 */
import { afterEach, beforeEach } from 'vitest';
import type { ManualClock } from '../../hardware/clock.js';
import type { OcppStation } from '../../wall-module/ocpp/station.js';
import type { OcppStationConfig } from '../../wall-module/ocpp/types.js';
import { TestCsms, type TestCsmsOptions } from '../support/csms.js';
import { manualStation, tempDb, type TempDb } from './harness.js';

/** One test's CSMS, database and station (not started) with its clock. */
export interface StationFixture {
  csms: TestCsms;
  tmp: TempDb;
  station: OcppStation;
  clock: ManualClock;
}

/** The station's configuration apart from the CSMS url, which the fixture fills in. */
export type FixtureStationConfig = Partial<OcppStationConfig> & Pick<OcppStationConfig, 'identity'>;

/**
 * Starts a test CSMS and creates a database and a station pointed at it (the station is not started).
 * @param csmsOptions the test CSMS's options
 * @param stationConfig the station's configuration (backoff without jitter unless given)
 */
export async function startStationFixture(
  csmsOptions: TestCsmsOptions,
  stationConfig: FixtureStationConfig,
): Promise<StationFixture> {
  const csms = await TestCsms.start(csmsOptions);
  const tmp = tempDb();
  const { station, clock } = manualStation(tmp.db, { url: csms.url, ...stationConfig });
  return { csms, tmp, station, clock };
}

/** Stops the station, closes the CSMS and removes the database. */
export async function stopStationFixture(f: StationFixture): Promise<void> {
  await f.station.stop();
  await f.csms.close();
  f.tmp.cleanup();
}

/**
 * A fresh fixture for every test of the enclosing `describe` (registers `beforeEach`/`afterEach`).
 * @returns the fixture object: its fields are the running test's (a test may replace them; the replacement
 *   is what gets torn down)
 */
export function useStationFixture(
  csmsOptions: TestCsmsOptions,
  stationConfig: FixtureStationConfig,
): StationFixture {
  const fx = {} as StationFixture;
  beforeEach(async () => {
    Object.assign(fx, await startStationFixture(csmsOptions, stationConfig));
  });
  afterEach(() => stopStationFixture(fx));
  return fx;
}
