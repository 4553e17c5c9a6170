/**
 * Tariff math shared by seller and buyer (one module serves both: the buyer checks an invoice with the very
 * functions the seller used to compute it). Units: price in integer msat per Wh (bigint), energy in integer
 * Wh (number; session energies stay far below 2^53), money in msat (bigint).
 *
 * Rounding: amounts are exact (price × Wh, no division). Block sizes are rounded DOWN to whole Wh, so a block
 * never buys more energy than the cadence warrants; fee limits and meter tolerances are rounded down.
 * Energy prepaid but not delivered when a session ends early (at most the buyer's maxPrepaidWh) is listed in
 * the receipt (paid minus delivered); there is no on-protocol refund in version 1.
 */

/** Largest amount any ledger stores (SQLite INTEGER, signed 64-bit), msat. A wall's value above it is refused. */
export const MAX_LEDGER_MSAT = (1n << 63n) - 1n;

/** A price in force from a cumulative paid energy on. */
export interface PriceSegment {
  /** Cumulative paid energy of the session (Wh) from which this price applies. */
  fromWh: number;
  priceMsatPerWh: bigint;
}

/**
 * Energy block for one invoice so that invoices arrive about every `targetIntervalSec` at `powerW`.
 * @param powerW present (or planned) power, W
 * @param targetIntervalSec target cadence, s (default 16)
 * @param minBlockWh smallest block, Wh
 * @param maxBlockWh largest block, Wh
 * @returns floor(powerW × targetIntervalSec / 3600) clamped to [minBlockWh, maxBlockWh], Wh
 */
export function blockWhForPower(
  powerW: number,
  targetIntervalSec: number,
  minBlockWh: number,
  maxBlockWh: number,
): number {
  const raw = Number.isFinite(powerW) && powerW > 0 ? Math.floor((powerW * targetIntervalSec) / 3600) : 0;
  return Math.max(minBlockWh, Math.min(maxBlockWh, raw));
}

/**
 * Amount of an invoice for a block, exact.
 * @param priceMsatPerWh msat per Wh
 * @param blockWh Wh
 * @returns msat = price × blockWh
 */
export function amountMsatForBlock(priceMsatPerWh: bigint, blockWh: number): bigint {
  return priceMsatPerWh * BigInt(blockWh);
}

/**
 * Price in force at a cumulative paid energy.
 * @param schedule segments in ascending `fromWh`, first at 0
 * @param atWh cumulative paid energy, Wh
 * @returns msat per Wh
 */
export function priceAt(schedule: readonly PriceSegment[], atWh: number): bigint {
  let price = (schedule[0] as PriceSegment).priceMsatPerWh;
  for (const s of schedule) if (s.fromWh <= atWh) price = s.priceMsatPerWh;
  return price;
}

/**
 * Exact price of the energy range [fromWh, fromWh + blockWh): each part at the price in force for it, so a
 * block that crosses a price change is priced per part (the seller never invoices such a block, but the buyer
 * checks every block with this same function).
 * @param schedule segments in ascending `fromWh`, first at 0
 * @param fromWh cumulative paid energy where the block starts, Wh
 * @param blockWh energy of the block, Wh
 * @returns msat = Σ price × Wh over the parts
 */
export function amountMsatForRange(
  schedule: readonly PriceSegment[],
  fromWh: number,
  blockWh: number,
): bigint {
  const toWh = fromWh + blockWh;
  let total = 0n;
  let at = fromWh;
  while (at < toWh) {
    let partEndWh = toWh;
    for (const seg of schedule) if (seg.fromWh > at && seg.fromWh < partEndWh) partEndWh = seg.fromWh;
    total += amountMsatForBlock(priceAt(schedule, at), partEndWh - at);
    at = partEndWh;
  }
  return total;
}

/**
 * Terms of the invoice for a block starting at `fromWh`: used by the seller to create it and by the buyer to
 * check it.
 * @returns { priceMsatPerWh: the price where the block starts, amountMsat: `amountMsatForRange` }
 */
export function invoiceTerms(
  schedule: readonly PriceSegment[],
  fromWh: number,
  blockWh: number,
): { priceMsatPerWh: bigint; amountMsat: bigint } {
  return {
    priceMsatPerWh: priceAt(schedule, fromWh),
    amountMsat: amountMsatForRange(schedule, fromWh, blockWh),
  };
}

/**
 * Largest fee the buyer allows for a payment: min(maxFeeMsat, floor(amount × maxFeePpm / 1e6)).
 * @returns msat
 */
export function feeLimitMsat(amountMsat: bigint, maxFeeMsat: bigint, maxFeePpm: number): bigint {
  const byPpm = (amountMsat * BigInt(Math.floor(maxFeePpm))) / 1_000_000n;
  return byPpm < maxFeeMsat ? byPpm : maxFeeMsat;
}

/**
 * Meter disagreement the buyer tolerates: toleranceWh + floor(ownWh × tolerancePpm / 1e6).
 * @returns Wh
 */
export function meterToleranceWh(ownWh: number, toleranceWh: number, tolerancePpm: number): number {
  return toleranceWh + Math.floor((ownWh * tolerancePpm) / 1_000_000);
}

/**
 * The seller's worst-case unpaid energy for a configuration: the grace, plus whatever flows between two meter
 * readings (not known here, so reported separately as a rate).
 * @returns { unpaidWh, unpaidMsat, perSecondBetweenReadingsWh } at the configured price and maximum power
 */
export function sellerMaxExposure(c: { priceMsatPerWh: bigint; graceWh: number; maxPowerW: number }): {
  unpaidWh: number;
  unpaidMsat: bigint;
  perSecondBetweenReadingsWh: number;
} {
  return {
    unpaidWh: c.graceWh,
    unpaidMsat: amountMsatForBlock(c.priceMsatPerWh, c.graceWh),
    perSecondBetweenReadingsWh: c.maxPowerW / 3600,
  };
}

/**
 * The buyer's worst-case loss for a configuration: energy prepaid but not delivered (maxPrepaidWh at the
 * highest acceptable price) plus the meter tolerance it lets the seller over-claim, bounded by the session
 * budget.
 * @returns { prepaidMsat, sessionMsat } msat
 */
export function buyerMaxExposure(c: {
  maxPriceMsatPerWh: bigint;
  maxPrepaidWh: number;
  sessionBudgetMsat: bigint;
}): { prepaidMsat: bigint; sessionMsat: bigint } {
  return {
    prepaidMsat: amountMsatForBlock(c.maxPriceMsatPerWh, c.maxPrepaidWh),
    sessionMsat: c.sessionBudgetMsat,
  };
}
