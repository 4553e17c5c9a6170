/**
 * The columns both ledgers keep for every block of energy (the wall's `invoices`, the car's `payments`): one
 * mapping from their SQLite rows (integers read as bigint) to the stores' rows serves both stores.
 */

/**
 * A block's common columns as SQLite returns them (`safeIntegers`: integers as bigint).
 * `S`: the ledger's state words; `H`, `B`: the payment hash and BOLT11 columns (nullable in the wall's ledger,
 * where a requested invoice has neither yet).
 */
export interface BlockDbRow<S extends string, H extends string | null, B extends string | null> {
  session_id: string;
  seq: bigint;
  state: S;
  payment_hash: H;
  bolt11: B;
  amount_msat: bigint;
  from_wh: bigint;
  to_wh: bigint;
}

/** A block's common fields in a store row (amounts bigint msat, energy Wh). */
export interface BlockRow<S extends string, H extends string | null, B extends string | null> {
  sessionId: string;
  seq: number;
  state: S;
  paymentHash: H;
  bolt11: B;
  amountMsat: bigint;
  fromWh: number;
  toWh: number;
}

/**
 * Maps a block's common columns.
 * @param r the row from SQLite
 * @returns the common fields (the store adds its own)
 */
export function blockFromDb<S extends string, H extends string | null, B extends string | null>(
  r: BlockDbRow<S, H, B>,
): BlockRow<S, H, B> {
  return {
    sessionId: r.session_id,
    seq: Number(r.seq),
    state: r.state,
    paymentHash: r.payment_hash,
    bolt11: r.bolt11,
    amountMsat: r.amount_msat,
    fromWh: Number(r.from_wh),
    toWh: Number(r.to_wh),
  };
}

/**
 * A nullable integer column (a time in ms) as a number.
 * @param v the column as bigint, or null
 * @returns the number, or null
 */
export const numberOrNull = (v: bigint | null): number | null => (v === null ? null : Number(v));
