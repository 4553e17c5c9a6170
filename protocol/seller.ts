/**
 * The wall's (seller's) session machine: `sellerStep(state, event) → { state, effects }`, pure.
 *
 * Phases: idle → handshake (hello sent) → authenticating (keys derived, signatures exchanged) → offered →
 * deposit (accepted; invoices for the deposit, power off) → charging (power on) ⇄ suspended (power cut for
 * lack of payment, `resumeWhenPaid`) → closing (stop sent, power cut, receipt being signed) → ended.
 * Any phase → ended directly when the session never got authenticated (with an explicit error).
 *
 * Rules: no power before the deposit (depositBlocks × block) is paid and a meter reading exists; power is cut
 * as soon as delivered ≥ paid + graceWh; one invoice outstanding at a time, issued when paid − delivered falls
 * below depositBlocks × block; heartbeat loss ends the session; every authenticated session ends with a
 * signed receipt.
 *
 * Rules on the clock (deadlines are timestamps in the state, acted on by `tick` events; the shell keeps no
 * timers for them): while suspended, an invoice unpaid `reissueAfterSec` after issue is cancelled and reissued,
 * and after `maxSuspendSec` the session ends (UNPAID); an invoice the node failed to create is requested again
 * after `invoiceRetryFirstMs`, doubling up to `invoiceRetryMaxMs`; a handshake that timed out while the car stays
 * plugged in is retried (`greetAgain` effect → the shell's `plug` event) after `regreetFirstMs`, doubling up to
 * `regreetMaxMs`.
 */
import { fromHex, toHex } from './bytes.js';
import type { ChannelState } from './channel.js';
import type { SellerConfig } from './config.js';
import type { Effect, SellerEvent, Step } from './effects.js';
import { fail, ok, protocolError, type Result } from './errors.js';
import { encodeClearFrame, parseFrame } from './frame.js';
import {
  deriveChannel,
  deriveSessionSecrets,
  handshakeText,
  negotiateVersion,
  transcriptHash,
} from './handshake.js';
import { decodeInvoice } from './bolt11.js';
import {
  MAX_RECEIPT_INVOICES,
  messageInVersion,
  type InvoiceMessage,
  type OfferMessage,
  type ReceiptMessage,
  type SealedMessage,
} from './messages.js';
import { normaliseSignature, verifyNodeSignature } from './nodeSignature.js';
import { onPaymentProof, refuseProof } from './paymentProof.js';
import { onPromise, type PromiseContext } from './promise.js';
import { signedForNode, type Delegation } from './delegation.js';
import { isConnectorRefusal, Reason, reasonName, type ReasonCode } from './reasons.js';
import { receiptText, type UnsignedReceipt } from './receipt.js';
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
import { blockWhForPower, invoiceTerms, type PriceSegment } from './tariff.js';
import {
  cancelOutstanding,
  invoiceByHash,
  isPromised,
  outstandingInvoice,
  receiptLines,
  requestInvoice,
  settledInvoices,
  type SellerInvoice,
} from './invoiceBook.js';

export type { SellerInvoice } from './invoiceBook.js';

/** Seller phases, in session order. */
export const SELLER_PHASES = [
  'idle',
  'handshake',
  'authenticating',
  'offered',
  'deposit',
  'charging',
  'suspended',
  'closing',
  'ended',
] as const;
/** Seller phases. */
export type SellerPhase = (typeof SELLER_PHASES)[number];

/**
 * What the seller keeps in every phase (JSON-serialisable with `serializeState`): its configuration, the
 * session's terms and counters (reset at each session's start), the clock rules' deadlines that span phases and
 * sessions, and what the shell and the status page read. A phase's own data lives only in its variant of
 * `SellerState`.
 */
export interface SellerBase {
  config: SellerConfig;
  /** The session's id (hex); null before the first session, kept after a session ends for the records. */
  sessionId: string | null;
  offerSeq: number;
  schedule: PriceSegment[];
  pendingRenew: { offerSeq: number; priceMsatPerWh: bigint; effectiveAtWh: number } | null;
  /** Renewal declined (or a promise cap reached): the session ends when delivered energy reaches this, Wh. */
  stopAtWh: number | null;
  /** Why the session ends at `stopAtWh` (null: RENEWAL_DECLINED). */
  stopReason: ReasonCode | null;
  /** Buyer's target energy (0 none) and largest block, from its accept. */
  targetEnergyWh: number;
  buyerMaxBlockWh: number;
  startRegisterWh: number | null;
  lastRegisterWh: number | null;
  /** Energy delivered in the session by the wall's meter, Wh. */
  deliveredWh: number;
  powerW: number;
  /** Energy paid for (sum of settled blocks), Wh. */
  paidWh: number;
  /** Sum of settled amounts, msat. */
  paidMsat: bigint;
  invoices: SellerInvoice[];
  consecutiveDeclines: number;
  /** No invoice is requested before this time (the node failed to create the last one), ms; null = no wait. */
  invoiceRetryAtMs: number | null;
  /** Wait after the next invoice-creation failure, ms (doubles per failure up to `invoiceRetryMaxMs`). */
  invoiceRetryDelayMs: number;
  /** The car is plugged in (plug seen, unplug not yet): a timed-out handshake is retried while it is. */
  plugged: boolean;
  /** Greet the plugged-in car again (`greetAgain` effect) at this time, ms; null = not scheduled. */
  regreetAtMs: number | null;
  /** Wait before the next re-greeting after a further handshake timeout, ms (doubles up to `regreetMaxMs`). */
  regreetDelayMs: number;
  /** The power is on (only while `charging`). */
  energized: boolean;
  linkUp: boolean;
  /** When the session started, ms; null before the first session. */
  startMs: number | null;
  lastRxMs: number;
  lastTxMs: number;
  lastMeterSentMs: number | null;
  /** The vehicle's latest own meter reading (session Wh), for display and disputes. */
  vehicleEnergyWh: number | null;
  /**
   * Request→settle latencies of the last `LATENCY_SAMPLES` settled invoices, ms (oldest first; kept across
   * sessions: they measure the two nodes and the cable, not the car). Sizes the pipelining depth
   * (`adaptiveRefill`).
   */
  settleLatenciesMs: number[];
  /**
   * Offline case 3 (protocol/promise.ts): energy credited on the car's promises in this session and not paid
   * yet, Wh.
   */
  promisedWh: number;
  /**
   * The car's unpaid promises from earlier sessions (by its identity key) and all cars' (site), Wh, from the
   * store (`promisesOutstanding`, answering `lookupPromises`); null until known (promises are then refused).
   */
  promisesEarlier: { carWh: number; siteWh: number } | null;
}

/** The negotiated session keys, present from `authenticating` to `closing`. */
export interface SellerKeys {
  sessionId: string;
  startMs: number;
  version: number;
  /** Transcript hash, hex. */
  th: string;
  channel: ChannelState;
  vehiclePub: string;
}

/** No session yet (or the daemon's first start). */
export type SellerIdle = SellerBase & { phase: 'idle' };
/** Hello sent, the car's hello awaited: the handshake's secret and our hello (resent on retry). */
export type SellerHandshake = SellerBase & {
  phase: 'handshake';
  sessionId: string;
  startMs: number;
  ephemeralSecret: string;
  /** Our hello frame, hex (part of the transcript; resent on retry). */
  helloFrame: string;
  lastHelloMs: number;
};
/** Keys derived; the two signatures of the handshake are exchanged. */
export type SellerAuthenticating = SellerBase &
  SellerKeys & {
    phase: 'authenticating';
    ownAuthSent: boolean;
    vehicleAuthOk: boolean;
    /** The handshake text the node is asked to sign; null once signed. */
    pendingSign: string | null;
  };
/** Offer sent, the car's accept awaited. */
export type SellerOffered = SellerBase & SellerKeys & { phase: 'offered' };
/** Offer accepted: the deposit is invoiced, power off. */
export type SellerDeposit = SellerBase & SellerKeys & { phase: 'deposit' };
/** Power on. */
export type SellerCharging = SellerBase & SellerKeys & { phase: 'charging' };
/** Power cut for lack of payment (or the link dropped) while the session goes on. */
export type SellerSuspended = SellerBase &
  SellerKeys & {
    phase: 'suspended';
    /** The session ends with UNPAID at this time, ms; null = no limit (`maxSuspendSec` 0). */
    suspendDeadlineMs: number | null;
  };
/**
 * Where a closing session's receipt is: first the node's answers to the cancels of invoices the car held when the
 * session closed (the car may have paid one as it closed: its settlement must be in the receipt), then the
 * signature.
 */
export type ClosingReceipt =
  | {
      step: 'awaitingCancels';
      /** Payment hashes whose cancel the node has not answered; waited for at most `cancelWaitMs`. */
      cancelling: string[];
    }
  | {
      step: 'signing';
      unsignedReceipt: UnsignedReceipt;
      /** The receipt text the node is asked to sign. */
      pendingSign: string;
    };
/** Stop sent, power cut, the receipt being built and signed. */
export type SellerClosing = SellerBase &
  SellerKeys & {
    phase: 'closing';
    closingSinceMs: number;
    endReason: ReasonCode;
    receipt: ClosingReceipt;
  };
/** The session is over. */
export type SellerEnded = SellerBase & {
  phase: 'ended';
  endReason: ReasonCode;
  /** The car's key, when the handshake got that far. */
  vehiclePub: string | null;
};

/** The seller machine's state: a union by phase (JSON-serialisable with `serializeState`). */
export type SellerState =
  | SellerIdle
  | SellerHandshake
  | SellerAuthenticating
  | SellerOffered
  | SellerDeposit
  | SellerCharging
  | SellerSuspended
  | SellerClosing
  | SellerEnded;

/** States that hold the negotiated keys. */
export type SellerKeyed =
  SellerAuthenticating | SellerOffered | SellerDeposit | SellerCharging | SellerSuspended | SellerClosing;
/** States of a session with energy terms agreed (invoices, power). */
export type SellerActive = SellerDeposit | SellerCharging | SellerSuspended;
/** States of an authenticated session not yet closing. */
export type SellerAuthenticated = SellerOffered | SellerActive;

/** True from `authenticating` to `closing` (the keys exist). */
export function sellerKeyed(s: SellerState): s is SellerKeyed {
  return s.phase !== 'idle' && s.phase !== 'ended' && s.phase !== 'handshake';
}

/** True in `deposit`, `charging` and `suspended`. */
export function sellerActive(s: SellerState): s is SellerActive {
  return s.phase === 'deposit' || s.phase === 'charging' || s.phase === 'suspended';
}

/** True in `offered`, `deposit`, `charging` and `suspended`. */
export function sellerAuthenticated(s: SellerState): s is SellerAuthenticated {
  return s.phase === 'offered' || sellerActive(s);
}

/** True in `handshake` and `authenticating`: a car is being greeted, nobody is authenticated yet. */
export function sellerGreeting(s: SellerState): boolean {
  return s.phase === 'handshake' || s.phase === 'authenticating';
}

/** Why the session ended or is closing, or null while it runs (or before the first one). */
export function sellerEndReason(s: SellerState): ReasonCode | null {
  return s.phase === 'closing' || s.phase === 'ended' ? s.endReason : null;
}

/** The car's node key once the handshake got it (kept after the session ended), else null. */
export function sellerPeer(s: SellerState): string | null {
  return sellerKeyed(s) || s.phase === 'ended' ? s.vehiclePub : null;
}

/** The secure channel while the keys exist (`authenticating` to `closing`), else null. */
export function sellerChannel(s: SellerState): ChannelState | null {
  return sellerKeyed(s) ? s.channel : null;
}

/**
 * The fields every phase keeps, copied out of a state (what a transition carries into the next phase).
 * @returns exactly the `SellerBase` fields
 */
export function sellerBase(s: SellerBase): SellerBase {
  return {
    config: s.config,
    sessionId: s.sessionId,
    offerSeq: s.offerSeq,
    schedule: s.schedule,
    pendingRenew: s.pendingRenew,
    stopAtWh: s.stopAtWh,
    stopReason: s.stopReason,
    targetEnergyWh: s.targetEnergyWh,
    buyerMaxBlockWh: s.buyerMaxBlockWh,
    startRegisterWh: s.startRegisterWh,
    lastRegisterWh: s.lastRegisterWh,
    deliveredWh: s.deliveredWh,
    powerW: s.powerW,
    paidWh: s.paidWh,
    paidMsat: s.paidMsat,
    invoices: s.invoices,
    consecutiveDeclines: s.consecutiveDeclines,
    invoiceRetryAtMs: s.invoiceRetryAtMs,
    invoiceRetryDelayMs: s.invoiceRetryDelayMs,
    plugged: s.plugged,
    regreetAtMs: s.regreetAtMs,
    regreetDelayMs: s.regreetDelayMs,
    energized: s.energized,
    linkUp: s.linkUp,
    startMs: s.startMs,
    lastRxMs: s.lastRxMs,
    lastTxMs: s.lastTxMs,
    lastMeterSentMs: s.lastMeterSentMs,
    vehicleEnergyWh: s.vehicleEnergyWh,
    settleLatenciesMs: s.settleLatenciesMs,
    promisedWh: s.promisedWh,
    promisesEarlier: s.promisesEarlier,
  };
}

/** The negotiated keys, copied out of a keyed state. @returns exactly the `SellerKeys` fields */
function keysOf(s: SellerKeys): SellerKeys {
  return {
    sessionId: s.sessionId,
    startMs: s.startMs,
    version: s.version,
    th: s.th,
    channel: s.channel,
    vehiclePub: s.vehiclePub,
  };
}

/** How many recent settle latencies the seller keeps. */
export const LATENCY_SAMPLES = 8;
/** Settled invoices needed before the pipelining depth follows the measured latency. */
export const MIN_LATENCY_SAMPLES = 3;

/**
 * Paid energy kept ahead of the delivered energy while charging: the next invoice is requested when less is
 * left. `depositBlocks` blocks, or with `adaptiveRefill` and enough samples the energy `maxPowerW` delivers
 * during the slowest recent request→settle latency × headroom (at least `minBlockWh`, which also covers the
 * energy delivered between two meter readings; at most `depositBlocks` blocks).
 * @param blockWh the current block, Wh
 * @returns Wh
 */
export function refillThresholdWh(
  config: SellerConfig,
  settleLatenciesMs: readonly number[],
  blockWh: number,
): number {
  const depositWh = config.depositBlocks * blockWh;
  if (!config.adaptiveRefill || settleLatenciesMs.length < MIN_LATENCY_SAMPLES) return depositWh;
  const slowestMs = Math.max(...settleLatenciesMs);
  const marginWh = Math.ceil((config.maxPowerW * slowestMs * config.refillHeadroomPpm) / 1e6 / 3_600_000);
  return Math.min(depositWh, Math.max(config.minBlockWh, marginWh));
}

/**
 * A fresh seller machine.
 * @param config validated seller configuration (see `sellerConfig`)
 * @returns state in phase `idle`
 */
export function createSeller(config: SellerConfig): SellerIdle {
  return {
    config,
    phase: 'idle',
    sessionId: null,
    offerSeq: 0,
    schedule: [{ fromWh: 0, priceMsatPerWh: config.priceMsatPerWh }],
    pendingRenew: null,
    stopAtWh: null,
    stopReason: null,
    targetEnergyWh: 0,
    buyerMaxBlockWh: config.maxBlockWh,
    startRegisterWh: null,
    lastRegisterWh: null,
    deliveredWh: 0,
    powerW: 0,
    paidWh: 0,
    paidMsat: 0n,
    invoices: [],
    consecutiveDeclines: 0,
    invoiceRetryAtMs: null,
    invoiceRetryDelayMs: config.invoiceRetryFirstMs,
    plugged: false,
    regreetAtMs: null,
    regreetDelayMs: config.regreetFirstMs,
    energized: false,
    linkUp: true,
    startMs: null,
    lastRxMs: 0,
    lastTxMs: 0,
    lastMeterSentMs: null,
    vehicleEnergyWh: null,
    settleLatenciesMs: [],
    promisedWh: 0,
    promisesEarlier: null,
  };
}

/** The offer the seller makes for its configuration. */
export function offerFor(config: SellerConfig): OfferMessage {
  return {
    type: 'offer',
    offerSeq: 0,
    network: config.network,
    priceMsatPerWh: config.priceMsatPerWh,
    minBlockWh: config.minBlockWh,
    maxBlockWh: config.maxBlockWh,
    depositBlocks: config.depositBlocks,
    graceWh: config.graceWh,
    invoiceExpirySec: config.invoiceExpirySec,
    targetIntervalSec: config.targetInvoiceIntervalSec,
    maxPowerW: config.maxPowerW,
    heartbeatTimeoutMs: config.heartbeatTimeoutMs,
  };
}

/** Sends on the channel, unless the link is down (what would be sent then is lost anyway). */
function send(s: SellerKeyed, m: SealedMessage, out: Effect[], atMs: number): void {
  if (s.linkUp) sendOnChannel(s, m, out, atMs);
}

function summary(s: SellerBase) {
  return {
    sessionId: s.sessionId,
    energyWh: s.deliveredWh,
    paidMsat: s.paidMsat,
    feesMsat: 0n,
    invoices: settledInvoices(s.invoices).length,
  };
}

/** Ends the session now (power off): the `ended` state. */
function end(
  s: SellerState,
  reason: ReasonCode,
  out: Effect[],
  outcome: { receipt: ReceiptMessage } | { error: string },
): SellerEnded {
  if (s.energized) out.push({ type: 'cutPower', reason });
  const ended: SellerEnded = {
    ...sellerBase(s),
    energized: false,
    phase: 'ended',
    endReason: reason,
    vehiclePub: sellerPeer(s),
  };
  finishSession(ended, reason, summary(ended), out, outcome);
  return ended;
}

/**
 * Starts closing: cut power, cancel outstanding invoices, send stop, sign the receipt. A session not yet
 * authenticated ends at once (no receipt).
 * @returns the `closing` (or `ended`) state
 */
function close(
  s: SellerState,
  reason: ReasonCode,
  out: Effect[],
  atMs: number,
  sendStop: boolean,
): SellerState {
  if (s.energized) {
    out.push({ type: 'cutPower', reason });
    s.energized = false;
  }
  const cancelling = cancelOutstanding(s.invoices);
  for (const paymentHash of cancelling) out.push({ type: 'cancelInvoice', paymentHash });
  if (!sellerAuthenticated(s)) return end(s, reason, out, endedBeforeAuthentication(reason));
  if (sendStop) send(s, stopMessage(reason), out, atMs);
  const closing: SellerClosing = {
    ...sellerBase(s),
    ...keysOf(s),
    phase: 'closing',
    closingSinceMs: atMs,
    endReason: reason,
    receipt: { step: 'awaitingCancels', cancelling },
  };
  if (cancelling.length > 0) out.push(record('awaitingCancels', { invoices: cancelling.length }));
  return cancelling.length > 0 ? closing : signReceipt(closing, out, atMs);
}

/**
 * How long a closing session waits for the node to answer its cancels before it signs the receipt anyway (half
 * the heartbeat timeout: the receipt still reaches the car within its `receiptTimeoutMs`), ms.
 */
export function cancelWaitMs(c: SellerConfig): number {
  return Math.floor(c.heartbeatTimeoutMs / 2);
}

/** The node answered the cancel of `paymentHash`: the receipt is signed once no cancel is unanswered. */
function onCancelAnswered(s: SellerState, paymentHash: string, out: Effect[], atMs: number): SellerState {
  if (s.phase !== 'closing' || s.receipt.step !== 'awaitingCancels') return s;
  const hash = paymentHash.toLowerCase();
  const cancelling = s.receipt.cancelling.filter((h) => h !== hash);
  if (cancelling.length === s.receipt.cancelling.length) return s;
  s.receipt = { step: 'awaitingCancels', cancelling };
  return cancelling.length === 0 ? signReceipt(s, out, atMs) : s;
}

/** Builds the receipt from what is settled now and asks the node to sign it (again, if one settled late). */
function signReceipt(s: SellerClosing, out: Effect[], atMs: number): SellerClosing {
  s.receipt = { step: 'signing', ...receiptToSign(s, s.endReason, out, atMs) };
  return s;
}

/**
 * Builds the receipt from the settled invoices and asks the node to sign it (again, if one settled late).
 * @returns the receipt and the text being signed
 */
function receiptToSign(
  s: SellerBase & SellerKeys,
  reason: ReasonCode,
  out: Effect[],
  atMs: number,
): { unsignedReceipt: UnsignedReceipt; pendingSign: string } {
  const lines = receiptLines(s.invoices);
  const unsigned: UnsignedReceipt = {
    sessionId: s.sessionId,
    sellerPub: s.config.nodePubkey,
    startRegisterWh: s.startRegisterWh ?? 0,
    endRegisterWh: s.lastRegisterWh ?? s.startRegisterWh ?? 0,
    energyWh: s.deliveredWh,
    startMs: s.startMs,
    endMs: atMs,
    reason,
    invoices: lines.invoices,
    totalPaidMsat: lines.totalMsat,
  };
  const text = receiptText(s.version, unsigned);
  out.push({ type: 'signWithNodeKey', text });
  return { unsignedReceipt: unsigned, pendingSign: text };
}

function currentBlockWh(s: SellerState): number {
  const c = s.config;
  const power = s.phase === 'deposit' || s.powerW <= 0 ? c.maxPowerW : s.powerW;
  return Math.min(
    blockWhForPower(power, c.targetInvoiceIntervalSec, c.minBlockWh, c.maxBlockWh),
    s.buyerMaxBlockWh,
  );
}

/**
 * Energy from `fromWh` (paid energy) to the nearest limit a block may not cross: a pending renewal, the stop the
 * car asked for, its target, the next price boundary of the schedule.
 *
 * @param s the session
 * @param fromWh paid energy the next block starts at, Wh
 * @returns Wh to that limit (Infinity when there is none)
 */
export function toNextLimitWh(
  s: Pick<SellerBase, 'pendingRenew' | 'stopAtWh' | 'targetEnergyWh' | 'schedule'>,
  fromWh: number,
): number {
  const limits = [
    s.pendingRenew?.effectiveAtWh,
    s.stopAtWh ?? undefined,
    s.targetEnergyWh > 0 ? s.targetEnergyWh : undefined,
    ...s.schedule.map((seg) => seg.fromWh).filter((w) => w > fromWh),
  ];
  let toLimitWh = Infinity;
  for (const lim of limits) if (lim !== undefined) toLimitWh = Math.min(toLimitWh, lim - fromWh);
  return toLimitWh;
}

/**
 * Size of the next block when a limit (target, stop, renewal or price boundary) lies `toLimitWh` ahead of the paid
 * energy. A block never crosses the limit, and never leaves a remainder smaller than `minBlockWh` before it: such a
 * remainder would need a tiny last invoice (e.g. 4 Wh = 400 msat at 100 msat/Wh, below Lightning's 1-sat minimum
 * payment, so unpayable). The remainder is absorbed into this block when that stays within `maxBlockWh`,
 * otherwise this block shrinks so the last one is at least `minBlockWh`.
 *
 * @param blockWh the block the cadence asks for, Wh
 * @param toLimitWh energy to the nearest limit, Wh (Infinity when none)
 * @param minBlockWh smallest block, Wh
 * @param maxBlockWh largest block both sides agreed, Wh
 * @returns the block to invoice, Wh (<= 0 when the limit is reached)
 */
export function blockBeforeLimit(
  blockWh: number,
  toLimitWh: number,
  minBlockWh: number,
  maxBlockWh: number,
): number {
  if (toLimitWh <= blockWh) return toLimitWh;
  const restWh = toLimitWh - blockWh;
  if (restWh >= minBlockWh) return blockWh;
  if (blockWh + restWh <= maxBlockWh) return blockWh + restWh;
  return Math.max(1, blockWh - (minBlockWh - restWh));
}

/**
 * The power is cut while the session goes on (lack of payment, link down): phase `suspended`, and the
 * max-suspend deadline is set (kept if already suspended).
 */
function suspend(s: SellerActive, atMs: number): SellerSuspended {
  if (s.phase === 'suspended') return s;
  const maxSuspendSec = s.config.maxSuspendSec;
  return {
    ...sellerBase(s),
    ...keysOf(s),
    phase: 'suspended',
    suspendDeadlineMs: maxSuspendSec > 0 ? atMs + maxSuspendSec * 1000 : null,
  };
}

/**
 * The node could not create the invoice (or created a wrong one): no new request before the retry time, which
 * backs off (doubling up to `invoiceRetryMaxMs`).
 */
function invoiceCreationFailed(s: SellerBase, inv: SellerInvoice, atMs: number): void {
  inv.status = 'failed';
  s.invoiceRetryAtMs = atMs + s.invoiceRetryDelayMs;
  s.invoiceRetryDelayMs = Math.min(s.invoiceRetryDelayMs * 2, s.config.invoiceRetryMaxMs);
}

/**
 * Rules on the clock while authenticated: the suspension deadline (end with UNPAID) and, while suspended, the
 * reissue of invoices left unpaid `reissueAfterSec` after issue (cancelled at the node; `advance` then issues a
 * fresh one; a settlement of the cancelled one that still arrives is counted).
 */
function superviseSuspension(s: SellerState, out: Effect[], atMs: number): SellerState {
  if (s.phase !== 'suspended') return s;
  if (s.suspendDeadlineMs !== null && atMs >= s.suspendDeadlineMs) {
    const message = `power cut for non-payment for over ${s.config.maxSuspendSec} s: ending the session`;
    out.push({ type: 'alarm', reason: Reason.UNPAID, message });
    return close(s, Reason.UNPAID, out, atMs, true);
  }
  for (const inv of s.invoices) {
    if (inv.status !== 'open' || inv.reissueAtMs === null || atMs < inv.reissueAtMs) continue;
    if (isPromised(inv)) continue;
    inv.status = 'cancelled';
    if (inv.paymentHash !== null) out.push({ type: 'cancelInvoice', paymentHash: inv.paymentHash });
    out.push(
      record('invoiceReissue', {
        seq: inv.seq,
        paymentHash: inv.paymentHash,
        why: 'unpaid while power is cut',
      }),
    );
  }
  return s;
}

/** Applies the energy rules after every event: end conditions, cut, energize, next invoice. */
function advance(state: SellerState, out: Effect[], atMs: number): SellerState {
  if (!sellerActive(state)) return state;
  let s: SellerActive = state;
  const c = s.config;
  if (s.targetEnergyWh > 0 && s.deliveredWh >= s.targetEnergyWh)
    return close(s, Reason.TARGET_REACHED, out, atMs, true);
  if (s.stopAtWh !== null && s.deliveredWh >= s.stopAtWh)
    return close(s, s.stopReason ?? Reason.RENEWAL_DECLINED, out, atMs, true);
  if (s.energized && s.deliveredWh >= s.paidWh + c.graceWh) {
    out.push({ type: 'cutPower', reason: Reason.UNPAID });
    s.energized = false;
    out.push(record('powerCut', { reason: 'UNPAID', deliveredWh: s.deliveredWh, paidWh: s.paidWh }));
    if (!c.resumeWhenPaid) return close(s, Reason.UNPAID, out, atMs, true);
    s = suspend(s, atMs);
  }
  const block = currentBlockWh(s);
  if (!s.energized && s.linkUp && s.startRegisterWh !== null) {
    const canStart = s.phase === 'deposit' ? s.paidWh >= c.depositBlocks * block : s.paidWh > s.deliveredWh;
    if (canStart && s.deliveredWh < s.paidWh + c.graceWh) {
      out.push({ type: 'energize' });
      s = { ...sellerBase(s), ...keysOf(s), energized: true, phase: 'charging' };
      out.push(record('energized', { deliveredWh: s.deliveredWh, paidWh: s.paidWh }));
    }
  }
  if (outstandingInvoice(s.invoices) !== undefined || !s.linkUp) return s;
  if (s.invoiceRetryAtMs !== null && atMs < s.invoiceRetryAtMs) return s;
  if (settledInvoices(s.invoices).length >= MAX_RECEIPT_INVOICES) {
    return close(s, Reason.INVOICE_LIMIT, out, atMs, true);
  }
  const aheadWh =
    s.phase === 'deposit' ? c.depositBlocks * block : refillThresholdWh(c, s.settleLatenciesMs, block);
  if (s.paidWh - s.deliveredWh >= aheadWh) return s;
  const paidWh = s.paidWh;
  const toLimitWh = toNextLimitWh(s, paidWh);
  const cap = blockBeforeLimit(block, toLimitWh, c.minBlockWh, Math.min(c.maxBlockWh, s.buyerMaxBlockWh));
  if (cap <= 0) return s;
  const seq = s.invoices.length;
  const terms = invoiceTerms(s.schedule, paidWh, cap);
  requestInvoice(s.invoices, {
    seq,
    fromWh: paidWh,
    blockWh: cap,
    priceMsatPerWh: terms.priceMsatPerWh,
    amountMsat: terms.amountMsat,
    requestedAtMs: atMs,
  });
  out.push({
    type: 'createInvoice',
    seq,
    amountMsat: terms.amountMsat,
    memo: `boltcharge ${s.sessionId.slice(0, 8)} #${seq} ${cap} Wh`,
    expirySec: c.invoiceExpirySec,
  });
  out.push(
    record('invoiceRequested', { seq, blockWh: cap, fromWh: paidWh, amountMsat: msat(terms.amountMsat) }),
  );
  return s;
}

function startSession(s: SellerState, entropyHex: string, out: Effect[], atMs: number): SellerState {
  const secrets = deriveSessionSecrets(entropyHex);
  if (!secrets.ok) {
    out.push({ type: 'alarm', reason: Reason.LOCAL_FAULT, message: secrets.error.message });
    return s;
  }
  const hello = encodeClearFrame({
    type: 'hello',
    role: 'wall',
    versions: s.config.versions,
    sessionId: secrets.value.sessionId,
    ephemeralPub: secrets.value.ephemeralPub,
    identityPub: s.config.nodePubkey,
  });
  if (!hello.ok) {
    out.push({ type: 'alarm', reason: Reason.LOCAL_FAULT, message: hello.error.message });
    return s;
  }
  const fresh: SellerHandshake = {
    ...createSeller(s.config),
    phase: 'handshake',
    plugged: true,
    regreetDelayMs: s.regreetDelayMs,
    settleLatenciesMs: s.settleLatenciesMs,
    sessionId: secrets.value.sessionId,
    ephemeralSecret: secrets.value.ephemeralSecret,
    helloFrame: toHex(hello.value),
    startMs: atMs,
    lastHelloMs: atMs,
    lastRxMs: atMs,
    lastTxMs: atMs,
  };
  out.push(record('sessionStarted', { sessionId: fresh.sessionId, role: 'wall' }));
  out.push({
    type: 'send',
    frame: hello.value,
    message: {
      type: 'hello',
      role: 'wall',
      versions: s.config.versions,
      sessionId: fresh.sessionId,
      ephemeralPub: secrets.value.ephemeralPub,
      identityPub: s.config.nodePubkey,
    },
  });
  return fresh;
}

function onHandshakeFrame(s: SellerHandshake, bytes: Uint8Array, out: Effect[], atMs: number): SellerState {
  const m = readClearFrame(bytes, 'sealed frame during hello', out);
  if (m === null) return s;
  if (m.type === 'clearError') {
    out.push({ type: 'alarm', reason: m.reason, message: `vehicle: ${m.text}` });
    return end(s, m.reason, out, {
      error: `vehicle refused the handshake (${reasonName(m.reason)}): ${m.text}; vehicle versions [${m.versions.join(',')}]`,
    });
  }
  if (m.role !== 'vehicle') {
    rejectFrame(protocolError('UnexpectedMessage', 'hello from another wall'), out);
    return s;
  }
  if (m.sessionId !== s.sessionId) {
    rejectFrame(protocolError('ForeignSession', `hello for session ${m.sessionId}`), out);
    return s;
  }
  s.lastRxMs = atMs;
  const version = negotiateVersion(s.config.versions, m.versions);
  if (version === undefined) {
    const text = refuseVersions(s.config.versions, s.config.versions, m.versions, out);
    return end(s, Reason.VERSION_MISMATCH, out, { error: text });
  }
  const th = transcriptHash(version, fromHex(s.helloFrame), bytes);
  const channel = deriveChannel('wall', version, s.sessionId, s.ephemeralSecret, m.ephemeralPub, th);
  if (!channel.ok) return end(s, Reason.HANDSHAKE_FAILED, out, { error: channel.error.message });
  const text = handshakeText(version, 'wall', th);
  out.push(record('versionNegotiated', { version, vehiclePub: m.identityPub }));
  out.push({ type: 'signWithNodeKey', text });
  return {
    ...sellerBase(s),
    phase: 'authenticating',
    sessionId: s.sessionId,
    startMs: s.startMs,
    version,
    th: toHex(th),
    channel: channel.value,
    vehiclePub: m.identityPub,
    ownAuthSent: false,
    vehicleAuthOk: false,
    pendingSign: text,
  };
}

function maybeOffer(s: SellerAuthenticating, out: Effect[], atMs: number): SellerState {
  if (!s.ownAuthSent || !s.vehicleAuthOk) return s;
  const offered: SellerOffered = {
    ...sellerBase(s),
    ...keysOf(s),
    phase: 'offered',
    regreetDelayMs: s.config.regreetFirstMs,
  };
  send(offered, offerFor(s.config), out, atMs);
  if (s.config.promiseCapWh > 0 && messageInVersion('promise', s.version))
    out.push({ type: 'lookupPromises', vehiclePub: s.vehiclePub });
  return offered;
}

function unexpected(s: SellerKeyed, m: SealedMessage, out: Effect[], atMs: number): SellerState {
  send(s, unexpectedMessage(m, s.phase, out), out, atMs);
  return s;
}

function onAuthenticating(
  s: SellerAuthenticating,
  m: SealedMessage,
  out: Effect[],
  atMs: number,
): SellerState {
  if (m.type !== 'auth' || s.vehicleAuthOk) return unexpected(s, m, out, atMs);
  const text = handshakeText(s.version, 'vehicle', fromHex(s.th));
  const v = verifyNodeSignature(text, m.signature, s.vehiclePub);
  if (!v.ok) {
    out.push({ type: 'alarm', reason: Reason.HANDSHAKE_FAILED, message: v.error.message });
    send(s, { type: 'stop', reason: Reason.HANDSHAKE_FAILED, text: 'vehicle signature invalid' }, out, atMs);
    return end(s, Reason.HANDSHAKE_FAILED, out, {
      error: `vehicle authentication failed: ${v.error.message}`,
    });
  }
  s.vehicleAuthOk = true;
  out.push(record('vehicleAuthenticated', { vehiclePub: s.vehiclePub }));
  return maybeOffer(s, out, atMs);
}

function onSealed(s: SellerKeyed, m: SealedMessage, out: Effect[], atMs: number): SellerState {
  if (s.phase === 'authenticating') return onAuthenticating(s, m, out, atMs);
  if (s.phase === 'closing') {
    if (m.type === 'ping') send(s, { type: 'pong', atMs: m.atMs }, out, atMs);
    return s;
  }
  switch (m.type) {
    case 'accept':
      if (s.phase === 'offered' && m.offerSeq === 0) {
        out.push(
          record('offerAccepted', {
            offerSeq: 0,
            targetEnergyWh: m.targetEnergyWh,
            maxBlockWh: m.maxBlockWh,
          }),
        );
        return {
          ...sellerBase(s),
          ...keysOf(s),
          phase: 'deposit',
          targetEnergyWh: m.targetEnergyWh,
          buyerMaxBlockWh: Math.max(s.config.minBlockWh, Math.min(s.config.maxBlockWh, m.maxBlockWh)),
        };
      }
      if (s.pendingRenew !== null && m.offerSeq === s.pendingRenew.offerSeq) {
        const r = s.pendingRenew;
        s.schedule = [...s.schedule, { fromWh: r.effectiveAtWh, priceMsatPerWh: r.priceMsatPerWh }];
        s.offerSeq = r.offerSeq;
        s.pendingRenew = null;
        out.push(record('renewAccepted', { offerSeq: r.offerSeq, effectiveAtWh: r.effectiveAtWh }));
        return s;
      }
      // the car answering a repeat of an offer or renewal it had already accepted (see `resendUnanswered`)
      if (m.offerSeq <= s.offerSeq && (m.offerSeq > 0 || s.phase !== 'offered')) {
        out.push(record('acceptRepeated', { offerSeq: m.offerSeq }));
        return s;
      }
      return unexpected(s, m, out, atMs);
    case 'decline':
      if (m.subject === 'offer') {
        if (s.phase === 'offered' && m.ref === 0) {
          out.push(record('offerDeclined', { reason: reasonName(m.reason), text: m.text }));
          return close(s, m.reason, out, atMs, false);
        }
        if (s.pendingRenew !== null && m.ref === s.pendingRenew.offerSeq) {
          s.stopAtWh = s.pendingRenew.effectiveAtWh;
          s.pendingRenew = null;
          out.push(record('renewDeclined', { reason: reasonName(m.reason), stopAtWh: s.stopAtWh }));
          return s;
        }
        return unexpected(s, m, out, atMs);
      } else {
        const inv = s.invoices.find((i) => i.seq === m.ref && i.status === 'open');
        if (inv === undefined) return s;
        inv.status = 'cancelled';
        if (inv.paymentHash !== null) out.push({ type: 'cancelInvoice', paymentHash: inv.paymentHash });
        out.push(record('invoiceDeclined', { seq: inv.seq, reason: reasonName(m.reason), text: m.text }));
        s.consecutiveDeclines += 1;
        if (s.consecutiveDeclines >= s.config.maxConsecutiveDeclines)
          return close(s, m.reason, out, atMs, true);
        return s;
      }
    case 'paid':
      out.push(record('buyerReportsPaid', { seq: m.seq, paymentHash: m.paymentHash }));
      return s;
    case 'paymentProof': // version 2 (offline invoice stock): protocol/paymentProof.ts
      if (!onPaymentProof(s, m, out, (reply) => send(s, reply, out, atMs)))
        return unexpected(s, m, out, atMs);
      return s;
    case 'promise': // version 3 (both offline: promises to pay): protocol/promise.ts
      if (
        !onPromise(promiseContext(s), m, out, {
          reply: (reply) => send(s, reply, out, atMs),
          credit: (inv) => credit(s, inv, atMs),
          capReached: (seq) => stopAtPromiseCap(s, seq, out),
        })
      )
        return unexpected(s, m, out, atMs);
      return s;
    case 'meter':
      s.vehicleEnergyWh = m.energyWh;
      return s;
    case 'stop':
      out.push(record('buyerStopped', { reason: reasonName(m.reason), text: m.text }));
      return close(s, m.reason, out, atMs, false);
    case 'error':
      out.push({ type: 'alarm', reason: m.reason, message: `vehicle error: ${m.text}` });
      return s;
    case 'ping':
      send(s, { type: 'pong', atMs: m.atMs }, out, atMs);
      return s;
    case 'pong':
      // the pong echoes our ping's time: the cable round trip on our clock (a stale or future echo is ignored)
      if (m.atMs <= atMs && atMs - m.atMs <= s.config.heartbeatTimeoutMs)
        out.push(record('cableRoundTrip', { rttMs: atMs - m.atMs }));
      return s;
    default:
      return unexpected(s, m, out, atMs);
  }
}

function onFrame(s: SellerState, bytes: Uint8Array, out: Effect[], atMs: number): SellerState {
  if (s.phase === 'handshake') return onHandshakeFrame(s, bytes, out, atMs);
  if (!sellerKeyed(s)) {
    out.push(record('frameIgnored', { phase: s.phase, bytes: bytes.length }));
    return s;
  }
  const opened = openOnChannel(s, bytes, out, atMs);
  if (!opened.ok) {
    // a repeated clear hello from the vehicle (its retry) is harmless once keys exist
    const p = parseFrame(bytes);
    if (p.ok && p.value.kind === 'clear') {
      out.push(record('clearFrameIgnored', { type: p.value.message.type }));
      return s;
    }
    rejectFrame(opened.error, out);
    return s;
  }
  return onSealed(s, opened.value, out, atMs);
}

function onNodeSignature(
  s: SellerState,
  text: string,
  signature: string,
  out: Effect[],
  atMs: number,
  delegation: Delegation | null,
): SellerState {
  const pending =
    s.phase === 'authenticating'
      ? s.pendingSign
      : s.phase === 'closing' && s.receipt.step === 'signing'
        ? s.receipt.pendingSign
        : null;
  if (pending !== text || (s.phase !== 'authenticating' && s.phase !== 'closing')) {
    out.push(record('signatureIgnored', { text }));
    return s;
  }
  const norm =
    delegation === null
      ? checkOwnNodeSignature(text, signature, s.config.nodePubkey)
      : checkDelegateSignature(s, text, signature, delegation, atMs);
  if (!norm.ok) {
    const message = `node signature does not match the configured node key: ${norm.error}`;
    out.push({ type: 'alarm', reason: Reason.LOCAL_FAULT, message });
    if (s.phase === 'authenticating') {
      send(s, { type: 'stop', reason: Reason.LOCAL_FAULT, text: 'wall cannot sign' }, out, atMs);
      return end(s, Reason.LOCAL_FAULT, out, { error: message });
    }
    return end(s, s.endReason, out, { error: `receipt not signed: ${message}` });
  }
  // signed by the delegate key (the node unreachable): the car gets the node's delegation first
  if (delegation !== null) {
    send(s, { type: 'delegation', ...delegation }, out, atMs);
    out.push(
      record('signedByDelegate', { delegatePub: delegation.delegatePub, untilMs: delegation.untilMs }),
    );
  }
  if (s.phase === 'authenticating') {
    s.pendingSign = null;
    s.ownAuthSent = true;
    send(s, { type: 'auth', signature: norm.value }, out, atMs);
    return maybeOffer(s, out, atMs);
  }
  if (s.receipt.step !== 'signing') return s;
  const receipt: ReceiptMessage = { type: 'receipt', ...s.receipt.unsignedReceipt, signature: norm.value };
  send(s, receipt, out, atMs);
  out.push(
    record('receipt', {
      sessionId: s.sessionId,
      totalPaidMsat: msat(receipt.totalPaidMsat),
      energyWh: receipt.energyWh,
    }),
  );
  return end(s, s.endReason, out, { receipt });
}

/**
 * A signature by the wall daemon's delegate key: only in a version-3 session (the car must know delegations),
 * with a delegation the node signed, valid now.
 * @returns the signature (hex), or why it cannot be used
 */
function checkDelegateSignature(
  s: SellerAuthenticating | SellerClosing,
  text: string,
  signature: string,
  delegation: Delegation,
  atMs: number,
): Result<string, string> {
  if (!messageInVersion('delegation', s.version))
    return fail(
      `the node is unreachable and the car speaks protocol version ${s.version} (delegation needs 3)`,
    );
  const problem = signedForNode(text, signature, s.config.nodePubkey, delegation, atMs);
  if (problem !== null) return fail(problem);
  const norm = normaliseSignature(signature);
  return norm.ok ? ok(norm.value) : fail(norm.error.message);
}

function onTick(s: SellerState, out: Effect[], atMs: number): SellerState {
  const c = s.config;
  if (s.phase === 'idle' || s.phase === 'ended') {
    if (s.regreetAtMs !== null && s.plugged && atMs >= s.regreetAtMs) {
      // asked again at the next delay if the shell does not answer (e.g. it restarted meanwhile)
      s.regreetAtMs = atMs + s.regreetDelayMs;
      out.push(record('greetAgain', { afterMs: s.regreetDelayMs }));
      out.push({ type: 'greetAgain' });
    }
    return s;
  }
  if (s.phase === 'handshake' || s.phase === 'authenticating') {
    if (waitedLonger(s.startMs, atMs, c.handshakeTimeoutMs)) {
      const ended = end(s, Reason.HANDSHAKE_TIMEOUT, out, { error: 'handshake timed out' });
      if (ended.plugged) {
        // the car's module may be restarting or booting: greet it again, backing off, while it stays plugged in
        ended.regreetAtMs = atMs + ended.regreetDelayMs;
        ended.regreetDelayMs = Math.min(ended.regreetDelayMs * 2, c.regreetMaxMs);
        out.push(record('regreetScheduled', { atMs: ended.regreetAtMs }));
      }
      return ended;
    }
    if (s.phase === 'handshake' && s.linkUp && atMs - s.lastHelloMs >= c.helloRetryMs)
      resendHello(s, out, atMs);
    return s;
  }
  if (s.phase === 'closing') {
    if (s.receipt.step === 'awaitingCancels' && waitedLonger(s.closingSinceMs, atMs, cancelWaitMs(c))) {
      out.push(record('cancelsUnanswered', { invoices: s.receipt.cancelling.length }));
      return signReceipt(s, out, atMs);
    }
    if (waitedLonger(s.closingSinceMs, atMs, c.heartbeatTimeoutMs))
      return end(s, s.endReason, out, { error: 'the node did not sign the receipt in time' });
    return s;
  }
  if (peerSilent(s, atMs, c.heartbeatTimeoutMs)) {
    out.push({ type: 'alarm', reason: Reason.HEARTBEAT_LOST, message: 'no message from the vehicle' });
    return close(s, s.linkUp ? Reason.HEARTBEAT_LOST : Reason.LINK_LOST, out, atMs, true);
  }
  if (pingDue(s, atMs, c.heartbeatTimeoutMs)) send(s, { type: 'ping', atMs }, out, atMs);
  return advance(superviseSuspension(s, out, atMs), out, atMs);
}

/**
 * The connector may not take a session (busy, out of service, faulted): between sessions the car is told in a
 * clear `clearError` with the reason, instead of a hello; no session starts. During a session the event is only
 * recorded (the shell ends a running session with `stopRequest`).
 */
function refuseSession(s: SellerState, reason: ReasonCode, detail: string, out: Effect[]): void {
  if (!idleOrEnded(s.phase) || !isConnectorRefusal(reason)) {
    out.push(record('refusalIgnored', { phase: s.phase, reason: reasonName(reason) }));
    return;
  }
  out.push(record('sessionRefused', { reason: reasonName(reason), detail }));
  if (s.linkUp) sendClearError(reason, s.config.versions, detail, out);
}

function resendHello(s: SellerHandshake, out: Effect[], atMs: number): void {
  resendClearFrame(s.helloFrame, out);
  s.lastHelloMs = atMs;
}

function onInvoiceCreated(
  s: SellerState,
  seq: number,
  bolt11: string,
  paymentHash: string,
  out: Effect[],
  atMs: number,
): void {
  const inv = s.invoices.find((i) => i.seq === seq);
  if (inv === undefined || inv.status !== 'requested') {
    out.push({ type: 'cancelInvoice', paymentHash });
    out.push(
      record('invoiceCancelled', { seq, paymentHash, why: 'not requested (session closed or duplicate)' }),
    );
    return;
  }
  const d = decodeInvoice(bolt11);
  const problem = !d.ok
    ? d.error.message
    : d.value.amountMsat !== inv.amountMsat
      ? `amount ${d.value.amountMsat} ≠ ${inv.amountMsat}`
      : d.value.paymentHash !== paymentHash.toLowerCase()
        ? 'payment hash differs'
        : d.value.payeePubkey !== s.config.nodePubkey
          ? `payee ${d.value.payeePubkey} is not the configured node key`
          : d.value.network !== s.config.network
            ? `network ${d.value.network}`
            : null;
  if (problem !== null) {
    invoiceCreationFailed(s, inv, atMs);
    out.push({ type: 'cancelInvoice', paymentHash });
    out.push({
      type: 'alarm',
      reason: Reason.LOCAL_FAULT,
      message: `node created a wrong invoice: ${problem}`,
    });
    return;
  }
  inv.status = 'open';
  inv.bolt11 = bolt11;
  inv.paymentHash = paymentHash.toLowerCase();
  inv.issuedAtMs = atMs;
  inv.reissueAtMs = atMs + s.config.reissueAfterSec * 1000;
  s.invoiceRetryAtMs = null;
  s.invoiceRetryDelayMs = s.config.invoiceRetryFirstMs;
  out.push(
    record('invoiceCreated', {
      seq,
      paymentHash: inv.paymentHash,
      amountMsat: msat(inv.amountMsat),
      blockWh: inv.blockWh,
    }),
  );
  if (sellerKeyed(s)) send(s, invoiceMessage(inv, bolt11), out, atMs);
}

/** The `invoice` message of an issued invoice. */
function invoiceMessage(inv: SellerInvoice, bolt11: string): InvoiceMessage {
  return {
    type: 'invoice',
    seq: inv.seq,
    fromWh: inv.fromWh,
    blockWh: inv.blockWh,
    priceMsatPerWh: inv.priceMsatPerWh,
    amountMsat: inv.amountMsat,
    bolt11,
  };
}

/**
 * The link came up (again, or for the first time after a restart from the store): every message the car has
 * not answered yet is sent again, because a crash between committing a step and sending its frame, or a link
 * that dropped, may have lost it. These are the offer (phase `offered`: answered by accept or decline), a
 * pending price renewal (answered by accept or decline) and the open invoice (answered by its payment or a
 * decline). The car treats a repeat of a message it already has as the same message (it answers again, never
 * pays twice). Each repeat is sealed afresh (a new frame counter; the car's channel accepts the gap).
 */
function resendUnanswered(s: SellerState, out: Effect[], atMs: number): void {
  if (!sellerAuthenticated(s) || !s.linkUp) return;
  if (s.phase === 'offered') {
    out.push(record('messageResent', { type: 'offer', offerSeq: 0 }));
    send(s, offerFor(s.config), out, atMs);
  }
  if (s.pendingRenew !== null) {
    out.push(record('messageResent', { type: 'renew', offerSeq: s.pendingRenew.offerSeq }));
    send(s, { type: 'renew', ...s.pendingRenew }, out, atMs);
  }
  const open = outstandingInvoice(s.invoices);
  if (open !== undefined && open.status === 'open' && open.bolt11 !== null) {
    out.push(record('messageResent', { type: 'invoice', seq: open.seq, paymentHash: open.paymentHash }));
    send(s, invoiceMessage(open, open.bolt11), out, atMs);
  }
}

/** What a promise is checked against (protocol/promise.ts). */
function promiseContext(s: SellerKeyed): PromiseContext {
  return {
    version: s.version,
    sessionId: s.sessionId,
    sellerPub: s.config.nodePubkey,
    vehiclePub: s.vehiclePub,
    invoices: s.invoices,
    promiseCapWh: s.config.promiseCapWh,
    promiseSiteCapWh: s.config.promiseSiteCapWh,
    promisesEarlier: s.promisesEarlier,
    promisedWh: s.promisedWh,
  };
}

/** Credits an invoice's block on the car's promise: it stays open (payable), no longer outstanding. */
function credit(s: SellerBase, inv: SellerInvoice, atMs: number): void {
  inv.promisedAtMs = atMs;
  s.paidWh += inv.blockWh;
  s.promisedWh += inv.blockWh;
  s.consecutiveDeclines = 0;
}

/**
 * A promise cap is reached: the refused invoice is withdrawn and the session ends (PROMISE_REFUSED) once the
 * energy already credited is delivered.
 */
function stopAtPromiseCap(s: SellerBase, seq: number, out: Effect[]): void {
  const inv = s.invoices.find((i) => i.seq === seq && i.status === 'open' && i.promisedAtMs === null);
  if (inv !== undefined) {
    inv.status = 'cancelled';
    if (inv.paymentHash !== null) out.push({ type: 'cancelInvoice', paymentHash: inv.paymentHash });
  }
  s.stopAtWh = Math.min(s.stopAtWh ?? Infinity, s.paidWh);
  s.stopReason = Reason.PROMISE_REFUSED;
  out.push(record('promiseCapReached', { stopAtWh: s.stopAtWh }));
}

/** The node settled a promised invoice (the car paid it once back online): only the money is added. */
function promiseKept(s: SellerBase, inv: SellerInvoice, amountMsat: bigint, out: Effect[]): void {
  inv.status = 'settled';
  inv.settledMsat = amountMsat;
  s.paidMsat += amountMsat;
  s.promisedWh = Math.max(0, s.promisedWh - inv.blockWh);
  if (amountMsat < inv.amountMsat)
    out.push({
      type: 'alarm',
      reason: Reason.LOCAL_FAULT,
      message: `promised invoice ${inv.seq} settled for less`,
    });
  out.push(
    record('invoiceSettled', {
      seq: inv.seq,
      paymentHash: inv.paymentHash,
      amountMsat: msat(amountMsat),
      paidWh: s.paidWh,
      promised: true,
    }),
  );
}

/**
 * The one place where events are dispatched: each event's handler returns the next state (a transition builds
 * the next phase's variant), then `advance` applies the energy rules.
 */
function handle(s: SellerState, ev: SellerEvent, out: Effect[]): SellerState {
  const atMs = ev.atMs;
  let next: SellerState = s;
  switch (ev.type) {
    case 'plug':
      s.plugged = true;
      return plugStartsSession(s.phase, out) ? startSession(s, ev.entropyHex, out, atMs) : s;
    case 'unplug':
      s.plugged = false;
      s.regreetAtMs = null;
      s.regreetDelayMs = s.config.regreetFirstMs;
      if (!stoppable(s.phase)) return s;
      s.linkUp = false;
      return close(s, Reason.UNPLUGGED, out, atMs, false);
    case 'frame':
      next = onFrame(s, ev.bytes, out, atMs);
      break;
    case 'meter':
      if (!acceptMeterEvent(ev, out) || idleOrEnded(s.phase)) return s;
      // before the car is authenticated the session has not energized: what the meter counts then is not this
      // session's (a walk-up charging on the connector while a plugged car is greeted): its energy counts from
      // the last reading before authentication
      if (sellerGreeting(s)) s.startRegisterWh = Math.floor(ev.energyWh);
      s.deliveredWh = sessionEnergyWh(s, ev, s.deliveredWh);
      s.lastRegisterWh = Math.floor(ev.energyWh);
      s.powerW = Math.max(0, ev.powerW);
      if (sellerAuthenticated(s)) {
        const report = dueMeterReport(s, ev, s.deliveredWh, s.config.meterReportIntervalMs);
        if (report !== null) send(s, report, out, atMs);
      }
      break;
    case 'linkUp':
      s.linkUp = true;
      if (s.phase === 'handshake') resendHello(s, out, atMs);
      else resendUnanswered(s, out, atMs);
      break;
    case 'linkDown':
      s.linkUp = false;
      if (s.energized) {
        out.push({ type: 'cutPower', reason: Reason.LINK_LOST });
        s.energized = false;
        if (s.phase === 'charging') next = suspend(s, atMs);
      }
      out.push(record('linkDown', { phase: s.phase }));
      break;
    case 'tick':
      return onTick(s, out, atMs);
    case 'nodeSignature':
      next = onNodeSignature(s, ev.text, ev.signature, out, atMs, ev.delegation ?? null);
      break;
    case 'stopRequest':
      if (!stoppable(s.phase)) return s;
      return close(s, ev.reason, out, atMs, true);
    case 'invoiceCreated':
      onInvoiceCreated(s, ev.seq, ev.bolt11, ev.paymentHash, out, atMs);
      break;
    case 'invoiceCreateFailed': {
      const inv = s.invoices.find((i) => i.seq === ev.seq && i.status === 'requested');
      if (inv !== undefined) {
        invoiceCreationFailed(s, inv, atMs);
        out.push({
          type: 'alarm',
          reason: Reason.LOCAL_FAULT,
          message: `invoice ${ev.seq} not created: ${ev.error}`,
        });
      }
      break;
    }
    case 'invoiceSettled': {
      const hash = ev.paymentHash.toLowerCase();
      const inv = invoiceByHash(s.invoices, hash);
      if (inv !== undefined && isPromised(inv)) {
        promiseKept(s, inv, ev.amountMsat, out);
        // a receipt being signed is built again with it
        if (s.phase !== 'closing' || s.receipt.step !== 'signing') break;
        return signReceipt(s, out, atMs);
      }
      const late = s.phase !== 'ended' && inv !== undefined && inv.status === 'cancelled';
      if (late && inv !== undefined && ev.amountMsat >= inv.amountMsat) {
        // paid while we were cancelling it (closing, or reissued while suspended): the money arrived, so it is
        // counted and belongs in the receipt
        inv.status = 'settled';
        inv.settledMsat = ev.amountMsat;
        s.paidWh += inv.blockWh;
        s.paidMsat += ev.amountMsat;
        out.push(
          record('invoiceSettled', {
            seq: inv.seq,
            paymentHash: hash,
            amountMsat: msat(ev.amountMsat),
            late: true,
          }),
        );
        // a receipt already being signed is built again; one still waiting for cancels will include it
        if (s.phase !== 'closing' || s.receipt.step !== 'signing') break;
        return signReceipt(s, out, atMs);
      }
      if (inv === undefined || inv.status !== 'open' || s.phase === 'ended' || s.phase === 'closing') {
        out.push(
          record('settlementIgnored', {
            paymentHash: hash,
            status: inv?.status ?? 'unknown',
            phase: s.phase,
          }),
        );
        if (inv !== undefined && inv.status !== 'settled') {
          out.push({
            type: 'alarm',
            reason: Reason.LOCAL_FAULT,
            message: `invoice ${inv.seq} settled while ${inv.status}`,
          });
        }
        return s;
      }
      if (ev.amountMsat < inv.amountMsat) {
        out.push({
          type: 'alarm',
          reason: Reason.LOCAL_FAULT,
          message: `invoice ${inv.seq} settled for less`,
        });
        return s;
      }
      inv.status = 'settled';
      inv.settledMsat = ev.amountMsat;
      s.paidWh += inv.blockWh;
      s.paidMsat += ev.amountMsat;
      s.consecutiveDeclines = 0;
      if (inv.requestedAtMs !== null && atMs >= inv.requestedAtMs) {
        s.settleLatenciesMs = [...s.settleLatenciesMs, atMs - inv.requestedAtMs].slice(-LATENCY_SAMPLES);
      }
      out.push(
        record('invoiceSettled', {
          seq: inv.seq,
          paymentHash: hash,
          amountMsat: msat(ev.amountMsat),
          paidWh: s.paidWh,
        }),
      );
      break;
    }
    case 'invoiceExpired': {
      const inv = s.invoices.find(
        (i) => i.paymentHash === ev.paymentHash.toLowerCase() && i.status === 'open',
      );
      if (inv !== undefined) {
        const promised = isPromised(inv);
        inv.status = 'expired';
        out.push(record('invoiceExpired', { seq: inv.seq, paymentHash: inv.paymentHash, promised }));
      }
      break;
    }
    case 'promisesOutstanding':
      if (!sellerKeyed(s) || s.vehiclePub !== ev.vehiclePub.toLowerCase()) return s;
      s.promisesEarlier = { carWh: Math.max(0, ev.carWh), siteWh: Math.max(0, ev.siteWh) };
      out.push(
        record('promisesOutstanding', { vehiclePub: s.vehiclePub, carWh: ev.carWh, siteWh: ev.siteWh }),
      );
      return s;
    case 'cancelAnswered':
      return onCancelAnswered(s, ev.paymentHash, out, atMs);
    case 'paymentProofRefused': {
      const keyed = sellerKeyed(s) ? s : null;
      refuseProof(ev, out, keyed ? (reply) => send(keyed, reply, out, atMs) : null);
      return s;
    }
    case 'connectorRefused':
      refuseSession(s, ev.reason, ev.detail, out);
      return s;
    case 'renewRequest': {
      if (!sellerActive(s) || s.pendingRenew !== null) {
        out.push(record('renewIgnored', { phase: s.phase, pending: s.pendingRenew !== null }));
        return s;
      }
      if (typeof ev.priceMsatPerWh !== 'bigint' || ev.priceMsatPerWh < 0n || ev.priceMsatPerWh >= 1n << 64n)
        return s;
      const open = outstandingInvoice(s.invoices);
      const after = Math.max(Math.floor(ev.afterWh), open?.blockWh ?? 0);
      const r = {
        offerSeq: s.offerSeq + 1,
        priceMsatPerWh: ev.priceMsatPerWh,
        effectiveAtWh: s.paidWh + after,
      };
      s.pendingRenew = r;
      send(s, { type: 'renew', ...r }, out, atMs);
      break;
    }
  }
  return advance(next, out, atMs);
}

/**
 * One step of the seller machine. Pure: the input state is not modified.
 * @param state current state (from `createSeller` or a previous step)
 * @param event what happened (see `SellerEvent`)
 * @returns the next state and the effects to execute in order
 */
export function sellerStep(state: SellerState, event: SellerEvent): Step<SellerState> {
  return pureStep(state, event, handle);
}
