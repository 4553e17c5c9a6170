/**
 * The vehicle's (buyer's) session machine: `buyerStep(state, event) → { state, effects }`, pure.
 *
 * Phases: idle → handshake (plugged, waiting for the wall's hello) → authenticating (hello answered, waiting
 * for the wall's signature) → negotiating (waiting for the offer) → charging (offer accepted; invoices checked
 * and paid) → closing (stop sent or received, waiting for the receipt) → ended.
 *
 * Every invoice is checked, in this order, each failure with its own reason code: duplicate sequence or hash
 * (INVOICE_DUPLICATE, not paid, reported), malformed BOLT11 (INVOICE_MALFORMED), payee ≠ the key the wall
 * proved in the handshake (INVOICE_WRONG_PAYEE), network (INVOICE_WRONG_NETWORK), BOLT11 amount ≠ message
 * amount (INVOICE_AMOUNT_MISMATCH), block too large (INVOICE_BLOCK_TOO_LARGE), price or amount above the
 * agreed tariff (INVOICE_OVERPRICED), beyond target / after a declined renewal (INVOICE_UNEXPECTED), expired
 * (INVOICE_EXPIRED, declined so the wall reissues), over session/daily budget (INVOICE_OVER_BUDGET). Decoding
 * follows the paying node's rules: an invoice two readers could read differently is INVOICE_AMBIGUOUS, one
 * needing an unknown compulsory feature INVOICE_UNSUPPORTED; every check, ledger row and dedupe uses the hash
 * the node pays. An invoice that would push prepaid energy (paid or in doubt − own meter) over the allowance
 * is held and paid once the own meter has advanced enough. The allowance is maxPrepaidWh, lowered by the
 * cross-session caps (`maxUndeliveredWhPerWall`, `maxUndeliveredWhTotal`) minus what earlier sessions left
 * undelivered (the shell's `history` event); a wall in back-off is declined (WALL_BACKOFF), a session id the
 * store already holds is refused at the hello (SESSION_ID_REUSED), and a price above what a ledger can store
 * is refused (VALUE_OUT_OF_RANGE) before anything is written.
 *
 * Rules on the clock (deadlines are timestamps in the state, acted on by `tick` events): a payment whose attempt
 * failed retryably (`paymentResult.failure`: `outage`, or `noRoute` within `noRouteRetryWindowMs` of an outage) is
 * paid again at its `retryAtMs` (backing off from `payRetryFirstMs` to `payRetryMaxMs`, at most `payMaxAttempts`,
 * never too close to the invoice's expiry, never once the wall has sent a newer invoice); a final failure counts
 * towards `maxConsecutivePaymentFailures`. The daily budget is per budget day (`budgetDayStartMs` with
 * `budgetDayUtcOffsetMin`): at the first event of a new day earlier sessions' spending no longer counts, this
 * session's payments count in the day they were sent, and undecided ones always count until decided.
 */
import { fromHex, toHex } from './bytes.js';
import {
  checkAmount,
  checkNetwork,
  checkPayee,
  checkUnexpired,
  decodeInvoice,
  invoiceExpiresAtMs,
  type InvoiceProblemName,
} from './bolt11.js';
import type { ChannelState } from './channel.js';
import { budgetDayStartMs, type BuyerConfig } from './config.js';
import type { BuyerEvent, BuyerHistoryEvent, Effect, PaymentFailureKind, Step } from './effects.js';
import { protocolError } from './errors.js';
import { encodeClearFrame, parseFrame } from './frame.js';
import {
  deriveChannel,
  deriveSessionSecrets,
  ephemeralPublicKey,
  handshakeText,
  negotiateVersion,
  transcriptHash,
} from './handshake.js';
import type {
  DelegationMessage,
  HelloMessage,
  InvoiceMessage,
  OfferMessage,
  ReceiptMessage,
  SealedMessage,
} from './messages.js';
import { messageInVersion } from './messages.js';
import { paymentReport } from './paymentProof.js';
import { promiseText, refusedPromiseSeq, type PromiseTerms } from './promise.js';
import { delegationProblem, signedForNode, type Delegation } from './delegation.js';
import { signNodeMessage } from './nodeSignature.js';
import { isConnectorRefusal, Reason, reasonName, type ReasonCode } from './reasons.js';
import {
  daySpendMsat,
  dueRetries,
  giveUpRetries,
  nextAttempt,
  paidPayments,
  promisedMsat,
  undecidedMsat,
  type BuyerPayment,
} from './paymentBook.js';
import { verifyReceipt } from './receipt.js';

export type { BuyerPayment } from './paymentBook.js';
import {
  acceptMeterEvent,
  checkOwnNodeSignature,
  dueMeterReport,
  endedBeforeAuthentication,
  finishSession,
  idleOrEnded,
  msat,
  plugStartsSession,
  pureStep,
  record,
  rejectFrame,
  sessionEnergyWh,
  stopMessage,
  stoppable,
  type SessionOutcome,
} from './sessionCommon.js';
import {
  openOnChannel,
  peerSilent,
  pingDue,
  readClearFrame,
  refuseVersions,
  resendClearFrame,
  sendClearError,
  sendOnChannel,
  unexpectedMessage,
  waitedLonger,
} from './sessionLink.js';
import {
  amountMsatForBlock,
  feeLimitMsat,
  invoiceTerms,
  MAX_LEDGER_MSAT,
  meterToleranceWh,
  type PriceSegment,
} from './tariff.js';

/** Buyer phases, in session order. */
export const BUYER_PHASES = [
  'idle',
  'handshake',
  'authenticating',
  'negotiating',
  'charging',
  'closing',
  'ended',
] as const;
/** Buyer phases. */
export type BuyerPhase = (typeof BUYER_PHASES)[number];

/** The car's ledger figures for the wall of this session (from the shell's `history` event). */
export type BuyerHistory = Omit<BuyerHistoryEvent, 'type' | 'atMs'>;

/**
 * What the buyer keeps in every phase (JSON-serialisable with `serializeState`): its configuration, the session's
 * terms, counters and payment book (reset at each session's start), the budget day, and what the shell and the
 * status page read. A phase's own data lives only in its variant of `BuyerState`.
 */
export interface BuyerBase {
  config: BuyerConfig;
  /** The session's id (hex), from the wall's hello; null before, kept after the session ends for the records. */
  sessionId: string | null;
  schedule: PriceSegment[];
  /** Largest block agreed (sent in accept), Wh. */
  maxBlockWh: number;
  offerSeq: number;
  /** A renewal was declined: no block starting at or beyond this is paid, Wh. */
  stopAtWh: number | null;
  startRegisterWh: number | null;
  /** Energy since session start by the vehicle's own meter, Wh. */
  ownEnergyWh: number;
  /** Energy the wall claims (its meter messages), Wh. */
  wallEnergyWh: number;
  /** Energy paid or being paid (successful + in-flight blocks), Wh. */
  committedWh: number;
  paidMsat: bigint;
  feesMsat: bigint;
  lastSeq: number;
  seenHashes: string[];
  /** The payment book (see paymentBook.ts). */
  payments: BuyerPayment[];
  /** An invoice held until the own meter advances (prepaid bound), or null. */
  held: InvoiceMessage | null;
  consecutiveFailures: number;
  /** Last time the own node was seen in an outage or coming back from one, ms (opens the no-route retry window). */
  nodeOutageMs: number | null;
  /** Start of the budget day the figures below are for, ms (see `budgetDayStartMs`); null before the plug. */
  budgetDayStartMs: number | null;
  /** What earlier sessions spent in that budget day, msat (from the `history` event; 0 after midnight). */
  spentEarlierTodayMsat: bigint;
  /**
   * What this car owes on promises to pay from earlier sessions, not paid yet, msat (from the `history` event;
   * offline case 3, protocol/promise.ts). With this session's promises it stays within `promiseMaxMsat`.
   */
  promisedEarlierMsat: bigint;
  /** When the session started, ms; null before the first session. */
  startMs: number | null;
  lastRxMs: number;
  lastTxMs: number;
  lastMeterSentMs: number | null;
  /** Earlier sessions' figures for this wall, or null when the shell supplied none (then: no history). */
  history: BuyerHistory | null;
  /** The session is closing by the owner's choice (stop request, target reached): not held against the wall. */
  ownerStopped: boolean;
}

/** The negotiated session keys and the wall's proven key, present from `authenticating` to `closing`. */
export interface BuyerKeys {
  sessionId: string;
  startMs: number;
  version: number;
  /** Transcript hash, hex. */
  th: string;
  channel: ChannelState;
  /** The wall's node key, proven by its handshake signature; every invoice must be signed by it. */
  wallPub: string;
  /**
   * A node-signed delegation the wall announced (protocol version 3, protocol/delegation.ts): its delegate key's
   * signatures on the handshake and the receipt count as the node's until `untilMs`. Null when none.
   */
  wallDelegation: Delegation | null;
}

/** Not plugged in (or between sessions before the first). */
export type BuyerIdle = BuyerBase & {
  phase: 'idle';
  /** A wall hello that arrived before the plug event, hex frame. */
  bufferedHello: string | null;
};
/** Plugged in, the wall's hello awaited: this session's secrets. */
export type BuyerHandshake = BuyerBase & {
  phase: 'handshake';
  startMs: number;
  ephemeralSecret: string;
  /** Per-session identity secret (identity kind 'session'), hex; null with the node's identity. */
  identitySecret: string | null;
  identityPub: string;
};
/** Hello answered, the wall's signature awaited. */
export type BuyerAuthenticating = BuyerBase &
  BuyerKeys & {
    phase: 'authenticating';
    /** The wall's hello and our answer, hex frames (our answer is resent when the wall repeats its hello). */
    wallHelloFrame: string;
    ownHelloFrame: string;
    ownAuthSent: boolean;
    /** The handshake text our node is asked to sign (identity kind 'node'); null once signed or not needed. */
    pendingSign: string | null;
  };
/** The wall is authenticated; its offer awaited. */
export type BuyerNegotiating = BuyerBase & BuyerKeys & { phase: 'negotiating' };
/** Offer accepted: invoices checked and paid. */
export type BuyerCharging = BuyerBase & BuyerKeys & { phase: 'charging'; offer: OfferMessage };
/** Stop sent or received; the receipt awaited. */
export type BuyerClosing = BuyerBase &
  BuyerKeys & { phase: 'closing'; closingSinceMs: number; endReason: ReasonCode };
/** The session is over. */
export type BuyerEnded = BuyerBase & {
  phase: 'ended';
  endReason: ReasonCode;
  /** The wall's key, when the handshake got that far. */
  wallPub: string | null;
};

/** The buyer machine's state: a union by phase (JSON-serialisable with `serializeState`). */
export type BuyerState =
  | BuyerIdle
  | BuyerHandshake
  | BuyerAuthenticating
  | BuyerNegotiating
  | BuyerCharging
  | BuyerClosing
  | BuyerEnded;

/** States that hold the negotiated keys. */
export type BuyerKeyed = BuyerAuthenticating | BuyerNegotiating | BuyerCharging | BuyerClosing;

/** True from `authenticating` to `closing` (the keys exist). */
export function buyerKeyed(s: BuyerState): s is BuyerKeyed {
  return s.phase !== 'idle' && s.phase !== 'handshake' && s.phase !== 'ended';
}

/** True in `negotiating` and `charging` (the wall is authenticated, the session not closing). */
export function buyerAuthenticated(s: BuyerState): s is BuyerNegotiating | BuyerCharging {
  return s.phase === 'negotiating' || s.phase === 'charging';
}

/** Why the session ended or is closing, or null while it runs (or before the first one). */
export function buyerEndReason(s: BuyerState): ReasonCode | null {
  return s.phase === 'closing' || s.phase === 'ended' ? s.endReason : null;
}

/** The wall's node key once the handshake got it (kept after the session ended), else null. */
export function buyerPeer(s: BuyerState): string | null {
  return buyerKeyed(s) || s.phase === 'ended' ? s.wallPub : null;
}

/** The secure channel while the keys exist (`authenticating` to `closing`), else null. */
export function buyerChannel(s: BuyerState): ChannelState | null {
  return buyerKeyed(s) ? s.channel : null;
}

/**
 * The fields every phase keeps, copied out of a state (what a transition carries into the next phase).
 * @returns exactly the `BuyerBase` fields
 */
export function buyerBase(s: BuyerBase): BuyerBase {
  return {
    config: s.config,
    sessionId: s.sessionId,
    schedule: s.schedule,
    maxBlockWh: s.maxBlockWh,
    offerSeq: s.offerSeq,
    stopAtWh: s.stopAtWh,
    startRegisterWh: s.startRegisterWh,
    ownEnergyWh: s.ownEnergyWh,
    wallEnergyWh: s.wallEnergyWh,
    committedWh: s.committedWh,
    paidMsat: s.paidMsat,
    feesMsat: s.feesMsat,
    lastSeq: s.lastSeq,
    seenHashes: s.seenHashes,
    payments: s.payments,
    held: s.held,
    consecutiveFailures: s.consecutiveFailures,
    nodeOutageMs: s.nodeOutageMs,
    budgetDayStartMs: s.budgetDayStartMs,
    spentEarlierTodayMsat: s.spentEarlierTodayMsat,
    promisedEarlierMsat: s.promisedEarlierMsat,
    startMs: s.startMs,
    lastRxMs: s.lastRxMs,
    lastTxMs: s.lastTxMs,
    lastMeterSentMs: s.lastMeterSentMs,
    history: s.history,
    ownerStopped: s.ownerStopped,
  };
}

/** The negotiated keys, copied out of a keyed state. @returns exactly the `BuyerKeys` fields */
function keysOf(s: BuyerKeys): BuyerKeys {
  return {
    sessionId: s.sessionId,
    startMs: s.startMs,
    version: s.version,
    th: s.th,
    channel: s.channel,
    wallPub: s.wallPub,
    wallDelegation: s.wallDelegation,
  };
}

/**
 * A fresh buyer machine.
 * @param config validated buyer configuration (see `buyerConfig`)
 */
export function createBuyer(config: BuyerConfig): BuyerIdle {
  return {
    config,
    phase: 'idle',
    bufferedHello: null,
    sessionId: null,
    schedule: [],
    maxBlockWh: 0,
    offerSeq: 0,
    stopAtWh: null,
    startRegisterWh: null,
    ownEnergyWh: 0,
    wallEnergyWh: 0,
    committedWh: 0,
    paidMsat: 0n,
    feesMsat: 0n,
    lastSeq: -1,
    seenHashes: [],
    payments: [],
    held: null,
    consecutiveFailures: 0,
    nodeOutageMs: null,
    budgetDayStartMs: null,
    spentEarlierTodayMsat: config.spentTodayMsat,
    promisedEarlierMsat: 0n,
    startMs: null,
    lastRxMs: 0,
    lastTxMs: 0,
    lastMeterSentMs: null,
    history: null,
    ownerStopped: false,
  };
}

/**
 * Most energy this session may have paid for (or in doubt) but not delivered: maxPrepaidWh, lowered so that
 * this session plus earlier sessions' undelivered energy stays within the per-wall and overall caps.
 * @param config buyer configuration
 * @param history earlier sessions' figures (null: none)
 * @returns Wh (≥ 0)
 */
export function prepaidAllowanceWh(config: BuyerConfig, history: BuyerHistory | null): number {
  const wallWh = history?.undeliveredWallWh ?? 0;
  const totalWh = history?.undeliveredTotalWh ?? 0;
  return Math.max(
    0,
    Math.min(
      config.maxPrepaidWh,
      config.maxUndeliveredWhPerWall - wallWh,
      config.maxUndeliveredWhTotal - totalWh,
    ),
  );
}

/** Outcome of checking an offer: accept with the block cap to announce, or decline with a reason. */
export type OfferVerdict =
  { accept: true; maxBlockWh: number } | { accept: false; reason: ReasonCode; text: string };

/**
 * The buyer's verdict on an offer.
 * @param config buyer configuration
 * @param offer the wall's offer
 * @param history earlier sessions' figures for this wall (null: none)
 * @param atMs time of the offer, ms (for the wall's back-off)
 * @param spentTodayMsat already spent in the current budget day, msat (default: `config.spentTodayMsat`)
 * @returns accept (with the largest block the buyer will pay) or decline with a reason code
 */
export function evaluateOffer(
  config: BuyerConfig,
  offer: OfferMessage,
  history: BuyerHistory | null = null,
  atMs = 0,
  spentTodayMsat: bigint = config.spentTodayMsat,
): OfferVerdict {
  const no = (reason: ReasonCode, text: string): OfferVerdict => ({ accept: false, reason, text });
  if (offer.network !== config.network) return no(Reason.WRONG_NETWORK, `offer on ${offer.network}`);
  if (history?.backoffUntilMs != null && atMs < history.backoffUntilMs) {
    return no(
      Reason.WALL_BACKOFF,
      `this wall's recent sessions ended with prepaid energy undelivered: refused until ${new Date(history.backoffUntilMs).toISOString()}`,
    );
  }
  if (offer.priceMsatPerWh > MAX_LEDGER_MSAT)
    return no(Reason.VALUE_OUT_OF_RANGE, `price ${offer.priceMsatPerWh} msat/Wh does not fit the ledger`);
  if (
    offer.minBlockWh < 1 ||
    offer.minBlockWh > offer.maxBlockWh ||
    offer.depositBlocks < 1 ||
    offer.targetIntervalSec < 1
  ) {
    return no(Reason.BAD_TERMS, 'inconsistent block or deposit terms');
  }
  if (offer.priceMsatPerWh > config.maxPriceMsatPerWh) {
    return no(Reason.PRICE_TOO_HIGH, `price ${offer.priceMsatPerWh} > ${config.maxPriceMsatPerWh} msat/Wh`);
  }
  if (offer.minBlockWh > config.maxBlockWh)
    return no(Reason.BLOCK_TOO_LARGE, `min block ${offer.minBlockWh} Wh`);
  const allowanceWh = prepaidAllowanceWh(config, history);
  const maxBlockWh = Math.min(
    config.maxBlockWh,
    offer.maxBlockWh,
    Math.floor(allowanceWh / offer.depositBlocks),
  );
  if (maxBlockWh < offer.minBlockWh) {
    if (allowanceWh < config.maxPrepaidWh) {
      return no(
        Reason.UNDELIVERED_CAP,
        `deposit of ${offer.depositBlocks} × ${offer.minBlockWh} Wh exceeds the ${allowanceWh} Wh left under the undelivered-energy caps (earlier sessions: ${history?.undeliveredWallWh ?? 0} Wh with this wall, ${history?.undeliveredTotalWh ?? 0} Wh overall)`,
      );
    }
    return no(
      Reason.PREPAID_TOO_HIGH,
      `deposit of ${offer.depositBlocks} × ${offer.minBlockWh} Wh exceeds prepaid limit`,
    );
  }
  const depositMsat = amountMsatForBlock(offer.priceMsatPerWh, offer.depositBlocks * offer.minBlockWh);
  if (depositMsat > config.sessionBudgetMsat)
    return no(Reason.SESSION_BUDGET, `deposit ${depositMsat} msat over budget`);
  if (spentTodayMsat + depositMsat > config.dailyBudgetMsat) {
    return no(Reason.DAILY_BUDGET, `deposit ${depositMsat} msat over today's remaining budget`);
  }
  return { accept: true, maxBlockWh };
}

/**
 * Money spent in the current budget day: earlier sessions' figure, this session's payments sent in the day
 * (amount + fee), and every undecided payment whatever its day (amount + fee limit).
 * @returns msat
 */
export function spentTodayMsat(s: BuyerBase): bigint {
  return s.spentEarlierTodayMsat + daySpendMsat(s.payments, s.budgetDayStartMs ?? -Infinity);
}

/** At the first event of a new budget day: earlier sessions' spending is yesterday's, the day starts at 0. */
function rollBudgetDay(s: BuyerBase, out: Effect[], atMs: number): void {
  if (s.budgetDayStartMs === null) return;
  const dayStartMs = budgetDayStartMs(atMs, s.config.budgetDayUtcOffsetMin);
  if (dayStartMs <= s.budgetDayStartMs) return;
  s.budgetDayStartMs = dayStartMs;
  s.spentEarlierTodayMsat = 0n;
  out.push(record('budgetDayStarted', { dayStartMs, spentTodayMsat: msat(spentTodayMsat(s)) }));
}

/**
 * Whether a failed attempt is paid again, and when: only while charging, for the wall's latest invoice, within
 * `payMaxAttempts`, in time before the invoice expires; `outage` always, `noRoute` within
 * `noRouteRetryWindowMs` of the node's last outage, `final` never.
 * @returns the time of the next attempt, ms, or null (final)
 */
function retryAtMs(s: BuyerState, p: BuyerPayment, kind: PaymentFailureKind, atMs: number): number | null {
  const c = s.config;
  if (s.phase !== 'charging' || kind === 'final' || p.bolt11 === '' || p.attempts >= c.payMaxAttempts)
    return null;
  if (kind === 'noRoute' && (s.nodeOutageMs === null || atMs - s.nodeOutageMs >= c.noRouteRetryWindowMs))
    return null;
  const delayMs = Math.min(c.payRetryMaxMs, c.payRetryFirstMs * 2 ** Math.min(30, p.attempts - 1));
  const at = atMs + delayMs;
  return at + c.invoiceExpiryMarginSec * 1000 < p.expiresAtMs ? at : null;
}

/**
 * Gives up payments waiting to be paid again (the session closes, or the wall sent a newer invoice in their
 * place): certainly unpaid, their energy is no longer committed.
 * @param beforeSeq only payments of invoices before this sequence number (Infinity: all)
 */
function abandonRetries(s: BuyerBase, beforeSeq: number, why: string, out: Effect[]): void {
  for (const p of giveUpRetries(s.payments, beforeSeq)) {
    s.committedWh -= p.blockWh;
    out.push(record('paymentSuperseded', { seq: p.seq, paymentHash: p.paymentHash, error: why }));
  }
}

/** Pays again every payment whose retry time has come (on tick). */
function retryDuePayments(s: BuyerState, out: Effect[], atMs: number): void {
  for (const p of dueRetries(s.payments, atMs)) {
    out.push(record('paymentRetry', { seq: p.seq, paymentHash: p.paymentHash, attempt: p.attempts + 1 }));
    out.push(nextAttempt(p));
  }
}

function send(s: BuyerKeyed, m: SealedMessage, out: Effect[], atMs: number): void {
  sendOnChannel(s, m, out, atMs);
}

function summary(s: BuyerBase) {
  return {
    sessionId: s.sessionId,
    energyWh: s.ownEnergyWh,
    paidMsat: s.paidMsat,
    feesMsat: s.feesMsat,
    invoices: paidPayments(s.payments).length,
  };
}

function end(s: BuyerState, reason: ReasonCode, out: Effect[], outcome: SessionOutcome): BuyerEnded {
  s.held = null;
  abandonRetries(s, Infinity, 'session ended', out);
  if (buyerKeyed(s) && s.phase !== 'authenticating') {
    // what the wall kept: energy paid (or in doubt) that the own meter never saw; the shell keeps it per wall
    const undeliveredWh = Math.max(0, s.committedWh - s.ownEnergyWh);
    const tolWh = meterToleranceWh(s.ownEnergyWh, s.config.meterToleranceWh, s.config.meterTolerancePpm);
    out.push(
      record('sessionOutcome', {
        wallPub: s.wallPub,
        paidWh: s.committedWh,
        deliveredWh: s.ownEnergyWh,
        undeliveredWh,
        ownerStopped: s.ownerStopped,
        strike: !s.ownerStopped && undeliveredWh > tolWh,
      }),
    );
  }
  const ended: BuyerEnded = { ...buyerBase(s), phase: 'ended', endReason: reason, wallPub: buyerPeer(s) };
  finishSession(ended, reason, summary(ended), out, outcome);
  return ended;
}

/** Sends stop (unless the wall stopped) and waits for the receipt. */
function close(
  s: BuyerState,
  reason: ReasonCode,
  out: Effect[],
  atMs: number,
  sendStop: boolean,
): BuyerState {
  if (!buyerAuthenticated(s)) return end(s, reason, out, endedBeforeAuthentication(reason));
  if (sendStop) send(s, stopMessage(reason), out, atMs);
  s.held = null;
  abandonRetries(s, Infinity, 'session closing', out);
  return { ...buyerBase(s), ...keysOf(s), phase: 'closing', endReason: reason, closingSinceMs: atMs };
}

function refuse(s: BuyerBase, inv: InvoiceMessage, reason: ReasonCode, text: string, out: Effect[]): void {
  out.push(record('invoiceRefused', { seq: inv.seq, reason: reasonName(reason), code: reason, text }));
  out.push({ type: 'alarm', reason, message: `invoice ${inv.seq} refused: ${text}` });
}

/** Wire reason for each way an invoice fails to decode. */
const DECODE_REASON: Record<InvoiceProblemName, ReasonCode> = {
  InvoiceMalformed: Reason.INVOICE_MALFORMED,
  InvoiceMissingAmount: Reason.INVOICE_MALFORMED,
  InvoiceAmbiguous: Reason.INVOICE_AMBIGUOUS,
  InvoiceUnsupported: Reason.INVOICE_UNSUPPORTED,
  InvoicePayeeMismatch: Reason.INVOICE_WRONG_PAYEE,
  InvoiceNetworkMismatch: Reason.INVOICE_WRONG_NETWORK,
  InvoiceAmountMismatch: Reason.INVOICE_AMOUNT_MISMATCH,
  InvoiceExpired: Reason.INVOICE_EXPIRED,
};

type InvoiceVerdict =
  | { action: 'pay'; paymentHash: string; maxFeeMsat: bigint; expiresAtMs: number }
  | { action: 'hold' }
  | { action: 'decline' | 'stop' | 'report'; reason: ReasonCode; text: string };

/**
 * The buyer's verdict on an invoice in its current state.
 * @param s buyer state (charging: the wall's key is known)
 * @param inv the invoice message
 * @param nowMs current time, ms
 * @returns pay (with fee limit), hold (prepaid bound), or a refusal: decline (wall may reissue), stop (end the
 *   session), report (duplicate: not paid, reported as error)
 */
export function evaluateInvoice(s: BuyerCharging, inv: InvoiceMessage, nowMs: number): InvoiceVerdict {
  const c = s.config;
  if (inv.seq <= s.lastSeq)
    return { action: 'report', reason: Reason.INVOICE_DUPLICATE, text: `sequence ${inv.seq} already seen` };
  const d = decodeInvoice(inv.bolt11);
  if (!d.ok) return { action: 'stop', reason: DECODE_REASON[d.error.name], text: d.error.message };
  const bolt = d.value;
  if (s.seenHashes.includes(bolt.paymentHash)) {
    return {
      action: 'report',
      reason: Reason.INVOICE_DUPLICATE,
      text: `payment hash ${bolt.paymentHash} already seen`,
    };
  }
  const payee = checkPayee(bolt, s.wallPub);
  if (!payee.ok) return { action: 'stop', reason: Reason.INVOICE_WRONG_PAYEE, text: payee.error.message };
  const net = checkNetwork(bolt, c.network);
  if (!net.ok) return { action: 'stop', reason: Reason.INVOICE_WRONG_NETWORK, text: net.error.message };
  const amt = checkAmount(bolt, inv.amountMsat);
  if (!amt.ok) return { action: 'stop', reason: Reason.INVOICE_AMOUNT_MISMATCH, text: amt.error.message };
  if (inv.blockWh < 1 || inv.blockWh > s.maxBlockWh) {
    return {
      action: 'stop',
      reason: Reason.INVOICE_BLOCK_TOO_LARGE,
      text: `block ${inv.blockWh} Wh, agreed ≤ ${s.maxBlockWh}`,
    };
  }
  const expected = invoiceTerms(s.schedule, s.committedWh, inv.blockWh);
  if (inv.priceMsatPerWh > expected.priceMsatPerWh || inv.amountMsat > expected.amountMsat) {
    return {
      action: 'stop',
      reason: Reason.INVOICE_OVERPRICED,
      text: `${inv.amountMsat} msat at ${inv.priceMsatPerWh} msat/Wh; agreed ${expected.amountMsat} msat at ${expected.priceMsatPerWh}`,
    };
  }
  const end = c.targetEnergyWh > 0 ? c.targetEnergyWh : Infinity;
  const stopAt = s.stopAtWh ?? Infinity;
  if (s.committedWh >= end || s.committedWh >= stopAt) {
    return {
      action: 'decline',
      reason: Reason.INVOICE_UNEXPECTED,
      text: 'no more energy wanted at these terms',
    };
  }
  const exp = checkUnexpired(bolt, nowMs, c.invoiceExpiryMarginSec);
  if (!exp.ok) return { action: 'decline', reason: Reason.INVOICE_EXPIRED, text: exp.error.message };
  const maxFeeMsat = feeLimitMsat(inv.amountMsat, c.maxFeeMsat, c.maxFeePpm);
  const inflight = undecidedMsat(s.payments);
  const sessionSpend = s.paidMsat + s.feesMsat + inflight + inv.amountMsat + maxFeeMsat;
  const daySpend = spentTodayMsat(s) + inv.amountMsat + maxFeeMsat;
  if (sessionSpend > c.sessionBudgetMsat || daySpend > c.dailyBudgetMsat) {
    return {
      action: 'stop',
      reason: Reason.INVOICE_OVER_BUDGET,
      text:
        sessionSpend > c.sessionBudgetMsat
          ? `would spend ${sessionSpend} msat this session`
          : `would spend ${daySpend} msat this budget day`,
    };
  }
  if (s.committedWh + inv.blockWh - s.ownEnergyWh > prepaidAllowanceWh(c, s.history))
    return { action: 'hold' };
  return { action: 'pay', paymentHash: bolt.paymentHash, maxFeeMsat, expiresAtMs: invoiceExpiresAtMs(bolt) };
}

function considerInvoice(s: BuyerCharging, inv: InvoiceMessage, out: Effect[], atMs: number): BuyerState {
  const earlier = s.payments.find((p) => p.seq === inv.seq && p.bolt11 === inv.bolt11);
  if (earlier !== undefined) {
    // a repeat of an invoice we already pay or paid (the wall restarted, or the link dropped): the same
    // invoice, so nothing more to do; its payment (or retry) goes on as before, never a second one
    out.push(
      record('invoiceRepeated', { seq: inv.seq, paymentHash: earlier.paymentHash, status: earlier.status }),
    );
    return s;
  }
  // the wall issues an invoice only when none is outstanding: a newer one means it withdrew the earlier
  if (inv.seq > s.lastSeq) abandonRetries(s, inv.seq, `the wall issued invoice ${inv.seq} in its place`, out);
  const v = evaluateInvoice(s, inv, atMs);
  switch (v.action) {
    case 'hold':
      if (s.held?.seq !== inv.seq) out.push(record('invoiceHeld', { seq: inv.seq, reason: 'prepaid limit' }));
      s.held = inv;
      s.lastSeq = Math.max(s.lastSeq, inv.seq - 1);
      return s;
    case 'report':
      refuse(s, inv, v.reason, v.text, out);
      send(s, { type: 'error', reason: v.reason, text: v.text.slice(0, 200) }, out, atMs);
      return s;
    case 'decline':
      refuse(s, inv, v.reason, v.text, out);
      s.lastSeq = Math.max(s.lastSeq, inv.seq);
      if (s.held?.seq === inv.seq) s.held = null;
      send(
        s,
        { type: 'decline', subject: 'invoice', ref: inv.seq, reason: v.reason, text: v.text.slice(0, 200) },
        out,
        atMs,
      );
      return s;
    case 'stop':
      refuse(s, inv, v.reason, v.text, out);
      s.lastSeq = Math.max(s.lastSeq, inv.seq);
      return close(
        s,
        v.reason === Reason.INVOICE_OVER_BUDGET ? Reason.BUDGET_SPENT : v.reason,
        out,
        atMs,
        true,
      );
    case 'pay': {
      s.held = null;
      s.lastSeq = inv.seq;
      s.seenHashes.push(v.paymentHash);
      s.committedWh += inv.blockWh;
      const p: BuyerPayment = {
        seq: inv.seq,
        paymentHash: v.paymentHash,
        blockWh: inv.blockWh,
        amountMsat: inv.amountMsat,
        maxFeeMsat: v.maxFeeMsat,
        status: 'inflight',
        feeMsat: null,
        bolt11: inv.bolt11,
        sentAtMs: atMs,
        expiresAtMs: v.expiresAtMs,
        attempts: 0,
        retryAtMs: null,
        lastFailure: null,
      };
      s.payments.push(p);
      out.push(
        record('paymentIntent', {
          seq: inv.seq,
          paymentHash: v.paymentHash,
          amountMsat: msat(inv.amountMsat),
          maxFeeMsat: msat(v.maxFeeMsat),
          blockWh: inv.blockWh,
        }),
      );
      out.push(nextAttempt(p));
      return s;
    }
  }
}

function startSession(s: BuyerState, entropyHex: string, out: Effect[], atMs: number): BuyerState {
  const secrets = deriveSessionSecrets(entropyHex);
  if (!secrets.ok) {
    out.push({ type: 'alarm', reason: Reason.LOCAL_FAULT, message: secrets.error.message });
    return s;
  }
  const session = s.config.identity.kind === 'session';
  const fresh: BuyerHandshake = {
    ...buyerBase(createBuyer(s.config)),
    phase: 'handshake',
    budgetDayStartMs: budgetDayStartMs(atMs, s.config.budgetDayUtcOffsetMin),
    ephemeralSecret: secrets.value.ephemeralSecret,
    identitySecret: session ? secrets.value.identitySecret : null,
    identityPub:
      s.config.identity.kind === 'session'
        ? secrets.value.identityPub
        : s.config.identity.nodePubkey.toLowerCase(),
    startMs: atMs,
    lastRxMs: atMs,
    lastTxMs: atMs,
  };
  out.push(record('plugged', { role: 'vehicle' }));
  const buffered = s.phase === 'idle' ? s.bufferedHello : null;
  return buffered !== null ? onHandshakeFrame(fresh, fromHex(buffered), out, atMs) : fresh;
}

function onHandshakeFrame(s: BuyerHandshake, bytes: Uint8Array, out: Effect[], atMs: number): BuyerState {
  const m = readClearFrame(bytes, 'sealed frame before hello', out);
  if (m === null) return s;
  if (m.type === 'clearError') {
    const what = isConnectorRefusal(m.reason) ? 'session' : 'handshake';
    return end(s, m.reason, out, {
      error: `wall refused the ${what} (${reasonName(m.reason)}): ${m.text}`,
    });
  }
  if (m.role !== 'wall') {
    rejectFrame(protocolError('UnexpectedMessage', 'hello from another vehicle'), out);
    return s;
  }
  s.lastRxMs = atMs;
  const h = s.history;
  if (h !== null && (h.wallPub !== m.identityPub.toLowerCase() || h.sessionId !== m.sessionId)) {
    const error = `ledger figures were supplied for wall ${h.wallPub} session ${h.sessionId}, not this hello`;
    out.push({ type: 'alarm', reason: Reason.LOCAL_FAULT, message: error });
    return end(s, Reason.LOCAL_FAULT, out, { error });
  }
  if (h?.sessionIdKnown === true) {
    // an earlier session's id: answering would mix this session into that one's ledger and receipt
    const text = `session id ${m.sessionId} was already used`;
    refuseHello(s, Reason.SESSION_ID_REUSED, text, out);
    out.push({ type: 'alarm', reason: Reason.SESSION_ID_REUSED, message: `wall ${m.identityPub}: ${text}` });
    return end(s, Reason.SESSION_ID_REUSED, out, { error: text });
  }
  const version = negotiateVersion(s.config.versions, m.versions);
  if (version === undefined) {
    const text = refuseVersions(s.config.versions, m.versions, s.config.versions, out);
    s.sessionId = m.sessionId;
    return end(s, Reason.VERSION_MISMATCH, out, { error: text });
  }
  const { ephemeralSecret, identityPub, identitySecret } = s;
  const hello: HelloMessage = {
    type: 'hello',
    role: 'vehicle',
    versions: s.config.versions,
    sessionId: m.sessionId,
    ephemeralPub: ephemeralPublicKey(ephemeralSecret),
    identityPub,
  };
  const frame = encodeClearFrame(hello);
  if (!frame.ok) return end(s, Reason.LOCAL_FAULT, out, { error: frame.error.message });
  const th = transcriptHash(version, bytes, frame.value);
  const channel = deriveChannel('vehicle', version, m.sessionId, ephemeralSecret, m.ephemeralPub, th);
  if (!channel.ok) return end(s, Reason.HANDSHAKE_FAILED, out, { error: channel.error.message });
  out.push({ type: 'send', frame: frame.value, message: hello });
  s.lastTxMs = atMs;
  const next: BuyerAuthenticating = {
    ...buyerBase(s),
    phase: 'authenticating',
    sessionId: m.sessionId,
    startMs: s.startMs,
    wallPub: m.identityPub,
    wallDelegation: null,
    wallHelloFrame: toHex(bytes),
    ownHelloFrame: toHex(frame.value),
    version,
    th: toHex(th),
    channel: channel.value,
    ownAuthSent: false,
    pendingSign: null,
  };
  out.push(record('versionNegotiated', { version, sessionId: m.sessionId, wallPub: m.identityPub }));
  const text = handshakeText(version, 'vehicle', th);
  if (identitySecret !== null) {
    // the per-session identity: signed here
    const sig = signNodeMessage(text, identitySecret);
    next.ownAuthSent = true;
    send(next, { type: 'auth', signature: sig.signatureHex }, out, atMs);
  } else {
    next.pendingSign = text;
    out.push({ type: 'signWithNodeKey', text });
  }
  return next;
}

/** Answers a wall's hello with a clear refusal (before any channel exists). */
function refuseHello(s: BuyerState, reason: ReasonCode, text: string, out: Effect[]): void {
  sendClearError(reason, s.config.versions, text, out);
}

function checkMeters(s: BuyerState, out: Effect[], atMs: number): BuyerState {
  if (s.phase !== 'charging') return s;
  const tol = meterToleranceWh(s.ownEnergyWh, s.config.meterToleranceWh, s.config.meterTolerancePpm);
  if (s.wallEnergyWh - s.ownEnergyWh > tol) {
    out.push({
      type: 'alarm',
      reason: Reason.METER_MISMATCH,
      message: `wall claims ${s.wallEnergyWh} Wh, own meter ${s.ownEnergyWh} Wh (tolerance ${tol} Wh)`,
    });
    return close(s, Reason.METER_MISMATCH, out, atMs, true);
  }
  if (s.config.targetEnergyWh > 0 && s.ownEnergyWh >= s.config.targetEnergyWh) {
    s.ownerStopped = true;
    return close(s, Reason.TARGET_REACHED, out, atMs, true);
  }
  return s.held !== null ? considerInvoice(s, s.held, out, atMs) : s;
}

/**
 * The wall announces a delegate key (its node is unreachable): kept when its node key signed it and it has not
 * expired by our clock; otherwise refused by name (the delegate's signatures then do not count).
 */
function onDelegation(s: BuyerKeyed, m: DelegationMessage, out: Effect[], atMs: number): BuyerState {
  const { type: _type, ...delegation } = m;
  const problem = delegationProblem(s.wallPub, delegation, atMs);
  if (problem !== null) {
    out.push({
      type: 'alarm',
      reason: Reason.HANDSHAKE_FAILED,
      message: `wall delegation refused: ${problem}`,
    });
    out.push(record('delegationRefused', { delegatePub: m.delegatePub, refusal: problem }));
    return s;
  }
  s.wallDelegation = delegation;
  out.push(record('delegationAccepted', { delegatePub: m.delegatePub, untilMs: m.untilMs }));
  return s;
}

function onReceipt(s: BuyerKeyed, r: ReceiptMessage, out: Effect[], atMs: number): BuyerState {
  const v = verifyReceipt(s.version, r, {
    sellerPub: s.wallPub,
    sessionId: s.sessionId,
    ...(s.wallDelegation ? { delegation: s.wallDelegation, atMs } : {}),
  });
  if (!v.ok) {
    out.push({ type: 'alarm', reason: Reason.RECEIPT_INVALID, message: v.error.message });
    return end(s, Reason.RECEIPT_INVALID, out, {
      error: `receipt rejected: ${v.error.name}: ${v.error.message}`,
    });
  }
  // kept with the receipt: its signature may be the delegate key's, which verifies only under the delegation
  const received = { receipt: r, ...(s.wallDelegation ? { delegation: s.wallDelegation } : {}) };
  const listed = new Map(r.invoices.map((i) => [i.paymentHash, i.amountMsat]));
  const missing = s.payments.filter((p) => p.status === 'paid' && listed.get(p.paymentHash) !== p.amountMsat);
  out.push(
    record('receipt', { sessionId: r.sessionId, totalPaidMsat: msat(r.totalPaidMsat), energyWh: r.energyWh }),
  );
  if (missing.length > 0) {
    const error = `receipt omits or misstates ${missing.length} paid invoice(s): ${missing.map((p) => p.seq).join(',')}`;
    out.push({ type: 'alarm', reason: Reason.RECEIPT_INVALID, message: error });
    return end(s, r.reason, out, { ...received, error });
  }
  return end(s, r.reason, out, received);
}

/** Our `accept` of the offer (`offerSeq` 0) or of a renewal. */
function acceptMessage(s: BuyerBase, offerSeq: number): SealedMessage {
  return { type: 'accept', offerSeq, targetEnergyWh: s.config.targetEnergyWh, maxBlockWh: s.maxBlockWh };
}

/** Our `decline` of a renewal whose price is above our maximum (or beyond what a ledger stores). */
function renewDecline(s: BuyerBase, offerSeq: number, priceMsatPerWh: bigint): SealedMessage {
  const tooHigh = priceMsatPerWh > s.config.maxPriceMsatPerWh;
  return {
    type: 'decline',
    subject: 'offer',
    ref: offerSeq,
    reason: tooHigh ? Reason.PRICE_TOO_HIGH : Reason.VALUE_OUT_OF_RANGE,
    text: 'renewed price too high',
  };
}

/** Whether two messages of primitive fields (numbers, bigints, strings) are the same, field by field. */
function sameMessage<M extends object>(a: M, b: M): boolean {
  const ka = Object.keys(a) as (keyof M)[];
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

function unexpected(s: BuyerKeyed, m: SealedMessage, out: Effect[], atMs: number): BuyerState {
  send(s, unexpectedMessage(m, s.phase, out), out, atMs);
  return s;
}

function onAuthenticating(s: BuyerAuthenticating, m: SealedMessage, out: Effect[], atMs: number): BuyerState {
  if (m.type !== 'auth') return unexpected(s, m, out, atMs);
  const text = handshakeText(s.version, 'wall', fromHex(s.th));
  const problem = signedForNode(text, m.signature, s.wallPub, s.wallDelegation, atMs);
  if (problem !== null) {
    out.push({
      type: 'alarm',
      reason: Reason.HANDSHAKE_FAILED,
      message: `wall signature invalid: ${problem}`,
    });
    send(s, { type: 'stop', reason: Reason.HANDSHAKE_FAILED, text: 'wall signature invalid' }, out, atMs);
    return end(s, Reason.HANDSHAKE_FAILED, out, {
      error: `wall authentication failed: ${problem}`,
    });
  }
  out.push(record('wallAuthenticated', { wallPub: s.wallPub }));
  return { ...buyerBase(s), ...keysOf(s), phase: 'negotiating' };
}

function onSealed(s: BuyerKeyed, m: SealedMessage, out: Effect[], atMs: number): BuyerState {
  if (m.type === 'ping' && s.phase !== 'authenticating') {
    send(s, { type: 'pong', atMs: m.atMs }, out, atMs);
    return s;
  }
  if (m.type === 'pong') return s;
  if (m.type === 'delegation' && messageInVersion('delegation', s.version))
    return onDelegation(s, m, out, atMs);
  if (s.phase === 'authenticating') return onAuthenticating(s, m, out, atMs);
  if (s.phase === 'closing') return m.type === 'receipt' ? onReceipt(s, m, out, atMs) : s;
  switch (m.type) {
    case 'offer': {
      if (s.phase === 'charging' && m.offerSeq === 0 && sameMessage(s.offer, m)) {
        // a repeat of the offer we accepted (our accept was lost, or the wall restarted): accept it again
        out.push(record('offerRepeated', { offerSeq: 0 }));
        send(s, acceptMessage(s, 0), out, atMs);
        return s;
      }
      if (s.phase !== 'negotiating' || m.offerSeq !== 0) return unexpected(s, m, out, atMs);
      const v = evaluateOffer(s.config, m, s.history, atMs, spentTodayMsat(s));
      if (!v.accept) {
        out.push(record('offerDeclined', { reason: reasonName(v.reason), text: v.text }));
        send(
          s,
          { type: 'decline', subject: 'offer', ref: 0, reason: v.reason, text: v.text.slice(0, 200) },
          out,
          atMs,
        );
        return close(s, v.reason, out, atMs, false);
      }
      const charging: BuyerCharging = {
        ...buyerBase(s),
        ...keysOf(s),
        phase: 'charging',
        offer: m,
        schedule: [{ fromWh: 0, priceMsatPerWh: m.priceMsatPerWh }],
        maxBlockWh: v.maxBlockWh,
      };
      out.push(record('offerAccepted', { priceMsatPerWh: msat(m.priceMsatPerWh), maxBlockWh: v.maxBlockWh }));
      send(charging, acceptMessage(charging, 0), out, atMs);
      return charging;
    }
    case 'renew': {
      const lastFromWh = s.schedule[s.schedule.length - 1]?.fromWh ?? 0;
      if (s.phase === 'charging' && m.offerSeq > 0 && m.offerSeq === s.offerSeq) {
        // a repeat of the renewal we answered: the same answer again
        out.push(record('renewRepeated', { offerSeq: m.offerSeq }));
        const accepted = s.schedule.some(
          (seg) => seg.fromWh === m.effectiveAtWh && seg.priceMsatPerWh === m.priceMsatPerWh,
        );
        send(
          s,
          accepted ? acceptMessage(s, m.offerSeq) : renewDecline(s, m.offerSeq, m.priceMsatPerWh),
          out,
          atMs,
        );
        return s;
      }
      if (
        s.phase !== 'charging' ||
        m.offerSeq !== s.offerSeq + 1 ||
        m.effectiveAtWh < s.committedWh ||
        m.effectiveAtWh < lastFromWh
      ) {
        return unexpected(s, m, out, atMs);
      }
      s.offerSeq = m.offerSeq;
      const tooHigh = m.priceMsatPerWh > s.config.maxPriceMsatPerWh;
      if (tooHigh || m.priceMsatPerWh > MAX_LEDGER_MSAT) {
        s.stopAtWh = m.effectiveAtWh;
        out.push(record('renewDeclined', { offerSeq: m.offerSeq, priceMsatPerWh: msat(m.priceMsatPerWh) }));
        send(s, renewDecline(s, m.offerSeq, m.priceMsatPerWh), out, atMs);
        return s;
      }
      s.schedule = [...s.schedule, { fromWh: m.effectiveAtWh, priceMsatPerWh: m.priceMsatPerWh }];
      out.push(record('renewAccepted', { offerSeq: m.offerSeq, effectiveAtWh: m.effectiveAtWh }));
      send(s, acceptMessage(s, m.offerSeq), out, atMs);
      return s;
    }
    case 'invoice':
      if (s.phase !== 'charging') {
        out.push(
          record('invoiceRefused', {
            seq: m.seq,
            reason: 'INVOICE_UNEXPECTED',
            code: Reason.INVOICE_UNEXPECTED,
            text: 'no accepted offer',
          }),
        );
        send(
          s,
          {
            type: 'decline',
            subject: 'invoice',
            ref: m.seq,
            reason: Reason.INVOICE_UNEXPECTED,
            text: 'no accepted offer',
          },
          out,
          atMs,
        );
        return s;
      }
      return considerInvoice(s, m, out, atMs);
    case 'meter':
      s.wallEnergyWh = m.energyWh;
      return checkMeters(s, out, atMs);
    case 'stop':
      out.push(record('wallStopped', { reason: reasonName(m.reason), text: m.text }));
      return close(s, m.reason, out, atMs, false);
    case 'receipt':
      return onReceipt(s, m, out, atMs);
    case 'error':
      out.push({ type: 'alarm', reason: m.reason, message: `wall error: ${m.text}` });
      if (m.reason === Reason.PROMISE_REFUSED) return onPromiseRefused(s, m.text, out);
      return s;
    default:
      return unexpected(s, m, out, atMs);
  }
}

/**
 * Whether a payment that failed for lack of a route may be promised to the wall instead (offline case 3): a
 * version-3 session while charging, the node's identity (the wall holds the node key to the promise), and the
 * owner's `promiseMaxMsat` not exceeded by what earlier sessions and this one owe.
 */
function canPromise(s: BuyerState, p: BuyerPayment): s is BuyerCharging {
  if (s.phase !== 'charging' || s.config.promiseMaxMsat <= 0n || s.config.identity.kind !== 'node')
    return false;
  if (!messageInVersion('promise', s.version)) return false;
  return s.promisedEarlierMsat + promisedMsat(s.payments) + p.amountMsat <= s.config.promiseMaxMsat;
}

/** The terms of a payment's promise in this session. */
function promiseTermsOf(
  s: BuyerKeyed & { config: { identity: { kind: 'node'; nodePubkey: string } } },
  p: BuyerPayment,
): PromiseTerms {
  return {
    sessionId: s.sessionId,
    sellerPub: s.wallPub,
    buyerPub: s.config.identity.nodePubkey,
    seq: p.seq,
    paymentHash: p.paymentHash,
    amountMsat: p.amountMsat,
  };
}

/**
 * Promises a payment the node could not make (offline case 3): the energy stays committed, the money owed; the
 * node signs the promise (`signWithNodeKey`, answered by `nodeSignature`), which is then sent. The shell keeps
 * the invoice (record `paymentPromised`) and pays it once the node is back online.
 */
function promisePayment(s: BuyerCharging, p: BuyerPayment, out: Effect[]): BuyerState {
  const identity = s.config.identity;
  if (identity.kind !== 'node') return s;
  p.status = 'promised';
  p.retryAtMs = null;
  out.push(
    record('paymentPromised', {
      seq: p.seq,
      paymentHash: p.paymentHash,
      amountMsat: msat(p.amountMsat),
      maxFeeMsat: msat(p.maxFeeMsat),
      blockWh: p.blockWh,
      bolt11: p.bolt11,
      expiresAtMs: p.expiresAtMs,
      wallPub: s.wallPub,
    }),
  );
  out.push({
    type: 'signWithNodeKey',
    text: promiseText(promiseTermsOf({ ...s, config: { ...s.config, identity } }, p)),
  });
  return s;
}

/** The node signed a promise: send it to the wall (a signature for anything else is ignored). */
function onPromiseSignature(
  s: BuyerCharging | BuyerClosing,
  text: string,
  signature: string,
  out: Effect[],
  atMs: number,
): BuyerState {
  const identity = s.config.identity;
  const p =
    identity.kind === 'node'
      ? s.payments.find(
          (x) =>
            x.status === 'promised' &&
            promiseText(promiseTermsOf({ ...s, config: { ...s.config, identity } }, x)) === text,
        )
      : undefined;
  if (p === undefined || identity.kind !== 'node') {
    out.push(record('signatureIgnored', { text }));
    return s;
  }
  const norm = checkOwnNodeSignature(text, signature, identity.nodePubkey);
  if (!norm.ok) {
    const message = `node signature does not match the configured node key`;
    out.push({ type: 'alarm', reason: Reason.LOCAL_FAULT, message });
    return end(s, Reason.LOCAL_FAULT, out, { error: message });
  }
  send(
    s,
    {
      type: 'promise',
      seq: p.seq,
      paymentHash: p.paymentHash,
      amountMsat: p.amountMsat,
      signature: norm.value,
    },
    out,
    atMs,
  );
  out.push(record('promiseSent', { seq: p.seq, paymentHash: p.paymentHash }));
  return s;
}

/**
 * The wall refused a promise: that payment is not owed (the wall withdraws the invoice). No further block is
 * paid or promised in this session (`stopAtWh`); the wall ends it once the energy already credited is delivered.
 */
function onPromiseRefused(s: BuyerKeyed, text: string, out: Effect[]): BuyerState {
  const seq = refusedPromiseSeq(text);
  const p = s.payments.find((x) => x.seq === seq && x.status === 'promised');
  if (p === undefined) return s;
  p.status = 'failed';
  s.committedWh -= p.blockWh;
  s.stopAtWh = Math.min(s.stopAtWh ?? Infinity, s.committedWh);
  out.push(record('promiseRefused', { seq: p.seq, paymentHash: p.paymentHash, text }));
  return s;
}

/**
 * Between sessions, the wall's clear refusal of any session on its connector (busy, out of service, faulted):
 * the car's session ends at once with that reason (nothing is paid); a later hello starts a new one. Other clear
 * errors between sessions are ignored.
 * @returns the ended state when the frame was such a refusal, else null
 */
function connectorRefusal(s: BuyerState, bytes: Uint8Array, out: Effect[], atMs: number): BuyerEnded | null {
  const p = parseFrame(bytes);
  if (!p.ok || p.value.kind !== 'clear' || p.value.message.type !== 'clearError') return null;
  const m = p.value.message;
  if (!isConnectorRefusal(m.reason)) return null;
  const fresh: BuyerIdle = { ...createBuyer(s.config), startMs: atMs };
  out.push(record('sessionRefused', { reason: reasonName(m.reason), text: m.text }));
  return end(fresh, m.reason, out, {
    error: `wall refused the session (${reasonName(m.reason)}): ${m.text}`,
  });
}

function onFrame(s: BuyerState, bytes: Uint8Array, out: Effect[], atMs: number): BuyerState {
  if (s.phase === 'idle' || s.phase === 'ended') {
    const refused = connectorRefusal(s, bytes, out, atMs);
    if (refused !== null) return refused;
  }
  if (s.phase === 'idle') {
    const p = parseFrame(bytes);
    if (
      p.ok &&
      p.value.kind === 'clear' &&
      p.value.message.type === 'hello' &&
      p.value.message.role === 'wall'
    ) {
      s.bufferedHello = toHex(bytes);
      out.push(record('helloBuffered', { sessionId: p.value.message.sessionId }));
    }
    return s;
  }
  if (s.phase === 'ended') return s;
  if (s.phase === 'handshake') return onHandshakeFrame(s, bytes, out, atMs);
  const opened = openOnChannel(s, bytes, out, atMs);
  if (!opened.ok) {
    if (s.phase === 'authenticating' && toHex(bytes) === s.wallHelloFrame) {
      // the wall repeats its hello: it did not get ours; answer again with the same bytes
      resendClearFrame(s.ownHelloFrame, out);
      return s;
    }
    rejectFrame(opened.error, out);
    return s;
  }
  return onSealed(s, opened.value, out, atMs);
}

function onTick(s: BuyerState, out: Effect[], atMs: number): BuyerState {
  const c = s.config;
  if (s.phase === 'handshake' || s.phase === 'authenticating') {
    if (waitedLonger(s.startMs, atMs, c.handshakeTimeoutMs))
      return end(s, Reason.HANDSHAKE_TIMEOUT, out, { error: 'handshake timed out' });
    return s;
  }
  if (s.phase === 'closing') {
    if (waitedLonger(s.closingSinceMs, atMs, c.receiptTimeoutMs))
      return end(s, s.endReason, out, { error: 'no receipt from the wall' });
    return s;
  }
  if (!buyerAuthenticated(s)) return s;
  if (peerSilent(s, atMs, c.heartbeatTimeoutMs)) {
    out.push({ type: 'alarm', reason: Reason.HEARTBEAT_LOST, message: 'no message from the wall' });
    send(s, { type: 'stop', reason: Reason.HEARTBEAT_LOST, text: 'heartbeat lost' }, out, atMs);
    return end(s, Reason.HEARTBEAT_LOST, out, { error: 'heartbeat lost: no receipt' });
  }
  if (pingDue(s, atMs, c.heartbeatTimeoutMs)) send(s, { type: 'ping', atMs }, out, atMs);
  retryDuePayments(s, out, atMs);
  return s.phase === 'charging' && s.held !== null ? considerInvoice(s, s.held, out, atMs) : s;
}

/**
 * The one place where events are dispatched: each event's handler returns the next state (a transition builds
 * the next phase's variant).
 */
function handle(s: BuyerState, ev: BuyerEvent, out: Effect[]): BuyerState {
  const atMs = ev.atMs;
  if (!idleOrEnded(s.phase)) rollBudgetDay(s, out, atMs);
  switch (ev.type) {
    case 'plug':
      return plugStartsSession(s.phase, out) ? startSession(s, ev.entropyHex, out, atMs) : s;
    case 'unplug':
      if (s.phase === 'idle') s.bufferedHello = null;
      if (s.phase === 'idle' || s.phase === 'ended') return s;
      return end(s, Reason.UNPLUGGED, out, { error: 'unplugged: no receipt received' });
    case 'frame':
      return onFrame(s, ev.bytes, out, atMs);
    case 'meter':
      if (!acceptMeterEvent(ev, out) || idleOrEnded(s.phase)) return s;
      s.ownEnergyWh = sessionEnergyWh(s, ev, s.ownEnergyWh);
      if (buyerAuthenticated(s)) {
        const report = dueMeterReport(s, ev, s.ownEnergyWh, s.config.meterReportIntervalMs);
        if (report !== null) send(s, report, out, atMs);
      }
      return checkMeters(s, out, atMs);
    case 'linkUp':
    case 'linkDown':
      out.push(record(ev.type, { phase: s.phase }));
      return s;
    case 'tick':
      return onTick(s, out, atMs);
    case 'nodeSignature': {
      if (s.phase === 'charging' || s.phase === 'closing')
        return onPromiseSignature(s, ev.text, ev.signature, out, atMs);
      if (
        s.phase !== 'authenticating' ||
        s.pendingSign === null ||
        s.pendingSign !== ev.text ||
        s.config.identity.kind !== 'node'
      ) {
        out.push(record('signatureIgnored', { text: ev.text }));
        return s;
      }
      const norm = checkOwnNodeSignature(ev.text, ev.signature, s.config.identity.nodePubkey);
      if (!norm.ok) {
        const message = `node signature does not match the configured node key`;
        out.push({ type: 'alarm', reason: Reason.LOCAL_FAULT, message });
        return end(s, Reason.LOCAL_FAULT, out, { error: message });
      }
      s.pendingSign = null;
      s.ownAuthSent = true;
      send(s, { type: 'auth', signature: norm.value }, out, atMs);
      return s;
    }
    case 'stopRequest':
      if (!stoppable(s.phase)) return s;
      s.ownerStopped = true;
      return close(s, ev.reason, out, atMs, true);
    case 'history':
      if (s.phase !== 'handshake') {
        out.push(record('historyIgnored', { phase: s.phase }));
        return s;
      }
      s.history = {
        wallPub: ev.wallPub.toLowerCase(),
        sessionId: ev.sessionId,
        undeliveredWallWh: ev.undeliveredWallWh,
        undeliveredTotalWh: ev.undeliveredTotalWh,
        backoffUntilMs: ev.backoffUntilMs,
        sessionIdKnown: ev.sessionIdKnown,
      };
      if (typeof ev.spentTodayMsat === 'bigint' && ev.spentTodayMsat >= 0n)
        s.spentEarlierTodayMsat = ev.spentTodayMsat;
      if (typeof ev.promisedOutstandingMsat === 'bigint' && ev.promisedOutstandingMsat >= 0n)
        s.promisedEarlierMsat = ev.promisedOutstandingMsat;
      out.push(
        record('history', {
          wallPub: s.history.wallPub,
          undeliveredWallWh: ev.undeliveredWallWh,
          undeliveredTotalWh: ev.undeliveredTotalWh,
          backoffUntilMs: ev.backoffUntilMs,
          sessionIdKnown: ev.sessionIdKnown,
          spentTodayMsat: msat(s.spentEarlierTodayMsat),
        }),
      );
      return s;
    case 'nodeReachable':
      s.nodeOutageMs = atMs;
      out.push(record('nodeReachable', { phase: s.phase }));
      return s;
    case 'paymentResult': {
      const hash = ev.paymentHash.toLowerCase();
      const p = s.payments.find((x) => x.paymentHash === hash && x.status === 'inflight');
      if (p === undefined) {
        out.push(record('paymentResultIgnored', { paymentHash: hash }));
        return s;
      }
      if (!ev.ok && ev.refusedReason !== undefined) {
        // never handed to the node: certainly unpaid, and the invoice is a protocol error of the wall
        p.status = 'failed';
        s.committedWh -= p.blockWh;
        const text = ev.error ?? reasonName(ev.refusedReason);
        out.push(
          record('invoiceRefused', {
            seq: p.seq,
            reason: reasonName(ev.refusedReason),
            code: ev.refusedReason,
            text,
          }),
        );
        out.push({ type: 'alarm', reason: ev.refusedReason, message: `invoice ${p.seq} refused: ${text}` });
        return stoppable(s.phase) ? close(s, ev.refusedReason, out, atMs, true) : s;
      }
      if (ev.ok) {
        p.status = 'paid';
        p.feeMsat = ev.feeMsat ?? 0n;
        s.paidMsat += p.amountMsat;
        s.feesMsat += p.feeMsat;
        s.consecutiveFailures = 0;
        out.push(
          record('paymentSucceeded', {
            seq: p.seq,
            paymentHash: hash,
            amountMsat: msat(p.amountMsat),
            feeMsat: msat(p.feeMsat),
          }),
        );
        const preimage =
          typeof ev.preimage === 'string' && /^[0-9a-fA-F]{64}$/.test(ev.preimage)
            ? ev.preimage.toLowerCase()
            : null;
        if (preimage !== null && (s.phase === 'charging' || s.phase === 'closing')) {
          send(
            s,
            paymentReport(s.version, { seq: p.seq, paymentHash: hash, preimage, paidAtMs: atMs }),
            out,
            atMs,
          );
        }
      } else {
        const kind = ev.failure ?? 'final';
        p.lastFailure = kind;
        if (kind === 'outage') s.nodeOutageMs = atMs;
        const superseded = p.seq < Math.max(s.lastSeq, s.held?.seq ?? -1);
        const again = superseded ? null : retryAtMs(s, p, kind, atMs);
        if (again !== null) {
          // certainly unpaid, still wanted: paid again later (the energy stays committed, the money in doubt)
          p.status = 'retrying';
          p.retryAtMs = again;
          out.push(
            record('paymentRetryScheduled', {
              seq: p.seq,
              paymentHash: hash,
              failure: kind,
              attempt: p.attempts,
              retryAtMs: again,
              error: ev.error ?? null,
            }),
          );
          return s;
        }
        if (!superseded && kind === 'noRoute' && canPromise(s, p)) return promisePayment(s, p, out);
        p.status = 'failed';
        s.committedWh -= p.blockWh;
        if (superseded) {
          // The wall has since sent a newer invoice in its place (it cancels and reissues an invoice left unpaid
          // while the power is cut, e.g. during an outage of this car's node): the failure says nothing about
          // our ability to pay, so it neither counts towards PAYMENT_FAILED nor is declined.
          out.push(record('paymentSuperseded', { seq: p.seq, paymentHash: hash, error: ev.error ?? null }));
          return s;
        }
        s.consecutiveFailures += 1;
        out.push(record('paymentFailed', { seq: p.seq, paymentHash: hash, error: ev.error ?? null }));
        out.push({
          type: 'alarm',
          reason: Reason.PAYMENT_FAILED,
          message: `payment of invoice ${p.seq} failed: ${ev.error ?? ''}`,
        });
        if (s.phase === 'charging') {
          send(
            s,
            {
              type: 'decline',
              subject: 'invoice',
              ref: p.seq,
              reason: Reason.PAYMENT_FAILED,
              text: (ev.error ?? 'payment failed').slice(0, 200),
            },
            out,
            atMs,
          );
          if (s.consecutiveFailures >= s.config.maxConsecutivePaymentFailures)
            return close(s, Reason.PAYMENT_FAILED, out, atMs, true);
        }
      }
      return s;
    }
  }
}

/**
 * One step of the buyer machine. Pure: the input state is not modified.
 * @param state current state (from `createBuyer` or a previous step)
 * @param event what happened (see `BuyerEvent`)
 * @returns the next state and the effects to execute in order
 */
export function buyerStep(state: BuyerState, event: BuyerEvent): Step<BuyerState> {
  return pureStep(state, event, handle);
}
