/**
 * The wall's offline invoice stock (offline case 1b: the car is online, the charger is not). While online, the
 * wall keeps `perDenomination` invoices of each fixed amount with a long expiry from its node (an invoice-only
 * macaroon suffices). Offline, it hands one to the car over the cable; the car pays it through its own uplink and
 * returns the preimage. A preimage whose sha256 is the payment hash of an invoice from this stock proves the
 * wall's node settled that invoice (only the node knew the preimage; it reveals it when it settles), with no
 * network. Back online, every handed or proven invoice is reconciled with the node.
 *
 * Pure: time and events in, effects out. Each invoice is one union by phase; the stock is a map by payment hash.
 * Write-ahead: a creation is `requested` (with its request id) before the node is asked, so a restart never
 * orphans an invoice the node made (the shell looks it up by the request id's memo).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';

/** Stock rules (config `offline.stock:`). */
export interface StockConfig {
  /** the fixed amounts, msat, smallest first (e.g. 1 000 000 and 5 000 000) */
  denominationsMsat: bigint[];
  /** invoices kept of each denomination */
  perDenomination: number;
  /** expiry of a stocked invoice, s (long: days) */
  expirySec: number;
  /** an unused invoice closer than this to its expiry is retired and replaced, s */
  retireBeforeExpirySec: number;
}

/** One stocked invoice, by phase. */
export type StockedInvoice =
  | { phase: 'stocked'; paymentHash: string; bolt11: string; amountMsat: bigint; expiresAtMs: number }
  | {
      phase: 'handed';
      paymentHash: string;
      bolt11: string;
      amountMsat: bigint;
      expiresAtMs: number;
      sessionId: string;
      handedAtMs: number;
    }
  | {
      phase: 'proven';
      paymentHash: string;
      amountMsat: bigint;
      sessionId: string;
      preimage: string;
      provenAtMs: number;
    }
  /** the node confirmed: settled (paid) or not (a handed invoice the car never paid, now expired/cancelled) */
  | {
      phase: 'reconciled';
      paymentHash: string;
      amountMsat: bigint;
      sessionId: string | null;
      settled: boolean;
    }
  /** retired unused before its expiry (the shell cancels it at the node) */
  | { phase: 'retired'; paymentHash: string; amountMsat: bigint };

/** The whole stock (persisted). */
export interface StockState {
  /** creations asked of the node and not answered yet, by request id */
  requested: Record<string, { amountMsat: bigint; atMs: number }>;
  invoices: Record<string, StockedInvoice>;
  /** next request id number */
  nextRequest: number;
}

/** An empty stock. */
export function emptyStock(): StockState {
  return { requested: {}, invoices: {}, nextRequest: 1 };
}

/** What the shell must do. */
export type StockEffect =
  | { type: 'createInvoice'; requestId: string; amountMsat: bigint; expirySec: number }
  | { type: 'cancelInvoice'; paymentHash: string }
  | { type: 'lookupInvoice'; paymentHash: string };

/** Why a payment proof is refused (stable words: they reach the car and the logs). */
export type ProofRefusal =
  | 'PROOF_UNKNOWN_INVOICE'
  | 'PROOF_NOT_HANDED_TO_SESSION'
  | 'PROOF_ALREADY_USED'
  | 'PROOF_PREIMAGE_MISMATCH'
  | 'PROOF_MALFORMED';

/** Events. */
export type StockEvent =
  /** periodic: replenish (online only) and retire invoices near expiry */
  | { type: 'tick'; atMs: number; online: boolean }
  | { type: 'invoiceCreated'; requestId: string; paymentHash: string; bolt11: string; expiresAtMs: number }
  | { type: 'invoiceCreateFailed'; requestId: string }
  /** back online: look up every handed and proven invoice */
  | { type: 'reconcile'; atMs: number }
  | { type: 'nodeStatus'; paymentHash: string; status: 'settled' | 'open' | 'canceled' };

/** Result of a step. */
export interface StockStep<T = undefined> {
  state: StockState;
  effects: StockEffect[];
  result: T;
}

/** Applies an event.

  @param state current stock
  @param event the event
  @param config stock rules
  @returns the new stock and the effects to run
*/
export function stockStep(state: StockState, event: StockEvent, config: StockConfig): StockStep {
  const s: StockState = { ...state, requested: { ...state.requested }, invoices: { ...state.invoices } };
  const effects: StockEffect[] = [];
  switch (event.type) {
    case 'tick': {
      for (const inv of Object.values(s.invoices)) {
        if (inv.phase === 'stocked' && inv.expiresAtMs - config.retireBeforeExpirySec * 1000 <= event.atMs) {
          s.invoices[inv.paymentHash] = {
            phase: 'retired',
            paymentHash: inv.paymentHash,
            amountMsat: inv.amountMsat,
          };
          effects.push({ type: 'cancelInvoice', paymentHash: inv.paymentHash });
        }
      }
      if (!event.online) break;
      for (const amountMsat of config.denominationsMsat) {
        const have =
          Object.values(s.invoices).filter((i) => i.phase === 'stocked' && i.amountMsat === amountMsat)
            .length + Object.values(s.requested).filter((r) => r.amountMsat === amountMsat).length;
        for (let k = have; k < config.perDenomination; k++) {
          const requestId = `stock-${s.nextRequest++}`;
          s.requested[requestId] = { amountMsat, atMs: event.atMs };
          effects.push({ type: 'createInvoice', requestId, amountMsat, expirySec: config.expirySec });
        }
      }
      break;
    }
    case 'invoiceCreated': {
      const req = s.requested[event.requestId];
      if (req === undefined) break; // answered twice (replayed after a restart): the first answer stands
      delete s.requested[event.requestId];
      s.invoices[event.paymentHash] = {
        phase: 'stocked',
        paymentHash: event.paymentHash,
        bolt11: event.bolt11,
        amountMsat: req.amountMsat,
        expiresAtMs: event.expiresAtMs,
      };
      break;
    }
    case 'invoiceCreateFailed':
      delete s.requested[event.requestId]; // the next online tick asks again
      break;
    case 'reconcile':
      for (const inv of Object.values(s.invoices))
        if (inv.phase === 'handed' || inv.phase === 'proven')
          effects.push({ type: 'lookupInvoice', paymentHash: inv.paymentHash });
      break;
    case 'nodeStatus': {
      const inv = s.invoices[event.paymentHash];
      if (inv === undefined || (inv.phase !== 'handed' && inv.phase !== 'proven')) break;
      // open: not paid yet and not expired (lnd cancels an invoice at its expiry); nothing to decide yet
      if (event.status === 'open') break;
      // a proven invoice the node reports cancelled means the preimage was known without a settlement (a leak):
      // it is reconciled unpaid, and the shell alarms on it
      s.invoices[inv.paymentHash] = {
        phase: 'reconciled',
        paymentHash: inv.paymentHash,
        amountMsat: inv.amountMsat,
        sessionId: inv.sessionId,
        settled: event.status === 'settled',
      };
      break;
    }
  }
  return { state: s, effects, result: undefined };
}

/** Hands the car a stocked invoice for a session: by default the smallest of at least `minMsat` (or the largest
  below it when none is as large); with `maxMsat`, the largest of at most `maxMsat` that is a multiple of
  `stepMsat` (the seller shrinks its block to it: whole Wh at the block's price, never a larger block).

  @param state current stock
  @param args {sessionId, minMsat, atMs, maxMsat?: the requested block's amount, msat, stepMsat?: the price, msat
    per Wh, fits?: whether the seller can sell a block for that amount (with maxMsat: e.g. it leaves no unpayable
    tail before the car's target)}
  @returns the new stock and the handed invoice, or null when no stocked invoice fits (the session must stop)
*/
export function handOut(
  state: StockState,
  args: {
    sessionId: string;
    minMsat: bigint;
    atMs: number;
    maxMsat?: bigint;
    stepMsat?: bigint;
    fits?: (amountMsat: bigint) => boolean;
  },
): StockStep<{ paymentHash: string; bolt11: string; amountMsat: bigint } | null> {
  const stocked = Object.values(state.invoices)
    .filter((i): i is Extract<StockedInvoice, { phase: 'stocked' }> => i.phase === 'stocked')
    .filter((i) => i.expiresAtMs > args.atMs)
    .sort((a, b) => (a.amountMsat < b.amountMsat ? -1 : a.amountMsat > b.amountMsat ? 1 : 0));
  const { maxMsat, stepMsat } = args;
  const pick =
    maxMsat === undefined
      ? (stocked.find((i) => i.amountMsat >= args.minMsat) ?? stocked[stocked.length - 1])
      : stocked
          .filter((i) => i.amountMsat <= maxMsat)
          .filter((i) => stepMsat === undefined || (stepMsat > 0n && i.amountMsat % stepMsat === 0n))
          .filter((i) => args.fits === undefined || args.fits(i.amountMsat))
          .pop();
  if (pick === undefined) return { state, effects: [], result: null };
  const invoices = {
    ...state.invoices,
    [pick.paymentHash]: {
      ...pick,
      phase: 'handed' as const,
      sessionId: args.sessionId,
      handedAtMs: args.atMs,
    },
  };
  return {
    state: { ...state, invoices },
    effects: [],
    result: { paymentHash: pick.paymentHash, bolt11: pick.bolt11, amountMsat: pick.amountMsat },
  };
}

/** Checks a payment proof from the car (offline: no node is asked).

  @param state current stock
  @param args {sessionId, paymentHash (hex), preimage (hex), atMs}
  @returns the new stock and either the proven amount or the refusal
*/
export function acceptProof(
  state: StockState,
  args: { sessionId: string; paymentHash: string; preimage: string; atMs: number },
): StockStep<{ ok: true; amountMsat: bigint } | { ok: false; refusal: ProofRefusal }> {
  const refuse = (refusal: ProofRefusal) => ({ state, effects: [], result: { ok: false as const, refusal } });
  if (!/^[0-9a-f]{64}$/.test(args.paymentHash) || !/^[0-9a-f]{64}$/.test(args.preimage))
    return refuse('PROOF_MALFORMED');
  if (bytesToHex(sha256(hexToBytes(args.preimage))) !== args.paymentHash)
    return refuse('PROOF_PREIMAGE_MISMATCH');
  const inv = state.invoices[args.paymentHash];
  if (inv === undefined) return refuse('PROOF_UNKNOWN_INVOICE');
  if (inv.phase === 'proven' || inv.phase === 'reconciled') return refuse('PROOF_ALREADY_USED');
  if (inv.phase !== 'handed' || inv.sessionId !== args.sessionId)
    return refuse('PROOF_NOT_HANDED_TO_SESSION');
  const invoices = {
    ...state.invoices,
    [inv.paymentHash]: {
      phase: 'proven' as const,
      paymentHash: inv.paymentHash,
      amountMsat: inv.amountMsat,
      sessionId: inv.sessionId,
      preimage: args.preimage,
      provenAtMs: args.atMs,
    },
  };
  return { state: { ...state, invoices }, effects: [], result: { ok: true, amountMsat: inv.amountMsat } };
}
