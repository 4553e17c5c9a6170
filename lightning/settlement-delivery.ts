/**
 * At-least-once delivery of a node's settlements to its consumers, acknowledged only after each consumer has
 * committed what the settlement means to it.
 *
 * - A handler acknowledges a settlement by returning (or by resolving the promise it returns): the daemons
 *   return once their store transaction committed. A handler that throws or rejects is retried with a doubling
 *   backoff (`firstRetryMs` … `maxRetryMs`) until it acknowledges; every failure is reported through `onError`
 *   (the daemons log it), never swallowed. A failing handler never holds back the other handlers.
 * - A payment hash is delivered once per handler in this process (the stream and the lookup fallback may both
 *   find the same settlement).
 * - The committed settle index: the highest lnd settle index N such that every settlement seen with an index ≤ N
 *   has been acknowledged by every handler. Persisted by the consumer (`commit`), it is where the next process
 *   resumes the node's stream: a restart replays exactly the settlements that were not committed (plus, at
 *   most, ones committed after a still-pending lower index; consumers dedupe those by payment hash).
 */
import type { SettlementEvent } from './lightning-node.js';

/** A consumer of settlements; returning (or resolving) acknowledges. */
export type SettlementHandler = (event: SettlementEvent) => unknown;

/** Where a consumer persists delivery progress and hears about failing handlers. */
export interface SettlementCursor {
  /** resume after this lnd settle index (the last value given to `commit`; 0 for none) */
  afterIndex: number;
  /**
   * Persists a new committed settle index (monotonic). A throw is reported through `onError` and the index is
   * offered again with the next acknowledgement.
   */
  commit(index: number): void;
  /**
   * A handler failed (it is retried after `retryInMs`), or `commit` failed (`retryInMs` null).
   *
   * @param err what was thrown
   * @param event the settlement
   * @param attempt 1 for the first failure of this handler on this settlement
   * @param retryInMs delay before the next attempt, real ms
   */
  onError?(err: unknown, event: SettlementEvent, attempt: number, retryInMs: number | null): void;
}

/** Options of `new SettlementDelivery(...)`. */
export interface SettlementDeliveryOptions {
  /** first retry delay of a failing handler, ms (default 250) */
  firstRetryMs?: number;
  /** longest retry delay, ms (default 10000) */
  maxRetryMs?: number;
  /** how many delivered payment hashes are remembered for deduplication (default 10000) */
  dedupeLimit?: number;
  /** schedules a retry (default `setTimeout`, unref'd); tests pass a manual clock's timer */
  schedule?: (delayMs: number, fn: () => void) => { cancel(): void };
}

/** Fallback error report when no cursor says where to log: stderr, with the event named. */
function reportToStderr(
  err: unknown,
  event: SettlementEvent,
  attempt: number,
  retryInMs: number | null,
): void {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  console.error(
    `settlement ${event.paymentHash} not acknowledged (attempt ${attempt}${
      retryInMs === null ? '' : `, retry in ${retryInMs} ms`
    }): ${text}`,
  );
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

function defaultSchedule(delayMs: number, fn: () => void): { cancel(): void } {
  const t = setTimeout(fn, delayMs);
  t.unref();
  return { cancel: () => clearTimeout(t) };
}

/** One node's settlement fan-out with acknowledgement, retry and a committed settle index. */
export class SettlementDelivery {
  private readonly handlers = new Set<SettlementHandler>();
  /** payment hash → handlers that acknowledged it (insertion-ordered, capped) */
  private readonly acked = new Map<string, Set<SettlementHandler>>();
  /** payment hash → its settle index, while some handler has not acknowledged it */
  private readonly pending = new Map<string, number>();
  /** (hash, handler) deliveries running or waiting for a retry */
  private readonly running = new Map<string, Set<SettlementHandler>>();
  private readonly timers = new Set<{ cancel(): void }>();
  private cursor: SettlementCursor | null = null;
  private committed: number;
  private maxAcked: number;
  private closed = false;
  private readonly firstRetryMs: number;
  private readonly maxRetryMs: number;
  private readonly dedupeLimit: number;
  private readonly schedule: (delayMs: number, fn: () => void) => { cancel(): void };

  /**
   * @param afterIndex settle index the node resumes after (from the options), until a cursor says otherwise
   * @param opts retry delays, dedupe size, timer
   */
  constructor(afterIndex: number, opts: SettlementDeliveryOptions = {}) {
    this.committed = afterIndex;
    this.maxAcked = afterIndex;
    this.firstRetryMs = opts.firstRetryMs ?? 250;
    this.maxRetryMs = opts.maxRetryMs ?? 10_000;
    this.dedupeLimit = opts.dedupeLimit ?? 10_000;
    this.schedule = opts.schedule ?? defaultSchedule;
  }

  /** The committed settle index (see the module comment). */
  get committedIndex(): number {
    return this.committed;
  }

  /** Number of handlers. */
  get size(): number {
    return this.handlers.size;
  }

  /**
   * Sets where progress is persisted; the resume index becomes `cursor.afterIndex` if it is higher.
   *
   * @param cursor the consumer's persistence and error report
   */
  setCursor(cursor: SettlementCursor): void {
    this.cursor = cursor;
    if (cursor.afterIndex > this.committed) {
      this.committed = cursor.afterIndex;
      this.maxAcked = Math.max(this.maxAcked, cursor.afterIndex);
    }
  }

  /** Adds a handler. @returns remove */
  add(handler: SettlementHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /**
   * Delivers a settlement to every handler that has not acknowledged it yet (found by the stream with its
   * settle index, or by a lookup with index 0).
   *
   * @param event the settlement
   */
  deliver(event: SettlementEvent): void {
    if (this.closed) return;
    const hash = event.paymentHash;
    const done = this.acked.get(hash);
    const busy = (this.running.get(hash)?.size ?? 0) > 0;
    const todo = [...this.handlers].filter((h) => !done?.has(h) && !this.running.get(hash)?.has(h));
    if (event.settleIndex > this.committed && !this.pending.has(hash)) {
      if (todo.length > 0 || busy) this.pending.set(hash, event.settleIndex);
      else if (done !== undefined) {
        // found first by the lookup fallback and already acknowledged: the stream's index now counts as done
        this.maxAcked = Math.max(this.maxAcked, event.settleIndex);
        this.advance(event);
      }
    }
    if (todo.length === 0) return;
    for (const h of todo) this.attempt(h, event, 1);
  }

  /** Stops retrying (the node is closing). */
  close(): void {
    this.closed = true;
    for (const t of this.timers) t.cancel();
    this.timers.clear();
  }

  private attempt(handler: SettlementHandler, event: SettlementEvent, attempt: number): void {
    const hash = event.paymentHash;
    let running = this.running.get(hash);
    if (!running) this.running.set(hash, (running = new Set()));
    running.add(handler);
    let result: unknown;
    try {
      result = handler(event);
    } catch (err) {
      this.failed(handler, event, attempt, err);
      return;
    }
    if (isThenable(result))
      result.then(
        () => this.acknowledged(handler, event),
        (err: unknown) => this.failed(handler, event, attempt, err),
      );
    else this.acknowledged(handler, event);
  }

  private failed(handler: SettlementHandler, event: SettlementEvent, attempt: number, err: unknown): void {
    const delay = Math.min(this.firstRetryMs * 2 ** (attempt - 1), this.maxRetryMs);
    (this.cursor?.onError ?? reportToStderr)(err, event, attempt, this.closed ? null : delay);
    if (this.closed) return;
    const timer = this.schedule(delay, () => {
      this.timers.delete(timer);
      if (this.closed) return;
      if (!this.handlers.has(handler)) {
        // unsubscribed meanwhile (the daemon is stopping): never acknowledged, so the committed index stays
        // below it and the next process replays it
        this.running.get(event.paymentHash)?.delete(handler);
        return;
      }
      this.attempt(handler, event, attempt + 1);
    });
    this.timers.add(timer);
  }

  private acknowledged(handler: SettlementHandler, event: SettlementEvent): void {
    const hash = event.paymentHash;
    this.running.get(hash)?.delete(handler);
    let done = this.acked.get(hash);
    if (!done) this.acked.set(hash, (done = new Set()));
    done.add(handler);
    if (this.acked.size > this.dedupeLimit) {
      const oldest = this.acked.keys().next().value;
      if (oldest !== undefined) this.acked.delete(oldest);
    }
    const stillRunning = this.running.get(hash);
    if (stillRunning && stillRunning.size > 0) return;
    this.running.delete(hash);
    const index = this.pending.get(hash);
    this.pending.delete(hash);
    if (index !== undefined) this.maxAcked = Math.max(this.maxAcked, index);
    this.advance(event);
  }

  private advance(event: SettlementEvent): void {
    let next = this.maxAcked;
    for (const index of this.pending.values()) next = Math.min(next, index - 1);
    if (next <= this.committed) return;
    try {
      this.cursor?.commit(next);
      this.committed = next;
    } catch (err) {
      (this.cursor?.onError ?? reportToStderr)(err, event, 1, null);
    }
  }
}
