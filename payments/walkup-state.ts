/**
 * Types of the walk-up session machine (issue 12): its persisted state (a union by phase), the events the shell
 * feeds in, the effects it must carry out, and the records for the ledger. All JSON-serialisable with
 * `protocol/serialize.ts` (bigints become `{"$bigint": …}`).
 *
 * Write-ahead: a node call is an intent status on an invoice (`creating`, `settling`, `cancelling`) or on the
 * refund (`paying`) in the state the shell persists BEFORE it carries out the effect; its completion is an event.
 */
import type { Network } from '../protocol/messages.js';
import type { SuccessAction } from './lnurl.js';

/** Schema version of the persisted state; bumped on an incompatible change. */
export const WALKUP_SCHEMA_VERSION = 1;

/** Why charging stopped. */
export type WalkupStopReason =
  | 'CREDIT_EXHAUSTED'
  | 'UNPLUGGED'
  | 'DRIVER_STOPPED'
  | 'REMOTE_STOP'
  | 'EQUIPMENT_FAULT'
  | 'DEPOSIT_EXPIRING'
  | 'DEPOSIT_LOST';

/** How a session ended. */
export type WalkupEndReason =
  /** The driver paid the final invoice (or the deposit covered exactly the cost) and the rest was cancelled. */
  | 'FINAL_PAID'
  /** Nothing (or less than Lightning's minimum) was delivered: the deposit was cancelled. */
  | 'NOTHING_DUE'
  /** Walked away: the deposit was settled and the remainder was below the smallest refund. */
  | 'WALKED_AWAY'
  /** Walked away and the payer withdrew the remainder. */
  | 'REFUND_CLAIMED'
  /** Walked away and the refund was not claimed in time. */
  | 'REFUND_EXPIRED'
  /** The deposit invoice was not paid in time (or the driver gave up before paying). */
  | 'DEPOSIT_NOT_PAID'
  /** The node could not create the deposit invoice. */
  | 'DEPOSIT_INVOICE_FAILED'
  /** The deposit was held with too little time before its HTLC expires (or for less than asked): cancelled. */
  | 'DEPOSIT_REFUSED'
  /** The deposit HTLC was cancelled by the node before the energy was paid: energy delivered unpaid. */
  | 'UNPAID';

/** Named refusals of a request (an HTTP endpoint maps each to an LNURL `ERROR` reason). */
export type WalkupRefusalName =
  | 'WalkupBusy'
  | 'WalkupActive'
  | 'SessionOver'
  | 'DepositOutOfRange'
  | 'EntropyInvalid'
  | 'RequestInvalid'
  | 'NotCharging'
  | 'RefundNotOpen'
  | 'RefundSecretWrong'
  | 'RefundAlreadyClaimed'
  | 'RefundAmountWrong'
  | 'RefundInvoiceInvalid'
  | 'RefundExpired';

/** A refusal value: stable name, human message. */
export interface WalkupRefusal {
  readonly name: WalkupRefusalName;
  readonly message: string;
}

/** Lifecycle of one hold invoice as the machine knows it; `creating|settling|cancelling` are written-ahead intents. */
export type HoldStatus = 'creating' | 'open' | 'held' | 'settling' | 'settled' | 'cancelling' | 'cancelled';

/** One hold invoice (deposit or final). */
export interface HoldInvoice {
  purpose: 'deposit' | 'final';
  paymentHash: string;
  /** Secret the shell supplied; settling reveals it (the deposit's is also the LUD-10 key). Hex 32. */
  preimageHex: string;
  /** Amount invoiced, msat. */
  amountMsat: bigint;
  status: HoldStatus;
  bolt11: string | null;
  /** Amount the node reports held (≥ amountMsat), msat. */
  heldMsat: bigint | null;
  /** When the held HTLC expires (from the node: expiry height converted by the shell), ms since the epoch. */
  htlcExpiryMs: number | null;
  /** Amount the node reports settled, msat. */
  settledMsat: bigint | null;
  /** A node call failed: re-issue the pending intent at this time (ms since the epoch). */
  retryAtMs: number | null;
  /** LUD-06: sha256 of the LNURL metadata the invoice commits to (deposit only), hex 32. */
  descriptionHashHex: string | null;
}

/** The refund of a walk-away: a LUD-03 withdraw, single use, min = max = amountMsat. */
export interface Refund {
  amountMsat: bigint;
  /** The withdraw secret (k1), hex 32. Only the payer can read it (LUD-10 aes keyed by the deposit preimage). */
  withdrawSecretHex: string;
  openedAtMs: number;
  expiresAtMs: number;
  /** Set once a claim was accepted. */
  claim: {
    requestId: string;
    bolt11: string;
    paymentHash: string;
    status: 'paying' | 'inDoubt';
    maxFeeMsat: bigint;
  } | null;
  /** Failed payout attempts (each reopened the claim). */
  failedAttempts: number;
}

/** Everything about a session that outlives phases. */
export interface WalkupSession {
  sessionId: string;
  startMs: number;
  /** Price and grace fixed at the deposit request. */
  priceMsatPerWh: bigint;
  graceWh: number;
  deposit: HoldInvoice;
  /** The final invoice's secrets are supplied up front; the invoice itself exists once requested. */
  finalPaymentHash: string;
  finalPreimageHex: string;
  final: HoldInvoice | null;
  withdrawSecretHex: string;
  /** LUD-10 success action given with the deposit invoice (the encrypted refund code). */
  successAction: Extract<SuccessAction, { tag: 'aes' }>;
  energized: boolean;
  /** Meter register at energize, Wh (null until known). */
  startRegisterWh: number | null;
  lastRegisterWh: number | null;
  /** Energy delivered this session, Wh (never decreasing). */
  deliveredWh: number;
  /** Deposit must be settled by then (htlcExpiryMs − settleMarginMs), ms since the epoch. */
  settleByMs: number | null;
  stopReason: WalkupStopReason | null;
  stoppedAtMs: number | null;
  /** Final metered cost = min(deliveredWh × price, deposit), msat; set when metering is final. */
  costMsat: bigint | null;
  /** Remainder below `minRefundMsat` that could not be withdrawn, msat. */
  forfeitedMsat: bigint;
  refundPaidMsat: bigint;
  refundFeeMsat: bigint;
}

/** What the closing phase waits for. */
export type ClosingPlan =
  /** Deposit never held or nothing due: cancel the deposit. */
  | 'cancelDeposit'
  /** Cost = deposit: settle the deposit. */
  | 'settleDeposit'
  /** Final held: cancel the deposit, then settle the final. */
  | 'final'
  /** Final not paid in time: cancel the final, settle the deposit, open a refund. */
  | 'walkAway';

/** Fields every state has. */
interface Base {
  schemaVersion: typeof WALKUP_SCHEMA_VERSION;
}

/** The walk-up machine's state, by phase. */
export type WalkupState =
  | (Base & { phase: 'idle' })
  | (Base & { phase: 'awaitingDeposit'; session: WalkupSession; requestId: string; quoteDeadlineMs: number })
  | (Base & { phase: 'charging'; session: WalkupSession })
  | (Base & { phase: 'stopping'; session: WalkupSession; meterDeadlineMs: number })
  | (Base & { phase: 'awaitingFinal'; session: WalkupSession; finalDeadlineMs: number })
  | (Base & { phase: 'closing'; session: WalkupSession; plan: ClosingPlan; endReason: WalkupEndReason })
  | (Base & { phase: 'refundOpen' | 'refundClaimed'; session: WalkupSession; refund: Refund })
  | (Base & {
      phase: 'ended';
      session: WalkupSession | null;
      refund: Refund | null;
      endReason: WalkupEndReason;
    });

/** The phases. */
export type WalkupPhase = WalkupState['phase'];

/** Fields every event has: the shell's clock, ms since the Unix epoch. */
interface At {
  atMs: number;
}

/** What the node says about one invoice after a restart (lnd lookupInvoice). */
export interface NodeInvoiceFact {
  paymentHash: string;
  state: 'open' | 'held' | 'settled' | 'cancelled' | 'unknown';
  bolt11?: string;
  amountMsat?: bigint;
  htlcExpiryMs?: number;
}

/** What the node says about the refund payment after a restart (lnd getPayment). */
export interface NodePaymentFact {
  paymentHash: string;
  state: 'succeeded' | 'failed' | 'inFlight' | 'unknown';
  feeMsat?: bigint;
}

/** Events the shell feeds into the walk-up machine. */
export type WalkupEvent =
  /**
   * LNURL-pay callback: the wallet chose `amountMsat`. The shell supplies fresh randomness: the session id,
   * the deposit and final preimages (hex 32), the withdraw secret (hex 32) and the LUD-10 iv (hex 16).
   * `descriptionHashHex`: sha256 of the LNURL metadata, to be committed in the deposit invoice.
   */
  | (At & {
      type: 'depositRequested';
      requestId: string;
      amountMsat: bigint;
      sessionId: string;
      depositPreimageHex: string;
      finalPreimageHex: string;
      withdrawSecretHex: string;
      ivHex: string;
      descriptionHashHex?: string;
    })
  /** Answer to `createHoldInvoice`. */
  | (At & { type: 'holdInvoiceCreated'; paymentHash: string; bolt11: string })
  | (At & { type: 'holdInvoiceFailed'; paymentHash: string; error: string })
  /** The node holds an HTLC set for the invoice (lnd `is_held`). */
  | (At & { type: 'held'; paymentHash: string; amountMsat: bigint; htlcExpiryMs: number })
  | (At & { type: 'settled'; paymentHash: string; amountMsat: bigint })
  | (At & { type: 'cancelled'; paymentHash: string })
  /** A settle or cancel call failed (node unreachable): the machine retries after `nodeRetryMs`. */
  | (At & { type: 'nodeCallFailed'; paymentHash: string; call: 'settle' | 'cancel'; error: string })
  /** A reading of the wall's meter: the cumulative register, Wh. */
  | (At & { type: 'meter'; energyWh: number })
  | (At & { type: 'unplug' })
  | (At & { type: 'driverStop'; requestId: string })
  | (At & { type: 'remoteStop'; reason: string })
  | (At & { type: 'evseFault'; message: string })
  | (At & { type: 'tick' })
  /** LUD-03 withdraw callback: `k1` = the secret, `pr` = the payer's invoice. */
  | (At & { type: 'refundClaim'; requestId: string; secretHex: string; bolt11: string })
  /** Outcome of `payRefund`: `inDoubt` when the node cannot say yet (stays in doubt until it does). */
  | (At & {
      type: 'payResult';
      paymentHash: string;
      outcome: 'succeeded' | 'failed' | 'inDoubt';
      feeMsat?: bigint;
      error?: string;
    })
  /** A vehicle module's handshake began on this EVSE. */
  | (At & { type: 'cableSessionRequested'; requestId: string })
  /** After a restart: the node's truth about this session's invoices and refund payment. */
  | (At & { type: 'restored'; invoices: NodeInvoiceFact[]; payment: NodePaymentFact | null });

/** What the shell shows on the charger's page. */
export interface WalkupView {
  phase: WalkupPhase;
  sessionId: string | null;
  priceMsatPerWh: bigint | null;
  depositMsat: bigint | null;
  deliveredWh: number;
  costMsat: bigint | null;
  /** The final invoice to pay, while the driver should pay it. */
  finalBolt11: string | null;
  deadlineMs: number | null;
  refundMsat: bigint | null;
  stopReason: WalkupStopReason | null;
  endReason: WalkupEndReason | null;
}

/** Receipt data of an ended session (the shell signs it with the node key). */
export interface WalkupReceipt {
  sessionId: string | null;
  endReason: WalkupEndReason;
  stopReason: WalkupStopReason | null;
  network: Network;
  startMs: number | null;
  endMs: number;
  energyWh: number;
  priceMsatPerWh: bigint | null;
  depositMsat: bigint;
  depositPaymentHash: string | null;
  depositOutcome: 'settled' | 'cancelled' | 'none';
  /** Revealed for a settled deposit (proof of payment). */
  depositPreimageHex: string | null;
  finalPaymentHash: string | null;
  finalPreimageHex: string | null;
  costMsat: bigint;
  /** Received by the wall (deposit and final settled), msat. */
  settledMsat: bigint;
  refundPaidMsat: bigint;
  refundFeeMsat: bigint;
  forfeitedMsat: bigint;
}

/** Answer to a request event (the shell answers the HTTP request with it). */
export type WalkupReply =
  | {
      kind: 'depositInvoice';
      bolt11: string;
      paymentHash: string;
      successAction: Extract<SuccessAction, { tag: 'aes' }>;
    }
  | { kind: 'accepted' }
  | { kind: 'refused'; refusal: WalkupRefusal };

/** Effects the shell carries out, in order, after persisting the new state. */
export type WalkupEffect =
  /** lnd AddHoldInvoice with this hash; idempotent by hash. Answer: holdInvoiceCreated / holdInvoiceFailed. */
  | {
      type: 'createHoldInvoice';
      purpose: 'deposit' | 'final';
      paymentHash: string;
      amountMsat: bigint;
      expirySec: number;
      memo: string;
      descriptionHashHex: string | null;
    }
  /** lnd SettleInvoice. Answer: settled / nodeCallFailed. */
  | { type: 'settleHoldInvoice'; paymentHash: string; preimageHex: string }
  /** lnd CancelInvoice. Answer: cancelled / nodeCallFailed. */
  | { type: 'cancelHoldInvoice'; paymentHash: string }
  /** Close the contactor. */
  | { type: 'energize' }
  /** Open the contactor; then read the meter and send a `meter` event. */
  | { type: 'cutPower'; reason: WalkupStopReason }
  /** LUD-03 payout of the refund: pay `bolt11` with at most `maxFeeMsat`. Answer: payResult. */
  | {
      type: 'payRefund';
      requestId: string;
      bolt11: string;
      paymentHash: string;
      amountMsat: bigint;
      maxFeeMsat: bigint;
    }
  /** Answer the HTTP request `requestId`. */
  | { type: 'reply'; requestId: string; reply: WalkupReply }
  /** Refresh the charger page. */
  | { type: 'display'; view: WalkupView }
  /** Something the host should see (money or equipment). */
  | { type: 'alarm'; message: string }
  /** The session is over: its receipt data (sign, store, show). */
  | { type: 'endSession'; receipt: WalkupReceipt };

/** A JSON-friendly record value (amounts as decimal strings). */
export type WalkupRecordValue = string | number | boolean | null;

/** A ledger row: every msat traceable (deposit held, final held, settled, cancelled, refund paid). */
export interface WalkupRecord {
  kind: string;
  sessionId: string | null;
  atMs: number;
  data: Record<string, WalkupRecordValue>;
}

/** Result of one step. */
export interface WalkupStep {
  state: WalkupState;
  effects: WalkupEffect[];
  records: WalkupRecord[];
}
