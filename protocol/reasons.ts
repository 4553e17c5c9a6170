/**
 * Reason codes carried on the wire (u16) in `decline`, `stop`, `error`, `clearError` and receipts, and used
 * in `sessionEnded` effects. Ranges: 0x00xx session end, 0x01xx offer refusal, 0x02xx invoice refusal,
 * 0x03xx metering, 0x04xx protocol. A receiver that meets an unknown code treats it by range (an unknown
 * 0x02xx is still an invoice refusal) and shows the number.
 */
export const Reason = {
  /** Normal completion requested by the seller's operator or the buyer's owner. */
  USER_STOP: 0x0001,
  /** The buyer's target energy has been delivered. */
  TARGET_REACHED: 0x0002,
  /** The cable was unplugged. */
  UNPLUGGED: 0x0003,
  /** Paid-for energy (plus grace) ran out and the seller does not resume. */
  UNPAID: 0x0004,
  /** No authenticated message for `heartbeatTimeoutMs`. */
  HEARTBEAT_LOST: 0x0005,
  /** The buyer declined a renewed offer; the session ended at its boundary. */
  RENEWAL_DECLINED: 0x0006,
  /** The receipt would exceed the frame size limit; the seller ends the session. */
  INVOICE_LIMIT: 0x0007,
  /** The link went down and did not come back within the heartbeat timeout. */
  LINK_LOST: 0x0008,
  /** The EVSE or meter reported a fault. */
  EQUIPMENT_FAULT: 0x0009,
  /** The buyer's session or daily budget is spent. */
  BUDGET_SPENT: 0x000a,
  /** The wall lost its link to the EVSE controller (it cannot switch or verify the power): it ends safely. */
  EVSE_LINK_LOST: 0x000b,
  /**
   * No session: the connector is driven by another session (a walk-up payment). Sent by the wall in a clear
   * `clearError` instead of a hello (see `connectorRefused`); the car may be greeted once the connector is free.
   */
  CONNECTOR_BUSY: 0x000c,
  /** No session: the connector is out of service (the operator's or the CSMS's availability). */
  CONNECTOR_INOPERATIVE: 0x000d,
  /** No session: the connector is faulted (a power cut the meter did not confirm) until an operator clears it. */
  CONNECTOR_FAULTED: 0x000e,
  /**
   * The wall refused the car's promise to pay (offline case 3, protocol version 3): promises are off, the car's
   * or the site's cap of unpaid promised energy is reached, or the promise does not verify. Sent in an `error`
   * whose text starts with the refusal's name and ends with `(invoice <seq>)`; the car, which can neither pay
   * nor promise, ends the session with it.
   */
  PROMISE_REFUSED: 0x000f,

  /** Offer refused: price above the buyer's maximum. */
  PRICE_TOO_HIGH: 0x0101,
  /** Offer refused: block size above the buyer's maximum. */
  BLOCK_TOO_LARGE: 0x0102,
  /** Offer refused: the deposit would exceed the buyer's maximum prepaid energy. */
  PREPAID_TOO_HIGH: 0x0103,
  /** Offer refused: not even the deposit fits the session budget. */
  SESSION_BUDGET: 0x0104,
  /** Offer refused: not even the deposit fits what is left of the daily budget. */
  DAILY_BUDGET: 0x0105,
  /** Offer refused: invoices would be on another Lightning network. */
  WRONG_NETWORK: 0x0106,
  /** Offer refused: terms are inconsistent (min block > max block, zero deposit, ...). */
  BAD_TERMS: 0x0107,
  /**
   * Offer refused: not even the deposit fits the car's cross-session caps on energy paid for but not delivered
   * (per wall node key and overall, over a rolling window).
   */
  UNDELIVERED_CAP: 0x0108,
  /** Offer refused: this wall's recent sessions ended with prepaid energy undelivered; it is in back-off. */
  WALL_BACKOFF: 0x0109,

  /** Invoice refused: BOLT11 does not decode or has no amount or hash. */
  INVOICE_MALFORMED: 0x0201,
  /** Invoice refused: signed by a node other than the authenticated wall key. */
  INVOICE_WRONG_PAYEE: 0x0202,
  /** Invoice refused: price or amount above the agreed tariff for its block. */
  INVOICE_OVERPRICED: 0x0203,
  /** Invoice refused: expired (or about to) at the buyer's clock. */
  INVOICE_EXPIRED: 0x0204,
  /** Invoice refused: its sequence number or payment hash was already seen. */
  INVOICE_DUPLICATE: 0x0205,
  /** Invoice refused: block larger than the agreed or configured maximum. */
  INVOICE_BLOCK_TOO_LARGE: 0x0206,
  /** Invoice refused: BOLT11 network differs from the agreed one. */
  INVOICE_WRONG_NETWORK: 0x0207,
  /** Invoice refused: BOLT11 amount differs from the amount stated in the message. */
  INVOICE_AMOUNT_MISMATCH: 0x0208,
  /** Invoice refused: paying it would exceed the session or daily budget. */
  INVOICE_OVER_BUDGET: 0x0209,
  /** Invoice refused: no accepted offer, or it goes beyond the buyer's target energy. */
  INVOICE_UNEXPECTED: 0x020a,
  /** The buyer's node could not pay the invoice. */
  PAYMENT_FAILED: 0x020b,
  /**
   * Invoice refused: two readers would read it differently (a repeated or wrong-length `p`/`s`/`d`/`h`/`n`/`x`/
   * `c`/`9`/`m`/`f` field, both `d` and `h`, an `n` that is not the signer, mixed case), or the paying node's
   * own decoding differs from the buyer's. The node might pay another hash than the one checked.
   */
  INVOICE_AMBIGUOUS: 0x020c,
  /** Invoice refused: it requires a feature the buyer does not pay with (unknown compulsory bit, blinded paths). */
  INVOICE_UNSUPPORTED: 0x020d,

  /** The seller claims more energy than the buyer's own meter shows, beyond tolerance. */
  METER_MISMATCH: 0x0301,

  /** No common protocol version. */
  VERSION_MISMATCH: 0x0401,
  /** A handshake signature or key did not verify. */
  HANDSHAKE_FAILED: 0x0402,
  /** The handshake did not complete in time. */
  HANDSHAKE_TIMEOUT: 0x0403,
  /** A message arrived that is not allowed in the current state. */
  UNEXPECTED_MESSAGE: 0x0404,
  /** A frame or message failed to decode. */
  MALFORMED_MESSAGE: 0x0405,
  /** The seller's receipt does not verify or disagrees with the buyer's ledger. */
  RECEIPT_INVALID: 0x0406,
  /** The session ended without a receipt from the seller. */
  NO_RECEIPT: 0x0407,
  /** The local node signed with a key other than the configured one, or similar local misconfiguration. */
  LOCAL_FAULT: 0x0408,
  /** The peer reused a session id this side has already stored (an earlier session's). */
  SESSION_ID_REUSED: 0x0409,
  /** A value from the peer does not fit this side's ledger (e.g. a price of 2^63 msat/Wh or more). */
  VALUE_OUT_OF_RANGE: 0x040a,
} as const;

/** Symbolic reason name. */
export type ReasonName = keyof typeof Reason;
/** A u16 reason code (known codes are in `Reason`; unknown ones may arrive from newer peers). */
export type ReasonCode = number;

const names = new Map<number, ReasonName>(
  (Object.entries(Reason) as [ReasonName, number][]).map(([name, code]) => [code, name]),
);

/**
 * Name of a reason code, or `UNKNOWN_0xNNNN` for codes this version does not know.
 * @param code u16 reason code
 */
export function reasonName(code: ReasonCode): string {
  return names.get(code) ?? `UNKNOWN_0x${code.toString(16).padStart(4, '0')}`;
}

/** The reasons a wall refuses a plugged-in car any session (the connector arbiter's refusal words). */
export const CONNECTOR_REFUSALS: readonly ReasonCode[] = [
  Reason.CONNECTOR_BUSY,
  Reason.CONNECTOR_INOPERATIVE,
  Reason.CONNECTOR_FAULTED,
];

/**
 * Whether a code is one of the wall's connector refusals (`CONNECTOR_REFUSALS`).
 * @param code u16 reason code
 */
export function isConnectorRefusal(code: ReasonCode): boolean {
  return CONNECTOR_REFUSALS.includes(code);
}
