/**
 * The part of a daemon's SQLite store both sides share: sessions, offers, meter samples, receipts, persisted
 * machine state and an append-only event log. The wall adds its invoice ledger and the vehicle its payment
 * ledger on top (see `wall-module/store.ts`, `vehicle-module/store.ts`). Amounts are bigint msat, energy integer Wh.
 */
import type { Clock } from '../hardware/clock.js';
import type { Delegation } from '../protocol/delegation.js';
import type { Db, Migration } from './database.js';

/** Lifecycle of a session row. */
export type SessionStatus = 'active' | 'ended';

/** One charging session as stored. */
export interface SessionRow {
  id: string;
  /** the other party: the wall's node key (on the vehicle) or the car's session key (on the wall), hex */
  peer: string | null;
  startedAtMs: number;
  endedAtMs: number | null;
  status: SessionStatus;
  stopReason: string | null;
  priceMsatPerWh: bigint | null;
  /** energy delivered so far by this daemon's own meter, Wh */
  energyWh: number;
  /** total settled (wall) or paid (vehicle), msat */
  paidMsat: bigint;
  /** the connector the session ran on (a wall store; 1-based), absent on the vehicle */
  connectorId?: number;
}

/** An offer as seen by this daemon. */
export interface OfferRow {
  sessionId: string;
  tMs: number;
  priceMsatPerWh: bigint;
  blockWh: number;
  depositBlocks: number;
  graceWh: number;
  decision: 'offered' | 'accepted' | 'declined';
  reason: string | null;
}

/** One meter reading. `source` says whose meter: ours, or the peer's as reported over the cable. */
export interface MeterSampleRow {
  sessionId: string;
  tMs: number;
  source: 'own' | 'peer';
  energyWh: number;
  powerW: number;
  voltageV: number;
  currentA: number;
}

/** A stored receipt: the seller-signed body and whether this side verified it. */
export interface ReceiptRow {
  sessionId: string;
  tMs: number;
  /** the receipt as JSON text (bigints as decimal strings) */
  bodyJson: string;
  /** the seller's signature (zbase32 as lnd produces it) */
  signature: string;
  /** null = not checked (wall side), true/false = vehicle's verification result */
  valid: boolean | null;
  /**
   * Vehicle store only: the node-signed delegation the receipt was verified under (protocol version 3, the wall's
   * delegate key may have signed it), null when none was announced. Absent where a role keeps none (the wall).
   */
  delegation?: Delegation | null;
}

/** One entry of the append-only event log. */
export interface EventRow {
  id: number;
  tMs: number;
  sessionId: string | null;
  kind: string;
  data: unknown;
}

/** Schema step 1, common to both daemons. */
export const commonMigration: Migration = {
  version: 1,
  name: 'sessions, offers, meter samples, receipts, machine state, event log',
  up(db) {
    db.exec(`
      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        peer TEXT,
        started_at_ms INTEGER NOT NULL,
        ended_at_ms INTEGER,
        status TEXT NOT NULL CHECK (status IN ('active', 'ended')),
        stop_reason TEXT,
        price_msat_per_wh INTEGER,
        energy_wh INTEGER NOT NULL DEFAULT 0,
        paid_msat INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE offers (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        t_ms INTEGER NOT NULL,
        price_msat_per_wh INTEGER NOT NULL,
        block_wh INTEGER NOT NULL,
        deposit_blocks INTEGER NOT NULL,
        grace_wh INTEGER NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('offered', 'accepted', 'declined')),
        reason TEXT
      );
      CREATE TABLE meter_samples (
        session_id TEXT NOT NULL REFERENCES sessions(id),
        t_ms INTEGER NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('own', 'peer')),
        energy_wh INTEGER NOT NULL,
        power_w REAL NOT NULL,
        voltage_v REAL NOT NULL,
        current_a REAL NOT NULL
      );
      CREATE INDEX meter_samples_session ON meter_samples (session_id, t_ms);
      CREATE TABLE receipts (
        session_id TEXT PRIMARY KEY REFERENCES sessions(id),
        t_ms INTEGER NOT NULL,
        body_json TEXT NOT NULL,
        signature TEXT NOT NULL,
        valid INTEGER
      );
      CREATE TABLE machine_state (
        slot TEXT PRIMARY KEY,
        state_json TEXT NOT NULL,
        updated_at_ms INTEGER NOT NULL
      );
      CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        t_ms INTEGER NOT NULL,
        session_id TEXT,
        kind TEXT NOT NULL,
        data_json TEXT NOT NULL
      );
      CREATE INDEX events_session ON events (session_id, id);
      CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
      CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
    `);
  },
};

/** JSON text with bigints written as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

interface SessionDbRow {
  id: string;
  peer: string | null;
  started_at_ms: bigint;
  ended_at_ms: bigint | null;
  status: SessionStatus;
  stop_reason: string | null;
  price_msat_per_wh: bigint | null;
  energy_wh: bigint;
  paid_msat: bigint;
  connector_id?: bigint;
}

const num = (v: bigint | number): number => Number(v);

function sessionFromDb(r: SessionDbRow): SessionRow {
  return {
    id: r.id,
    peer: r.peer,
    startedAtMs: num(r.started_at_ms),
    endedAtMs: r.ended_at_ms === null ? null : num(r.ended_at_ms),
    status: r.status,
    stopReason: r.stop_reason,
    priceMsatPerWh: r.price_msat_per_wh,
    energyWh: num(r.energy_wh),
    paidMsat: r.paid_msat,
    ...(r.connector_id !== undefined ? { connectorId: num(r.connector_id) } : {}),
  };
}

/** Session already exists / does not exist. */
export class SessionNotFound extends Error {
  override readonly name = 'SessionNotFound';
  constructor(readonly sessionId: string) {
    super(`no session ${sessionId}`);
  }
}

/**
 * Shared store operations. All writes are single transactions; timestamps come from the injected clock.
 */
export class SessionStore {
  /**
   * @param db connection opened with `openDatabase` and the daemon's migrations (including `commonMigration`)
   * @param clock time source for timestamps
   */
  constructor(
    readonly db: Db,
    protected readonly clock: Clock,
  ) {}

  /** Runs `fn` in one transaction (nested calls join the outer one). */
  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /**
   * Creates a session row.
   *
   * @param id session id (hex, from the handshake)
   * @param peer the other party's key, hex, if known
   */
  createSession(id: string, peer: string | null): SessionRow {
    this.db
      .prepare('INSERT INTO sessions (id, peer, started_at_ms, status) VALUES (?, ?, ?, ?)')
      .run(id, peer, this.clock.now(), 'active');
    this.appendEvent(id, 'session.created', { peer });
    return this.getSession(id);
  }

  /** A session by id; throws `SessionNotFound`. */
  getSession(id: string): SessionRow {
    const r = this.db.prepare('SELECT * FROM sessions WHERE id = ?').safeIntegers(true).get(id) as
      SessionDbRow | undefined;
    if (!r) throw new SessionNotFound(id);
    return sessionFromDb(r);
  }

  /** A session by id, or undefined. */
  findSession(id: string): SessionRow | undefined {
    const r = this.db.prepare('SELECT * FROM sessions WHERE id = ?').safeIntegers(true).get(id) as
      SessionDbRow | undefined;
    return r ? sessionFromDb(r) : undefined;
  }

  /**
   * The sessions whose id starts with a prefix (for commands that accept a unique id prefix), newest first.
   *
   * @param prefix the start of a session id (compared literally: no wildcards)
   * @param limit most rows to return (2 tells a unique prefix from an ambiguous one)
   * @returns the matching sessions
   */
  sessionsWithIdPrefix(prefix: string, limit: number): SessionRow[] {
    return (
      this.db
        .prepare(
          'SELECT * FROM sessions WHERE substr(id, 1, length(@prefix)) = @prefix ORDER BY started_at_ms DESC, rowid DESC LIMIT @limit',
        )
        .safeIntegers(true)
        .all({ prefix, limit }) as SessionDbRow[]
    ).map(sessionFromDb);
  }

  /**
   * Sessions, newest first.
   *
   * @param limit most rows to return
   */
  listSessions(limit = 100): SessionRow[] {
    return (
      this.db
        .prepare('SELECT * FROM sessions ORDER BY started_at_ms DESC, rowid DESC LIMIT ?')
        .safeIntegers(true)
        .all(limit) as SessionDbRow[]
    ).map(sessionFromDb);
  }

  /** Sessions still marked active (to resume or close after a restart). */
  activeSessions(): SessionRow[] {
    return (
      this.db
        .prepare("SELECT * FROM sessions WHERE status = 'active' ORDER BY started_at_ms")
        .safeIntegers(true)
        .all() as SessionDbRow[]
    ).map(sessionFromDb);
  }

  /**
   * Updates the running figures of a session.
   *
   * @param id session id
   * @param fields price (msat/Wh), own-meter energy (Wh), peer key
   */
  updateSession(id: string, fields: { priceMsatPerWh?: bigint; energyWh?: number; peer?: string }): void {
    const s = this.getSession(id);
    this.db
      .prepare('UPDATE sessions SET price_msat_per_wh = ?, energy_wh = ?, peer = ? WHERE id = ?')
      .run(
        fields.priceMsatPerWh ?? s.priceMsatPerWh,
        fields.energyWh ?? s.energyWh,
        fields.peer ?? s.peer,
        id,
      );
  }

  /**
   * Marks a session ended (idempotent: a second call keeps the first reason).
   *
   * @param id session id
   * @param reason why it ended (protocol stop reason or a daemon reason such as `restart-unplugged`)
   */
  endSession(id: string, reason: string): void {
    this.tx(() => {
      const s = this.getSession(id);
      if (s.status === 'ended') return;
      this.db
        .prepare("UPDATE sessions SET status = 'ended', ended_at_ms = ?, stop_reason = ? WHERE id = ?")
        .run(this.clock.now(), reason, id);
      this.appendEvent(id, 'session.ended', { reason });
    });
  }

  /** Records an offer and its outcome. */
  recordOffer(offer: Omit<OfferRow, 'tMs'>): void {
    this.db
      .prepare(
        `INSERT INTO offers (session_id, t_ms, price_msat_per_wh, block_wh, deposit_blocks, grace_wh, decision, reason)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        offer.sessionId,
        this.clock.now(),
        offer.priceMsatPerWh,
        offer.blockWh,
        offer.depositBlocks,
        offer.graceWh,
        offer.decision,
        offer.reason,
      );
  }

  /** Offers of a session in order. */
  offers(sessionId: string): OfferRow[] {
    const rows = this.db
      .prepare('SELECT * FROM offers WHERE session_id = ? ORDER BY id')
      .safeIntegers(true)
      .all(sessionId) as {
      session_id: string;
      t_ms: bigint;
      price_msat_per_wh: bigint;
      block_wh: bigint;
      deposit_blocks: bigint;
      grace_wh: bigint;
      decision: OfferRow['decision'];
      reason: string | null;
    }[];
    return rows.map((r) => ({
      sessionId: r.session_id,
      tMs: num(r.t_ms),
      priceMsatPerWh: r.price_msat_per_wh,
      blockWh: num(r.block_wh),
      depositBlocks: num(r.deposit_blocks),
      graceWh: num(r.grace_wh),
      decision: r.decision,
      reason: r.reason,
    }));
  }

  /** Appends one meter sample. */
  addMeterSample(s: MeterSampleRow): void {
    this.db
      .prepare(
        `INSERT INTO meter_samples (session_id, t_ms, source, energy_wh, power_w, voltage_v, current_a)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(s.sessionId, s.tMs, s.source, s.energyWh, s.powerW, s.voltageV, s.currentA);
  }

  /**
   * Meter samples of a session, oldest first.
   *
   * @param sessionId session id
   * @param sinceMs only samples at or after this time
   */
  meterSamples(sessionId: string, sinceMs = 0): MeterSampleRow[] {
    const rows = this.db
      .prepare('SELECT * FROM meter_samples WHERE session_id = ? AND t_ms >= ? ORDER BY t_ms, rowid')
      .all(sessionId, sinceMs) as {
      session_id: string;
      t_ms: number;
      source: 'own' | 'peer';
      energy_wh: number;
      power_w: number;
      voltage_v: number;
      current_a: number;
    }[];
    return rows.map((r) => ({
      sessionId: r.session_id,
      tMs: r.t_ms,
      source: r.source,
      energyWh: r.energy_wh,
      powerW: r.power_w,
      voltageV: r.voltage_v,
      currentA: r.current_a,
    }));
  }

  /** Stores the session's receipt (replacing an earlier copy, e.g. after verification). */
  saveReceipt(r: Omit<ReceiptRow, 'tMs'>): void {
    this.db
      .prepare(
        `INSERT INTO receipts (session_id, t_ms, body_json, signature, valid) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(session_id) DO UPDATE SET body_json = excluded.body_json, signature = excluded.signature,
         valid = excluded.valid, t_ms = excluded.t_ms`,
      )
      .run(r.sessionId, this.clock.now(), r.bodyJson, r.signature, r.valid === null ? null : r.valid ? 1 : 0);
    this.appendEvent(r.sessionId, 'receipt.stored', { valid: r.valid });
  }

  /** The receipt of a session, if any. */
  receipt(sessionId: string): ReceiptRow | undefined {
    const r = this.db.prepare('SELECT * FROM receipts WHERE session_id = ?').get(sessionId) as
      | { session_id: string; t_ms: number; body_json: string; signature: string; valid: number | null }
      | undefined;
    return r
      ? {
          sessionId: r.session_id,
          tMs: r.t_ms,
          bodyJson: r.body_json,
          signature: r.signature,
          valid: r.valid === null ? null : r.valid === 1,
        }
      : undefined;
  }

  /**
   * Persists the pure machine's state (replacing the previous snapshot in that slot).
   *
   * @param slot which machine (the daemon runs one per connector: `main`)
   * @param stateJson the serialised machine state
   */
  saveMachineState(slot: string, stateJson: string): void {
    this.db
      .prepare(
        `INSERT INTO machine_state (slot, state_json, updated_at_ms) VALUES (?, ?, ?)
         ON CONFLICT(slot) DO UPDATE SET state_json = excluded.state_json, updated_at_ms = excluded.updated_at_ms`,
      )
      .run(slot, stateJson, this.clock.now());
  }

  /** The last persisted machine state in a slot, if any. */
  loadMachineState(slot: string): string | undefined {
    const r = this.db.prepare('SELECT state_json FROM machine_state WHERE slot = ?').get(slot) as
      { state_json: string } | undefined;
    return r?.state_json;
  }

  /**
   * Appends an event to the log (never updated or deleted).
   *
   * @param sessionId session the event belongs to, or null for daemon-wide events
   * @param kind dotted event name, e.g. `invoice.settled`
   * @param data JSON-serialisable details (bigints become decimal strings)
   * @returns the event id
   */
  appendEvent(sessionId: string | null, kind: string, data: unknown = {}): number {
    const info = this.db
      .prepare('INSERT INTO events (t_ms, session_id, kind, data_json) VALUES (?, ?, ?, ?)')
      .run(this.clock.now(), sessionId, kind, toJson(data));
    return Number(info.lastInsertRowid);
  }

  /**
   * Events, oldest first.
   *
   * @param opts session filter, events after id `afterId`, at most `limit`
   */
  events(opts: { sessionId?: string; afterId?: number; limit?: number } = {}): EventRow[] {
    const rows = this.db
      .prepare(`SELECT * FROM events WHERE (? IS NULL OR session_id = ?) AND id > ? ORDER BY id LIMIT ?`)
      .all(opts.sessionId ?? null, opts.sessionId ?? null, opts.afterId ?? 0, opts.limit ?? 1000) as {
      id: number;
      t_ms: number;
      session_id: string | null;
      kind: string;
      data_json: string;
    }[];
    return rows.map((r) => ({
      id: r.id,
      tMs: r.t_ms,
      sessionId: r.session_id,
      kind: r.kind,
      data: JSON.parse(r.data_json) as unknown,
    }));
  }

  /** Closes the database. */
  close(): void {
    if (this.db.open) this.db.close();
  }
}
