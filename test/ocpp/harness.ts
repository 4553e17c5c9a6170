/**
 * Shared set-up for the OCPP tests: a wall-store-like SQLite file, a station on a manual clock pointed at a
 * test CSMS, polling helpers, and a daemon-like driver for one paid session.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ManualClock } from '../../hardware/clock.js';
import { OcppStation } from '../../wall-module/ocpp/station.js';
import type { OcppStationConfig } from '../../wall-module/ocpp/types.js';
import type { ReceivedCall } from '../support/csms.js';
import type { JsonObject } from '../../wall-module/ocpp/types.js';

export interface TempDb {
  path: string;
  db: Database.Database;
  cleanup(): void;
}

/** A fresh SQLite file (WAL, like the wall store). */
export function tempDb(): TempDb {
  const dir = mkdtempSync(join(tmpdir(), 'boltcharge-ocpp-'));
  const path = join(dir, 'wall.sqlite');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  return {
    path,
    db,
    cleanup: () => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Polls `condition` (real time: it waits for sockets, not for the station's clock).
 *
 * @param condition checked every 10 ms
 * @param what description for the timeout error
 * @param timeoutMs generous bound
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A station on a ManualClock; backoff without jitter. */
export function manualStation(
  db: Database.Database,
  config: Partial<OcppStationConfig> & Pick<OcppStationConfig, 'url' | 'identity'>,
): { station: OcppStation; clock: ManualClock } {
  const clock = new ManualClock();
  const station = new OcppStation({
    clock,
    db,
    config: {
      meterIntervalSec: 60,
      heartbeatFallbackSec: 300,
      backoff: { initialMs: 1000, factor: 2, maxMs: 8000, jitter: 0 },
      callTimeoutMs: 20_000,
      pingIntervalSec: 0,
      ...config,
    },
  });
  return { station, clock };
}

/**
 * Advances the manual clock a second at a time until `condition` holds.
 * @param what description for the timeout error
 */
export async function advanceUntil(
  clock: ManualClock,
  condition: () => boolean,
  what: string,
): Promise<void> {
  await waitFor(async () => {
    if (condition()) return true;
    await clock.advance(1000);
    return false;
  }, what);
}

/** Advances the manual clock a second at a time until the station is connected and booted. */
export async function untilOnline(station: OcppStation, clock: ManualClock): Promise<void> {
  await advanceUntil(
    clock,
    () => {
      const s = station.status();
      return s.connected && s.boot === 'Accepted';
    },
    'station online and accepted',
  );
}

/** Waits until the outbox is drained. */
export async function untilDrained(station: OcppStation): Promise<void> {
  await waitFor(() => station.status().outboxPending === 0 && station.status().connected, 'outbox drained');
}

/** The parsed `data` of a Lightning DataTransfer. */
export function dataOf(call: ReceivedCall): JsonObject {
  const data = call.payload.data;
  if (typeof data !== 'string') throw new Error(`DataTransfer data is not a string: ${JSON.stringify(data)}`);
  return JSON.parse(data) as JsonObject;
}

export const PRICE_MSAT_PER_WH = 250n;
export const BLOCK_WH = 100;

/** A 64-hex payment hash for invoice `seq` of `sessionId` (deterministic test data). */
export function paymentHash(sessionId: string, seq: number): string {
  const hex = Buffer.from(`${sessionId}:${seq}`).toString('hex');
  return (hex + '0'.repeat(64)).slice(0, 64);
}

/** The invoice for block `seq` (BLOCK_WH at PRICE_MSAT_PER_WH) of a session whose meter started at `meterStartWh`. */
export function blockInvoice(sessionId: string, seq: number, meterStartWh: number) {
  const from = meterStartWh + seq * BLOCK_WH;
  return {
    sessionId,
    seq,
    paymentHash: paymentHash(sessionId, seq),
    amountMsat: BigInt(BLOCK_WH) * PRICE_MSAT_PER_WH,
    priceMsatPerWh: PRICE_MSAT_PER_WH,
    energyFromWh: from,
    energyToWh: from + BLOCK_WH,
  };
}

/** A session a test drives: `blocks` blocks bought from `startMs`; EVSE 1 and a meter at 0 Wh unless given. */
export interface SessionOptions {
  sessionId: string;
  startMs: number;
  blocks: number;
  evseId?: number;
  meterStartWh?: number;
}

/**
 * What a daemon reports for a session that buys `blocks` blocks of energy, one invoice per block, with a meter
 * sample every 15 s. Returns the steps so tests can interleave outages between them.
 */
export function sessionSteps(station: OcppStation, opts: SessionOptions): (() => void)[] {
  const steps: (() => void)[] = [];
  const { sessionId, evseId = 1, meterStartWh = 0 } = opts;
  steps.push(() => station.sessionStarted({ evseId, sessionId, atMs: opts.startMs, meterStartWh }));
  for (let seq = 0; seq < opts.blocks; seq++) {
    const t0 = opts.startMs + seq * 60_000;
    const invoice = blockInvoice(sessionId, seq, meterStartWh);
    const from = invoice.energyFromWh;
    steps.push(() => station.invoiceIssued({ ...invoice, atMs: t0 + 1000 }));
    steps.push(() => station.invoicePaid({ ...invoice, atMs: t0 + 3000, issuedAtMs: t0 + 1000 }));
    for (let k = 1; k <= 4; k++)
      steps.push(() =>
        station.meterSample({
          sessionId,
          energyWh: from + (k * BLOCK_WH) / 4,
          powerW: 6000,
          atMs: t0 + k * 15_000,
        }),
      );
  }
  return steps;
}

/** Reports a whole session (every step of `sessionSteps`) at once. */
export function runSession(station: OcppStation, opts: SessionOptions): void {
  for (const step of sessionSteps(station, opts)) step();
}

/** One reported message as identity + offline flag: `te:<txId>:<seqNo>` or `dt:<eventId>`. */
export interface Reported {
  key: string;
  offline: boolean;
}

/** What the CSMS received, in arrival order (TransactionEvent and DataTransfer only). */
export function receivedReports(received: readonly ReceivedCall[]): Reported[] {
  const out: Reported[] = [];
  for (const c of received) {
    if (c.action === 'TransactionEvent') {
      const info = c.payload.transactionInfo as { transactionId: string };
      out.push({
        key: `te:${info.transactionId}:${String(c.payload.seqNo)}`,
        offline: c.payload.offline === true,
      });
    } else if (c.action === 'DataTransfer') {
      const data = dataOf(c);
      out.push({ key: `dt:${String(data.eventId)}`, offline: data.offline === true });
    }
  }
  return out;
}

/** What the station's outbox holds, in delivery order, with the offline flag recorded when produced. */
export function outboxReports(db: Database.Database): Reported[] {
  const rows = db
    .prepare('SELECT message_key, tx_key, seq_no, event, offline FROM ocpp_outbox ORDER BY id')
    .all() as {
    message_key: string;
    tx_key: string;
    seq_no: number;
    event: string;
    offline: number;
  }[];
  return rows.map((r) => ({
    key:
      (JSON.parse(r.event) as { kind: string }).kind === 'Lightning'
        ? `dt:${r.message_key}`
        : `te:${r.tx_key}:${r.seq_no}`,
    offline: r.offline === 1,
  }));
}
