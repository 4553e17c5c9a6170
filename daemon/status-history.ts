/**
 * The dashboards' history, read from a daemon's store: a session's meter samples and ledger in pages, one row per
 * session with its books (energy, money, fees, average price, unpaid energy), the same per day or week, and for
 * the vehicle its spend against the budgets and its sessions per charger with the refusals and their reasons.
 *
 * Both daemons keep the same session tables; the ledger differs: the wall's `invoices` (paid = `settled`, amount
 * = what the node received) and the vehicle's `payments` (paid = `succeeded`, plus routing fees). Amounts are
 * bigint msat, energy integer Wh, times ms on the daemon's clock (accelerated in the demo: latencies are
 * converted back to real milliseconds with the clock's speed).
 */
import type { SessionStore } from './session-store.js';

/** Which daemon's ledger to read. */
export type LedgerRole = 'wall' | 'vehicle';

/** How a ledger line is drawn: paid, still open, or void (cancelled, expired, failed: the block was not paid). */
export type LedgerOutcome = 'paid' | 'unpaid' | 'void';

/** One ledger line (a wall invoice or a vehicle payment) as the dashboards show it. */
export interface HistoryLedgerLine {
  seq: number;
  state: string;
  outcome: LedgerOutcome;
  amountMsat: bigint;
  /** routing fee paid (vehicle), msat; null on the wall */
  feeMsat: bigint | null;
  /** energy block [fromWh, toWh), cumulative session Wh */
  fromWh: number;
  toWh: number;
  paymentHash: string | null;
  /** when the invoice was issued (wall) or the payment recorded (vehicle), daemon clock ms */
  issuedAtMs: number | null;
  /** when it was paid, daemon clock ms, or null */
  paidAtMs: number | null;
  /** issue → settle (wall) or record → success (vehicle) in REAL milliseconds */
  latencyRealMs: number | null;
}

/** One stored meter sample of this daemon's own meter. */
export interface HistorySample {
  tMs: number;
  /** meter register, Wh (subtract the page's `baseWh` for session energy) */
  energyWh: number;
  powerW: number;
}

/** A page of results; `next` is the cursor for the following page, null at the end. */
export interface Page<T> {
  items: T[];
  next: number | null;
}

/** A session's books as the history view shows them. */
export interface SessionBooks {
  id: string;
  peer: string | null;
  startedAtMs: number;
  endedAtMs: number | null;
  status: string;
  stopReason: string | null;
  /** delivered by this daemon's meter, Wh */
  energyWh: number;
  /** received (wall) or paid (vehicle), msat, without fees */
  paidMsat: bigint;
  /** routing fees paid (vehicle), msat; 0 on the wall (the car pays them) */
  feesMsat: bigint;
  /** energy covered by paid blocks, Wh */
  paidWh: number;
  /** delivered beyond the paid blocks, Wh (0 when prepaid) */
  unpaidWh: number;
  /** paid for but not delivered by this daemon's meter, Wh (what a dishonest wall could keep) */
  undeliveredWh: number;
  /** paid ÷ paid energy, msat/Wh (null before the first payment) */
  avgPriceMsatPerWh: number | null;
}

/** Sessions grouped by local day or week. */
export interface HistoryBucket {
  /** start of the bucket, ms since epoch (local midnight; weeks start on Monday) */
  startMs: number;
  sessions: number;
  energyWh: number;
  paidMsat: bigint;
  feesMsat: bigint;
  unpaidWh: number;
  avgPriceMsatPerWh: number | null;
}

/** One charger (wall node key) as the vehicle's owner sees it. */
export interface ChargerSummary {
  /** the wall's node key, hex */
  peer: string;
  sessions: number;
  energyWh: number;
  paidMsat: bigint;
  feesMsat: bigint;
  avgPriceMsatPerWh: number | null;
  /** paid for but not delivered over all its sessions, Wh (the vehicle's exposure to this wall) */
  undeliveredWh: number;
  /** refused offers, invoices and price changes by reason */
  refusals: { reason: string; count: number }[];
  lastSessionAtMs: number;
}

/** The `peer` of sessions whose other party is not known. */
export const UNKNOWN_PEER = '(unknown)';

/** Page size bounds. */
export const MAX_PAGE = 5000;

interface LedgerTable {
  table: string;
  paidState: string;
  amount: string;
  fee: string;
  issuedAt: string;
  paidAt: string;
  voidStates: string[];
}

const LEDGERS: Record<LedgerRole, LedgerTable> = {
  wall: {
    table: 'invoices',
    paidState: 'settled',
    amount: 'COALESCE(received_msat, amount_msat)',
    fee: 'NULL',
    issuedAt: 'issued_at_ms',
    paidAt: 'settled_at_ms',
    voidStates: ['cancelled', 'expired', 'failed'],
  },
  vehicle: {
    table: 'payments',
    paidState: 'succeeded',
    amount: 'amount_msat',
    fee: 'fee_msat',
    issuedAt: 'recorded_at_ms',
    paidAt: 'finished_at_ms',
    voidStates: ['failed'],
  },
};

const n = (v: bigint | number | null): number | null => (v === null ? null : Number(v));
const clampLimit = (limit: number): number =>
  Number.isInteger(limit) && limit > 0 ? Math.min(limit, MAX_PAGE) : MAX_PAGE;

/** Reads history from one daemon's store. */
export class StatusHistory {
  private readonly l: LedgerTable;

  /**
   * @param store the daemon's store
   * @param role whose ledger the store holds
   * @param clockSpeed the daemon clock's speed (1 = real time): latencies are divided by it
   */
  constructor(
    private readonly store: SessionStore,
    readonly role: LedgerRole,
    private readonly clockSpeed = 1,
  ) {
    this.l = LEDGERS[role];
  }

  /**
   * A page of a session's own-meter samples, oldest first.
   *
   * @param sessionId session id
   * @param after cursor from the previous page (0 = from the start)
   * @param limit most samples (≤ MAX_PAGE)
   * @returns the samples; `cursor` to ask for the ones after them (also when there were none); `more` when the
   *   page was full; `baseWh`, the register at the session's first sample (session energy = energyWh − baseWh)
   */
  samples(
    sessionId: string,
    after: number,
    limit: number,
  ): { items: HistorySample[]; cursor: number; more: boolean; baseWh: number | null } {
    const rows = this.store.db
      .prepare(
        `SELECT rowid AS id, t_ms, energy_wh, power_w FROM meter_samples
         WHERE session_id = ? AND source = 'own' AND rowid > ? ORDER BY rowid LIMIT ?`,
      )
      .all(sessionId, after, clampLimit(limit)) as {
      id: number;
      t_ms: number;
      energy_wh: number;
      power_w: number;
    }[];
    const first = this.store.db
      .prepare(
        `SELECT energy_wh FROM meter_samples WHERE session_id = ? AND source = 'own' ORDER BY rowid LIMIT 1`,
      )
      .get(sessionId) as { energy_wh: number } | undefined;
    const last = rows[rows.length - 1];
    return {
      items: rows.map((r) => ({ tMs: r.t_ms, energyWh: r.energy_wh, powerW: r.power_w })),
      cursor: last ? last.id : after,
      more: rows.length === clampLimit(limit),
      baseWh: first?.energy_wh ?? null,
    };
  }

  /**
   * A page of a session's ledger in sequence order.
   *
   * @param sessionId session id
   * @param afterSeq lines with a higher sequence number (-1 = from the start)
   * @param limit most lines (≤ MAX_PAGE)
   */
  ledger(sessionId: string, afterSeq: number, limit: number): Page<HistoryLedgerLine> {
    const l = this.l;
    const rows = this.store.db
      .prepare(
        `SELECT seq, state, ${l.amount} AS amount, ${l.fee} AS fee, from_wh, to_wh, payment_hash,
                ${l.issuedAt} AS issued_at, ${l.paidAt} AS paid_at
         FROM ${l.table} WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
      )
      .safeIntegers(true)
      .all(sessionId, afterSeq, clampLimit(limit)) as {
      seq: bigint;
      state: string;
      amount: bigint;
      fee: bigint | null;
      from_wh: bigint;
      to_wh: bigint;
      payment_hash: string | null;
      issued_at: bigint | null;
      paid_at: bigint | null;
    }[];
    const items = rows.map((r): HistoryLedgerLine => {
      const paid = r.state === l.paidState;
      const issuedAtMs = n(r.issued_at);
      const paidAtMs = paid ? n(r.paid_at) : null;
      return {
        seq: Number(r.seq),
        state: r.state,
        outcome: paid ? 'paid' : l.voidStates.includes(r.state) ? 'void' : 'unpaid',
        amountMsat: r.amount,
        feeMsat: r.fee,
        fromWh: Number(r.from_wh),
        toWh: Number(r.to_wh),
        paymentHash: r.payment_hash,
        issuedAtMs,
        paidAtMs,
        latencyRealMs: this.realMs(issuedAtMs, paidAtMs),
      };
    });
    const last = items[items.length - 1];
    return { items, next: items.length === clampLimit(limit) && last ? last.seq : null };
  }

  /**
   * Real milliseconds between two daemon-clock times (the accelerated clock runs `clockSpeed` times real time).
   *
   * @returns null when either time is missing
   */
  realMs(fromMs: number | null, toMs: number | null): number | null {
    return fromMs === null || toMs === null ? null : Math.round((toMs - fromMs) / this.clockSpeed);
  }

  /**
   * Sessions with their books, newest first.
   *
   * @param opts `limit` (≤ MAX_PAGE); `beforeMs`: only sessions started before this time (paging); `id`: only
   *   this session
   */
  sessions(opts: { limit: number; beforeMs?: number; id?: string }): Page<SessionBooks> {
    const l = this.l;
    const limit = clampLimit(opts.limit);
    const rows = this.store.db
      .prepare(
        `SELECT s.id, s.peer, s.started_at_ms, s.ended_at_ms, s.status, s.stop_reason, s.energy_wh,
                COALESCE(SUM(CASE WHEN x.state = '${l.paidState}' THEN ${l.amount} END), 0) AS paid,
                COALESCE(SUM(CASE WHEN x.state = '${l.paidState}' THEN COALESCE(${l.fee}, 0) END), 0) AS fees,
                COALESCE(SUM(CASE WHEN x.state = '${l.paidState}' THEN x.to_wh - x.from_wh END), 0) AS paid_wh
         FROM sessions s LEFT JOIN ${l.table} x ON x.session_id = s.id
         WHERE s.started_at_ms < ? AND (? IS NULL OR s.id = ?)
         GROUP BY s.id ORDER BY s.started_at_ms DESC, s.rowid DESC LIMIT ?`,
      )
      .safeIntegers(true)
      .all(opts.beforeMs ?? Number.MAX_SAFE_INTEGER, opts.id ?? null, opts.id ?? null, limit) as {
      id: string;
      peer: string | null;
      started_at_ms: bigint;
      ended_at_ms: bigint | null;
      status: string;
      stop_reason: string | null;
      energy_wh: bigint;
      paid: bigint;
      fees: bigint;
      paid_wh: bigint;
    }[];
    const items = rows.map((r): SessionBooks => {
      const energyWh = Number(r.energy_wh);
      const paidWh = Number(r.paid_wh);
      return {
        id: r.id,
        peer: r.peer,
        startedAtMs: Number(r.started_at_ms),
        endedAtMs: n(r.ended_at_ms),
        status: r.status,
        stopReason: r.stop_reason,
        energyWh,
        paidMsat: r.paid,
        feesMsat: r.fees,
        paidWh,
        unpaidWh: Math.max(0, energyWh - paidWh),
        undeliveredWh: Math.max(0, paidWh - energyWh),
        avgPriceMsatPerWh: averagePrice(r.paid, paidWh),
      };
    });
    const last = items[items.length - 1];
    return { items, next: items.length === limit && last ? last.startedAtMs : null };
  }

  /**
   * Sessions grouped by local day or week (newest first).
   *
   * @param bucket `day` or `week` (weeks start on Monday)
   * @param tzOffsetMin the viewer's offset from UTC in minutes (east positive, e.g. 60 for CET)
   * @param limit most sessions to aggregate (the newest)
   */
  buckets(bucket: 'day' | 'week', tzOffsetMin: number, limit = MAX_PAGE): HistoryBucket[] {
    const offMs = tzOffsetMin * 60_000;
    const out = new Map<number, HistoryBucket & { paidWh: number }>();
    for (const s of this.sessions({ limit }).items) {
      const localDay = Math.floor((s.startedAtMs + offMs) / 86_400_000);
      // 1970-01-01 was a Thursday: Monday-based weeks start 3 days before the epoch's week
      const startDay = bucket === 'day' ? localDay : localDay - ((localDay + 3) % 7);
      const startMs = startDay * 86_400_000 - offMs;
      const b = out.get(startMs) ?? {
        startMs,
        sessions: 0,
        energyWh: 0,
        paidMsat: 0n,
        feesMsat: 0n,
        unpaidWh: 0,
        avgPriceMsatPerWh: null,
        paidWh: 0,
      };
      addBooks(b, s);
      b.unpaidWh += s.unpaidWh;
      out.set(startMs, b);
    }
    return [...out.values()].sort((a, b) => b.startMs - a.startMs).map(({ paidWh: _paidWh, ...b }) => b);
  }

  /**
   * Money committed (paid or in flight, with fees) since a time, msat — what the budgets count.
   *
   * @param sinceMs window start, daemon clock ms
   */
  committedSinceMsat(sinceMs: number): bigint {
    const l = this.l;
    const voids = l.voidStates.map((s) => `'${s}'`).join(',');
    const r = this.store.db
      .prepare(
        `SELECT COALESCE(SUM(${l.amount} + COALESCE(${l.fee}, 0)), 0) AS s FROM ${l.table}
         WHERE state NOT IN (${voids}) AND ${l.issuedAt} >= ?`,
      )
      .safeIntegers(true)
      .get(sinceMs) as { s: bigint };
    return r.s;
  }

  /**
   * Sessions grouped by the other party (the vehicle's chargers), with the refusals and their reasons.
   *
   * @param limit most sessions to aggregate (the newest)
   */
  byPeer(limit = MAX_PAGE): ChargerSummary[] {
    const out = new Map<string, ChargerSummary & { paidWh: number }>();
    const sessions = this.sessions({ limit }).items;
    for (const s of sessions) {
      const peer = s.peer ?? UNKNOWN_PEER;
      const c = out.get(peer) ?? {
        peer,
        sessions: 0,
        energyWh: 0,
        paidMsat: 0n,
        feesMsat: 0n,
        avgPriceMsatPerWh: null,
        undeliveredWh: 0,
        refusals: [],
        lastSessionAtMs: s.startedAtMs,
        paidWh: 0,
      };
      addBooks(c, s);
      c.undeliveredWh += s.undeliveredWh;
      c.lastSessionAtMs = Math.max(c.lastSessionAtMs, s.startedAtMs);
      out.set(peer, c);
    }
    const refusals = this.store.db
      .prepare(
        `SELECT COALESCE(s.peer, '${UNKNOWN_PEER}') AS peer, json_extract(e.data_json, '$.reason') AS reason, COUNT(*) AS n
         FROM events e JOIN sessions s ON s.id = e.session_id
         WHERE e.kind IN ('machine.offerDeclined', 'machine.invoiceRefused', 'machine.renewDeclined',
                          'machine.invoiceDeclined')
         GROUP BY 1, 2 ORDER BY 3 DESC`,
      )
      .all() as { peer: string; reason: string | null; n: number }[];
    for (const r of refusals)
      out.get(r.peer)?.refusals.push({ reason: r.reason ?? '(no reason)', count: r.n });
    return [...out.values()]
      .sort((a, b) => b.lastSessionAtMs - a.lastSessionAtMs)
      .map(({ paidWh: _paidWh, ...c }) => c);
  }

  /**
   * The newest alarms, faults and operator actions, newest first.
   *
   * @param limit most entries (≤ MAX_PAGE)
   */
  alarms(
    limit: number,
  ): { id: number; tMs: number; sessionId: string | null; kind: string; message: string }[] {
    const rows = this.store.db
      .prepare(
        `SELECT id, t_ms AS tMs, session_id AS sessionId, kind, data_json AS dataJson FROM events
         WHERE kind IN (${ALARM_KINDS.map((k) => `'${k}'`).join(',')}) OR kind LIKE 'operator.%'
         ORDER BY id DESC LIMIT ?`,
      )
      .all(clampLimit(limit)) as {
      id: number;
      tMs: number;
      sessionId: string | null;
      kind: string;
      dataJson: string;
    }[];
    return rows.map(({ dataJson, ...r }) => ({ ...r, message: describeEvent(dataJson) }));
  }

  /**
   * Power cuts and resumes of a session (for shading the chart), in order.
   *
   * @param sessionId session id
   * @returns `cut` when the power was cut for a reason, `resume` when it came back
   */
  powerChanges(sessionId: string): { tMs: number; kind: 'cut' | 'resume'; reason: string | null }[] {
    const rows = this.store.db
      .prepare(
        `SELECT t_ms, kind, json_extract(data_json, '$.reason') AS reason FROM events
         WHERE session_id = ? AND kind IN ('machine.powerCut', 'machine.energized') ORDER BY id LIMIT ?`,
      )
      .all(sessionId, MAX_PAGE) as { t_ms: number; kind: string; reason: string | null }[];
    return rows.map((r) => ({
      tMs: r.t_ms,
      kind: r.kind === 'machine.powerCut' ? 'cut' : 'resume',
      reason: r.reason,
    }));
  }
}

/** Event kinds shown as alarms and faults. */
const ALARM_KINDS = ['alarm', 'machine.alarm', 'powerCut.alarm'];

/** A one-line description of an event's data (its `message`, else `reason`, else the JSON). */
function describeEvent(dataJson: string): string {
  const d = JSON.parse(dataJson) as Record<string, unknown> | null;
  if (d && typeof d.message === 'string')
    return typeof d.reason === 'string' ? `${d.reason}: ${d.message}` : d.message;
  if (d && typeof d.reason === 'string') return d.reason;
  return dataJson.slice(0, 300);
}

/** Totals of several sessions' books. */
interface BooksTotal {
  sessions: number;
  energyWh: number;
  paidMsat: bigint;
  feesMsat: bigint;
  paidWh: number;
  avgPriceMsatPerWh: number | null;
}

/** Adds one session's books to a total (and recomputes its average price). */
function addBooks(total: BooksTotal, s: SessionBooks): void {
  total.sessions++;
  total.energyWh += s.energyWh;
  total.paidMsat += s.paidMsat;
  total.feesMsat += s.feesMsat;
  total.paidWh += s.paidWh;
  total.avgPriceMsatPerWh = averagePrice(total.paidMsat, total.paidWh);
}

/** Average price in msat/Wh (two decimals), or null without paid energy. */
function averagePrice(paidMsat: bigint, paidWh: number): number | null {
  return paidWh > 0 ? Number((paidMsat * 100n) / BigInt(paidWh)) / 100 : null;
}
