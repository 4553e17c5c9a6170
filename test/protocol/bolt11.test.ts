import { describe, expect, it } from 'vitest';
import {
  checkAmount,
  checkNetwork,
  checkPayee,
  checkUnexpired,
  decodeInvoice,
  publicKeyOf,
} from '../../protocol/index.js';
import { makeInvoice, OTHER_KEY, sha256hex, WALL_KEY, WALL_PUB } from './harness.js';

const hash = sha256hex('p');
const base = {
  key: WALL_KEY,
  amountMsat: 12_345n,
  paymentHash: hash,
  timestampSec: 1_760_000_000,
  expirySec: 600,
};

describe('BOLT11 decoding and checks', () => {
  it('decodes a real signed regtest invoice', () => {
    const d = decodeInvoice(makeInvoice({ ...base, description: 'hi' }));
    expect(d).toEqual({
      ok: true,
      value: {
        payeePubkey: WALL_PUB,
        network: 'regtest',
        amountMsat: 12_345n,
        paymentHash: hash,
        timestampSec: 1_760_000_000,
        expirySec: 600,
        description: 'hi',
      },
    });
  });

  it('recognises networks by prefix', () => {
    for (const network of ['bitcoin', 'testnet', 'signet', 'regtest'] as const) {
      const d = decodeInvoice(makeInvoice({ ...base, network }));
      expect(d.ok && d.value.network).toBe(network);
      if (d.ok) expect(checkNetwork(d.value, network).ok).toBe(true);
    }
  });

  it('finds the payee of an invoice signed by another node', () => {
    const d = decodeInvoice(makeInvoice({ ...base, key: OTHER_KEY }));
    if (!d.ok) throw new Error('decode');
    expect(d.value.payeePubkey).toBe(publicKeyOf(OTHER_KEY));
    expect(checkPayee(d.value, WALL_PUB)).toMatchObject({
      ok: false,
      error: { name: 'InvoicePayeeMismatch' },
    });
  });

  it('checks amount and expiry with a margin', () => {
    const d = decodeInvoice(makeInvoice(base));
    if (!d.ok) throw new Error('decode');
    expect(checkAmount(d.value, 12_345n).ok).toBe(true);
    expect(checkAmount(d.value, 12_344n)).toMatchObject({
      ok: false,
      error: { name: 'InvoiceAmountMismatch' },
    });
    expect(checkUnexpired(d.value, 1_760_000_000_000, 10).ok).toBe(true);
    expect(checkUnexpired(d.value, 1_760_000_595_000, 10)).toMatchObject({
      ok: false,
      error: { name: 'InvoiceExpired' },
    });
  });

  it('returns typed problems for garbage and tampering', () => {
    expect(decodeInvoice('lnbcrt1garbage')).toMatchObject({ ok: false, error: { name: 'InvoiceMalformed' } });
    expect(decodeInvoice('hello')).toMatchObject({ ok: false, error: { name: 'InvoiceMalformed' } });
    const inv = makeInvoice(base);
    const tampered = inv.slice(0, 20) + (inv[20] === 'q' ? 'p' : 'q') + inv.slice(21);
    expect(decodeInvoice(tampered).ok).toBe(false);
  });
});
