// Hold invoices as the daemons see them: an invoice for a payment hash the caller chose, whose HTLC lnd holds
// (neither settles nor fails it) until the caller settles it with the preimage or cancels it. The walk-up
// payment's deposit and final invoices are hold invoices. Money is bigint msat; heights are block heights.
//
// Safety rule for callers: a held HTLC has a CLTV expiry height. lnd releases (cancels) a held HTLC
// `holdexpirydelta` blocks before that height so it never has to force-close; settle or cancel well before,
// see `payments/hold-window.ts`.
import type { CreatedInvoice } from './lightning-node.js';

/** What a hold invoice is created with. Exactly one of `description` and `descriptionHash` is given. */
export interface CreateHoldInvoiceArgs {
  /** payment hash, hex (64 lowercase hex characters): sha256 of a preimage only the caller knows */
  paymentHash: string;
  /** amount, msat (> 0) */
  amountMsat: bigint;
  /** description shown to the payer (at most 639 bytes of UTF-8) */
  description?: string;
  /** sha256 of a longer description, hex (LNURL-pay: sha256 of the metadata) */
  descriptionHash?: string;
  /** seconds until the invoice can no longer be paid (> 0); a held HTLC outlives it */
  expirySec: number;
  /** final CLTV delta, blocks: how many blocks the last hop's HTLC must at least have left when it arrives
    (18..2016; default 80). The longer it is, the longer the HTLC can be held. */
  cltvDeltaBlocks?: number;
}

/** A created hold invoice. */
export interface CreatedHoldInvoice extends CreatedInvoice {
  /** the final CLTV delta encoded in the invoice, blocks */
  cltvDeltaBlocks: number;
}

/** The lifecycle state of a hold invoice. `held`: HTLCs for the full amount are accepted and wait for a
  settle or cancel. */
export type HoldInvoicePhase = 'open' | 'held' | 'settled' | 'cancelled';

/** A hold invoice's state as the node records it (survives restarts of the daemon and of lnd). */
export interface HoldInvoiceState {
  paymentHash: string;
  phase: HoldInvoicePhase;
  /** amount asked, msat */
  amountMsat: bigint;
  /** amount held (phase `held`) or received (phase `settled`), msat; 0 otherwise */
  receivedMsat: bigint;
  /** invoice expiry instant, ms since the Unix epoch */
  expiresAt: number;
  /** phase `held`: the lowest CLTV expiry height of the held HTLCs (the binding deadline) */
  htlcExpiryHeight?: number;
  /** phase `held`: the height at which the last of the HTLCs was accepted */
  acceptHeight?: number;
  /** the node's best block height when this state was read */
  currentHeight: number;
  /** phase `settled`: preimage, hex */
  preimage?: string;
  /** phase `settled`: settlement instant, ms since the Unix epoch */
  settledAtMs?: number;
  /** phase `cancelled`: true when lnd cancelled it by itself (an HTLC came within `holdexpirydelta` blocks of
    its CLTV expiry, or the invoice reached its expiry time unpaid), false for a deliberate cancel */
  expired?: boolean;
}

/** A change of one hold invoice, from the node's subscription to it. */
export type HoldInvoiceEvent =
  | {
      kind: 'held';
      paymentHash: string;
      /** total held, msat */
      amountMsat: bigint;
      /** the lowest CLTV expiry height of the held HTLCs: settle or cancel well before it */
      htlcExpiryHeight: number;
      /** height at which the last HTLC was accepted */
      acceptHeight: number;
      /** the node's best block height when the event was delivered (≥ acceptHeight) */
      currentHeight: number;
    }
  | { kind: 'settled'; paymentHash: string; amountMsat: bigint; preimage: string; settledAtMs: number }
  | {
      kind: 'cancelled';
      paymentHash: string;
      /** true when lnd cancelled it by itself (HTLC near its CLTV expiry, or invoice expired unpaid) */
      expired: boolean;
    };

/** Hold-invoice commands of a Lightning node. Every call is bounded by a timeout (NodeUnreachable). All of them
  work with an invoice-only macaroon (`invoices:read`, `invoices:write`, `info:read`). */
export interface HoldInvoiceNode {
  /** Creates a hold invoice for a payment hash chosen by the caller.

    @returns <CreatedHoldInvoice>
    @throws RangeError on bad arguments | InvoiceAlreadyExists (hash used before) | NodePermissionDenied |
      NodeUnreachable | LightningError
  */
  createHoldInvoice(args: CreateHoldInvoiceArgs): Promise<CreatedHoldInvoice>;

  /** Watches one hold invoice. The current state is delivered first (so after a restart a held invoice is
    reported at once), then each change; each phase at most once per watch. The watch resubscribes by itself
    after the node was away and ends after `settled` or `cancelled`.

    {
      paymentHash: <Payment Hash Hex String>
      handler: <(event: HoldInvoiceEvent) => void>
    }

    @returns <Stop Watching Function>
  */
  watchHoldInvoice(paymentHash: string, handler: (event: HoldInvoiceEvent) => void): () => void;

  /** Settles a held invoice with its preimage. Idempotent: settling an already settled invoice returns.

    {
      preimage: <Preimage Hex String> (32 bytes)
    }

    @throws InvoiceNotHeld (no HTLC held yet) | HoldInvoiceExpired (the HTLC was released near its CLTV expiry,
      or the invoice expired unpaid) | InvoiceCancelled | InvoiceNotFound | NodeUnreachable | LightningError
  */
  settleHoldInvoice(preimage: string): Promise<void>;

  /** Cancels a hold invoice: a held HTLC fails back to the payer, an open one can no longer be paid.
    Idempotent: cancelling a cancelled invoice returns.

    @throws InvoiceAlreadySettled | InvoiceNotFound | NodeUnreachable | LightningError
  */
  cancelHoldInvoice(paymentHash: string): Promise<void>;

  /** Reads a hold invoice's state from the node (restart recovery: the node decides).

    @returns <HoldInvoiceState>
    @throws InvoiceNotFound | NodeUnreachable | LightningError
  */
  lookupHoldInvoice(paymentHash: string): Promise<HoldInvoiceState>;
}
