// Persisted machine states: every fixture in test/vectors/states/ (one per phase and role, of every schema
// version this release must read, including today's unversioned v0 written by the code before versioning) is
// restored, validated and migrated; the restored machine takes further events. Damaged, foreign and too-new
// states are refused with a named error.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BUYER_PHASES,
  SELLER_PHASES,
  buyerStep,
  persistBuyerState,
  persistSellerState,
  restoreBuyerState,
  restoreSellerState,
  sellerStep,
  STATE_SCHEMA_VERSION,
  type StateRestoreError,
} from '../../protocol/index.js';
import { captureStatesByPhase } from '../vectors/machine-states.js';
import { testBuyerConfig, testSellerConfig } from './harness.js';

const dir = new URL('../vectors/states/', import.meta.url);
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.json'));

function errorOf(r: { ok: true } | { ok: false; error: StateRestoreError }): StateRestoreError {
  if (r.ok) throw new Error('expected a refusal');
  return r.error;
}

describe('persisted state fixtures', () => {
  it('has a fixture per phase for the seller and the buyer, of v0 and of the current version', () => {
    for (const v of ['v0', `v${STATE_SCHEMA_VERSION}`]) {
      for (const phase of SELLER_PHASES) expect(fixtures).toContain(`${v}-seller-${phase}.json`);
      for (const phase of BUYER_PHASES) expect(fixtures).toContain(`${v}-buyer-${phase}.json`);
    }
  });

  for (const file of fixtures) {
    it(`restores ${file} and the machine steps on`, () => {
      const text = readFileSync(new URL(file, dir), 'utf8');
      const role = file.split('-')[1];
      const phase = file.replace(/\.json$/, '').split('-')[2];
      if (role === 'seller') {
        const r = restoreSellerState(text);
        if (!r.ok) throw new Error(r.error.message);
        expect(r.value.phase).toBe(phase);
        const step = sellerStep(r.value, { type: 'tick', atMs: r.value.lastRxMs + 500 });
        expect(step.state.config).toEqual(r.value.config);
        // re-persisting writes the current version, which restores to the same state
        const again = restoreSellerState(persistSellerState(r.value));
        expect(again.ok && again.value).toEqual(r.value);
      } else {
        const r = restoreBuyerState(text);
        if (!r.ok) throw new Error(r.error.message);
        expect(r.value.phase).toBe(phase);
        buyerStep(r.value, { type: 'tick', atMs: r.value.lastRxMs + 500 });
        const again = restoreBuyerState(persistBuyerState(r.value));
        expect(again.ok && again.value).toEqual(r.value);
      }
    });
  }

  it('the current release writes states equal to the current-version fixtures (regenerate on purpose only)', () => {
    const now = captureStatesByPhase();
    for (const [phase, state] of Object.entries(now.seller)) {
      const text = readFileSync(new URL(`v${STATE_SCHEMA_VERSION}-seller-${phase}.json`, dir), 'utf8');
      const r = restoreSellerState(text);
      expect(r.ok && r.value).toEqual(state);
    }
    for (const [phase, state] of Object.entries(now.buyer)) {
      const text = readFileSync(new URL(`v${STATE_SCHEMA_VERSION}-buyer-${phase}.json`, dir), 'utf8');
      const r = restoreBuyerState(text);
      expect(r.ok && r.value).toEqual(state);
    }
  });

  it('a v0 state migrates its deadlines from its last activity and takes missing config keys from the caller', () => {
    const text = readFileSync(new URL('v0-seller-suspended.json', dir), 'utf8');
    const r = restoreSellerState(text, testSellerConfig({ maxSuspendSec: 42, reissueAfterSec: 7 }));
    if (!r.ok) throw new Error(r.error.message);
    const s = r.value;
    expect(s.config.maxSuspendSec).toBe(42);
    const aboutNow = Math.max(s.lastTxMs, s.lastRxMs);
    expect(s.phase === 'suspended' && s.suspendDeadlineMs).toBe(aboutNow + 42_000);
    const open = s.invoices.filter((i) => i.status === 'open');
    for (const inv of open) expect(inv.reissueAtMs).toBe(aboutNow + 7_000);
    const b = restoreBuyerState(
      readFileSync(new URL('v0-buyer-charging.json', dir), 'utf8'),
      testBuyerConfig({ budgetDayUtcOffsetMin: 60 }),
    );
    if (!b.ok) throw new Error(b.error.message);
    expect(b.value.config.budgetDayUtcOffsetMin).toBe(60);
    expect(b.value.budgetDayStartMs).not.toBeNull();
    for (const p of b.value.payments) expect(p.bolt11).toBe('');
  });
});

describe('refusals', () => {
  const good = readFileSync(new URL(`v${STATE_SCHEMA_VERSION}-seller-charging.json`, dir), 'utf8');

  it('not JSON: StateUnreadable', () => {
    expect(errorOf(restoreSellerState('{nope')).name).toBe('StateUnreadable');
  });

  it('a newer schema version: StateTooNew, naming it', () => {
    const e = errorOf(restoreSellerState(good.replace(`"version":${STATE_SCHEMA_VERSION}`, '"version":99')));
    expect(e).toMatchObject({ name: 'StateTooNew', version: 99 });
  });

  it('a buyer state given to the seller: StateInvalid at the schema', () => {
    const buyer = readFileSync(new URL(`v${STATE_SCHEMA_VERSION}-buyer-charging.json`, dir), 'utf8');
    expect(errorOf(restoreSellerState(buyer))).toMatchObject({ name: 'StateInvalid', path: '$.schema' });
  });

  it.each([
    ['a missing field', (s: Record<string, unknown>) => delete s.paidWh, '$.state.paidWh'],
    ['a wrong type', (s: Record<string, unknown>) => (s.paidWh = '12'), '$.state.paidWh'],
    ['an unknown phase', (s: Record<string, unknown>) => (s.phase = 'dancing'), '$.state.phase'],
    ['an unknown key', (s: Record<string, unknown>) => (s.extra = 1), '$.state.extra'],
    ['a money amount as a number', (s: Record<string, unknown>) => (s.paidMsat = 5), '$.state.paidMsat'],
  ])('%s: StateInvalid with the path', (_what, damage, path) => {
    const envelope = JSON.parse(good) as { state: Record<string, unknown> };
    damage(envelope.state);
    expect(errorOf(restoreSellerState(JSON.stringify(envelope)))).toMatchObject({
      name: 'StateInvalid',
      path,
    });
  });

  it('a configuration out of range inside the state: StateInvalid at the config', () => {
    const envelope = JSON.parse(good) as { state: { config: Record<string, unknown> } };
    envelope.state.config.depositBlocks = 0;
    const e = errorOf(restoreSellerState(JSON.stringify(envelope)));
    expect(e).toMatchObject({ name: 'StateInvalid', path: '$.state.config' });
    expect(e.message).toContain('depositBlocks');
  });

  it.each([
    ['seller', 'charging', 'channel'],
    ['seller', 'handshake', 'helloFrame'],
    ['buyer', 'charging', 'wallPub'],
    ['buyer', 'authenticating', 'th'],
  ])("a %s state in %s without its %s: StateInvalid (the phase's own data)", (role, phase, field) => {
    const text = readFileSync(new URL(`v${STATE_SCHEMA_VERSION}-${role}-${phase}.json`, dir), 'utf8');
    const envelope = JSON.parse(text) as { state: Record<string, unknown> };
    envelope.state[field] = null;
    const damaged = JSON.stringify(envelope);
    const e = errorOf(role === 'seller' ? restoreSellerState(damaged) : restoreBuyerState(damaged));
    // the seller's phase variants name the field in the path; the buyer's phase rule names it in the message
    if (e.name !== 'StateInvalid') throw new Error(`expected StateInvalid, got ${e.name}`);
    expect(e.path.startsWith('$.state')).toBe(true);
    expect(e.message).toContain(field);
  });

  it('hostile text never throws: every truncation and byte flip of a fixture restores or is refused by name', () => {
    const text = readFileSync(new URL(`v${STATE_SCHEMA_VERSION}-buyer-closing.json`, dir), 'utf8');
    const v0 = readFileSync(new URL('v0-seller-suspended.json', dir), 'utf8');
    for (const source of [text, v0]) {
      for (let i = 0; i < source.length; i += 7) {
        const variants = [
          source.slice(0, i),
          source.slice(0, i) + String.fromCharCode(source.charCodeAt(i) ^ 0x01) + source.slice(i + 1),
        ];
        for (const t of variants) {
          for (const r of [restoreSellerState(t), restoreBuyerState(t)]) {
            if (!r.ok) expect(['StateUnreadable', 'StateInvalid', 'StateTooNew']).toContain(r.error.name);
          }
        }
      }
    }
  });

  it('an invalid invoice status deep in the buyer state: StateInvalid with the path', () => {
    const text = readFileSync(new URL(`v${STATE_SCHEMA_VERSION}-buyer-closing.json`, dir), 'utf8');
    const envelope = JSON.parse(text) as { state: { payments: Record<string, unknown>[] } };
    const first = envelope.state.payments[0];
    if (first === undefined) throw new Error('fixture has no payment');
    first.status = 'maybe';
    expect(errorOf(restoreBuyerState(JSON.stringify(envelope)))).toMatchObject({
      name: 'StateInvalid',
      path: '$.state.payments[0].status',
    });
  });
});
