/**
 * A session's receipt as `boltcharge receipt` prints it and the status page serves it: the stored seller-signed
 * receipt (if any) together with this daemon's own ledger lines (wall: settled invoices; vehicle: succeeded
 * payments, each role's store says which), as text, JSON or CSV.
 */
import type { SignedStatement } from '../payments/payout-statement.js'; // split
import type { Delegation } from '../protocol/delegation.js';
import { toJson, type SessionStore } from './session-store.js';
import { readStoredJson } from './stored-json.js';

/** One paid block. */
export interface ReceiptLine {
  seq: number;
  paymentHash: string;
  amountMsat: bigint;
  fromWh: number;
  toWh: number;
  /** ISO time of settlement (wall) or payment success (vehicle) */
  paidAt: string | null;
}

/** Everything the `receipt` command shows. */
export interface ReceiptView {
  role: 'wall' | 'vehicle';
  sessionId: string;
  startedAt: string;
  endedAt: string | null;
  stopReason: string | null;
  /** energy by this daemon's meter, Wh */
  energyWh: number;
  priceMsatPerWh: bigint | null;
  /** sum of the lines, msat */
  totalMsat: bigint;
  lines: ReceiptLine[];
  /**
   * the seller-signed receipt body (parsed JSON) and signature, when one was exchanged; on the vehicle with the
   * node-signed delegation it was verified under (protocol version 3: signed by the wall's delegate key, it
   * verifies only with it; null when the wall announced none), so a third party can verify it
   */
  signed: {
    body: unknown;
    signature: string;
    valid: boolean | null;
    delegation?: Delegation | null;
  } | null;
  /** wall: signed split settlement statements of the payouts covering this session (issue 14) */
  split: SignedStatement[];
}

/** ISO time of a ms timestamp (null stays null). */
export const isoTime = (ms: number | null): string | null =>
  ms === null ? null : new Date(ms).toISOString();

/** What the view reads: a role's store with its paid blocks, and (wall) the split statements. */
export interface ReceiptSource {
  role: 'wall' | 'vehicle';
  store: SessionStore & {
    /** the session's paid blocks in order: wall, settled invoices; vehicle, succeeded payments */
    receiptLines(sessionId: string): ReceiptLine[];
  };
  /** wall: the signed split statements of the payouts covering a session (issue 14) */
  splitStatements?: (sessionId: string) => SignedStatement[];
}

/**
 * Builds the view of one session.
 *
 * @param source the daemon's store (and its split statements)
 * @param sessionId session id (a unique prefix is accepted)
 * @returns the view, or undefined when no session matches
 */
export function receiptView(source: ReceiptSource, sessionId: string): ReceiptView | undefined {
  const { store } = source;
  const match = sessionId === '' ? [] : store.sessionsWithIdPrefix(sessionId, 2);
  const s = match.length === 1 ? match[0] : store.findSession(sessionId);
  if (!s) return undefined;
  const lines = store.receiptLines(s.id);
  const r = store.receipt(s.id);
  return {
    role: source.role,
    sessionId: s.id,
    startedAt: isoTime(s.startedAtMs) ?? '',
    endedAt: isoTime(s.endedAtMs),
    stopReason: s.stopReason,
    energyWh: s.energyWh,
    priceMsatPerWh: s.priceMsatPerWh,
    totalMsat: lines.reduce((a, l) => a + l.amountMsat, 0n),
    lines,
    signed: r
      ? {
          body: readStoredJson(r.bodyJson),
          signature: r.signature,
          valid: r.valid,
          ...(r.delegation !== undefined ? { delegation: r.delegation } : {}),
        }
      : null,
    split: source.splitStatements?.(s.id) ?? [], // split
  };
}

/** The view as pretty JSON (bigints as strings). */
export function receiptJson(v: ReceiptView): string {
  return JSON.stringify(JSON.parse(toJson(v)), null, 2);
}

/** The view as CSV: one row per paid block, then a total row. */
export function receiptCsv(v: ReceiptView): string {
  const rows = ['session_id,seq,payment_hash,amount_msat,from_wh,to_wh,paid_at'];
  for (const l of v.lines)
    rows.push([v.sessionId, l.seq, l.paymentHash, l.amountMsat, l.fromWh, l.toWh, l.paidAt ?? ''].join(','));
  rows.push([v.sessionId, 'total', '', v.totalMsat, 0, v.energyWh, v.endedAt ?? ''].join(','));
  for (const { statement: st } of v.split)
    // split: one row per payout (seq = split:<recipient>)
    rows.push(
      [
        v.sessionId,
        `split:${st.recipient.name}`,
        st.shares[0]?.paymentHash ?? '',
        st.amountMsat,
        '',
        '',
        new Date(st.settledAtMs).toISOString(),
      ].join(','),
    );
  return rows.join('\n') + '\n';
}

/** The view as text for a terminal. */
export function receiptText(v: ReceiptView): string {
  const sat = (msat: bigint): string => `${msat / 1000n}.${(msat % 1000n).toString().padStart(3, '0')} sat`;
  const out = [
    `Session   ${v.sessionId} (${v.role})`,
    `Started   ${v.startedAt}`,
    `Ended     ${v.endedAt ?? '(active)'}${v.stopReason ? `  reason: ${v.stopReason}` : ''}`,
    `Energy    ${v.energyWh} Wh (own meter)`,
    `Price     ${v.priceMsatPerWh ?? '-'} msat/Wh`,
    `Paid      ${sat(v.totalMsat)} in ${v.lines.length} payments`,
    '',
    '  seq  energy (Wh)      amount        payment hash',
    ...v.lines.map(
      (l) =>
        `  ${String(l.seq).padStart(3)}  ${`${l.fromWh}-${l.toWh}`.padEnd(15)} ${sat(l.amountMsat).padStart(13)}  ${l.paymentHash}`,
    ),
    '',
    v.signed
      ? `Signed receipt: ${v.signed.valid === null ? 'stored (seller copy)' : v.signed.valid ? 'VALID' : 'INVALID'}`
      : 'Signed receipt: none',
    ...(v.signed?.delegation
      ? [
          `  under the wall node's delegation to ${v.signed.delegation.delegatePub} until ${isoTime(v.signed.delegation.untilMs)}`,
        ]
      : []),
    ...v.split.map(
      (x) =>
        `Split payout ${x.statement.payoutId} to ${x.statement.recipient.name}: ${sat(BigInt(x.statement.amountMsat))} (statement: boltcharge verify-statement)`,
    ), // split
  ];
  return out.join('\n') + '\n';
}
