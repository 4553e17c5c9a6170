/**
 * The walk-up's OCPP report against the strict test CSMS, in process on 2.0.1, 2.1 and 1.6: the pure walk-up
 * machine (`walkupStep`) is driven through a session and each committed step fed to `WalkupOcppReport`, as the
 * runtime does, into a real `OcppStation`. A deposit that is never paid produces no Charging on any version
 * (issue 13 "Charging timing"); a session whose credit runs out reports Charging after the held deposit (2.1
 * idToken DirectPayment = the deposit's hash, 2.0.1 NoAuthorization), SuspendedEVSE at the cut, and ends with
 * LocalOutOfCredit and the metered cost. (Real peers: test/e2e/ocpp-walkup.regtest.test.ts.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createWalkup, walkupStep } from '../../payments/walkup.js';
import { walkupConfig } from '../../payments/walkup-config.js';
import type { WalkupEvent, WalkupState } from '../../payments/walkup-state.js';
import type { JsonObject, OcppVersion } from '../../wall-module/ocpp/types.js';
import { WalkupOcppReport } from '../../wall-module/walkup/ocpp-report.js';
import { startStationFixture, stopStationFixture, type StationFixture } from './fixtures.js';
import { dataOf, untilDrained, untilOnline } from './harness.js';

const ID = 'wall-walkup-report';
const T0 = 1_700_000_100_000;
const SID = 'wu-report-1';
/** 200 sat/Wh: the smallest deposit (10 000 sat) buys 50 Wh */
const PRICE = 200_000n;
const DEPOSIT = 10_000_000n;
type Unstamped<E> = E extends unknown ? Omit<E, 'atMs'> : never;

let fx: StationFixture | undefined;
afterEach(async () => {
  if (fx) await stopStationFixture(fx);
  fx = undefined;
});

/** The machine and the report, stepped together on a test clock. */
class Drive {
  state: WalkupState = createWalkup();
  atMs = T0;
  private readonly config;
  constructor(private readonly report: WalkupOcppReport) {
    const c = walkupConfig({ network: 'regtest', priceMsatPerWh: PRICE });
    if (!c.ok) throw new Error(c.error.message);
    this.config = c.value;
  }
  step(ev: Unstamped<WalkupEvent>, afterMs = 1000): void {
    this.atMs += afterMs;
    const next = walkupStep(this.state, { ...ev, atMs: this.atMs } as WalkupEvent, this.config).state;
    this.report.step(SID, this.state, next, this.atMs);
    this.state = next;
  }
  /** A reading of the wall's meter: the machine first, then the report (as the poller feeds them). */
  meter(energyWh: number, powerW: number): void {
    this.step({ type: 'meter', energyWh });
    this.report.meter(
      { energyImportWh: energyWh, powerW, atMs: this.atMs } as Parameters<WalkupOcppReport['meter']>[0],
      { sessionId: SID, state: this.state },
    );
  }
  depositHash(): string {
    if (this.state.phase === 'idle' || this.state.session === null) throw new Error('no session');
    return this.state.session.deposit.paymentHash;
  }
}

async function online(protocol: OcppVersion): Promise<{ f: StationFixture; drive: Drive }> {
  fx = await startStationFixture(
    { protocols: [protocol], bootIntervalSec: 10 },
    { identity: ID, protocols: [protocol], meterIntervalSec: 10 },
  );
  fx.station.start();
  await untilOnline(fx.station, fx.clock);
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  return { f: fx, drive: new Drive(new WalkupOcppReport({ station: fx.station, evseId: 1, log: quiet })) };
}

function depositRequested(drive: Drive): void {
  drive.step({
    type: 'depositRequested',
    requestId: 'r1',
    amountMsat: DEPOSIT,
    sessionId: SID,
    depositPreimageHex: 'aa'.repeat(32),
    finalPreimageHex: 'bb'.repeat(32),
    withdrawSecretHex: 'cc'.repeat(32),
    ivHex: 'dd'.repeat(16),
  });
  drive.step({ type: 'holdInvoiceCreated', paymentHash: drive.depositHash(), bolt11: 'lnbcrt1test' });
}

function chargingStates(f: StationFixture): string[] {
  return f.csms
    .calls('TransactionEvent')
    .map((c) => String((c.payload.transactionInfo as JsonObject).chargingState));
}

function noFailures(f: StationFixture): void {
  expect(f.csms.validationFailures).toEqual([]);
  expect(f.csms.badMessages).toEqual([]);
  expect(f.station.status().validationFailures).toBe(0);
}

describe.each(['ocpp2.0.1', 'ocpp2.1', 'ocpp1.6'] as const)('%s: walk-up sessions reported', (protocol) => {
  it('a deposit never paid produces no Charging', async () => {
    const { f, drive } = await online(protocol);
    f.station.plugged(1, T0, 1000);
    depositRequested(drive);
    for (let k = 0; k < 5; k++) drive.meter(1000, 0);
    drive.step({ type: 'tick' }, 200_000); // past the quote deadline: the deposit is given up
    drive.step({ type: 'cancelled', paymentHash: drive.depositHash() });
    expect(drive.state.phase).toBe('ended');
    f.station.unplugged(1, drive.atMs + 1000);
    await untilDrained(f.station);
    expect(chargingStates(f)).not.toContain('Charging');
    expect(f.csms.calls('StartTransaction')).toEqual([]);
    expect(f.csms.calls('StatusNotification').map((c) => c.payload.status)).not.toContain('Charging');
    expect(f.csms.calls('DataTransfer').map((c) => c.payload.messageId)).not.toContain('InvoicePaid');
    noFailures(f);
  });

  it('credit used up: Charging after the held deposit, SuspendedEVSE at the cut, LocalOutOfCredit and the cost', async () => {
    const { f, drive } = await online(protocol);
    f.station.plugged(1, T0, 1000);
    depositRequested(drive);
    drive.meter(1000, 0);
    drive.step({
      type: 'held',
      paymentHash: drive.depositHash(),
      amountMsat: DEPOSIT,
      htlcExpiryMs: T0 + 36_000_000,
    });
    expect(drive.state.phase).toBe('charging');
    for (let wh = 1004; drive.state.phase === 'charging'; wh += 4) drive.meter(wh, 7200);
    expect(drive.state.phase).toBe('stopping');
    drive.meter(1049, 0); // the final reading after the cut
    if (drive.state.phase !== 'awaitingFinal') throw new Error(`phase ${drive.state.phase}`);
    const { deliveredWh, costMsat } = drive.state.session;
    expect(costMsat).toBe(BigInt(deliveredWh) * PRICE);
    f.station.unplugged(1, drive.atMs + 1000);
    await untilDrained(f.station);

    const receipt = dataOf(
      f.csms.calls('DataTransfer').find((c) => c.payload.messageId === 'SessionReceipt')!,
    );
    expect(receipt).toMatchObject({ stopReason: 'LocalOutOfCredit', energyWh: deliveredWh });
    expect(BigInt(receipt.amountMsat as string)).toBe(costMsat);
    const paid = dataOf(f.csms.calls('DataTransfer').find((c) => c.payload.messageId === 'InvoicePaid')!);
    expect(paid).toMatchObject({ paymentHash: drive.depositHash(), paymentMode: 'walkup-deposit' });
    if (protocol === 'ocpp1.6') {
      expect(f.csms.calls('StartTransaction')[0]?.payload).toMatchObject({
        meterStart: 1000,
        idTag: 'LIGHTNING',
      });
      expect(f.csms.calls('StopTransaction')[0]?.payload).toMatchObject({ meterStop: 1000 + deliveredWh });
      const statuses = f.csms.calls('StatusNotification').map((c) => c.payload.status);
      expect(statuses.indexOf('Charging')).toBeLessThan(statuses.indexOf('SuspendedEVSE'));
    } else {
      const states = chargingStates(f);
      expect(states.indexOf('Charging')).toBeGreaterThan(0);
      expect(states.indexOf('SuspendedEVSE')).toBeGreaterThan(states.indexOf('Charging'));
      const events = f.csms.calls('TransactionEvent').map((c) => c.payload);
      const charging = events.find((p) => (p.transactionInfo as JsonObject).chargingState === 'Charging');
      expect(charging?.idToken).toEqual(
        protocol === 'ocpp2.1'
          ? { idToken: drive.depositHash(), type: 'DirectPayment' }
          : { idToken: '', type: 'NoAuthorization' },
      );
      expect(events.at(-1)).toMatchObject({
        eventType: 'Ended',
        transactionInfo: { stoppedReason: 'LocalOutOfCredit' },
      });
      expect(new Set(events.map((p) => (p.transactionInfo as JsonObject).transactionId)).size).toBe(1);
    }
    noFailures(f);
  });
});
