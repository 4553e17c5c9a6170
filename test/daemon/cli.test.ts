import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../hardware/clock.js';
import { VehicleStore } from '../../vehicle-module/store.js';
import { WallStore } from '../../wall-module/store.js';

const bin = fileURLToPath(new URL('../../bin/boltcharge.js', import.meta.url));
const run = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000 });

describe('boltcharge CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-'));
  const wallDb = join(dir, 'wall.sqlite');
  const vehDb = join(dir, 'vehicle.sqlite');
  const clock = new ManualClock(Date.UTC(2026, 10, 22, 10, 0, 0));
  const w = WallStore.open(wallDb, clock);
  w.createSession('5e551011aa', 'car');
  for (let seq = 0; seq < 2; seq++) {
    const h = String(seq).repeat(64);
    w.requestInvoice({
      sessionId: '5e551011aa',
      seq,
      amountMsat: 4_900n,
      fromWh: seq * 49,
      toWh: (seq + 1) * 49,
      priceMsatPerWh: 100n,
    });
    w.markIssued('5e551011aa', seq, h, 'lnbcrt...', 0);
    w.markSettled(h, 4_900n);
  }
  w.updateSession('5e551011aa', { energyWh: 97, priceMsatPerWh: 100n });
  w.endSession('5e551011aa', 'unplugged');
  w.close();
  const v = VehicleStore.open(vehDb, clock);
  v.createSession('5e551011aa', '02ab');
  v.recordPayment({
    sessionId: '5e551011aa',
    seq: 0,
    paymentHash: 'f'.repeat(64),
    bolt11: 'lnbcrt',
    amountMsat: 4_900n,
    fromWh: 0,
    toWh: 49,
    payee: '02ab',
  });
  v.markSent('f'.repeat(64));
  v.markSucceeded('f'.repeat(64), { preimage: '00', feeMsat: 0n });
  v.saveReceipt({ sessionId: '5e551011aa', bodyJson: '{"energyWh":49}', signature: 'sig', valid: true });
  v.close();

  it('lists sessions as text and JSON', () => {
    const text = run('sessions', '--db', wallDb);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/5e551011aa\s+ended .* 97\s+9800\s+unplugged/);
    const json = JSON.parse(run('sessions', '--db', vehDb, '--json').stdout) as {
      id: string;
      paidMsat: string;
    }[];
    expect(json).toEqual([expect.objectContaining({ id: '5e551011aa', paidMsat: '4900' })]);
  });

  it('prints a receipt as text, JSON and CSV (session id prefix accepted)', () => {
    expect(run('receipt', '5e55', '--db', wallDb).stdout).toMatch(/Paid\s+9\.800 sat in 2 payments/);
    const j = JSON.parse(run('receipt', '5e551011aa', '--db', vehDb, '--json').stdout) as Record<
      string,
      unknown
    >;
    expect(j).toMatchObject({
      role: 'vehicle',
      totalMsat: '4900',
      signed: { valid: true, body: { energyWh: 49 } },
    });
    const csv = run('receipt', '5e551011aa', '--db', wallDb, '--csv').stdout.trim().split('\n');
    expect(csv[0]).toBe('session_id,seq,payment_hash,amount_msat,from_wh,to_wh,paid_at');
    expect(csv).toHaveLength(4);
    expect(csv[3]).toMatch(/^5e551011aa,total,,9800,0,97,/);
    expect(run('receipt', 'nope', '--db', wallDb).status).toBe(1);
  });

  it('rejects a bad daemon config naming the key, with exit code 2', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'tariff: { priceMsatPerWh: zero }\n');
    const r = run('wall', '--config', bad);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/tariff\.priceMsatPerWh: must be an integer/);
    expect(r.stderr).toMatch(/link\.kind: is required/);
    expect(run('sessions').status).toBe(2);
    expect(run('frobnicate').status).toBe(2);
  });
});
