// The offline invoice stock: replenished only online, handed to one session, a proof is a preimage of a stocked
// invoice handed to that session (replays, foreign invoices, other sessions' invoices and wrong preimages refused
// with named reasons), reconciled with the node when back online, retired before expiry.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import {
  acceptProof,
  emptyStock,
  handOut,
  stockStep,
  type StockConfig,
  type StockState,
} from '../../payments/invoice-stock.js';

const config: StockConfig = {
  denominationsMsat: [1_000_000n, 5_000_000n],
  perDenomination: 2,
  expirySec: 7 * 86_400,
  retireBeforeExpirySec: 86_400,
};
const T0 = 1_700_000_000_000;

/** A stock filled as the node would: each createInvoice answered with a fresh preimage's hash. */
function filled(): { stock: StockState; preimages: Map<string, string> } {
  const preimages = new Map<string, string>();
  const first = stockStep(emptyStock(), { type: 'tick', atMs: T0, online: true }, config);
  let state = first.state;
  const effects = first.effects;
  for (const e of effects) {
    if (e.type !== 'createInvoice') continue;
    const preimage = bytesToHex(randomBytes(32));
    const paymentHash = bytesToHex(sha256(Buffer.from(preimage, 'hex')));
    preimages.set(paymentHash, preimage);
    state = stockStep(
      state,
      {
        type: 'invoiceCreated',
        requestId: e.requestId,
        paymentHash,
        bolt11: `lnbcrt-${paymentHash.slice(0, 8)}`,
        expiresAtMs: T0 + config.expirySec * 1000,
      },
      config,
    ).state;
  }
  return { stock: state, preimages };
}

describe('offline invoice stock', () => {
  it('is replenished online only, to the configured count per denomination, write-ahead', () => {
    const offline = stockStep(emptyStock(), { type: 'tick', atMs: T0, online: false }, config);
    expect(offline.effects).toEqual([]);
    const online = stockStep(emptyStock(), { type: 'tick', atMs: T0, online: true }, config);
    expect(online.effects.map((e) => e.type === 'createInvoice' && e.amountMsat)).toEqual([
      1_000_000n,
      1_000_000n,
      5_000_000n,
      5_000_000n,
    ]);
    expect(Object.keys(online.state.requested)).toHaveLength(4);
    // asked again before the node answered: nothing more is requested
    expect(stockStep(online.state, { type: 'tick', atMs: T0 + 1, online: true }, config).effects).toEqual([]);
    const { stock } = filled();
    expect(Object.values(stock.invoices).every((i) => i.phase === 'stocked')).toBe(true);
    expect(stockStep(stock, { type: 'tick', atMs: T0 + 2, online: true }, config).effects).toEqual([]);
  });

  it('accepts a proof once, for the session it was handed to, and refuses every forgery by name', () => {
    const { stock, preimages } = filled();
    const handed = handOut(stock, { sessionId: 's1', minMsat: 2_000_000n, atMs: T0 + 10 });
    expect(handed.result?.amountMsat).toBe(5_000_000n);
    const hash = handed.result!.paymentHash;
    const preimage = preimages.get(hash)!;
    const other = [...preimages.keys()].find((h) => h !== hash)!;
    const p = (paymentHash: string, pre: string, sessionId = 's1') =>
      acceptProof(handed.state, { sessionId, paymentHash, preimage: pre, atMs: T0 + 20 }).result;
    expect(p(hash, 'ab')).toEqual({ ok: false, refusal: 'PROOF_MALFORMED' });
    expect(p(hash, preimages.get(other)!)).toEqual({ ok: false, refusal: 'PROOF_PREIMAGE_MISMATCH' });
    expect(p(other, preimages.get(other)!)).toEqual({ ok: false, refusal: 'PROOF_NOT_HANDED_TO_SESSION' });
    expect(p(hash, preimage, 's2')).toEqual({ ok: false, refusal: 'PROOF_NOT_HANDED_TO_SESSION' });
    const foreign = bytesToHex(randomBytes(32));
    expect(p(bytesToHex(sha256(Buffer.from(foreign, 'hex'))), foreign)).toEqual({
      ok: false,
      refusal: 'PROOF_UNKNOWN_INVOICE',
    });
    const ok = acceptProof(handed.state, { sessionId: 's1', paymentHash: hash, preimage, atMs: T0 + 20 });
    expect(ok.result).toEqual({ ok: true, amountMsat: 5_000_000n });
    const replay = acceptProof(ok.state, { sessionId: 's1', paymentHash: hash, preimage, atMs: T0 + 30 });
    expect(replay.result).toEqual({ ok: false, refusal: 'PROOF_ALREADY_USED' });
    // the stock is refilled when online again (the handed invoice left the stock)
    const refill = stockStep(ok.state, { type: 'tick', atMs: T0 + 40, online: true }, config);
    expect(refill.effects).toMatchObject([{ type: 'createInvoice', amountMsat: 5_000_000n }]);
  });

  it('reconciles handed and proven invoices with the node when back online', () => {
    const { stock, preimages } = filled();
    let s = handOut(stock, { sessionId: 's1', minMsat: 1n, atMs: T0 }).state;
    const a = Object.values(s.invoices).find((i) => i.phase === 'handed')!.paymentHash;
    s = acceptProof(s, { sessionId: 's1', paymentHash: a, preimage: preimages.get(a)!, atMs: T0 }).state;
    const h2 = handOut(s, { sessionId: 's2', minMsat: 1n, atMs: T0 });
    s = h2.state;
    const b = h2.result!.paymentHash;
    const r = stockStep(s, { type: 'reconcile', atMs: T0 + 1 }, config);
    expect(r.effects.map((e) => e.type === 'lookupInvoice' && e.paymentHash).sort()).toEqual([a, b].sort());
    s = stockStep(r.state, { type: 'nodeStatus', paymentHash: a, status: 'settled' }, config).state;
    s = stockStep(s, { type: 'nodeStatus', paymentHash: b, status: 'open' }, config).state;
    expect(s.invoices[a]).toMatchObject({ phase: 'reconciled', settled: true, sessionId: 's1' });
    expect(s.invoices[b]).toMatchObject({ phase: 'handed' });
    s = stockStep(s, { type: 'nodeStatus', paymentHash: b, status: 'canceled' }, config).state;
    expect(s.invoices[b]).toMatchObject({ phase: 'reconciled', settled: false, sessionId: 's2' });
  });

  it('retires unused invoices before they expire and runs out cleanly', () => {
    const { stock } = filled();
    const late = T0 + (config.expirySec - config.retireBeforeExpirySec) * 1000;
    const r = stockStep(stock, { type: 'tick', atMs: late, online: false }, config);
    expect(r.effects.filter((e) => e.type === 'cancelInvoice')).toHaveLength(4);
    expect(handOut(r.state, { sessionId: 's', minMsat: 1n, atMs: late }).result).toBeNull();
  });
});
