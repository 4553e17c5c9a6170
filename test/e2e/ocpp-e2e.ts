/**
 * Shared pieces of the OCPP end-to-end tests (the real wall daemon reporting to the test CSMS): a CSMS that
 * stamps every CALL with the rig's clock on arrival, the reports as the CSMS saw them (with each event's own
 * timestamp), and the wall's outbox read from its SQLite file while the daemon runs.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll } from 'vitest';
import { ChargeRig, type Overlay } from '../../scripts/demo/rig.js';
import type { JsonObject } from '../../wall-module/ocpp/types.js';
import { TestCsms, type ReceivedCall, type TestCsmsOptions } from '../support/csms.js';
import { dataOf, outboxReports, receivedReports, type Reported } from '../ocpp/harness.js';

/** The rig's accelerated speed used by the OCPP end-to-end tests. */
export const SPEED = 10;

/** One OCPP end-to-end world: a strict test CSMS and a wall + vehicle rig whose wall reports to it. */
export interface OcppRig {
  csms: TestCsms;
  rig: ChargeRig;
}

/** What `startOcppRig` builds. */
export interface OcppRigOptions {
  /** the regtest connection file (`inject('regtestConnectionPath')`) */
  connectionFile: string;
  csms: TestCsmsOptions;
  /** the wall's `ocpp:` section; `url` is the CSMS's */
  ocpp: Overlay;
  /** the rig's folder (default: a fresh temporary one) */
  dir?: string;
  /** more of the wall's configuration */
  wall?: Overlay;
  vehicle?: Overlay;
  /** default `can` */
  link?: 'can' | 'ip';
  /** default `SPEED` */
  speed?: number;
}

/**
 * Starts a strict test CSMS and creates a rig whose wall reports to it (daemons not started). The CSMS is closed
 * again if the rig cannot be created.
 *
 * @param o the options
 * @returns the CSMS and the rig
 */
export async function startOcppRig(o: OcppRigOptions): Promise<OcppRig> {
  const csms = await TestCsms.start(o.csms);
  try {
    const rig = await ChargeRig.create({
      dir: o.dir ?? mkdtempSync(join(tmpdir(), 'e2e-ocpp-')),
      connectionFile: o.connectionFile,
      link: o.link ?? 'can',
      speed: o.speed ?? SPEED,
      wall: { ...o.wall, ocpp: { url: csms.url, ...o.ocpp } },
      ...(o.vehicle ? { vehicle: o.vehicle } : {}),
    });
    return { csms, rig };
  } catch (err) {
    await csms.close();
    throw err;
  }
}

/**
 * `startOcppRig` for the tests of a file: every world started is torn down after them (rig first, then CSMS).
 *
 * @returns start: `startOcppRig` bound to this teardown
 */
export function useOcppRigs(): { start(o: OcppRigOptions): Promise<OcppRig> } {
  const started: OcppRig[] = [];
  afterAll(async () => {
    for (const w of started.splice(0)) {
      await w.rig.stop();
      await w.csms.close();
    }
  });
  return {
    async start(o) {
      const w = await startOcppRig(o);
      started.push(w);
      return w;
    },
  };
}

/** A CALL with its arrival time on the rig's (daemon) clock. */
export interface StampedCall {
  call: ReceivedCall;
  /** daemon-clock ms when the CSMS received it */
  arrivedAtMs: number;
  /** real ms when the CSMS received it */
  arrivedAtRealMs: number;
}

/** A test CSMS plus the arrival stamps of everything it received. */
export interface StampedCsms {
  csms: TestCsms;
  arrivals: StampedCall[];
  /** sets the clock arrivals are stamped with (the rig's, once it exists) */
  useClock(now: () => number): void;
}

/**
 * Starts a test CSMS (strict schemas) that stamps each received CALL on arrival.
 *
 * @param options CSMS options (a `misbehave` given here still decides the replies)
 * @returns the CSMS and its arrival log
 */
export async function startStampedCsms(options: TestCsmsOptions): Promise<StampedCsms> {
  const arrivals: StampedCall[] = [];
  let now = (): number => Date.now();
  const csms = await TestCsms.start({
    ...options,
    misbehave: (call) => {
      arrivals.push({ call, arrivedAtMs: now(), arrivedAtRealMs: Date.now() });
      return options.misbehave?.(call);
    },
  });
  return { csms, arrivals, useClock: (fn) => (now = fn) };
}

/** One transaction-related report as the CSMS received it. */
export interface ReceivedReport extends Reported {
  action: 'TransactionEvent' | 'DataTransfer';
  /** the event's own time (TransactionEvent `timestamp`, DataTransfer data `timestamp`), ms since epoch */
  eventAtMs: number;
  /** DataTransfer messageId, or the TransactionEvent's eventType/chargingState */
  what: string;
  payload: JsonObject;
}

/**
 * The TransactionEvents and DataTransfers a CSMS received, in arrival order, each with its event time.
 *
 * @param received the CSMS's received calls
 * @returns one entry per report
 */
export function receivedWithTimes(received: readonly ReceivedCall[]): ReceivedReport[] {
  const keys = receivedReports(received);
  const calls = received.filter((c) => c.action === 'TransactionEvent' || c.action === 'DataTransfer');
  return calls.map((c, i) => {
    if (c.action === 'DataTransfer') {
      const data = dataOf(c);
      return {
        ...keys[i]!,
        action: 'DataTransfer',
        eventAtMs: Date.parse(String(data.timestamp)),
        what: String(c.payload.messageId),
        payload: c.payload,
      };
    }
    const info = c.payload.transactionInfo as { chargingState?: string };
    return {
      ...keys[i]!,
      action: 'TransactionEvent',
      eventAtMs: Date.parse(String(c.payload.timestamp)),
      what: `${String(c.payload.eventType)}/${info.chargingState ?? '-'}`,
      payload: c.payload,
    };
  });
}

/**
 * The wall's outbox as stored in its SQLite file (read-only; the daemon may be running).
 *
 * @param wallDb the wall store file
 * @returns the reports in delivery order with their recorded offline flags, and how many are undelivered
 */
export function wallOutbox(wallDb: string): { reports: Reported[]; pending: number } {
  const db = new Database(wallDb, { readonly: true, fileMustExist: true });
  try {
    const pending = (
      db.prepare('SELECT COUNT(*) AS n FROM ocpp_outbox WHERE done_at_ms IS NULL').get() as { n: number }
    ).n;
    return { reports: outboxReports(db), pending };
  } finally {
    db.close();
  }
}

/**
 * Waits until both daemons ended their session.
 *
 * @param rig the running rig
 * @param timeoutMs real ms
 */
export async function untilBothEnded(rig: ChargeRig, timeoutMs = 180_000): Promise<void> {
  await rig.until(
    'both sides ended',
    async () => {
      const [w, v] = await Promise.all([rig.wall.status(), rig.vehicle.status()]);
      return w.state === 'ended' && v.state === 'ended';
    },
    timeoutMs,
  );
}

/** The parsed `data` of every DataTransfer with `messageId`, in arrival order. */
export function lightningReports(csms: TestCsms, messageId: string): JsonObject[] {
  return csms
    .calls('DataTransfer')
    .filter((c) => c.payload.messageId === messageId)
    .map((c) => dataOf(c));
}
