// fromLnServiceError maps the shapes ln-service really throws (recorded from lnd v0.20.1 on regtest) to typed errors.
import { describe, expect, it } from 'vitest';
import {
  InsufficientBalance,
  InvoiceAlreadyPaid,
  InvoiceExpired,
  InvoiceNotFound,
  InvoiceNotPayable,
  LightningError,
  NoRoute,
  NodeAuthRejected,
  NodeUnreachable,
  PaymentInFlight,
  fromLnServiceError,
} from '../../lightning/errors.js';

const grpc = (code: number, details: string) =>
  Object.assign(new Error(`${code} ${details}`), { code, details });

describe('fromLnServiceError', () => {
  const cases: [string, unknown, new (...a: never[]) => LightningError][] = [
    [
      'expired invoice',
      [
        503,
        'UnexpectedPaymentError',
        { err: grpc(2, 'invoice expired. Valid until 2026-11-22 10:35:33 +0000 UTC') },
      ],
      InvoiceExpired,
    ],
    ['cancelled invoice (payee rejects)', [503, 'PaymentRejectedByDestination'], InvoiceNotPayable],
    [
      'already paid',
      [503, 'UnexpectedPaymentError', { err: grpc(6, 'invoice is already paid') }],
      InvoiceAlreadyPaid,
    ],
    [
      'cancel of a settled invoice',
      [503, 'UnexpectedErrorCancelingHodlInvoice', { err: grpc(2, 'invoice already settled') }],
      InvoiceAlreadyPaid,
    ],
    [
      'in flight',
      [503, 'UnexpectedPaymentError', { err: grpc(2, 'payment is in transition') }],
      PaymentInFlight,
    ],
    [
      'concurrent attempt (lnd v0.20: payment already exists)',
      [503, 'UnexpectedPaymentError', { err: grpc(2, 'payment already exists') }],
      PaymentInFlight,
    ],
    ['insufficient balance', [503, 'InsufficientBalanceToAttemptPayment'], InsufficientBalance],
    ['no route', [503, 'PaymentPathfindingFailedToFindPossibleRoute'], NoRoute],
    ['no payable route', [503, 'FailedToFindPayableRouteToDestination'], NoRoute],
    ['pathfinding timeout', [503, 'PaymentAttemptsTimedOut'], NoRoute],
    [
      'unknown invoice',
      [503, 'UnexpectedLookupInvoiceErr', { err: grpc(5, 'unable to locate invoice') }],
      InvoiceNotFound,
    ],
    [
      'connection refused',
      [
        503,
        'GetWalletInfoErr',
        { err: grpc(14, 'No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1.') },
      ],
      NodeUnreachable,
    ],
    [
      'unavailable during pay',
      [503, 'UnexpectedPaymentError', { err: grpc(14, 'No connection established.') }],
      NodeUnreachable,
    ],
    ['deadline exceeded', [503, 'AddInvoiceError', { err: grpc(4, 'Deadline exceeded') }], NodeUnreachable],
    ['getWalletInfo failure', [503, 'FailedToConnectToDaemon'], NodeUnreachable],
    [
      'wrong macaroon',
      [
        503,
        'GetWalletInfoErr',
        { err: grpc(2, 'verification failed: signature mismatch after caveat verification') },
      ],
      NodeAuthRejected,
    ],
  ];

  for (const [label, raw, cls] of cases) {
    it(`maps ${label} to ${cls.name}`, () => {
      const err = fromLnServiceError(raw, 'pay');
      expect(err).toBeInstanceOf(cls);
      expect(err).toBeInstanceOf(LightningError);
      expect(err.name).toBe(cls.name);
      expect(err.message).toMatch(/^pay: /);
      expect(err.code).toBe((raw as unknown[])[0]);
      expect(err.lnName).toBe((raw as unknown[])[1]);
      expect(err.cause).toBe(raw);
    });
  }

  it('keeps lnd details in the message and on the error', () => {
    const err = fromLnServiceError(
      [503, 'UnexpectedPaymentError', { err: grpc(6, 'invoice is already paid') }],
      'pay',
    );
    expect(err.details).toBe('invoice is already paid');
    expect(err.message).toContain('invoice is already paid');
  });

  it('maps an unrecognised array to a plain LightningError carrying code and name', () => {
    const err = fromLnServiceError([400, 'ExpectedSomethingElse'], 'createInvoice');
    expect(err.constructor).toBe(LightningError);
    expect(err).toMatchObject({ code: 400, lnName: 'ExpectedSomethingElse' });
    expect(err.message).toBe('createInvoice: ExpectedSomethingElse');
  });

  it('maps a bare gRPC error and a plain Error', () => {
    expect(fromLnServiceError(grpc(14, 'Connection dropped'), 'x')).toBeInstanceOf(NodeUnreachable);
    const plain = fromLnServiceError(new Error('boom'), 'x');
    expect(plain.constructor).toBe(LightningError);
    expect(plain.message).toBe('x: boom');
  });

  it('passes typed errors through unchanged', () => {
    const e = new NoRoute('already typed');
    expect(fromLnServiceError(e, 'pay')).toBe(e);
  });

  it('a not-found payment is not mistaken for a missing invoice', () => {
    expect(fromLnServiceError([404, 'SentPaymentNotFound'], 'paymentStatus').constructor).toBe(
      LightningError,
    );
  });
});
