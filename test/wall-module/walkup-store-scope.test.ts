// The walk-up store of a site: each connector's runtime reads a store scoped to its connector (live sessions,
// latest session, withdraw secrets, receipts), so no runtime recovers, shows or claims another connector's
// session; the unscoped lookups say whose a foreign secret or session is; rows stored before walk-up ran per
// connector (always as connector 1) are given the first connector's id once.
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createWalkup, walkupStep } from '../../payments/walkup.js';
import { walkupConfig } from '../../payments/walkup-config.js';
import { WalkupStore } from '../../wall-module/walkup/store.js';

const config = (() => {
  const c = walkupConfig({ network: 'regtest', priceMsatPerWh: 200n });
  if (!c.ok) throw new Error(c.error.message);
  return c.value;
})();

/** Stores a session that asked for its deposit on a connector. @returns its withdraw secret */
function deposit(store: WalkupStore, sessionId: string, connectorId: number, atMs: number): string {
  const withdrawSecretHex = createHash('sha256').update(sessionId).digest('hex');
  const step = walkupStep(
    createWalkup(),
    {
      type: 'depositRequested',
      atMs,
      requestId: `r-${sessionId}`,
      amountMsat: 10_000_000n,
      sessionId,
      depositPreimageHex: '11'.repeat(32),
      finalPreimageHex: '22'.repeat(32),
      withdrawSecretHex,
      ivHex: '33'.repeat(16),
    },
    config,
  );
  store.commitStep(sessionId, connectorId, step.state, step.records, atMs);
  return withdrawSecretHex;
}

describe('walk-up store scoped to a connector', () => {
  it("shows each connector's runtime its own sessions only", () => {
    const db = new Database(':memory:');
    const all = new WalkupStore(db);
    const k1 = deposit(all, 'wu-one', 1, 1_000);
    const k2 = deposit(all, 'wu-two', 2, 2_000);
    const one = new WalkupStore(db, { connectorId: 1 });
    const two = new WalkupStore(db, { connectorId: 2 });
    expect(one.live().map((l) => l.sessionId)).toEqual(['wu-one']);
    expect(two.live().map((l) => l.sessionId)).toEqual(['wu-two']);
    // the newest session of the site is connector 2's: connector 1's page still shows its own
    expect(all.latest()?.sessionId).toBe('wu-two');
    expect(one.latest()?.sessionId).toBe('wu-one');
    expect(new WalkupStore(db, { connectorId: 3 }).latest()).toBeUndefined();
    // a withdraw secret or session of another connector is not found by this connector's store ...
    expect(one.sessionByWithdrawSecret(k2)).toBeUndefined();
    expect(two.sessionByWithdrawSecret(k2)).toBe('wu-two');
    expect(one.get('wu-two')).toBeUndefined();
    expect(two.get('wu-two')?.phase).toBe('awaitingDeposit');
    // ... but the unscoped lookups say whose it is (the route names the owner in its refusal)
    expect(one.connectorOfWithdrawSecret(k2)).toBe(2);
    expect(two.connectorOfWithdrawSecret(k1)).toBe(1);
    expect(one.connectorOfSession('wu-two')).toBe(2);
    expect(one.connectorOfWithdrawSecret('ff'.repeat(32))).toBeUndefined();
    expect(all.list(10).map((l) => l.sessionId)).toEqual(['wu-two', 'wu-one']);
    expect(two.list(10).map((l) => l.sessionId)).toEqual(['wu-two']);
  });

  it('gives rows from before per-connector walk-up (stored as connector 1) to the first connector, once', () => {
    const db = new Database(':memory:');
    const all = new WalkupStore(db);
    deposit(all, 'wu-old', 1, 1_000); // the first connector (id 5) stored it as connector 1
    expect(all.assignLegacyRows(5)).toBe(1);
    expect(new WalkupStore(db, { connectorId: 5 }).live().map((l) => l.sessionId)).toEqual(['wu-old']);
    expect(new WalkupStore(db, { connectorId: 1 }).live()).toEqual([]);
    // once per database: connector 1's own sessions later are never moved
    deposit(all, 'wu-new', 1, 2_000);
    expect(all.assignLegacyRows(5)).toBe(0);
    expect(new WalkupStore(db, { connectorId: 1 }).live().map((l) => l.sessionId)).toEqual(['wu-new']);
    // a site whose first connector is 1 moves nothing
    const db1 = new Database(':memory:');
    const s1 = new WalkupStore(db1);
    deposit(s1, 'wu-a', 1, 1_000);
    expect(s1.assignLegacyRows(1)).toBe(0);
    expect(new WalkupStore(db1, { connectorId: 1 }).live().map((l) => l.sessionId)).toEqual(['wu-a']);
  });
});
