// fromLnServiceError on the hold-invoice and permission shapes ln-service really throws (recorded from lnd v0.20.1
// on regtest, with the admin and the invoice-only macaroon).
import { describe, expect, it } from 'vitest';
import {
  InvoiceAlreadyExists,
  LightningError,
  NodeAuthRejected,
  NodePermissionDenied,
  fromLnServiceError,
} from '../../lightning/errors.js';

const grpc = (code: number, details: string) =>
  Object.assign(new Error(`${code} ${details}`), { code, details });

describe('fromLnServiceError for hold invoices and macaroon permissions', () => {
  it('a call the macaroon does not grant is NodePermissionDenied, not an auth rejection', () => {
    for (const name of [
      'UnexpectedGetPaymentError',
      'UnexpectedGetChannelBalanceError',
      'UnexpectedSignMessageError',
    ]) {
      const err = fromLnServiceError([503, name, { err: grpc(2, 'permission denied') }], 'pay');
      expect(err).toBeInstanceOf(NodePermissionDenied);
      expect(err).not.toBeInstanceOf(NodeAuthRejected);
      expect(err.message).toContain('pay: the macaroon does not allow this call');
    }
  });

  it('a reused payment hash is InvoiceAlreadyExists', () => {
    const err = fromLnServiceError(
      [503, 'UnexpectedAddHodlInvoiceError', { err: grpc(2, 'invoice with payment hash already exists') }],
      'createHoldInvoice',
    );
    expect(err).toBeInstanceOf(InvoiceAlreadyExists);
  });

  it('settle refusals stay generic LightningErrors here (LndHoldInvoices names them after a lookup)', () => {
    const open = fromLnServiceError([402, 'CannotSettleHtlcBeforeHtlcReceived'], 'settleHoldInvoice');
    expect(open.constructor).toBe(LightningError);
    expect(open.code).toBe(402);
  });
});
