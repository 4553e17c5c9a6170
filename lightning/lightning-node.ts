// The Lightning node as the daemons see it: a small surface of commands and one event stream. Money is always
// bigint millisatoshis (msat). Failures are the typed errors of `./errors.ts`. Implemented by `LndNode`.
// Hold invoices (walk-up payment) are declared in `./hold-invoice.ts`.
import type { HoldInvoiceNode } from './hold-invoice.js';
import type { NodeInvoiceView } from '../protocol/bolt11.js';
import type { SettlementCursor } from './settlement-delivery.js';

/** Who the node is. */
export interface NodeIdentity {
  /** node public key, hex (33 bytes compressed) */
  pubkey: string;
  /** 'mainnet' | 'testnet' | 'testnet4' | 'signet' | 'regtest' | 'unknown' */
  network: string;
  /** true when the node considers itself synced to the chain */
  synced: boolean;
  alias?: string;
}

/** A newly created invoice. */
export interface CreatedInvoice {
  /** BOLT11 payment request */
  bolt11: string;
  /** payment hash, hex */
  paymentHash: string;
  /** expiry instant, ms since the Unix epoch */
  expiresAt: number;
}

/** An invoice of this node was paid (settled). */
export interface SettlementEvent {
  /** payment hash, hex */
  paymentHash: string;
  /** amount received, msat */
  amountMsat: bigint;
  /** settlement instant, ms since the Unix epoch (as recorded by the node) */
  settledAtMs: number;
  /** payment preimage, hex: proof of payment */
  preimage: string;
  /** lnd's settle index: persist the highest seen to resume with `settledAfterIndex` after a restart.
    0 when the settlement was found by the lookup fallback rather than the stream (then keep the old cursor;
    a replay may deliver it again after a restart, so consumers dedupe by payment hash). */
  settleIndex: number;
}

/** The state of one invoice of this node. */
export interface InvoiceState {
  paymentHash: string;
  state: 'open' | 'accepted' | 'settled' | 'cancelled';
  /** amount asked, msat (0 for an amountless invoice) */
  amountMsat: bigint;
  /** amount received so far, msat */
  receivedMsat: bigint;
  expiresAt: number;
  settledAtMs?: number;
  preimage?: string;
}

/** A payment that succeeded. */
export interface PaymentResult {
  paymentHash: string;
  /** payment preimage, hex: proof of payment */
  preimage: string;
  /** routing fees paid, msat */
  feeMsat: bigint;
  /** amount delivered to the payee, msat (excludes fees) */
  amountMsat: bigint;
}

/** How the node itself reads a BOLT11 payment request (lnd's own decoder): what it would pay. Same shape as the
 * buyer's view it is compared with (`compareWithNode`). */
export type DecodedPaymentRequest = NodeInvoiceView;

/** What the node knows about an outgoing payment, for recovery after a restart. */
export interface PaymentStatus {
  /** 'unknown': this node never attempted a payment with this hash */
  state: 'succeeded' | 'failed' | 'in_flight' | 'unknown';
  preimage?: string;
  feeMsat?: bigint;
  amountMsat?: bigint;
}

/** Balances of the node. */
export interface Balances {
  /** confirmed on-chain wallet balance, sat */
  onchainSat: bigint;
  /** what this node can send over its channels, msat */
  channelLocalMsat: bigint;
  /** what this node can receive over its channels, msat */
  channelRemoteMsat: bigint;
}

/** A Lightning node. Every call is bounded by a timeout: a dead node gives `NodeUnreachable`, never a hang. */
export interface LightningNode extends HoldInvoiceNode {
  /** Identity of the node.

    @returns <NodeIdentity>
    @throws NodeUnreachable
  */
  getIdentity(): Promise<NodeIdentity>;

  /** Creates an invoice.

    {
      amountMsat: <Amount Millisatoshis BigInt> (> 0)
      memo: <Description String> (shown to the payer; at most 639 bytes)
      expirySec: <Seconds Until Expiry Number> (> 0)
    }

    @returns <CreatedInvoice>
    @throws NodeUnreachable | LightningError
  */
  createInvoice(args: { amountMsat: bigint; memo: string; expirySec: number }): Promise<CreatedInvoice>;

  /** Subscribes to settlements of this node's invoices. All handlers share ONE long-lived lnd subscription that
    resumes after disconnects from the last settle index seen, so no settlement is lost while the node is
    away; invoices created through this object are also looked up after each reconnect (lookup fallback).
    A handler acknowledges a settlement by returning, or by resolving the promise it returns (a daemon resolves
    once its store transaction committed); a handler that throws or rejects is retried with backoff and the
    failure reported (see `resumeSettlements`), never dropped. Each settlement is acknowledged once per handler
    in this process.

    {
      handler: <(event: SettlementEvent) => void | Promise<void>> (another return value counts as acknowledged)
    }

    @returns <Unsubscribe Function>
  */
  onSettled(handler: (event: SettlementEvent) => unknown): () => void;

  /** Where settlement delivery resumes and where its progress is persisted (call before `onSettled`). The node
    resumes its stream after `afterIndex` and calls `commit` with the highest settle index whose settlements
    (and all before it) every handler acknowledged, so a restart replays exactly what was not committed.
    Optional: a node without settle indices omits it (consumers then rely on their own lookups).

    {
      afterIndex: <Last Committed Settle Index Number> (0: none)
      commit: <(index: number) => void> (persist it)
      onError: <(err, event, attempt, retryInMs | null) => void> (log a handler failure; optional)
    }
  */
  resumeSettlements?(cursor: SettlementCursor): void;

  /** Looks up one invoice of this node by payment hash (the fallback when an event may have been missed).

    @returns <InvoiceState>
    @throws InvoiceNotFound | NodeUnreachable
  */
  lookupInvoice(paymentHash: string): Promise<InvoiceState>;

  /** Cancels an open invoice so it can no longer be paid (works for ordinary and hold invoices).

    @throws InvoiceNotFound | NodeUnreachable | LightningError (e.g. already settled)
  */
  cancelInvoice(paymentHash: string): Promise<void>;

  /** Pays a BOLT11 invoice. The fee is always bounded by `maxFeeMsat`. Before sending, the node's payment
    record is checked, so an invoice paid earlier (even before a restart) is never paid twice.

    {
      bolt11: <BOLT11 Payment Request String>
      maxFeeMsat: <Maximum Routing Fee Millisatoshis BigInt>
      timeoutMs: <Give Up Path Finding After Milliseconds Number>
      [paymentHash]: <Hash The Caller Checked Hex String> (refused with InvoiceNotPayable, unpaid, when the
        node's own reading of the request has another hash)
    }

    @returns <PaymentResult>
    @throws InvoiceExpired | InvoiceNotPayable | InvoiceAlreadyPaid | PaymentInFlight | InsufficientBalance |
      NoRoute | NodeUnreachable | LightningError
  */
  pay(
    bolt11: string,
    opts: { maxFeeMsat: bigint; timeoutMs: number; paymentHash?: string },
  ): Promise<PaymentResult>;

  /** Decodes a payment request the way this node reads it when paying (the buyer compares it with its own view
    and pays only when they agree).

    @returns <DecodedPaymentRequest>
    @throws NodeUnreachable | LightningError (the node cannot read it)
  */
  decodePaymentRequest(bolt11: string): Promise<DecodedPaymentRequest>;

  /** Status of an outgoing payment by payment hash (restart recovery: check before paying again).

    @returns <PaymentStatus>
    @throws NodeUnreachable
  */
  paymentStatus(paymentHash: string): Promise<PaymentStatus>;

  /** Signs a UTF-8 message with the node identity key (lnd's zbase32 signature format).

    @returns <Signature zbase32 String>
  */
  signMessage(text: string): Promise<string>;

  /** Recovers the signer of a message signed with `signMessage` on any lnd node. A signature only proves
    something when the recovered key is the one you expect: compare `pubkey` to it.

    @returns {pubkey: <Signer Public Key Hex String>}
    @throws LightningError when the signature is malformed
  */
  verifyMessage(text: string, signature: string): Promise<{ pubkey: string }>;

  /** The alias another node announced in the gossip (for showing a node key to a person; never trusted).

    @param pubkey <Node Public Key Hex String> (33 bytes)
    @returns <Alias String>, or null when the node is not in the graph or announced no alias
    @throws NodeUnreachable (bounded by the call timeout) | RangeError for a malformed key
  */
  getNodeAlias(pubkey: string): Promise<string | null>;

  /** On-chain and channel balances.

    @returns <Balances>
  */
  getBalances(): Promise<Balances>;

  /** Stops the settlement subscription and closes the gRPC connection. Idempotent. */
  close(): Promise<void>;
}
