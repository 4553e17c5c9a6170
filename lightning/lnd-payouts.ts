// What the split payout engine needs from the wall's node (issue 14), as a small interface of its own, and its
// implementation over lnd through `lightning`: pay a payee's invoice with a fee cap, keysend with our own
// preimage, look up an outgoing payment (restart recovery: the node's record decides), sign with the node key.
// Every call is bounded by a timeout; failures are the typed errors of `./errors.ts`.
import { createHash } from 'node:crypto';
import {
  authenticatedLndGrpc,
  getPayment,
  getWalletInfo,
  payViaPaymentDetails,
  payViaPaymentRequest,
  signMessage,
  type AuthenticatedLnd,
} from 'lightning';
import { callLnd, closeLndClients } from './lnd-call.js';
import { parseLndConnection, type LndConnectionInput } from './connection.js';
import { LightningError } from './errors.js';

/** A payment the node completed. */
export interface PayoutPaid {
  paymentHash: string;
  /** hex, proof of payment */
  preimage: string;
  /** routing fee paid, msat */
  feeMsat: bigint;
}

/** What the node knows of an outgoing payment. */
export interface PayoutPaymentRecord {
  /** 'unknown': the node never attempted a payment with this hash */
  state: 'succeeded' | 'failed' | 'in_flight' | 'unknown';
  preimage?: string;
  feeMsat?: bigint;
}

/** The node operations of the payout engine. */
export interface PayoutNode {
  /** The node's identity key, hex (signs statements). @throws NodeUnreachable */
  getPubkey(): Promise<string>;

  /** Pays a BOLT11 invoice, the routing fee bounded by `maxFeeMsat`.

    {
      bolt11: <Payee-Signed Invoice String>
      maxFeeMsat: <Routing Fee Cap Millisatoshis BigInt>
      timeoutMs: <Path Finding Timeout Milliseconds Number>
    }

    @returns <PayoutPaid>
    @throws LightningError subclasses (NoRoute, InvoiceExpired, NodeUnreachable, ...)
  */
  payInvoice(args: { bolt11: string; maxFeeMsat: bigint; timeoutMs: number }): Promise<PayoutPaid>;

  /** Pays a node key directly (keysend: the preimage travels in TLV record 5482373484).

    {
      destination: <Payee Node Key Hex String>
      amountMsat: <Amount Millisatoshis BigInt>
      preimage: <32-Byte Preimage Hex String> (chosen by the caller, stored before the call)
      maxFeeMsat: <Routing Fee Cap Millisatoshis BigInt>
      timeoutMs: <Path Finding Timeout Milliseconds Number>
    }

    @returns <PayoutPaid>
  */
  keysend(args: {
    destination: string;
    amountMsat: bigint;
    preimage: string;
    maxFeeMsat: bigint;
    timeoutMs: number;
  }): Promise<PayoutPaid>;

  /** The node's record of an outgoing payment. @returns <PayoutPaymentRecord> @throws NodeUnreachable */
  lookupPayment(paymentHash: string): Promise<PayoutPaymentRecord>;

  /** Signs text with the node identity key (lnd signmessage, zbase32). @returns <Signature String> */
  signMessage(text: string): Promise<string>;

  /** Closes the connection. */
  close(): Promise<void>;
}

/** TLV type of the keysend preimage. */
export const KEYSEND_TLV_TYPE = '5482373484';

/** The payout operations of one lnd node (needs a macaroon that can pay, read payments and sign). */
export class LndPayouts implements PayoutNode {
  private readonly lnd: AuthenticatedLnd;
  private readonly callTimeoutMs: number;
  private closed = false;

  /**
   * @param opts.connection how to reach lnd (socket, cert, macaroon with offchain:write, offchain:read,
   *   message:write)
   * @param opts.callTimeoutMs bound of each non-payment call, ms (default 15000)
   * @throws InvalidLndConnection
   */
  constructor(opts: { connection: LndConnectionInput | string; callTimeoutMs?: number }) {
    const c = parseLndConnection(opts.connection);
    this.lnd = authenticatedLndGrpc({ socket: c.socket, cert: c.cert, macaroon: c.macaroon }).lnd;
    this.callTimeoutMs = opts.callTimeoutMs ?? 15_000;
  }

  async getPubkey(): Promise<string> {
    return (await this.call('getPubkey', (lnd) => getWalletInfo({ lnd }))).public_key;
  }

  async payInvoice(args: { bolt11: string; maxFeeMsat: bigint; timeoutMs: number }): Promise<PayoutPaid> {
    checkFee(args.maxFeeMsat);
    const paid = await this.call(
      'payInvoice',
      (lnd) =>
        payViaPaymentRequest({
          lnd,
          request: args.bolt11,
          max_fee_mtokens: args.maxFeeMsat.toString(),
          pathfinding_timeout: args.timeoutMs,
        }),
      args.timeoutMs + this.callTimeoutMs,
    );
    return { paymentHash: paid.id, preimage: paid.secret, feeMsat: BigInt(paid.fee_mtokens) };
  }

  async keysend(args: {
    destination: string;
    amountMsat: bigint;
    preimage: string;
    maxFeeMsat: bigint;
    timeoutMs: number;
  }): Promise<PayoutPaid> {
    checkFee(args.maxFeeMsat);
    if (!/^[0-9a-f]{64}$/.test(args.preimage)) throw new RangeError('keysend: preimage must be 32 bytes hex');
    const id = createHash('sha256').update(Buffer.from(args.preimage, 'hex')).digest('hex');
    const paid = await this.call(
      'keysend',
      (lnd) =>
        payViaPaymentDetails({
          lnd,
          id,
          destination: args.destination,
          mtokens: args.amountMsat.toString(),
          max_fee_mtokens: args.maxFeeMsat.toString(),
          pathfinding_timeout: args.timeoutMs,
          messages: [{ type: KEYSEND_TLV_TYPE, value: args.preimage }],
        }),
      args.timeoutMs + this.callTimeoutMs,
    );
    return { paymentHash: id, preimage: paid.secret, feeMsat: BigInt(paid.fee_mtokens) };
  }

  async lookupPayment(paymentHash: string): Promise<PayoutPaymentRecord> {
    if (!/^[0-9a-f]{64}$/.test(paymentHash)) throw new RangeError('lookupPayment: hash must be 32 bytes hex');
    try {
      const p = await this.call('lookupPayment', (lnd) => getPayment({ lnd, id: paymentHash }));
      if (p.is_confirmed && p.payment) {
        return { state: 'succeeded', preimage: p.payment.secret, feeMsat: BigInt(p.payment.fee_mtokens) };
      }
      if (p.is_failed) return { state: 'failed' };
      return { state: 'in_flight' };
    } catch (err) {
      if (err instanceof LightningError && (err.code === 404 || /SentPaymentNotFound/.test(err.message))) {
        return { state: 'unknown' };
      }
      throw err;
    }
  }

  async signMessage(text: string): Promise<string> {
    return (await this.call('signMessage', (lnd) => signMessage({ lnd, message: text }))).signature;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    closeLndClients(this.lnd);
  }

  private async call<T>(
    context: string,
    fn: (lnd: AuthenticatedLnd) => Promise<T>,
    timeoutMs = this.callTimeoutMs,
  ): Promise<T> {
    if (this.closed) throw new LightningError(`${context}: node is closed`);
    return callLnd(this.lnd, context, fn, timeoutMs);
  }
}

function checkFee(maxFeeMsat: bigint): void {
  if (typeof maxFeeMsat !== 'bigint' || maxFeeMsat < 0n)
    throw new RangeError('maxFeeMsat must be a non-negative bigint');
}
