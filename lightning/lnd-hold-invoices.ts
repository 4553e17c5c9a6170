// Hold invoices over lnd through ln-service (invoicesrpc): create with a caller-chosen hash, watch one invoice,
// settle, cancel, look up. Used by `LndNode`, which supplies its timeout-bounded, error-typing `call`.
//
// Permissions (all an invoice-only macaroon needs, see `INVOICE_ONLY_PERMISSIONS`): `invoices:write` for
// create/settle/cancel, `invoices:read` for lookups and subscriptions, `info:read` for the block height.
// No fallback chain address is ever requested, so `address:write` is not needed.
import { createHash } from 'node:crypto';
import {
  cancelHodlInvoice,
  createHodlInvoice,
  getInvoice,
  getWalletInfo,
  settleHodlInvoice,
  subscribeToInvoice,
  type AuthenticatedLnd,
  type GetInvoiceResult,
} from 'lightning';
import { parsePaymentRequest } from 'invoices';
import {
  HoldInvoiceExpired,
  InvoiceAlreadySettled,
  InvoiceCancelled,
  InvoiceNotHeld,
  LightningError,
  NodeUnreachable,
} from './errors.js';
import type {
  CreateHoldInvoiceArgs,
  CreatedHoldInvoice,
  HoldInvoiceEvent,
  HoldInvoiceNode,
  HoldInvoicePhase,
  HoldInvoiceState,
} from './hold-invoice.js';

/** The lnd permissions (entity:action) a wall needs for hold invoices, and nothing that can spend. An operator
  bakes such a macaroon with `lncli bakemacaroon invoices:read invoices:write info:read --save_to
  invoice-only.macaroon` (the regtest network does the same with ln-service `grantAccess`). lnd's stock
  `invoice.macaroon` also works but grants more (`address:*`, `onchain:read`). With it, `pay`, `getBalances` and
  `signMessage` fail with NodePermissionDenied. */
export const INVOICE_ONLY_PERMISSIONS = ['invoices:read', 'invoices:write', 'info:read'] as const;

/** lnd's own default `invoices.holdexpirydelta`, blocks: lnd cancels a hold invoice this many blocks before its
  HTLC's CLTV expiry. The regtest network sets it explicitly to this value. */
export const LND_HOLD_EXPIRY_DELTA_BLOCKS = 12;

/** Default final CLTV delta of a hold invoice, blocks (lnd's default for invoices). */
export const DEFAULT_HOLD_CLTV_DELTA_BLOCKS = 80;

const HEX32_RE = /^[0-9a-f]{64}$/;
const MIN_CLTV_DELTA_BLOCKS = 18;
const MAX_CLTV_DELTA_BLOCKS = 2016;
const MAX_DESCRIPTION_BYTES = 639;
const MAX_RESUBSCRIBE_MS = 15_000;

/** Runs one ln-service call under a timeout, mapping failures to typed errors (LndNode's `call`). */
export type LndCall = <T>(context: string, fn: (lnd: AuthenticatedLnd) => Promise<T>) => Promise<T>;

/** Options of `new LndHoldInvoices(...)`. */
export interface LndHoldInvoicesOptions {
  lnd: AuthenticatedLnd;
  call: LndCall;
  /** first delay before re-subscribing a broken watch, ms (doubles up to 15000) */
  resubscribeDelayMs: number;
  /** the node's `invoices.holdexpirydelta`, blocks: tells an expiry cancel from a deliberate one */
  holdExpiryDeltaBlocks?: number;
}

type Invoice = Pick<
  GetInvoiceResult,
  'id' | 'is_confirmed' | 'is_canceled' | 'is_held' | 'received_mtokens' | 'expires_at' | 'payments'
> & { mtokens?: string; confirmed_at?: string; secret: string; tokens: number };

/** Hold invoices of one lnd node. */
export class LndHoldInvoices implements HoldInvoiceNode {
  private readonly lnd: AuthenticatedLnd;
  private readonly call: LndCall;
  private readonly firstResubscribeMs: number;
  private readonly holdExpiryDeltaBlocks: number;
  private readonly stops = new Set<() => void>();
  private closed = false;

  constructor(opts: LndHoldInvoicesOptions) {
    this.lnd = opts.lnd;
    this.call = opts.call;
    this.firstResubscribeMs = opts.resubscribeDelayMs;
    this.holdExpiryDeltaBlocks = opts.holdExpiryDeltaBlocks ?? LND_HOLD_EXPIRY_DELTA_BLOCKS;
  }

  async createHoldInvoice(args: CreateHoldInvoiceArgs): Promise<CreatedHoldInvoice> {
    checkHex32('createHoldInvoice: paymentHash', args.paymentHash);
    if (typeof args.amountMsat !== 'bigint' || args.amountMsat <= 0n) {
      throw new RangeError(
        `createHoldInvoice: amountMsat must be a positive bigint, got ${String(args.amountMsat)}`,
      );
    }
    if (!Number.isInteger(args.expirySec) || args.expirySec <= 0) {
      throw new RangeError(`createHoldInvoice: expirySec must be a positive integer, got ${args.expirySec}`);
    }
    if ((args.description === undefined) === (args.descriptionHash === undefined)) {
      throw new RangeError('createHoldInvoice: give exactly one of description and descriptionHash');
    }
    if (
      args.description !== undefined &&
      Buffer.byteLength(args.description, 'utf8') > MAX_DESCRIPTION_BYTES
    ) {
      throw new RangeError(
        `createHoldInvoice: description must be at most ${MAX_DESCRIPTION_BYTES} bytes of UTF-8`,
      );
    }
    if (args.descriptionHash !== undefined)
      checkHex32('createHoldInvoice: descriptionHash', args.descriptionHash);
    const cltvDeltaBlocks = args.cltvDeltaBlocks ?? DEFAULT_HOLD_CLTV_DELTA_BLOCKS;
    if (
      !Number.isInteger(cltvDeltaBlocks) ||
      cltvDeltaBlocks < MIN_CLTV_DELTA_BLOCKS ||
      cltvDeltaBlocks > MAX_CLTV_DELTA_BLOCKS
    ) {
      throw new RangeError(
        `createHoldInvoice: cltvDeltaBlocks must be an integer ${MIN_CLTV_DELTA_BLOCKS}..${MAX_CLTV_DELTA_BLOCKS}, got ${cltvDeltaBlocks}`,
      );
    }
    const requestedExpiry = Date.now() + args.expirySec * 1000;
    const created = await this.call('createHoldInvoice', (lnd) =>
      createHodlInvoice({
        lnd,
        id: args.paymentHash,
        mtokens: args.amountMsat.toString(),
        cltv_delta: cltvDeltaBlocks,
        expires_at: new Date(requestedExpiry).toISOString(),
        ...(args.description !== undefined ? { description: args.description } : {}),
        ...(args.descriptionHash !== undefined ? { description_hash: args.descriptionHash } : {}),
      }),
    );
    // The invoice itself is the authority on its expiry (creation timestamp + expiry seconds).
    const encoded = Date.parse(parsePaymentRequest({ request: created.request }).expires_at);
    return {
      bolt11: created.request,
      paymentHash: created.id,
      expiresAt: Number.isFinite(encoded) ? encoded : requestedExpiry,
      cltvDeltaBlocks,
    };
  }

  watchHoldInvoice(paymentHash: string, handler: (event: HoldInvoiceEvent) => void): () => void {
    checkHex32('watchHoldInvoice: paymentHash', paymentHash);
    if (this.closed) throw new LightningError('watchHoldInvoice: node is closed');
    let sub: ReturnType<typeof subscribeToInvoice> | undefined;
    let timer: NodeJS.Timeout | undefined;
    let delayMs = this.firstResubscribeMs;
    let delivered: HoldInvoicePhase | undefined;
    let stopped = false;
    let queue = Promise.resolve();

    const detach = (): void => {
      sub?.removeAllListeners();
      sub = undefined;
    };
    const stop = (): void => {
      stopped = true;
      clearTimeout(timer);
      detach();
      this.stops.delete(stop);
    };
    const emit = (event: HoldInvoiceEvent): void => {
      try {
        handler(event);
      } catch (err) {
        process.emitWarning(
          `watchHoldInvoice handler threw: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    };
    const onUpdate = async (inv: Invoice): Promise<void> => {
      if (stopped) return;
      const phase = phaseOf(inv);
      if (phase === delivered || phase === 'open') return;
      if (phase === 'held') {
        const state = await this.stateOf(inv);
        if (stopped) return;
        delivered = phase;
        emit({
          kind: 'held',
          paymentHash,
          amountMsat: state.receivedMsat,
          htlcExpiryHeight: state.htlcExpiryHeight ?? 0,
          acceptHeight: state.acceptHeight ?? 0,
          currentHeight: state.currentHeight,
        });
        return;
      }
      delivered = phase;
      stop();
      if (phase === 'settled') {
        emit({
          kind: 'settled',
          paymentHash,
          amountMsat: BigInt(inv.received_mtokens),
          preimage: inv.secret,
          settledAtMs: inv.confirmed_at ? Date.parse(inv.confirmed_at) : Date.now(),
        });
      } else {
        const state = await this.stateOf(inv);
        emit({ kind: 'cancelled', paymentHash, expired: state.expired === true });
      }
    };
    const open = (): void => {
      timer = undefined;
      if (stopped || this.closed) return;
      try {
        sub = subscribeToInvoice({ lnd: this.lnd, id: paymentHash });
      } catch {
        schedule();
        return;
      }
      sub.on('invoice_updated', (inv: Invoice) => {
        delayMs = this.firstResubscribeMs;
        queue = queue.then(() => onUpdate(inv)).catch(() => undefined);
      });
      sub.on('error', () => {
        detach();
        schedule();
      });
    };
    const schedule = (): void => {
      if (stopped || this.closed || timer) return;
      timer = setTimeout(open, delayMs);
      timer.unref();
      delayMs = Math.min(delayMs * 2, MAX_RESUBSCRIBE_MS);
    };
    this.stops.add(stop);
    open();
    return stop;
  }

  async settleHoldInvoice(preimage: string): Promise<void> {
    checkHex32('settleHoldInvoice: preimage', preimage);
    const paymentHash = createHash('sha256').update(Buffer.from(preimage, 'hex')).digest('hex');
    try {
      await this.call('settleHoldInvoice', (lnd) => settleHodlInvoice({ lnd, secret: preimage }));
    } catch (err) {
      if (err instanceof NodeUnreachable || !(err instanceof LightningError)) throw err;
      const state = await this.lookupHoldInvoice(paymentHash);
      if (state.phase === 'settled') return;
      if (state.phase === 'open') {
        throw new InvoiceNotHeld('settleHoldInvoice: no HTLC is held for this invoice', { cause: err });
      }
      if (state.phase === 'cancelled' && state.expired) {
        throw new HoldInvoiceExpired(
          'settleHoldInvoice: lnd cancelled the invoice at its expiry (HTLC within holdexpirydelta of its CLTV expiry, or invoice unpaid at its expiry time)',
          { cause: err },
        );
      }
      if (state.phase === 'cancelled') {
        throw new InvoiceCancelled('settleHoldInvoice: the invoice was cancelled', { cause: err });
      }
      throw err;
    }
  }

  async cancelHoldInvoice(paymentHash: string): Promise<void> {
    checkHex32('cancelHoldInvoice: paymentHash', paymentHash);
    try {
      await this.call('cancelHoldInvoice', (lnd) => cancelHodlInvoice({ lnd, id: paymentHash }));
    } catch (err) {
      if (err instanceof NodeUnreachable || !(err instanceof LightningError)) throw err;
      const state = await this.lookupHoldInvoice(paymentHash);
      if (state.phase === 'cancelled') return;
      if (state.phase === 'settled') {
        throw new InvoiceAlreadySettled('cancelHoldInvoice: the invoice is already settled', { cause: err });
      }
      throw err;
    }
  }

  async lookupHoldInvoice(paymentHash: string): Promise<HoldInvoiceState> {
    checkHex32('lookupHoldInvoice: paymentHash', paymentHash);
    const inv = (await this.call('lookupHoldInvoice', (lnd) =>
      getInvoice({ lnd, id: paymentHash }),
    )) as Invoice;
    return this.stateOf(inv);
  }

  /** Stops every watch. */
  close(): void {
    this.closed = true;
    for (const stop of [...this.stops]) stop();
  }

  // -------------------------------------------------------------------------------------------------------

  /** The state of an invoice record, with the node's current height (info:read). */
  private async stateOf(inv: Invoice): Promise<HoldInvoiceState> {
    const phase = phaseOf(inv);
    const held = inv.payments.filter((p) => p.is_held);
    const heldOrAll = held.length > 0 ? held : inv.payments;
    const acceptHeight = held.length > 0 ? Math.max(...held.map((p) => p.created_height)) : undefined;
    let currentHeight: number;
    try {
      currentHeight = (await this.call('lookupHoldInvoice', (lnd) => getWalletInfo({ lnd })))
        .current_block_height;
    } catch (err) {
      if (acceptHeight === undefined) throw err;
      currentHeight = acceptHeight; // the node is away: the accept height is a lower bound
    }
    const expiresAt = Date.parse(inv.expires_at);
    const lowestTimeout = heldOrAll.length > 0 ? Math.min(...heldOrAll.map((p) => p.timeout)) : undefined;
    const state: HoldInvoiceState = {
      paymentHash: inv.id,
      phase,
      amountMsat: BigInt(inv.mtokens ?? BigInt(inv.tokens) * 1000n),
      receivedMsat:
        phase === 'held'
          ? held.reduce((sum, p) => sum + BigInt(p.mtokens), 0n)
          : phase === 'settled'
            ? BigInt(inv.received_mtokens)
            : 0n,
      expiresAt,
      currentHeight,
      ...(phase === 'held' && lowestTimeout !== undefined ? { htlcExpiryHeight: lowestTimeout } : {}),
      ...(acceptHeight !== undefined ? { acceptHeight } : {}),
      ...(phase === 'settled' ? { preimage: inv.secret } : {}),
      ...(phase === 'settled' && inv.confirmed_at ? { settledAtMs: Date.parse(inv.confirmed_at) } : {}),
    };
    if (phase === 'cancelled') {
      // lnd cancels by itself when an HTLC came within holdexpirydelta of its CLTV expiry, or when an unpaid
      // invoice reached its expiry time; anything else was a deliberate cancel.
      state.expired =
        lowestTimeout !== undefined
          ? lowestTimeout <= currentHeight + this.holdExpiryDeltaBlocks
          : expiresAt <= Date.now();
    }
    return state;
  }
}

/** The phase of an lnd invoice record. */
function phaseOf(inv: Pick<Invoice, 'is_confirmed' | 'is_canceled' | 'is_held'>): HoldInvoicePhase {
  if (inv.is_confirmed) return 'settled';
  if (inv.is_canceled) return 'cancelled';
  if (inv.is_held) return 'held';
  return 'open';
}

function checkHex32(what: string, value: string): void {
  if (typeof value !== 'string' || !HEX32_RE.test(value)) {
    throw new RangeError(`${what} must be 64 lowercase hex characters`);
  }
}
