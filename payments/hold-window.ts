/**
 * How long a walk-up session may hold a deposit: the CLTV arithmetic of hold invoices. Pure: the time and the
 * block heights come in as arguments.
 *
 * A held HTLC must be settled or cancelled before its CLTV expiry height; lnd itself cancels a hold invoice
 * `holdexpirydelta` blocks before that height (so it never has to go on chain). The wall keeps its own margin of
 * `marginBlocks` (> holdexpirydelta) and must settle or cancel once the chain reaches
 * `htlcExpiryHeight - marginBlocks`: the **settle-by height** is the authority. Time is only an estimate of
 * when that height comes: blocks arrive at random (a Poisson process; several in a few minutes happen), so the
 * `blockIntervalMs` given here must be a pessimistic (short) interval, e.g. 5 minutes on mainnet rather than the
 * 10-minute mean, and the wall must also act on the height when it comes earlier than the estimate.
 */
import { fail, ok, type Result } from '../protocol/errors.js';

/** Why hold-window arguments are refused. */
export type HoldWindowInvalid =
  | { name: 'HoldWindowHeightInvalid'; htlcExpiryHeight: number; currentHeight: number }
  | { name: 'HoldWindowIntervalInvalid'; blockIntervalMs: number }
  | { name: 'HoldWindowMarginTooSmall'; marginBlocks: number; holdExpiryDeltaBlocks: number }
  | { name: 'HoldWindowTimeInvalid'; nowMs: number };

/** The CLTV safety parameters every hold-window computation takes. */
export interface HoldMargin {
  /** pessimistic (short) assumed time between blocks, ms (> 0) */
  blockIntervalMs: number;
  /** blocks before the HTLC's CLTV expiry at which the wall must have settled or cancelled (integer) */
  marginBlocks: number;
  /** the node's `invoices.holdexpirydelta`, blocks: lnd cancels this many blocks before expiry, so
    `marginBlocks` must be larger (the wall acts first) */
  holdExpiryDeltaBlocks: number;
}

/** Where a held HTLC stands. */
export interface HoldWindow {
  /** the height at which the wall must settle or cancel at the latest: `htlcExpiryHeight - marginBlocks` */
  settleByHeight: number;
  /** blocks left until the settle-by height (0 when it is reached or passed: act now) */
  blocksLeft: number;
  /** the estimated latest instant to settle or cancel, ms since the Unix epoch: `nowMs + blocksLeft ×
    blockIntervalMs` (equals `nowMs` when blocksLeft is 0) */
  settleByMs: number;
}

/**
 * The latest moment the wall must settle or cancel a held HTLC.
 * @param args.htlcExpiryHeight the lowest CLTV expiry height of the held HTLCs (block height)
 * @param args.currentHeight the node's best block height now
 * @param args.nowMs now, ms since the Unix epoch
 * @param args.blockIntervalMs, args.marginBlocks, args.holdExpiryDeltaBlocks see `HoldMargin`
 * @returns the settle-by height, blocks left and the estimated settle-by instant (ms); or the first rule broken
 *   (`HoldWindowHeightInvalid`, `HoldWindowIntervalInvalid`, `HoldWindowMarginTooSmall`, `HoldWindowTimeInvalid`)
 */
export function holdWindow(
  args: HoldMargin & { htlcExpiryHeight: number; currentHeight: number; nowMs: number },
): Result<HoldWindow, HoldWindowInvalid> {
  const checked = checkMargin(args);
  if (!checked.ok) return checked;
  const { htlcExpiryHeight, currentHeight, nowMs } = args;
  if (
    !Number.isSafeInteger(htlcExpiryHeight) ||
    !Number.isSafeInteger(currentHeight) ||
    currentHeight < 0 ||
    htlcExpiryHeight < 0
  ) {
    return fail({ name: 'HoldWindowHeightInvalid', htlcExpiryHeight, currentHeight });
  }
  if (!Number.isSafeInteger(nowMs) || nowMs < 0) return fail({ name: 'HoldWindowTimeInvalid', nowMs });
  const settleByHeight = htlcExpiryHeight - args.marginBlocks;
  const blocksLeft = Math.max(0, settleByHeight - currentHeight);
  return ok({ settleByHeight, blocksLeft, settleByMs: nowMs + blocksLeft * args.blockIntervalMs });
}

/**
 * The longest session a hold invoice allows before anyone has paid it: its HTLC arrives with at least
 * `cltvDeltaBlocks` blocks left (the invoice's final CLTV delta), of which the margin is reserved.
 * @param args.cltvDeltaBlocks the hold invoice's final CLTV delta, blocks
 * @param args.blockIntervalMs, args.marginBlocks, args.holdExpiryDeltaBlocks see `HoldMargin`
 * @returns the longest session, ms (0 when the margin eats the whole delta), or the first rule broken
 */
export function longestHoldSessionMs(
  args: HoldMargin & { cltvDeltaBlocks: number },
): Result<number, HoldWindowInvalid> {
  const checked = checkMargin(args);
  if (!checked.ok) return checked;
  if (!Number.isSafeInteger(args.cltvDeltaBlocks) || args.cltvDeltaBlocks < 0) {
    return fail({
      name: 'HoldWindowHeightInvalid',
      htlcExpiryHeight: args.cltvDeltaBlocks,
      currentHeight: 0,
    });
  }
  return ok(Math.max(0, args.cltvDeltaBlocks - args.marginBlocks) * args.blockIntervalMs);
}

function checkMargin(m: HoldMargin): Result<HoldMargin, HoldWindowInvalid> {
  if (!Number.isSafeInteger(m.blockIntervalMs) || m.blockIntervalMs <= 0) {
    return fail({ name: 'HoldWindowIntervalInvalid', blockIntervalMs: m.blockIntervalMs });
  }
  if (
    !Number.isSafeInteger(m.marginBlocks) ||
    !Number.isSafeInteger(m.holdExpiryDeltaBlocks) ||
    m.holdExpiryDeltaBlocks < 0 ||
    m.marginBlocks <= m.holdExpiryDeltaBlocks
  ) {
    return fail({
      name: 'HoldWindowMarginTooSmall',
      marginBlocks: m.marginBlocks,
      holdExpiryDeltaBlocks: m.holdExpiryDeltaBlocks,
    });
  }
  return ok(m);
}
