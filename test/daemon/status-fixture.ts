/**
 * A wall's store filled the way the wall daemon fills it (sessions, one own-meter sample per second, invoices
 * requested → issued → settled per block, power cuts and resumes as machine records), on a manual clock, with
 * the status source the daemon builds over it. The dashboards read only the store and the snapshot, so this
 * drives them through the same code as a running daemon, fast and deterministically.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../hardware/clock.js';
import type { StatusSnapshot, StatusSource } from '../../daemon/status-server.js';
import { StatusHistory } from '../../daemon/status-history.js';
import { storeStatusSource } from '../../daemon/status-source.js';
import { WallStore } from '../../wall-module/store.js';

/** One simulated charging session on the wall's books. */
export class WallBooksFixture {
  readonly clock = new ManualClock(Date.UTC(2026, 11, 1, 9, 0, 0));
  readonly store: WallStore;
  readonly source: StatusSource;
  readonly alarms: string[] = [];
  private readonly history: StatusHistory;
  stopRequests = 0;
  private session: {
    id: string;
    registerWh: number;
    startWh: number;
    deliveredWh: number;
    paidWh: number;
    seq: number;
  } | null = null;
  private phase = 'idle';
  private registerWh = 1_000_000;
  private powerW = 0;
  private sessionNo = 0;

  /**
   * @param priceMsatPerWh tariff
   * @param blockWh energy per invoice
   * @param clockSpeed the daemon clock's speed shown on the page
   */
  constructor(
    readonly priceMsatPerWh = 100n,
    readonly blockWh = 50,
    clockSpeed = 60,
  ) {
    this.store = WallStore.open(
      join(mkdtempSync(join(tmpdir(), 'status-fixture-')), 'wall.sqlite'),
      this.clock,
    );
    const store = this.store;
    this.history = new StatusHistory(store, 'wall');
    this.source = storeStatusSource(store, {
      role: 'wall',
      status: () => this.snapshot(),
      ledger: (id) => ({ invoices: store.invoices(id) }),
      clockSpeed,
      actions: {
        availability: true,
        stopSession: () => {
          this.stopRequests++;
        },
        clearAlarms: () => this.alarms.splice(0).length,
      },
    });
  }

  /** The live snapshot, as the wall daemon builds it. */
  snapshot(): StatusSnapshot {
    const s = this.session;
    // the daemon's ledger lines: daemon-clock latency (the source converts it to real ms)
    const ledger = s
      ? this.history.ledger(s.id, -1, 5000).items.map(({ latencyRealMs: _real, ...l }) => ({
          ...l,
          latencyMs: l.paidAtMs !== null && l.issuedAtMs !== null ? l.paidAtMs - l.issuedAtMs : null,
        }))
      : [];
    return {
      role: 'wall',
      tMs: this.clock.now(),
      state: this.phase,
      sessionId: s?.id ?? null,
      peer: s ? '02'.padEnd(66, 'a') : null,
      powerW: this.powerW,
      energyWh: s?.deliveredWh ?? 0,
      priceMsatPerWh: s ? this.priceMsatPerWh : null,
      creditWh: s ? s.paidWh - s.deliveredWh : 0,
      paidMsat: s ? this.store.settledMsat(s.id) : 0n,
      stopReason: null,
      alarms: [...this.alarms],
      ledger,
    };
  }

  /** Starts a session (prepays two blocks). */
  async start(): Promise<string> {
    const id = `sess${++this.sessionNo}`.padEnd(32, '0');
    this.store.createSession(id, '02'.padEnd(66, 'a'));
    this.session = {
      id,
      registerWh: this.registerWh,
      startWh: this.registerWh,
      deliveredWh: 0,
      paidWh: 0,
      seq: 0,
    };
    this.phase = 'charging';
    this.sample();
    for (let i = 0; i < 2; i++) await this.invoice(true);
    this.store.appendEvent(id, 'machine.energized', { deliveredWh: 0, paidWh: this.session.paidWh });
    return id;
  }

  /** Issues the next block's invoice; settles it `latencyMs` (daemon clock) later when `pay`. */
  async invoice(pay: boolean, latencyMs = 7_800): Promise<void> {
    const s = this.session!;
    const seq = s.seq++;
    const fromWh = seq * this.blockWh;
    this.store.requestInvoice({
      sessionId: s.id,
      seq,
      amountMsat: this.priceMsatPerWh * BigInt(this.blockWh),
      fromWh,
      toWh: fromWh + this.blockWh,
      priceMsatPerWh: this.priceMsatPerWh,
    });
    const hash = `${s.id}${seq.toString().padStart(4, '0')}`.padEnd(64, 'f');
    this.store.markIssued(s.id, seq, hash, `lnbcrt${seq}`, Date.now() + 3_600_000);
    if (!pay) return;
    await this.clock.advance(latencyMs);
    this.store.markSettled(hash, this.priceMsatPerWh * BigInt(this.blockWh));
    s.paidWh += this.blockWh;
  }

  private sample(): void {
    const s = this.session!;
    this.store.addMeterSample({
      sessionId: s.id,
      tMs: this.clock.now(),
      source: 'own',
      energyWh: Math.floor(this.registerWh),
      powerW: this.powerW,
      voltageV: 230,
      currentA: this.powerW / 230,
    });
  }

  /**
   * Charges for `seconds` at `powerW`, one meter sample a second, paying a block whenever the credit runs low.
   */
  async charge(seconds: number, powerW = 11_000): Promise<void> {
    const s = this.session!;
    for (let i = 0; i < seconds; i++) {
      await this.clock.advance(1000);
      this.powerW = powerW;
      this.registerWh += powerW / 3600;
      s.deliveredWh = Math.floor(this.registerWh - s.startWh);
      this.store.updateSession(s.id, { energyWh: s.deliveredWh, priceMsatPerWh: this.priceMsatPerWh });
      this.sample();
      if (s.paidWh - s.deliveredWh < this.blockWh) await this.invoice(true, 400);
    }
  }

  /** Cuts the power for non-payment: an unpaid invoice, `seconds` without power, then payment and resume. */
  async cutAndResume(seconds: number): Promise<void> {
    const s = this.session!;
    await this.invoice(false);
    this.store.appendEvent(s.id, 'machine.powerCut', {
      reason: 'UNPAID',
      deliveredWh: s.deliveredWh,
      paidWh: s.paidWh,
    });
    this.alarms.push('power cut: UNPAID');
    this.phase = 'suspended';
    await this.charge(seconds, 0);
    this.phase = 'charging';
    this.store.appendEvent(s.id, 'machine.energized', { deliveredWh: s.deliveredWh, paidWh: s.paidWh });
  }

  /** Ends the session. */
  end(reason = 'TARGET_REACHED'): void {
    const s = this.session!;
    this.powerW = 0;
    this.store.endSession(s.id, reason);
    this.phase = 'ended';
  }
}
