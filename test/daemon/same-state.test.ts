import { describe, expect, it } from 'vitest';
import { sameState } from '../../daemon/same-state.js';

describe('sameState (does a step change the machine state?)', () => {
  const state = () => ({
    phase: 'idle',
    sessionId: null,
    paidMsat: 12_000n,
    invoices: [{ seq: 0, status: 'open', bolt11: 'lnbcrt1', amountMsat: 1000n }],
    secret: new Uint8Array([1, 2, 3]),
    regreetAtMs: 1_700_000_005_000,
  });

  it('a structured copy is the same state', () => {
    expect(sameState(state(), structuredClone(state()))).toBe(true);
  });

  it('any changed field, element, bigint, byte or key makes a different state', () => {
    const changes: ((s: ReturnType<typeof state>) => void)[] = [
      (s) => (s.phase = 'handshake'),
      (s) => (s.paidMsat = 12_001n),
      (s) => (s.invoices[0]!.status = 'settled'),
      (s) => s.invoices.push({ seq: 1, status: 'open', bolt11: 'x', amountMsat: 1n }),
      (s) => (s.secret[2] = 4),
      (s) => (s.regreetAtMs = 1_700_000_006_000),
      (s) => Object.assign(s, { extra: undefined }),
      (s) => Object.assign(s, { sessionId: undefined }),
    ];
    for (const change of changes) {
      const s = state();
      change(s);
      expect(sameState(state(), s)).toBe(false);
    }
  });

  it('an array is not an object with the same keys, nor a byte array', () => {
    expect(sameState([1, 2], { 0: 1, 1: 2 })).toBe(false);
    expect(sameState([1, 2], new Uint8Array([1, 2]))).toBe(false);
  });
});
