// Typed Lightning errors. ln-service reports failures as arrays `[code, 'Name', {err}]`, where `err` may be a gRPC
// error from lnd carrying `code` (gRPC status) and `details` (lnd's message). `fromLnServiceError` turns those,
// and our own timeouts, into the named classes below so callers branch on `instanceof`, never on strings.

/** Any failure talking to or through a Lightning node. Carries ln-service's original code and name. */
export class LightningError extends Error {
  override name = 'LightningError';
  /** ln-service's numeric code (HTTP-like: 400 bad args, 404 not found, 503 failure), when there was one */
  readonly code: number | undefined;
  /** ln-service's error name, e.g. `PaymentRejectedByDestination` */
  readonly lnName: string | undefined;
  /** lnd's own message (gRPC `details`), when there was one */
  readonly details: string | undefined;

  constructor(
    message: string,
    opts: { code?: number; lnName?: string; details?: string; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = opts.code;
    this.lnName = opts.lnName;
    this.details = opts.details;
  }
}

/** The node did not answer: process down, wrong socket, TLS/macaroon rejected, or a call exceeded its timeout. */
export class NodeUnreachable extends LightningError {
  override name = 'NodeUnreachable';
}

/** The node answered but refused our credentials (wrong macaroon for this node, or revoked). */
export class NodeAuthRejected extends NodeUnreachable {
  override name = 'NodeAuthRejected';
}

/** The paying node lacks the outbound channel balance (or on-chain funds) for this amount plus fees. */
export class InsufficientBalance extends LightningError {
  override name = 'InsufficientBalance';
}

/** No route to the payee was found within the fee limit and timeout. */
export class NoRoute extends LightningError {
  override name = 'NoRoute';
}

/** The invoice's expiry time has passed; it can no longer be paid. */
export class InvoiceExpired extends LightningError {
  override name = 'InvoiceExpired';
}

/** The payee rejected the payment: the invoice was cancelled, is unknown to the payee, or the amount is wrong. */
export class InvoiceNotPayable extends LightningError {
  override name = 'InvoiceNotPayable';
}

/** This invoice was already paid by this node; paying again would not debit twice, it is refused. */
export class InvoiceAlreadyPaid extends LightningError {
  override name = 'InvoiceAlreadyPaid';
  /** the earlier successful payment, when known */
  readonly payment: { preimage: string; feeMsat: bigint } | undefined;
  constructor(
    message: string,
    opts: ConstructorParameters<typeof LightningError>[1] & {
      payment?: { preimage: string; feeMsat: bigint };
    } = {},
  ) {
    super(message, opts);
    this.payment = opts.payment;
  }
}

/** A payment for this invoice is already in flight; wait for its outcome (see `paymentStatus`). */
export class PaymentInFlight extends LightningError {
  override name = 'PaymentInFlight';
}

/** The node has no invoice with this payment hash. */
export class InvoiceNotFound extends LightningError {
  override name = 'InvoiceNotFound';
}

/** The node's macaroon does not grant this call (e.g. `pay` with an invoice-only macaroon): the node is
  reachable and the credentials are valid, but this operation is not allowed with them. */
export class NodePermissionDenied extends LightningError {
  override name = 'NodePermissionDenied';
}

/** An invoice with this payment hash already exists on the node (a hold invoice's hash must be fresh). */
export class InvoiceAlreadyExists extends LightningError {
  override name = 'InvoiceAlreadyExists';
}

/** Settling a hold invoice that holds no HTLC yet (nobody has paid it in full). */
export class InvoiceNotHeld extends LightningError {
  override name = 'InvoiceNotHeld';
}

/** A hold invoice can no longer be settled: lnd cancelled it because its HTLC's CLTV expiry came within
  `holdexpirydelta` blocks, or the invoice expired before it was paid. The payer keeps the money. */
export class HoldInvoiceExpired extends LightningError {
  override name = 'HoldInvoiceExpired';
}

/** The invoice was cancelled; it can be neither paid nor settled. */
export class InvoiceCancelled extends LightningError {
  override name = 'InvoiceCancelled';
}

/** The invoice is already settled (the money is received); it can no longer be cancelled. */
export class InvoiceAlreadySettled extends LightningError {
  override name = 'InvoiceAlreadySettled';
}

const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_UNAUTHENTICATED = 16;

/** Maps an ln-service error (array), a gRPC error or anything thrown into a typed LightningError.

  {
    err: <Thrown Value>
    context: <What Was Being Done String> (e.g. 'pay', 'createInvoice'), used in the message
  }

  @returns <LightningError subclass>
*/
export function fromLnServiceError(err: unknown, context: string): LightningError {
  if (err instanceof LightningError) return err;
  const parsed = parse(err);
  const { code, lnName, details } = parsed;
  const opts = { code, lnName, details, cause: err };
  const text = `${lnName ?? ''} ${details ?? ''}`;
  const what = [lnName, details].filter(Boolean).join(': ') || 'unknown error';

  if (/permission denied/i.test(text)) {
    return new NodePermissionDenied(`${context}: the macaroon does not allow this call (${what})`, opts);
  }
  if (
    parsed.grpcCode === GRPC_UNAUTHENTICATED ||
    /verification failed: signature mismatch|macaroon/i.test(text)
  ) {
    return new NodeAuthRejected(`${context}: Lightning node rejected our macaroon (${what})`, opts);
  }
  if (/invoice with payment hash already exists|InvoiceWithGivenHashAlreadyExists/i.test(text)) {
    return new InvoiceAlreadyExists(`${context}: an invoice with this payment hash exists (${what})`, opts);
  }
  if (
    parsed.grpcCode === GRPC_UNAVAILABLE ||
    parsed.grpcCode === GRPC_DEADLINE_EXCEEDED ||
    /FailedToConnect|ConnectionFailure|No connection established|failed to connect to all addresses|Connection dropped|ECONNREFUSED|ENOTFOUND|ETIMEDOUT|certificate/i.test(
      text,
    )
  ) {
    return new NodeUnreachable(`${context}: Lightning node unreachable (${what})`, opts);
  }
  if (/invoice is already paid|invoice already settled|AlreadyPaid/i.test(text)) {
    return new InvoiceAlreadyPaid(`${context}: invoice is already paid (${what})`, opts);
  }
  if (/payment is in transition|payment already exists|in.?flight|PaymentIsPending/i.test(text)) {
    return new PaymentInFlight(`${context}: a payment for this invoice is already in flight (${what})`, opts);
  }
  if (/invoice expired|PaymentRequestExpired|InvoiceExpired/i.test(text)) {
    return new InvoiceExpired(`${context}: invoice has expired (${what})`, opts);
  }
  if (/InsufficientBalance|insufficient (local )?balance|insufficient funds/i.test(text)) {
    return new InsufficientBalance(`${context}: insufficient balance (${what})`, opts);
  }
  if (/PaymentRejectedByDestination|IncorrectOrUnknownPaymentDetails|invoice.*cancel/i.test(text)) {
    return new InvoiceNotPayable(
      `${context}: payee rejected the payment: invoice cancelled, unknown or wrong amount (${what})`,
      opts,
    );
  }
  if (
    /PathfindingFailed|FailedToFindPayableRoute|PaymentAttemptsTimedOut|RouteNotFound|no route|unable to find a path/i.test(
      text,
    )
  ) {
    return new NoRoute(`${context}: no route to the payee within the fee limit and timeout (${what})`, opts);
  }
  if (
    /unable to locate invoice|InvoiceNotFound|there are no existing invoices/i.test(text) ||
    (code === 404 && /invoice/i.test(lnName ?? ''))
  ) {
    return new InvoiceNotFound(`${context}: no such invoice (${what})`, opts);
  }
  return new LightningError(`${context}: ${what}`, opts);
}

interface Parsed {
  code: number | undefined;
  lnName: string | undefined;
  details: string | undefined;
  grpcCode: number | undefined;
}

/** Pulls code, name, lnd details and gRPC status out of the shapes ln-service and grpc-js throw. */
function parse(err: unknown): Parsed {
  if (Array.isArray(err)) {
    const [code, lnName, extra] = err as [unknown, unknown, unknown];
    const inner = grpcOf((extra as { err?: unknown } | undefined)?.err);
    return {
      code: typeof code === 'number' ? code : undefined,
      lnName: typeof lnName === 'string' ? lnName : undefined,
      details: inner.details,
      grpcCode: inner.grpcCode,
    };
  }
  const g = grpcOf(err);
  return {
    code: undefined,
    lnName: undefined,
    details: g.details ?? (err instanceof Error ? err.message : String(err)),
    grpcCode: g.grpcCode,
  };
}

function grpcOf(e: unknown): { details: string | undefined; grpcCode: number | undefined } {
  if (typeof e !== 'object' || e === null) return { details: undefined, grpcCode: undefined };
  const o = e as { details?: unknown; code?: unknown; message?: unknown };
  const details =
    typeof o.details === 'string' && o.details !== ''
      ? o.details
      : typeof o.message === 'string'
        ? o.message
        : undefined;
  return { details, grpcCode: typeof o.code === 'number' ? o.code : undefined };
}
