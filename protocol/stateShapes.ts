/**
 * The structure of the seller's and buyer's persisted state (current schema version), as `Check`s: restoring a
 * state proves every field's type with these, and the configuration inside it with `sellerConfig` /
 * `buyerConfig` (ranges, consistency). Typed against `SellerState` / `BuyerState`: a field added to a state
 * without a check here does not compile.
 */
import type {
  BuyerAuthenticating,
  BuyerBase,
  BuyerCharging,
  BuyerClosing,
  BuyerEnded,
  BuyerHandshake,
  BuyerHistory,
  BuyerIdle,
  BuyerKeys,
  BuyerPayment,
  BuyerState,
} from './buyer.js';
import type { ChannelState } from './channel.js';
import { buyerConfig, sellerConfig, type BuyerConfig, type SellerConfig } from './config.js';
import type { InvoiceMessage, Network, OfferMessage, ReceiptInvoice } from './messages.js';
import type { UnsignedReceipt } from './receipt.js';
import type {
  SellerAuthenticating,
  SellerBase,
  ClosingReceipt,
  SellerClosing,
  SellerEnded,
  SellerHandshake,
  SellerInvoice,
  SellerKeys,
  SellerState,
} from './seller.js';
import {
  array,
  big,
  bool,
  hex,
  int,
  nullable,
  num,
  object,
  oneOf,
  optional,
  refine,
  str,
  tagged,
  type Check,
  type Shape,
} from './shape.js';
import type { PriceSegment } from './tariff.js';
import type { Delegation } from './delegation.js';

const network: Check<Network> = oneOf('bitcoin', 'testnet', 'signet', 'regtest');
const versions = array(int, 16);
const pubkey = hex(33);
const hash = hex(32);

const sellerConfigFields = object<SellerConfig>({
  nodePubkey: pubkey,
  network,
  priceMsatPerWh: big,
  targetInvoiceIntervalSec: int,
  minBlockWh: int,
  maxBlockWh: int,
  depositBlocks: int,
  graceWh: int,
  maxPowerW: int,
  heartbeatTimeoutMs: int,
  handshakeTimeoutMs: int,
  helloRetryMs: int,
  resumeWhenPaid: bool,
  invoiceExpirySec: int,
  meterReportIntervalMs: int,
  maxConsecutiveDeclines: int,
  maxSuspendSec: int,
  reissueAfterSec: int,
  invoiceRetryFirstMs: int,
  invoiceRetryMaxMs: int,
  regreetFirstMs: int,
  regreetMaxMs: int,
  adaptiveRefill: bool,
  refillHeadroomPpm: int,
  promiseCapWh: int,
  promiseSiteCapWh: int,
  versions,
});

/** A seller configuration: its structure, then `sellerConfig`'s ranges and rules. */
export const sellerConfigShape: Check<SellerConfig> = refine(sellerConfigFields, (c) => {
  const r = sellerConfig(c);
  return r.ok ? undefined : r.error.message;
});

const identity = tagged<BuyerConfig['identity'], 'kind'>('kind', {
  session: object<{ kind: 'session' }>({ kind: oneOf('session') }),
  node: object<{ kind: 'node'; nodePubkey: string }>({ kind: oneOf('node'), nodePubkey: pubkey }),
});

const buyerConfigFields = object<BuyerConfig>({
  network,
  maxPriceMsatPerWh: big,
  maxBlockWh: int,
  maxPrepaidWh: int,
  maxUndeliveredWhPerWall: int,
  maxUndeliveredWhTotal: int,
  sessionBudgetMsat: big,
  dailyBudgetMsat: big,
  spentTodayMsat: big,
  budgetDayUtcOffsetMin: int,
  targetEnergyWh: int,
  meterToleranceWh: int,
  meterTolerancePpm: int,
  maxFeeMsat: big,
  maxFeePpm: int,
  maxConsecutivePaymentFailures: int,
  payMaxAttempts: int,
  payRetryFirstMs: int,
  payRetryMaxMs: int,
  noRouteRetryWindowMs: int,
  promiseMaxMsat: big,
  heartbeatTimeoutMs: int,
  handshakeTimeoutMs: int,
  receiptTimeoutMs: int,
  invoiceExpiryMarginSec: int,
  meterReportIntervalMs: int,
  identity,
  versions,
});

/** A buyer configuration: its structure, then `buyerConfig`'s ranges and rules. */
export const buyerConfigShape: Check<BuyerConfig> = refine(buyerConfigFields, (c) => {
  const r = buyerConfig(c);
  return r.ok ? undefined : r.error.message;
});

const channel = object<ChannelState>({
  version: int,
  sessionId: hex(16),
  sendKey: hash,
  recvKey: hash,
  sendCounter: int,
  recvNext: int,
});

const priceSegment = object<PriceSegment>({ fromWh: int, priceMsatPerWh: big });

const sellerInvoice = object<SellerInvoice>({
  seq: int,
  fromWh: int,
  blockWh: int,
  priceMsatPerWh: big,
  amountMsat: big,
  status: oneOf('requested', 'open', 'settled', 'expired', 'cancelled', 'failed'),
  paymentHash: nullable(hash),
  bolt11: nullable(str),
  settledMsat: nullable(big),
  requestedAtMs: nullable(num),
  issuedAtMs: nullable(num),
  reissueAtMs: nullable(num),
  promisedAtMs: nullable(num),
});

const receiptInvoice = object<ReceiptInvoice>({ seq: int, paymentHash: hash, blockWh: int, amountMsat: big });

const unsignedReceipt = object<UnsignedReceipt>({
  sessionId: hex(16),
  sellerPub: pubkey,
  startRegisterWh: int,
  endRegisterWh: int,
  energyWh: int,
  startMs: num,
  endMs: num,
  reason: int,
  invoices: array(receiptInvoice),
  totalPaidMsat: big,
});

/**
 * The seller's invariants a field check cannot express: an invoice the node returned has its hash and text.
 * (Each phase's own data is proven by its variant's check.)
 * @returns the problem, or undefined
 */
export function sellerPhaseProblem(s: SellerState): string | undefined {
  const returned = ['open', 'settled', 'expired'];
  const inv = s.invoices.find(
    (i) => returned.includes(i.status) && (i.paymentHash === null || i.bolt11 === null),
  );
  return inv === undefined
    ? undefined
    : `invoice ${inv.seq} is ${inv.status} without its payment hash or text`;
}

/**
 * The buyer's invariant a field check cannot express: a handshake with the per-session identity has its
 * secret. (Each phase's own data is proven by its variant's check.)
 * @returns the problem, or undefined
 */
export function buyerPhaseProblem(s: BuyerState): string | undefined {
  if (s.phase === 'handshake' && s.config.identity.kind === 'session' && s.identitySecret === null)
    return 'phase handshake without the per-session identity secret';
  return undefined;
}

const sellerBaseFields: Shape<SellerBase> = {
  config: sellerConfigShape,
  sessionId: nullable(hex(16)),
  offerSeq: int,
  schedule: array(priceSegment),
  pendingRenew: nullable(
    object<{ offerSeq: number; priceMsatPerWh: bigint; effectiveAtWh: number }>({
      offerSeq: int,
      priceMsatPerWh: big,
      effectiveAtWh: int,
    }),
  ),
  stopAtWh: nullable(int),
  stopReason: nullable(int),
  targetEnergyWh: int,
  buyerMaxBlockWh: int,
  startRegisterWh: nullable(int),
  lastRegisterWh: nullable(int),
  deliveredWh: int,
  powerW: num,
  paidWh: int,
  paidMsat: big,
  invoices: array(sellerInvoice),
  consecutiveDeclines: int,
  invoiceRetryAtMs: nullable(num),
  invoiceRetryDelayMs: int,
  plugged: bool,
  regreetAtMs: nullable(num),
  regreetDelayMs: int,
  energized: bool,
  linkUp: bool,
  startMs: nullable(num),
  lastRxMs: num,
  lastTxMs: num,
  lastMeterSentMs: nullable(num),
  vehicleEnergyWh: nullable(int),
  settleLatenciesMs: array(num, 64),
  promisedWh: int,
  promisesEarlier: nullable(object<{ carWh: number; siteWh: number }>({ carWh: int, siteWh: int })),
};

const sellerKeysFields: Shape<SellerKeys> = {
  sessionId: hex(16),
  startMs: num,
  version: int,
  th: hash,
  channel,
  vehiclePub: pubkey,
};

/** A keyed seller phase with no data of its own. */
function keyedPhase<P extends 'offered' | 'deposit' | 'charging'>(
  phase: P,
): Check<SellerBase & SellerKeys & { phase: P }> {
  return object<SellerBase & SellerKeys & { phase: P }>({
    ...sellerBaseFields,
    ...sellerKeysFields,
    phase: oneOf(phase),
  });
}

/** Each seller phase's variant: the common fields and the phase's own. */
function sellerStateFields(): Check<SellerState> {
  return tagged<SellerState, 'phase'>('phase', {
    idle: object<SellerBase & { phase: 'idle' }>({ ...sellerBaseFields, phase: oneOf('idle') }),
    handshake: object<SellerHandshake>({
      ...sellerBaseFields,
      phase: oneOf('handshake'),
      sessionId: hex(16),
      startMs: num,
      ephemeralSecret: hash,
      helloFrame: str,
      lastHelloMs: num,
    }),
    authenticating: object<SellerAuthenticating>({
      ...sellerBaseFields,
      ...sellerKeysFields,
      phase: oneOf('authenticating'),
      ownAuthSent: bool,
      vehicleAuthOk: bool,
      pendingSign: nullable(str),
    }),
    offered: keyedPhase('offered'),
    deposit: keyedPhase('deposit'),
    charging: keyedPhase('charging'),
    suspended: object<SellerBase & SellerKeys & { phase: 'suspended'; suspendDeadlineMs: number | null }>({
      ...sellerBaseFields,
      ...sellerKeysFields,
      phase: oneOf('suspended'),
      suspendDeadlineMs: nullable(num),
    }),
    closing: object<SellerClosing>({
      ...sellerBaseFields,
      ...sellerKeysFields,
      phase: oneOf('closing'),
      closingSinceMs: num,
      endReason: int,
      receipt: tagged<ClosingReceipt, 'step'>('step', {
        awaitingCancels: object<Extract<ClosingReceipt, { step: 'awaitingCancels' }>>({
          step: oneOf('awaitingCancels'),
          cancelling: array(hash, 1_000),
        }),
        signing: object<Extract<ClosingReceipt, { step: 'signing' }>>({
          step: oneOf('signing'),
          unsignedReceipt,
          pendingSign: str,
        }),
      }),
    }),
    ended: object<SellerEnded>({
      ...sellerBaseFields,
      phase: oneOf('ended'),
      endReason: int,
      vehiclePub: nullable(pubkey),
    }),
  });
}

const offer = object<OfferMessage>({
  type: oneOf('offer'),
  offerSeq: int,
  network,
  priceMsatPerWh: big,
  minBlockWh: int,
  maxBlockWh: int,
  depositBlocks: int,
  graceWh: int,
  invoiceExpirySec: int,
  targetIntervalSec: int,
  maxPowerW: int,
  heartbeatTimeoutMs: int,
});

const invoiceMessage = object<InvoiceMessage>({
  type: oneOf('invoice'),
  seq: int,
  fromWh: int,
  blockWh: int,
  priceMsatPerWh: big,
  amountMsat: big,
  bolt11: str,
});

const payment = object<BuyerPayment>({
  seq: int,
  paymentHash: hash,
  blockWh: int,
  amountMsat: big,
  maxFeeMsat: big,
  status: oneOf('inflight', 'retrying', 'paid', 'failed', 'promised'),
  feeMsat: nullable(big),
  bolt11: str,
  sentAtMs: num,
  expiresAtMs: num,
  attempts: int,
  retryAtMs: nullable(num),
  lastFailure: nullable(oneOf('outage', 'noRoute', 'final')),
});

const history = object<BuyerHistory>({
  wallPub: pubkey,
  sessionId: hex(16),
  undeliveredWallWh: num,
  undeliveredTotalWh: num,
  backoffUntilMs: nullable(num),
  sessionIdKnown: bool,
  spentTodayMsat: optional(big),
  promisedOutstandingMsat: optional(big),
});

const buyerBaseFields: Shape<BuyerBase> = {
  config: buyerConfigShape,
  sessionId: nullable(hex(16)),
  schedule: array(priceSegment),
  maxBlockWh: int,
  offerSeq: int,
  stopAtWh: nullable(int),
  startRegisterWh: nullable(int),
  ownEnergyWh: int,
  wallEnergyWh: int,
  committedWh: int,
  paidMsat: big,
  feesMsat: big,
  lastSeq: int,
  seenHashes: array(hash),
  payments: array(payment),
  held: nullable(invoiceMessage),
  consecutiveFailures: int,
  nodeOutageMs: nullable(num),
  budgetDayStartMs: nullable(num),
  spentEarlierTodayMsat: big,
  promisedEarlierMsat: big,
  startMs: nullable(num),
  lastRxMs: num,
  lastTxMs: num,
  lastMeterSentMs: nullable(num),
  history: nullable(history),
  ownerStopped: bool,
};

const buyerKeysFields: Shape<BuyerKeys> = {
  sessionId: hex(16),
  startMs: num,
  version: int,
  th: hash,
  channel,
  wallPub: pubkey,
  wallDelegation: nullable(object<Delegation>({ delegatePub: pubkey, untilMs: num, signature: hex(65) })),
};

/** Each buyer phase's variant: the common fields and the phase's own. */
function buyerStateFields(): Check<BuyerState> {
  return tagged<BuyerState, 'phase'>('phase', {
    idle: object<BuyerIdle>({ ...buyerBaseFields, phase: oneOf('idle'), bufferedHello: nullable(str) }),
    handshake: object<BuyerHandshake>({
      ...buyerBaseFields,
      phase: oneOf('handshake'),
      startMs: num,
      ephemeralSecret: hash,
      identitySecret: nullable(hash),
      identityPub: pubkey,
    }),
    authenticating: object<BuyerAuthenticating>({
      ...buyerBaseFields,
      ...buyerKeysFields,
      phase: oneOf('authenticating'),
      wallHelloFrame: str,
      ownHelloFrame: str,
      ownAuthSent: bool,
      pendingSign: nullable(str),
    }),
    negotiating: object<BuyerBase & BuyerKeys & { phase: 'negotiating' }>({
      ...buyerBaseFields,
      ...buyerKeysFields,
      phase: oneOf('negotiating'),
    }),
    charging: object<BuyerCharging>({
      ...buyerBaseFields,
      ...buyerKeysFields,
      phase: oneOf('charging'),
      offer,
    }),
    closing: object<BuyerClosing>({
      ...buyerBaseFields,
      ...buyerKeysFields,
      phase: oneOf('closing'),
      closingSinceMs: num,
      endReason: int,
    }),
    ended: object<BuyerEnded>({
      ...buyerBaseFields,
      phase: oneOf('ended'),
      endReason: int,
      wallPub: nullable(pubkey),
    }),
  });
}

/** The seller's state, current schema version (fields, then the phase's invariants). */
export const sellerStateShape: Check<SellerState> = refine(sellerStateFields(), sellerPhaseProblem);

/** The buyer's state, current schema version (fields, then the phase's invariants). */
export const buyerStateShape: Check<BuyerState> = refine(buyerStateFields(), buyerPhaseProblem);
