/**
 * QR payment model 2: what the CSMS sends to be drawn is checked first. A BOLT11 of the right network, unexpired,
 * within the amount cap and (when pinned) to the pinned payee is drawn; a valid EMV/JPQR payload (pinned to the
 * host's store id when configured) is drawn; anything else — a tampered CRC, a wrong store id, a mainnet invoice
 * on regtest, an oversized or unknown payload — is refused with a named reason.
 */
import { describe, expect, it } from 'vitest';
import { checkPaymentQr, type PaymentQrPolicy } from '../../payments/emv/payment-qr.js';
import { jpqrPayload } from '../../payments/emv/sticker.js';
import { makeInvoice, OTHER_KEY, sha256hex, WALL_KEY, WALL_PUB } from '../protocol/harness.js';
import { JPQR_MERCARI } from './emv-vectors.js';

const NOW_MS = 1_760_000_100_000;
const STORE_ID = '12345678901230001000042000007';
const policy: PaymentQrPolicy = { network: 'regtest', nowMs: NOW_MS, maxAmountMsat: 5_000_000n };

function invoice(o: { key?: string; network?: 'regtest' | 'bitcoin'; amountMsat?: bigint; ageSec?: number }) {
  return makeInvoice({
    key: o.key ?? WALL_KEY,
    network: o.network ?? 'regtest',
    amountMsat: o.amountMsat ?? 1_000_000n,
    paymentHash: sha256hex('qr'),
    timestampSec: Math.floor(NOW_MS / 1000) - (o.ageSec ?? 10),
    expirySec: 600,
  });
}

function refusal(payload: string, p: PaymentQrPolicy = policy): string {
  const v = checkPaymentQr(payload, p);
  return v.ok ? `ok:${v.kind}` : v.refusal;
}

describe('payment QR check (model 2)', () => {
  it('draws a good BOLT11, upper case or lightning:-prefixed, and checks the pinned payee', () => {
    const inv = invoice({});
    expect(refusal(inv)).toBe('ok:bolt11');
    expect(refusal(inv.toUpperCase())).toBe('ok:bolt11');
    expect(refusal(`lightning:${inv}`)).toBe('ok:bolt11');
    expect(refusal(inv, { ...policy, payee: WALL_PUB })).toBe('ok:bolt11');
    expect(refusal(invoice({ key: OTHER_KEY }), { ...policy, payee: WALL_PUB })).toBe('InvoicePayeeMismatch');
  });

  it('refuses a mainnet invoice on regtest, an expired one, one over the cap, a corrupted one', () => {
    expect(refusal(invoice({ network: 'bitcoin' }))).toBe('InvoiceNetworkMismatch');
    expect(refusal(invoice({ ageSec: 590 }))).toBe('InvoiceExpired');
    expect(refusal(invoice({ amountMsat: 5_000_001n }))).toBe('InvoiceAmountTooLarge');
    const inv = invoice({});
    const flipped = inv.slice(0, 40) + (inv[40] === 'q' ? 'p' : 'q') + inv.slice(41);
    expect(refusal(flipped)).toBe('InvoiceInvalid');
  });

  it('draws a valid JPQR payload pinned to the store id; refuses a tampered CRC, another store, oversize, junk', () => {
    const sticker = jpqrPayload({ storeId: STORE_ID, name: 'BOLT CHARGE', city: 'SHIBUYA' });
    if (!sticker.ok) throw new Error('sticker payload not built');
    const pinned = { ...policy, emvProfile: 'jpqr-static' as const, storeId: STORE_ID };
    expect(refusal(sticker.value, pinned)).toBe('ok:emv');
    expect(refusal(JPQR_MERCARI)).toBe('ok:emv');
    const badCrc = sticker.value.slice(0, -1) + (sticker.value.endsWith('0') ? '1' : '0');
    expect(refusal(badCrc, pinned)).toBe('EmvInvalid');
    const other = jpqrPayload({ storeId: '9'.repeat(29), name: 'ELSEWHERE', city: 'OSAKA' });
    if (!other.ok) throw new Error('other payload not built');
    expect(refusal(other.value, pinned)).toBe('EmvStoreIdMismatch');
    expect(refusal(sticker.value, { ...pinned, maxChars: 50 })).toBe('PayloadTooLong');
    expect(refusal('https://pay.example.com/evil')).toBe('UnknownPayload');
  });
});
