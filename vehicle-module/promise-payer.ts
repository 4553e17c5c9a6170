/**
 * Pays the car's promises (offline case 3, protocol/promise.ts) once its node is back online: every outstanding
 * promise whose next attempt is due is paid through the same single-attempt path as a session's payment (the
 * node's own decoding cross-checked, `max_fee`, the node's record asked after an error). Driven by the daemon's
 * loop ticks; the schedule (attempts, next attempt) is in the store, so a restart resumes it.
 *
 * - paid → the payment's ledger row `succeeded`, the promise `paid`, the owner told;
 * - a final failure, or the invoice expired → the promise `lapsed`, the row `failed`, an alarm (the wall reports
 *   it unpaid);
 * - no route / node unreachable → tried again later (2 s doubling to 60 s); once one promise is paid (the node
 *   can pay again), the others' next attempts move to now (`promiseAttemptAfterOnePaidAtMs`, in the store) and
 *   they are tried in the same pass.
 */
import type { Clock } from '../hardware/clock.js';
import type { Logger } from '../daemon/logger.js';
import { nextPromiseAttemptAtMs, promiseAttemptAfterOnePaidAtMs } from '../protocol/promise.js';
import type { PaymentFailureKind } from '../protocol/effects.js';
import type { CarPromiseRow } from './promise-book.js';
import type { VehicleStore } from './store.js';

/** One attempt's outcome, as the daemon's payment path reports it. */
export type PromiseAttempt =
  | { ok: true; preimage: string; feeMsat: bigint }
  | { ok: false; error: string; failure?: PaymentFailureKind };

/** What the payer runs on. */
export interface PromisePayerParts {
  store: VehicleStore;
  /** the daemon's clock (schedules) */
  clock: Clock;
  /** real time (invoice expiry is judged by the nodes' clocks) */
  nodeClock: Clock;
  log: Logger;
  /** makes one attempt to pay the promised invoice */
  payOnce(p: CarPromiseRow): Promise<PromiseAttempt>;
  /** a promise was decided (the owner is told, alarms raised) */
  decided(p: CarPromiseRow, outcome: PromiseAttempt): void;
}

/** Pays outstanding promises when due. */
export class PromisePayer {
  private busy = false;

  constructor(private readonly parts: PromisePayerParts) {}

  /**
   * Pays the promises due at `atMs`, one after another (one pass at a time: a tick during a pass is skipped).
   * @param atMs daemon clock ms
   * @returns resolves when the pass is over
   */
  async tick(atMs: number): Promise<void> {
    if (this.busy) return;
    const due = this.parts.store.promises.outstanding().filter((p) => p.nextAttemptAtMs <= atMs);
    if (due.length === 0) return;
    this.busy = true;
    try {
      let paidAny = false;
      for (const p of due) if (await this.payOne(p)) paidAny = true;
      if (!paidAny) return;
      // a payment rescheduled the others (promiseAttemptAfterOnePaidAtMs): those now due are tried in this pass
      const tried = new Set(due.map((p) => p.paymentHash));
      const nowMs = this.parts.clock.now();
      for (const p of this.parts.store.promises.outstanding())
        if (!tried.has(p.paymentHash) && p.nextAttemptAtMs <= nowMs) await this.payOne(p);
    } finally {
      this.busy = false;
    }
  }

  /** One attempt at one promise, its outcome recorded. @returns whether it was paid */
  private async payOne(p: CarPromiseRow): Promise<boolean> {
    const { store, clock, nodeClock, log } = this.parts;
    const outcome = await this.parts.payOnce(p);
    const nowMs = clock.now();
    if (outcome.ok) {
      store.tx(() => {
        if (store.findPayment(p.paymentHash)?.state === 'sent')
          store.markSucceeded(p.paymentHash, { preimage: outcome.preimage, feeMsat: outcome.feeMsat });
        store.promises.decide(p.paymentHash, 'paid', nowMs);
        // the node can pay again: the other promises' back-offs end now (persisted, so a restart keeps it)
        for (const other of store.promises.outstanding())
          store.promises.reschedule(
            other.paymentHash,
            promiseAttemptAfterOnePaidAtMs(other.nextAttemptAtMs, nowMs),
          );
        store.appendEvent(p.sessionId, 'promise.paid', {
          seq: p.seq,
          paymentHash: p.paymentHash,
          amountMsat: p.amountMsat,
          feeMsat: outcome.feeMsat,
          attempts: p.attempts + 1,
        });
      });
      log.info('promised invoice paid', { seq: p.seq, paymentHash: p.paymentHash, attempts: p.attempts + 1 });
      this.parts.decided(p, outcome);
      return true;
    }
    const lapsed =
      outcome.failure === undefined || outcome.failure === 'final' || nodeClock.now() >= p.expiresAtMs;
    if (!lapsed) {
      store.promises.attempted(p.paymentHash, nextPromiseAttemptAtMs(p.attempts + 1, nowMs));
      log.debug('promised invoice not paid yet', {
        seq: p.seq,
        failure: outcome.failure,
        error: outcome.error,
      });
      return false;
    }
    store.tx(() => {
      if (store.findPayment(p.paymentHash)?.state === 'sent') store.markFailed(p.paymentHash, outcome.error);
      store.promises.decide(p.paymentHash, 'lapsed', nowMs);
      store.appendEvent(p.sessionId, 'promise.lapsed', {
        seq: p.seq,
        paymentHash: p.paymentHash,
        error: outcome.error,
      });
    });
    log.warn('promised invoice can no longer be paid', {
      seq: p.seq,
      paymentHash: p.paymentHash,
      error: outcome.error,
    });
    this.parts.decided(p, outcome);
    return false;
  }
}
