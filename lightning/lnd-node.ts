// LightningNode over lnd through the `lightning` package (the library ln-service re-exports). Every call is bounded by a timeout; ln-service's error arrays become
// the typed errors of ./errors.ts; amounts cross this boundary as bigint msat.
import {
  authenticatedLndGrpc,
  cancelHodlInvoice,
  createInvoice,
  decodePaymentRequest,
  getChainBalance,
  getChannelBalance,
  getInvoice,
  getNode,
  getPayment,
  getWalletInfo,
  payViaPaymentRequest,
  signMessage,
  subscribeToInvoices,
  verifyMessage,
  type AuthenticatedLnd,
  type GetPaymentResult,
  type SubscribeToInvoicesInvoiceUpdatedEvent,
} from 'lightning';
import { parsePaymentRequest } from 'invoices';
import { parseLndConnection, type LndConnection, type LndConnectionInput } from './connection.js';
import type {
  CreateHoldInvoiceArgs,
  CreatedHoldInvoice,
  HoldInvoiceEvent,
  HoldInvoiceState,
} from './hold-invoice.js';
import { callLnd, closeLndClients } from './lnd-call.js';
import { LndHoldInvoices } from './lnd-hold-invoices.js';
import {
  InvoiceAlreadyPaid,
  InvoiceNotPayable,
  LightningError,
  NodeUnreachable,
  PaymentInFlight,
} from './errors.js';
import type {
  Balances,
  CreatedInvoice,
  DecodedPaymentRequest,
  InvoiceState,
  LightningNode,
  NodeIdentity,
  PaymentResult,
  PaymentStatus,
  SettlementEvent,
} from './lightning-node.js';
import { SettlementDelivery, type SettlementCursor, type SettlementHandler } from './settlement-delivery.js';

/** Options of `new LndNode(...)`. */
export interface LndNodeOptions {
  /** `lndconnect://` URI or socket + cert + macaroon */
  connection: string | LndConnectionInput;
  /** upper bound of every call except `pay`, ms (default 15000): a dead node gives NodeUnreachable within it */
  callTimeoutMs?: number;
  /** resume settlement events after this lnd settle index (persisted from `SettlementEvent.settleIndex`) */
  settledAfterIndex?: number;
  /** first delay before re-subscribing after the invoice stream broke, ms (default 1000; doubles up to 15000) */
  resubscribeDelayMs?: number;
  /** period of the lookup fallback over this object's open invoices, ms (default 30000) */
  sweepIntervalMs?: number;
  /** the node's `invoices.holdexpirydelta`, blocks (default lnd's 12): tells lnd's expiry cancel of a hold
    invoice from a deliberate one */
  holdExpiryDeltaBlocks?: number;
}

// Genesis block hashes in the byte order ln-service reports in getWalletInfo `chains`, by network name.
const CHAINS: Record<string, string> = {
  '6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000': 'mainnet',
  '06226e46111a0b59caaf126043eb5bbf28c34f3a5e332a1fc7b2b73cf188910f': 'regtest',
  f61eee3b63a380a477a063af32b2bbc97c9ff9f01f2c4225e973988108000000: 'signet',
  '43497fd7f826957108f4a30fd9cec3aeba79972084e90ead01ea330900000000': 'testnet',
  '43f08bdab050e35b567c864b91f47f50ae725ae2de53bcfbbaf284da00000000': 'testnet4',
};

type Listener = Parameters<ReturnType<typeof subscribeToInvoices>['removeListener']>[1];

const HASH_RE = /^[0-9a-f]{64}$/;
const MAX_RESUBSCRIBE_MS = 15_000;
const SWEEP_GRACE_MS = 1_000;

/** An lnd node reached over gRPC with ln-service. */
export class LndNode implements LightningNode {
  readonly connection: LndConnection;
  private readonly lnd: AuthenticatedLnd;
  private readonly callTimeoutMs: number;
  private readonly firstResubscribeMs: number;
  private readonly sweepIntervalMs: number;
  /** settlement consumers: acknowledged delivery, retry, committed settle index */
  private readonly delivery: SettlementDelivery;
  /** open invoices created here, by payment hash → expiry ms: looked up after reconnects (fallback) */
  private readonly tracked = new Map<string, number>();
  private settleCursor: number;
  private sub: ReturnType<typeof subscribeToInvoices> | undefined;
  private subListeners: { event: string; fn: Listener }[] = [];
  private resubscribeTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private resubscribeDelayMs: number;
  private closed = false;
  /** hold invoices (walk-up payment), over the same gRPC connection */
  private readonly holds: LndHoldInvoices;

  /** Connects lazily: nothing is sent until the first call.

    @throws InvalidLndConnection when the connection details are malformed
  */
  constructor(opts: LndNodeOptions) {
    this.connection = parseLndConnection(opts.connection);
    this.callTimeoutMs = opts.callTimeoutMs ?? 15_000;
    this.firstResubscribeMs = opts.resubscribeDelayMs ?? 1_000;
    this.resubscribeDelayMs = this.firstResubscribeMs;
    this.sweepIntervalMs = opts.sweepIntervalMs ?? 30_000;
    this.settleCursor = opts.settledAfterIndex ?? 0;
    this.delivery = new SettlementDelivery(this.settleCursor);
    this.lnd = authenticatedLndGrpc({
      socket: this.connection.socket,
      cert: this.connection.cert,
      macaroon: this.connection.macaroon,
    }).lnd;
    this.holds = new LndHoldInvoices({
      lnd: this.lnd,
      call: (context, fn) => this.call(context, fn),
      resubscribeDelayMs: this.firstResubscribeMs,
      ...(opts.holdExpiryDeltaBlocks !== undefined
        ? { holdExpiryDeltaBlocks: opts.holdExpiryDeltaBlocks }
        : {}),
    });
  }

  async getIdentity(): Promise<NodeIdentity> {
    const info = await this.call('getIdentity', (lnd) => getWalletInfo({ lnd }));
    const chain = info.chains[0];
    return {
      pubkey: info.public_key,
      network: (chain && CHAINS[chain]) ?? 'unknown',
      synced: info.is_synced_to_chain,
      ...(info.alias ? { alias: info.alias } : {}),
    };
  }

  async createInvoice(args: {
    amountMsat: bigint;
    memo: string;
    expirySec: number;
  }): Promise<CreatedInvoice> {
    if (typeof args.amountMsat !== 'bigint' || args.amountMsat <= 0n) {
      throw new RangeError(
        `createInvoice: amountMsat must be a positive bigint, got ${String(args.amountMsat)}`,
      );
    }
    if (!Number.isInteger(args.expirySec) || args.expirySec <= 0) {
      throw new RangeError(`createInvoice: expirySec must be a positive integer, got ${args.expirySec}`);
    }
    if (Buffer.byteLength(args.memo, 'utf8') > 639) {
      throw new RangeError('createInvoice: memo must be at most 639 bytes of UTF-8');
    }
    const expiresAt = Date.now() + args.expirySec * 1000;
    const created = await this.call('createInvoice', (lnd) =>
      createInvoice({
        lnd,
        mtokens: args.amountMsat.toString(),
        description: args.memo,
        expires_at: new Date(expiresAt).toISOString(),
      }),
    );
    // The invoice itself is the authority on its expiry (creation timestamp + expiry seconds, to the second).
    const encodedExpiry = Date.parse(parsePaymentRequest({ request: created.request }).expires_at);
    const expiresAtMs = Number.isFinite(encodedExpiry) ? encodedExpiry : expiresAt;
    this.tracked.set(created.id, expiresAtMs);
    return { bolt11: created.request, paymentHash: created.id, expiresAt: expiresAtMs };
  }

  onSettled(handler: SettlementHandler): () => void {
    if (this.closed) throw new LightningError('onSettled: node is closed');
    const remove = this.delivery.add(handler);
    if (!this.sub && !this.resubscribeTimer) this.subscribe();
    return () => {
      remove();
      if (this.delivery.size === 0) this.stopSubscription();
    };
  }

  resumeSettlements(cursor: SettlementCursor): void {
    this.delivery.setCursor(cursor);
    if (cursor.afterIndex > this.settleCursor) this.settleCursor = cursor.afterIndex;
  }

  async lookupInvoice(paymentHash: string): Promise<InvoiceState> {
    checkHash('lookupInvoice', paymentHash);
    const inv = await this.call('lookupInvoice', (lnd) => getInvoice({ lnd, id: paymentHash }));
    const state: InvoiceState['state'] = inv.is_confirmed
      ? 'settled'
      : inv.is_canceled
        ? 'cancelled'
        : inv.is_held
          ? 'accepted'
          : 'open';
    return {
      paymentHash: inv.id,
      state,
      // the typings omit `mtokens`, which ln-service returns (the invoiced amount)
      amountMsat: BigInt((inv as typeof inv & { mtokens?: string }).mtokens ?? BigInt(inv.tokens) * 1000n),
      receivedMsat: BigInt(inv.received_mtokens),
      expiresAt: Date.parse(inv.expires_at),
      ...(inv.confirmed_at ? { settledAtMs: Date.parse(inv.confirmed_at) } : {}),
      ...(inv.is_confirmed ? { preimage: inv.secret } : {}),
    };
  }

  async cancelInvoice(paymentHash: string): Promise<void> {
    checkHash('cancelInvoice', paymentHash);
    await this.call('cancelInvoice', (lnd) => cancelHodlInvoice({ lnd, id: paymentHash }));
    this.tracked.delete(paymentHash);
  }

  async decodePaymentRequest(bolt11: string): Promise<DecodedPaymentRequest> {
    const d = await this.call('decodePaymentRequest', (lnd) =>
      decodePaymentRequest({ lnd, request: bolt11 }),
    );
    return {
      paymentHash: d.id,
      amountMsat: BigInt(d.mtokens ?? '0'),
      payeePubkey: d.destination,
      paymentSecret: d.payment ?? null,
      minFinalCltvDelta: d.cltv_delta ?? 0,
      expiresAtMs: Date.parse(d.expires_at),
    };
  }

  async pay(
    bolt11: string,
    opts: { maxFeeMsat: bigint; timeoutMs: number; paymentHash?: string },
  ): Promise<PaymentResult> {
    if (typeof opts.maxFeeMsat !== 'bigint' || opts.maxFeeMsat < 0n) {
      throw new RangeError('pay: maxFeeMsat must be a non-negative bigint');
    }
    if (!Number.isInteger(opts.timeoutMs) || opts.timeoutMs < 1000) {
      throw new RangeError('pay: timeoutMs must be an integer of at least 1000');
    }
    let paymentHash: string;
    try {
      paymentHash = parsePaymentRequest({ request: bolt11 }).id;
    } catch (err) {
      throw new LightningError('pay: not a valid BOLT11 payment request', { cause: err });
    }
    if (opts.paymentHash !== undefined && opts.paymentHash.toLowerCase() !== paymentHash) {
      throw new InvoiceNotPayable(
        `pay: the request pays hash ${paymentHash}, not the checked ${opts.paymentHash}; not paid`,
      );
    }
    // No status lookup before paying (it cost a round trip on every invoice): lnd itself refuses a second
    // payment of a hash it paid or is paying, and only then is its record asked for the earlier result.
    try {
      const paid = await this.call(
        'pay',
        (lnd) =>
          payViaPaymentRequest({
            lnd,
            request: bolt11,
            max_fee_mtokens: opts.maxFeeMsat.toString(),
            pathfinding_timeout: opts.timeoutMs,
          }),
        opts.timeoutMs + this.callTimeoutMs,
      );
      const feeMsat = BigInt(paid.fee_mtokens);
      return {
        paymentHash: paid.id,
        preimage: paid.secret,
        feeMsat,
        amountMsat: BigInt(paid.mtokens) - feeMsat,
      };
    } catch (err) {
      if (err instanceof InvoiceAlreadyPaid && err.payment === undefined) {
        const prior = await this.paymentStatus(paymentHash).catch(() => undefined);
        throw new InvoiceAlreadyPaid('pay: invoice is already paid by this node', {
          cause: err,
          ...(prior?.state === 'succeeded'
            ? { payment: { preimage: prior.preimage ?? '', feeMsat: prior.feeMsat ?? 0n } }
            : {}),
        });
      }
      if (err instanceof PaymentInFlight) {
        // Another attempt with this hash raced us (lnd: "payment already exists"); report what became of it.
        const other = await this.paymentStatus(paymentHash).catch(() => undefined);
        if (other?.state === 'succeeded') {
          throw new InvoiceAlreadyPaid('pay: invoice was paid by a concurrent attempt of this node', {
            cause: err,
            payment: { preimage: other.preimage ?? '', feeMsat: other.feeMsat ?? 0n },
          });
        }
        throw err;
      }
      if (!(err instanceof NodeUnreachable)) throw err;
      // The call timed out or the connection dropped: the payment may still be on its way.
      const after = await this.paymentStatus(paymentHash).catch(() => undefined);
      if (after?.state === 'succeeded') {
        return {
          paymentHash,
          preimage: after.preimage ?? '',
          feeMsat: after.feeMsat ?? 0n,
          amountMsat: after.amountMsat ?? 0n,
        };
      }
      if (after?.state === 'in_flight') {
        throw new PaymentInFlight(
          `pay: outcome not known within ${opts.timeoutMs} ms; payment is in flight`,
          {
            cause: err,
          },
        );
      }
      throw err;
    }
  }

  async paymentStatus(paymentHash: string): Promise<PaymentStatus> {
    checkHash('paymentStatus', paymentHash);
    let res: GetPaymentResult;
    try {
      res = await this.call('paymentStatus', (lnd) => getPayment({ lnd, id: paymentHash }));
    } catch (err) {
      if (err instanceof LightningError && err.lnName === 'SentPaymentNotFound') return { state: 'unknown' };
      throw err;
    }
    if (res.is_confirmed && res.payment) {
      const feeMsat = BigInt(res.payment.fee_mtokens);
      return {
        state: 'succeeded',
        preimage: res.payment.secret,
        feeMsat,
        amountMsat: BigInt(res.payment.mtokens) - feeMsat,
      };
    }
    if (res.is_failed) return { state: 'failed' };
    if (res.is_pending) return { state: 'in_flight' };
    return { state: 'unknown' };
  }

  async signMessage(text: string): Promise<string> {
    const res = await this.call('signMessage', (lnd) => signMessage({ lnd, message: text }));
    return res.signature;
  }

  async verifyMessage(text: string, signature: string): Promise<{ pubkey: string }> {
    const res = await this.call('verifyMessage', (lnd) => verifyMessage({ lnd, message: text, signature }));
    return { pubkey: res.signed_by };
  }

  async getNodeAlias(pubkey: string): Promise<string | null> {
    if (!/^0[23][0-9a-f]{64}$/.test(pubkey))
      throw new RangeError('getNodeAlias: pubkey must be 33 bytes hex');
    try {
      const node = await this.call('getNodeAlias', (lnd) =>
        getNode({ lnd, public_key: pubkey, is_omitting_channels: true }),
      );
      return node.alias === '' ? null : node.alias;
    } catch (err) {
      if (err instanceof LightningError && err.lnName === 'NodeIsUnknown') return null;
      throw err;
    }
  }

  async getBalances(): Promise<Balances> {
    const [chain, channels] = await Promise.all([
      this.call('getBalances', (lnd) => getChainBalance({ lnd })),
      this.call('getBalances', (lnd) => getChannelBalance({ lnd })),
    ]);
    return {
      onchainSat: BigInt(chain.chain_balance),
      channelLocalMsat: BigInt(channels.channel_balance_mtokens ?? BigInt(channels.channel_balance) * 1000n),
      channelRemoteMsat: BigInt(channels.inbound_mtokens ?? BigInt(channels.inbound ?? 0) * 1000n),
    };
  }

  // ---- hold invoices (walk-up payment): see ./lnd-hold-invoices.ts --------------------------------------

  createHoldInvoice(args: CreateHoldInvoiceArgs): Promise<CreatedHoldInvoice> {
    return this.holds.createHoldInvoice(args);
  }

  watchHoldInvoice(paymentHash: string, handler: (event: HoldInvoiceEvent) => void): () => void {
    return this.holds.watchHoldInvoice(paymentHash, handler);
  }

  settleHoldInvoice(preimage: string): Promise<void> {
    return this.holds.settleHoldInvoice(preimage);
  }

  cancelHoldInvoice(paymentHash: string): Promise<void> {
    return this.holds.cancelHoldInvoice(paymentHash);
  }

  lookupHoldInvoice(paymentHash: string): Promise<HoldInvoiceState> {
    return this.holds.lookupHoldInvoice(paymentHash);
  }

  // -------------------------------------------------------------------------------------------------------

  async close(): Promise<void> {
    if (this.closed) return;
    this.holds.close();
    this.closed = true;
    this.delivery.close();
    this.stopSubscription();
    closeLndClients(this.lnd);
  }

  // -------------------------------------------------------------------------------------------------------

  /** Runs one ln-service call under a timeout; maps every failure to a typed error. */
  private async call<T>(
    context: string,
    fn: (lnd: AuthenticatedLnd) => Promise<T>,
    timeoutMs = this.callTimeoutMs,
  ): Promise<T> {
    if (this.closed) throw new LightningError(`${context}: node is closed`);
    return callLnd(this.lnd, context, fn, timeoutMs);
  }

  /** Opens the single invoice subscription, resuming after the last settle index seen. */
  private subscribe(): void {
    this.resubscribeTimer = undefined;
    if (this.closed || this.delivery.size === 0 || this.sub) return;
    let sub: ReturnType<typeof subscribeToInvoices>;
    try {
      sub = subscribeToInvoices({
        lnd: this.lnd,
        ...(this.settleCursor > 0 ? { confirmed_after: this.settleCursor } : {}),
        restart_delay_ms: this.firstResubscribeMs,
      });
    } catch {
      this.scheduleResubscribe();
      return;
    }
    const onUpdate = (inv: SubscribeToInvoicesInvoiceUpdatedEvent): void => {
      this.resubscribeDelayMs = this.firstResubscribeMs;
      if (!inv.is_confirmed) return;
      this.deliver({
        paymentHash: inv.id,
        amountMsat: BigInt(inv.received_mtokens),
        settledAtMs: inv.confirmed_at ? Date.parse(inv.confirmed_at) : Date.now(),
        preimage: inv.secret,
        settleIndex: inv.confirmed_index ?? 0,
      });
    };
    const onError = (): void => {
      this.stopSubscription();
      this.scheduleResubscribe();
    };
    sub.on('invoice_updated', onUpdate);
    sub.on('error', onError);
    this.sub = sub;
    this.subListeners = [
      { event: 'invoice_updated', fn: onUpdate },
      { event: 'error', fn: onError },
    ];
    // The stream replays settlements after the cursor with their settle index; the lookup sweep runs a moment
    // later as the fallback for anything the stream cannot replay (e.g. no cursor yet).
    setTimeout(() => void this.sweep(), SWEEP_GRACE_MS).unref();
    if (!this.sweepTimer) {
      this.sweepTimer = setInterval(() => void this.sweep(), this.sweepIntervalMs);
      this.sweepTimer.unref();
    }
  }

  /** Removes our listeners, which makes ln-service cancel the gRPC stream. */
  private stopSubscription(): void {
    const sub = this.sub;
    this.sub = undefined;
    if (sub) for (const l of this.subListeners) sub.removeListener(l.event, l.fn);
    this.subListeners = [];
    if (this.delivery.size === 0 || this.closed) {
      clearTimeout(this.resubscribeTimer);
      this.resubscribeTimer = undefined;
      clearInterval(this.sweepTimer);
      this.sweepTimer = undefined;
    }
  }

  private scheduleResubscribe(): void {
    if (this.closed || this.delivery.size === 0 || this.resubscribeTimer) return;
    const delay = this.resubscribeDelayMs;
    this.resubscribeDelayMs = Math.min(delay * 2, MAX_RESUBSCRIBE_MS);
    this.resubscribeTimer = setTimeout(() => this.subscribe(), delay);
    this.resubscribeTimer.unref();
  }

  /** Lookup fallback: asks lnd about every open invoice created here and delivers any settlement missed. */
  private async sweep(): Promise<void> {
    const now = Date.now();
    for (const [hash, expiresAt] of [...this.tracked]) {
      if (this.closed) return;
      let state: InvoiceState;
      try {
        state = await this.lookupInvoice(hash);
      } catch {
        return; // node away: the next (re)subscription sweeps again
      }
      if (state.state === 'settled') {
        this.deliver({
          paymentHash: hash,
          amountMsat: state.receivedMsat,
          settledAtMs: state.settledAtMs ?? now,
          preimage: state.preimage ?? '',
          settleIndex: 0,
        });
      } else if (state.state === 'cancelled' || expiresAt < now - 60_000) {
        this.tracked.delete(hash);
      }
    }
  }

  /** Hands one settlement to the acknowledged delivery (see `SettlementDelivery`). */
  private deliver(event: SettlementEvent): void {
    if (event.settleIndex > this.settleCursor) this.settleCursor = event.settleIndex;
    this.tracked.delete(event.paymentHash);
    this.delivery.deliver(event);
  }
}

function checkHash(context: string, paymentHash: string): void {
  if (!HASH_RE.test(paymentHash)) {
    throw new RangeError(`${context}: payment hash must be 64 lowercase hex characters`);
  }
}
