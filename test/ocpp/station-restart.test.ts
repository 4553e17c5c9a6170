/**
 * Crash safety: the wall process is killed with SIGKILL while the CSMS is down, restarted over the same
 * SQLite file, and everything it reported before and after the crash reaches the CSMS once, in order.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { OcppStationStatus } from '../../wall-module/ocpp/station.js';
import { TestCsms } from '../support/csms.js';
import {
  BLOCK_WH,
  PRICE_MSAT_PER_WH,
  blockInvoice,
  outboxReports,
  receivedReports,
  tempDb,
  waitFor,
  type TempDb,
} from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const T0 = 1_700_000_400_000;

/** A running station child process. */
class Child {
  private readonly lines: string[] = [];
  private sent = 0;
  readonly exited: Promise<number | null>;
  constructor(readonly proc: ChildProcessWithoutNullStreams) {
    createInterface({ input: proc.stdout }).on('line', (l) => this.lines.push(l));
    proc.stderr.on('data', (d: Buffer) => process.stderr.write(`[station-child] ${d.toString()}`));
    this.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  }
  static async spawn(env: Record<string, string>): Promise<Child> {
    const proc = spawn(process.execPath, ['--import', 'tsx', join(here, 'station-child.ts')], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const child = new Child(proc);
    await waitFor(() => child.lines.includes('ready'), 'child ready', 30_000);
    return child;
  }
  /** Sends one call and waits until the child acknowledged it (its messages are committed to SQLite). */
  async call(op: string, args: unknown): Promise<void> {
    const n = ++this.sent;
    this.proc.stdin.write(
      JSON.stringify({ op, args }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) + '\n',
    );
    await waitFor(() => this.lines.includes(`ack ${n}`), `ack ${n} (${op})`);
  }
  async status(): Promise<OcppStationStatus> {
    this.sent++; // the child numbers every line, status included
    const before = this.lines.length;
    this.proc.stdin.write(JSON.stringify({ op: 'status' }) + '\n');
    await waitFor(() => this.lines.slice(before).some((l) => l.startsWith('status ')), 'status');
    const line = this.lines.slice(before).find((l) => l.startsWith('status ')) ?? '';
    return JSON.parse(line.slice('status '.length)) as OcppStationStatus;
  }
}

/** The daemon's calls for block `seq` of a session (invoice issued, paid, then meter samples). */
async function block(child: Child, sessionId: string, seq: number): Promise<void> {
  const t = T0 + seq * 60_000;
  await child.call('invoiceIssued', { ...blockInvoice(sessionId, seq, 0), atMs: t + 1000 });
  await child.call('invoicePaid', { ...blockInvoice(sessionId, seq, 0), atMs: t + 3000 });
  for (let k = 1; k <= 4; k++)
    await child.call('meterSample', {
      sessionId,
      energyWh: seq * BLOCK_WH + k * 25,
      powerW: 6000,
      atMs: t + k * 15_000,
    });
}

describe('OCPP outbox across a crash', () => {
  const children: Child[] = [];
  let csms: TestCsms | undefined;
  let tmp: TempDb | undefined;

  afterEach(async () => {
    for (const c of children) {
      if (c.proc.exitCode === null && c.proc.signalCode === null) {
        c.proc.kill('SIGKILL');
        await c.exited;
      }
    }
    await csms?.close();
    tmp?.cleanup();
  });

  it('loses and duplicates nothing when killed with SIGKILL during an outage and restarted', async () => {
    csms = await TestCsms.start({ protocols: ['ocpp2.0.1', 'ocpp1.6'] });
    tmp = tempDb();
    const env = { OCPP_DB: tmp.path, OCPP_URL: csms.url, OCPP_IDENTITY: 'wall-crash' };
    const a = await Child.spawn(env);
    children.push(a);
    await waitFor(async () => (await a.status()).boot === 'Accepted', 'first process online', 30_000);

    await a.call('plugged', [1, T0]);
    await a.call('sessionStarted', { evseId: 1, sessionId: 's-crash', atMs: T0, meterStartWh: 0 });
    await block(a, 's-crash', 0);
    await waitFor(async () => (await a.status()).outboxPending === 0, 'online part delivered');
    const onlineCount = receivedReports(csms.received).length;

    await csms.down();
    await waitFor(async () => !(await a.status()).connected, 'first process sees the outage');
    await block(a, 's-crash', 1);
    await block(a, 's-crash', 2);
    a.proc.kill('SIGKILL');
    await a.exited;
    expect(a.proc.signalCode).toBe('SIGKILL');

    const b = await Child.spawn(env);
    children.push(b);
    await block(b, 's-crash', 3);
    await b.call('powerCut', {
      sessionId: 's-crash',
      reason: 'non-payment',
      atMs: T0 + 250_000,
      energyWh: 400,
    });
    await b.call('sessionEnded', {
      sessionId: 's-crash',
      reason: 'LocalOutOfCredit',
      meterStopWh: 400,
      atMs: T0 + 300_000,
      receipt: {
        energyWh: 400,
        paidMsat: 100_000n,
        invoicesIssued: 4,
        invoicesPaid: 4,
        lastSeq: 3,
        priceMsatPerWh: PRICE_MSAT_PER_WH,
      },
    });
    await b.call('unplugged', [1, T0 + 310_000]);
    expect(receivedReports(csms.received)).toHaveLength(onlineCount);

    await csms.up();
    await waitFor(
      async () => {
        const s = await b.status();
        return s.connected && s.boot === 'Accepted' && s.outboxPending === 0;
      },
      'restarted process delivered everything',
      60_000,
    );

    const db = new Database(tmp.path, { readonly: true });
    const expected = outboxReports(db);
    db.close();
    const got = receivedReports(csms.received);
    expect(got).toEqual(expected);
    expect(new Set(got.map((r) => r.key)).size).toBe(got.length);
    // 4 blocks x (issued, paid, one periodic report) + plugged + charging + cut (2) + receipt + session over
    // (cable still in) + ended at unplug
    expect(got).toHaveLength(4 * 3 + 2 + 2 + 3);
    expect(got.slice(0, onlineCount).every((r) => !r.offline)).toBe(true);
    expect(got.slice(onlineCount).every((r) => r.offline)).toBe(true);
    const events = csms.calls('TransactionEvent').map((c) => c.payload);
    expect(events.map((e) => e.seqNo)).toEqual(events.map((_, i) => i));
    expect(events.at(-1)).toMatchObject({
      eventType: 'Ended',
      transactionInfo: { stoppedReason: 'LocalOutOfCredit' },
    });
    expect(csms.calls('BootNotification')).toHaveLength(2); // one per process
    expect(csms.validationFailures).toEqual([]);
  }, 120_000);
});
