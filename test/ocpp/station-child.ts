/**
 * A wall-module stand-in run as a child process by `station-restart.test.ts`: one OcppStation over a SQLite
 * file, driven by JSON lines on stdin (`{"op":"plugged","args":[1,123]}`), answering `ack <n>` once a call
 * returned (its messages are committed) and `status <json>` for `{"op":"status"}`. Killed with SIGKILL by
 * the test to prove the outbox survives a crash.
 *
 * Environment: OCPP_DB (SQLite path), OCPP_URL, OCPP_IDENTITY.
 */
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { SystemClock } from '../../hardware/clock.js';
import { OcppStation } from '../../wall-module/ocpp/station.js';

const { OCPP_DB, OCPP_URL, OCPP_IDENTITY } = process.env;
if (!OCPP_DB || !OCPP_URL || !OCPP_IDENTITY)
  throw new Error('OCPP_DB, OCPP_URL and OCPP_IDENTITY are required');

const db = new Database(OCPP_DB);
db.pragma('journal_mode = WAL');
const station = new OcppStation({
  clock: new SystemClock(),
  db,
  config: {
    url: OCPP_URL,
    identity: OCPP_IDENTITY,
    backoff: { initialMs: 100, factor: 2, maxMs: 400, jitter: 0 },
    pingIntervalSec: 0,
    meterIntervalSec: 60,
  },
});
station.start();

const BIGINTS = new Set(['amountMsat', 'paidMsat']);
function revive(_key: string, value: unknown): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, BIGINTS.has(k) && typeof v === 'string' ? BigInt(v) : v]),
      )
    : value;
}

type Op = { op: string; args?: unknown };
let n = 0;
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const { op, args } = JSON.parse(line, revive) as Op;
  n++;
  if (op === 'status') {
    process.stdout.write(`status ${JSON.stringify(station.status())}\n`);
    return;
  }
  const fn = (station as unknown as Record<string, (...a: unknown[]) => unknown>)[op];
  if (typeof fn !== 'function') throw new Error(`unknown op ${op}`);
  fn.apply(station, Array.isArray(args) ? args : [args]);
  process.stdout.write(`ack ${n}\n`);
});
lines.on('close', () => {
  void station.stop().then(() => db.close());
});
process.stdout.write('ready\n');
