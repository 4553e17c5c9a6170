/**
 * Events that the shells feed into the session machines and effects the machines ask the shells to carry
 * out. Every event carries `atMs` (ms since the Unix epoch, from the shell's clock): the machines read no
 * clock. Effects are returned in the order they must be executed; the shell persists the new state first
 * (write-ahead: a `pay` or `createInvoice` is in the persisted state before it is executed).
 */
import type { Message, ReceiptMessage } from './messages.js';
import type { ReasonCode } from './reasons.js';
import type { Delegation } from './delegation.js';

/** Fields every event has. */
interface EventBase {
  /** Time of the event, ms since the Unix epoch. */
  atMs: number;
}

/** Cable plugged in (EVSE state B). `entropyHex`: ≥32 fresh random bytes (hex) for keys and session id. */
export interface PlugEvent extends EventBase {
  type: 'plug';
  entropyHex: string;
}
/** Cable unplugged. */
export interface UnplugEvent extends EventBase {
  type: 'unplug';
}
/** One frame received from the link (one ISO-TP message / one stream record). */
export interface FrameEvent extends EventBase {
  type: 'frame';
  bytes: Uint8Array;
}
/** A reading of this side's own meter. `energyWh` is the cumulative register (not session-relative). */
export interface MeterEvent extends EventBase {
  type: 'meter';
  energyWh: number;
  powerW: number;
  voltageV: number;
  currentA: number;
}
/** The link came up / went down. */
export interface LinkEvent extends EventBase {
  type: 'linkUp' | 'linkDown';
}
/**
 * Time passed (the shell sends one at least every second). Every deadline of the machines is a timestamp in
 * their state (`suspendDeadlineMs`, `reissueAtMs`, `invoiceRetryAtMs`, `regreetAtMs`, a payment's `retryAtMs`,
 * the budget day) and is acted on by the first event, usually a tick, at or after it: the shell keeps no timer
 * of its own for them, and a restored state keeps its deadlines.
 */
export interface TickEvent extends EventBase {
  type: 'tick';
}
/** Answer to a `signWithNodeKey` effect: the node's signature (zbase32 from lnd, or 65-byte hex). */
export interface NodeSignatureEvent extends EventBase {
  type: 'nodeSignature';
  text: string;
  signature: string;
  /**
   * Seller (protocol version 3): the node was unreachable, so the wall daemon signed with its delegate key; this
   * is the node-signed delegation of that key (protocol/delegation.ts), sent to the car before the signed message.
   */
  delegation?: Delegation;
}
/** The operator (or CSMS) asks to end the session. */
export interface StopRequestEvent extends EventBase {
  type: 'stopRequest';
  reason: ReasonCode;
}

/** Seller only: answer to `createInvoice`. */
export interface InvoiceCreatedEvent extends EventBase {
  type: 'invoiceCreated';
  seq: number;
  bolt11: string;
  paymentHash: string;
  /**
   * Set when the invoice came from the wall's offline stock (its node unreachable, protocol/paymentProof.ts): its
   * fixed amount, msat; the requested block shrinks to it (`sellerStepWithStock`).
   */
  stockedAmountMsat?: bigint;
}
/** Seller only: `createInvoice` failed (node unreachable...). The machine retries on a later tick. */
export interface InvoiceCreateFailedEvent extends EventBase {
  type: 'invoiceCreateFailed';
  seq: number;
  error: string;
}
/** Seller only: the node reports an invoice settled. `amountMsat` is what was received. */
export interface InvoiceSettledEvent extends EventBase {
  type: 'invoiceSettled';
  paymentHash: string;
  amountMsat: bigint;
}
/** Seller only: the node reports an invoice expired (or cancelled) unpaid. */
export interface InvoiceExpiredEvent extends EventBase {
  type: 'invoiceExpired';
  paymentHash: string;
}
/**
 * Seller only: the node answered a `cancelInvoice` effect, whether it cancelled the invoice or refused (e.g. it was
 * paid as it was being cancelled) or the call failed. A closing session waits for these answers before it signs
 * its receipt, so a payment racing the close is in it. When the invoice turns out settled, the shell steps that
 * `invoiceSettled` first (from its node's lookup).
 */
export interface CancelAnsweredEvent extends EventBase {
  type: 'cancelAnswered';
  paymentHash: string;
}
/**
 * Seller only: the wall's invoice stock refused a payment proof the machine passed on (`verifyPaymentProof`),
 * naming why (payments/invoice-stock.ts: `PROOF_ALREADY_USED`, `PROOF_NOT_HANDED_TO_SESSION`, …). The car is told
 * in an `error` message, as for the refusals the machine names itself.
 */
export interface PaymentProofRefusedEvent extends EventBase {
  type: 'paymentProofRefused';
  seq: number;
  paymentHash: string;
  refusal: string;
}
/**
 * Seller only (protocol version 3, offline case 3): the store's answer to `lookupPromises`: energy promised and
 * not paid in earlier sessions by the car with this identity key, and by all cars, Wh.
 */
export interface PromisesOutstandingEvent extends EventBase {
  type: 'promisesOutstanding';
  vehiclePub: string;
  carWh: number;
  siteWh: number;
}
/** Seller only: the operator changes the price; it applies from `afterWh` more paid energy (≥ current block). */
export interface RenewRequestEvent extends EventBase {
  type: 'renewRequest';
  priceMsatPerWh: bigint;
  afterWh: number;
}
/**
 * How a payment attempt failed, as the node layer classifies it (lightning/errors.ts), for the buyer's retry rule:
 * - `outage`: the node was unreachable during the attempt (NodeUnreachable, a timeout) and, asked after it came
 *   back, has no record of the payment: it never left. Retried (up to `payMaxAttempts`, backing off).
 * - `noRoute`: the node tried and failed for lack of a route or of outbound balance (NoRoute,
 *   InsufficientBalance). Retried only within `noRouteRetryWindowMs` after the node was last seen in an outage
 *   (its channels are coming back); otherwise final.
 * - `final`: anything else (InvoiceExpired, InvoiceNotPayable, a permanent failure the node recorded...).
 */
export type PaymentFailureKind = 'outage' | 'noRoute' | 'final';

/** Buyer only: result of a `pay` effect. `ok: false` must mean definitely failed (nothing can still settle). */
export interface PaymentResultEvent extends EventBase {
  type: 'paymentResult';
  paymentHash: string;
  ok: boolean;
  preimage?: string;
  feeMsat?: bigint;
  error?: string;
  /**
   * With `ok: false`: the kind of failure (see `PaymentFailureKind`). Absent = `final` (the shell decided the
   * retries itself). The shell makes ONE attempt per `pay` effect and reports its kind; the machine decides
   * whether and when to pay again (a new `pay` effect with a higher `attempt`).
   */
  failure?: PaymentFailureKind;
  /**
   * Set when the shell refused to hand the payment to the node at all (so it is certainly unpaid), and why:
   * INVOICE_AMBIGUOUS (the node's own decoding differs from the buyer's), INVOICE_DUPLICATE (the hash is already
   * in the ledger from an earlier session). The session stops with this reason.
   */
  refusedReason?: ReasonCode;
}
/**
 * Buyer only: what the car's own ledger says about the wall whose clear hello just arrived, sent by the shell
 * right after `plug` and before that hello's frame. The machine is pure: these figures come from the store.
 */
export interface BuyerHistoryEvent extends EventBase {
  type: 'history';
  /** The wall key and session id of the hello the figures are for. */
  wallPub: string;
  sessionId: string;
  /** Energy paid (or in doubt) but not delivered by the own meter in earlier sessions within the rolling
   * window: with this wall's node key, and with every wall, Wh. */
  undeliveredWallWh: number;
  undeliveredTotalWh: number;
  /** This wall is in back-off (its recent sessions ended with prepaid energy undelivered) until then, ms. */
  backoffUntilMs: number | null;
  /** The store already holds a session with this id. */
  sessionIdKnown: boolean;
  /**
   * Money earlier sessions spent in the current budget day (amounts + fees of payments succeeded or in doubt,
   * sent since `budgetDayStartMs(atMs, config.budgetDayUtcOffsetMin)`), msat. Overrides `config.spentTodayMsat`;
   * the shell need no longer rewrite the configuration.
   */
  spentTodayMsat?: bigint;
  /** What the car owes on promises to pay from earlier sessions, not paid yet, msat (offline case 3). */
  promisedOutstandingMsat?: bigint;
}

/**
 * Buyer only: the own Lightning node answered again after being unreachable (shell-observed, at `atMs`). Opens
 * the window in which `noRoute` failures are retried (channels re-establishing). Optional: an `outage` payment
 * result opens it too.
 */
export interface NodeReachableEvent extends EventBase {
  type: 'nodeReachable';
}

/** Events common to both machines. */
export type CommonEvent =
  | PlugEvent
  | UnplugEvent
  | FrameEvent
  | MeterEvent
  | LinkEvent
  | TickEvent
  | NodeSignatureEvent
  | StopRequestEvent;
/** Events of the seller (wall) machine. */
/**
 * Seller only: a car was plugged in but the connector may not take a cable session (the shell's connector
 * arbiter refused the claim). Between sessions the seller tells the car, in a clear `clearError` carrying
 * `reason` (CONNECTOR_BUSY, CONNECTOR_INOPERATIVE or CONNECTOR_FAULTED) instead of a hello; no session starts.
 * `detail`: a short text for the car's log (e.g. the fault), at most 200 characters are sent.
 */
export interface ConnectorRefusedEvent extends EventBase {
  type: 'connectorRefused';
  reason: ReasonCode;
  detail: string;
}
export type SellerEvent =
  | CommonEvent
  | ConnectorRefusedEvent
  | InvoiceCreatedEvent
  | InvoiceCreateFailedEvent
  | InvoiceSettledEvent
  | InvoiceExpiredEvent
  | CancelAnsweredEvent
  | PaymentProofRefusedEvent
  | PromisesOutstandingEvent
  | RenewRequestEvent;
/** Events of the buyer (vehicle) machine. */
export type BuyerEvent = CommonEvent | PaymentResultEvent | BuyerHistoryEvent | NodeReachableEvent;

/** A JSON-friendly value in a record entry (amounts as decimal strings). */
export type RecordValue = string | number | boolean | null;

/** Summary of a session from one side's ledger. */
export interface SessionSummary {
  sessionId: string | null;
  /** Energy by this side's meter, Wh. */
  energyWh: number;
  /** Total paid (buyer: payments succeeded; seller: invoices settled), msat. */
  paidMsat: bigint;
  /** Routing fees paid (buyer only), msat. */
  feesMsat: bigint;
  invoices: number;
}

/** Effects: what the shell must do. */
export type Effect =
  /** Transmit `frame` on the link. `message` is the plaintext, for logs only. */
  | { type: 'send'; frame: Uint8Array; message: Message }
  /** Ask the Lightning node to sign `text` (lnd signMessage); answer with a `nodeSignature` event. */
  | { type: 'signWithNodeKey'; text: string }
  /** Seller: create an invoice; answer with `invoiceCreated` or `invoiceCreateFailed`. */
  | { type: 'createInvoice'; seq: number; amountMsat: bigint; memo: string; expirySec: number }
  /**
   * Seller (protocol version 2): the car proved it paid invoice `seq` (sha256(preimage) = paymentHash, checked).
   * The shell asks its offline stock keeper whether the invoice is stocked and unused (recorded as used before
   * it answers) and then feeds `invoiceSettled`; a proof for an invoice the node issued normally is informational.
   */
  | { type: 'verifyPaymentProof'; seq: number; paymentHash: string; preimage: string }
  /**
   * Seller (protocol version 3): the car authenticated with `vehiclePub` and the wall takes promises: answer with
   * `promisesOutstanding` (its earlier unpaid promises, and all cars'), from the store.
   */
  | { type: 'lookupPromises'; vehiclePub: string }
  /** Seller: cancel an open invoice; answer with a `cancelAnswered` event. */
  | { type: 'cancelInvoice'; paymentHash: string }
  /** Seller: close the contactor / enable the EVSE. */
  | { type: 'energize' }
  /** Seller: open the contactor / disable the EVSE. */
  | { type: 'cutPower'; reason: ReasonCode }
  /**
   * Seller: greet the plugged-in car again (its handshake timed out; `SellerState.regreetAtMs` came): answer with
   * a `plug` event carrying fresh entropy, if the connector may still start a session. Replaces the shell's own
   * re-greeting timer.
   */
  | { type: 'greetAgain' }
  /**
   * Buyer: pay the invoice with at most `maxFeeMsat` routing fee; answer with `paymentResult`. `attempt` counts
   * from 1 (absent = 1); a higher one is the machine paying again after a retryable failure (same hash: safe, the node has no
   * successful or pending attempt for it).
   */
  | {
      type: 'pay';
      seq: number;
      bolt11: string;
      paymentHash: string;
      amountMsat: bigint;
      maxFeeMsat: bigint;
      attempt?: number;
    }
  /** Append to the ledger / event log. */
  | { type: 'record'; kind: string; data: Record<string, RecordValue> }
  /** Something an operator should see (security, money, equipment). */
  | { type: 'alarm'; reason: ReasonCode; message: string }
  /**
   * The session is over. Always a `receipt` (seller-signed) or an `error` saying why there is none; both when
   * the buyer received a receipt that disagrees with its ledger.
   */
  | {
      type: 'sessionEnded';
      reason: ReasonCode;
      reasonName: string;
      receipt?: ReceiptMessage;
      /**
       * With a receipt on the buyer side, when the wall announced one (protocol version 3, offline case 1b): the
       * node-signed delegation the receipt was verified under. The receipt's signature may be the delegate key's,
       * so the shell keeps the delegation beside the receipt: without it the receipt does not verify later.
       */
      delegation?: Delegation;
      error?: string;
      summary: SessionSummary;
    };

/** Result of one machine step. */
export interface Step<S> {
  state: S;
  effects: Effect[];
}
