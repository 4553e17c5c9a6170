/**
 * Runs a pure session machine (`protocol/`) inside a daemon: events go in one at a time, and for each step
 * the new state and the write-ahead ledger rows are committed in ONE SQLite transaction before any effect is
 * executed (a payment row exists before `pay` is called; an invoice row before `createInvoice`). Effects then
 * run in order; slow ones (paying, creating invoices, signing) answer later with new events, so the machine
 * never waits on the network. Ticks from the daemon's clock keep time moving for the machine.
 *
 * Fail safe: a step that throws (a bug), a commit that fails (a full disk, a damaged store, an encoding error)
 * or an effect that throws (a state that cannot be recorded) never leaves the runner going on with the old
 * state. The runner stops taking events, runs the binding's `failSafe` (cut the power through a path that does
 * not need the store), records what it can (`recordFailure`, best effort) and resolves `failed`, on which the
 * process exits non-zero so a supervisor restarts it (see `bin/cli/run-daemon.ts`).
 */
import type { Clock, TimerHandle } from '../hardware/clock.js';
import type { Effect, Step } from '../protocol/effects.js';
import type { Logger } from './logger.js';
import { sameState } from './same-state.js';
import type { SessionStore } from './session-store.js';

/** Longest wait for the binding's fail-safe action (e.g. an EVSE that does not answer), real ms. */
const FAIL_SAFE_TIMEOUT_MS = 10_000;

/** Where a machine failure happened. */
export type FailureStage = 'step' | 'commit' | 'effect' | 'external';

/** The machine could not go on: why, and on which event. */
export class MachineFailure extends Error {
  override readonly name = 'MachineFailure';
  /**
   * @param stage `step` (the pure machine threw), `commit` (the write-ahead transaction failed), `effect` (an
   *   effect handler threw), `external` (the daemon reported an unrecordable state through `fail`)
   * @param eventType the event being processed, null for external failures
   * @param cause the original error
   */
  constructor(
    readonly stage: FailureStage,
    readonly eventType: string | null,
    override readonly cause: unknown,
  ) {
    super(`machine ${stage} failed${eventType ? ` on ${eventType}` : ''}: ${errorText(cause)}`);
  }
}

/** The fail-safe side of a runner, as the process sees it (run-daemon exits non-zero once `failed` resolves). */
export interface FailSafe {
  /** Resolves once the runner failed safe (power cut, runner stopped); never rejects. */
  readonly failed: Promise<MachineFailure>;
  /**
   * Fails safe from outside the machine (a store write in an event handler failed, an uncaught exception):
   * idempotent; resolves when the fail-safe has run.
   *
   * @param cause the error
   */
  fail(cause: unknown): Promise<void>;
}

/** How the runner talks to one role's machine and effects. */
export interface MachineBinding<S, E extends { type: string; atMs: number }> {
  /** The pure transition function. */
  step(state: S, event: E): Step<S>;
  /** State → text for the store, and back. */
  serialize(state: S): string;
  deserialize(text: string): S;
  /**
   * Write-ahead: called inside the transaction that persists the new state, with the step's effects
   * (e.g. insert the payment row for a `pay`, the invoice row for a `createInvoice`), and the event that led to
   * them (e.g. the settlement whose ledger row the step's records decide).
   */
  writeAhead(state: S, effects: readonly Effect[], event: E): void;
  /**
   * Carries out one effect. Failures of the outside world are reported as events through `dispatch`; a throw
   * means a state that cannot be recorded and makes the runner fail safe.
   */
  execute(effect: Effect, state: S): Promise<void>;
  /** Called after every step (status page, OCPP, metrics). */
  afterStep?(state: S, event: E, effects: readonly Effect[]): void;
  /**
   * Makes the hardware safe without the store (wall: pause the EVSE; the vehicle pays only through effects, so
   * a stopped runner already stops paying). Must not write to the store. A throw or a hang beyond 10 s is
   * logged and the runner goes on failing.
   */
  failSafe?(failure: MachineFailure): Promise<void>;
  /**
   * Records the failure once the hardware is safe, inside a transaction (e.g. ends the session with a reason).
   * Best effort: with a full disk it throws, the error is logged and the transaction rolled back.
   */
  recordFailure?(state: S, failure: MachineFailure): void;
}

/**
 * How a machine between sessions may rest (tick rarely): while `mayRest(state)` holds and a tick at the next
 * multiple of the rest period would change nothing (the pure step, asked ahead, returns no effect and the same
 * state: no deadline of the machine falls due before then), the next tick comes then instead of every `tickMs`.
 * Every deadline still fires at the same grid tick as without resting (deadlines are `atMs >= due` rules).
 */
export interface RestPlan<S> {
  /** longest clock time between two ticks of a resting machine, ms (the loop's alive signals ride on ticks) */
  restTickMs: number;
  /** whether the state may rest (e.g. between sessions) */
  mayRest(state: S): boolean;
}

/** The tick schedule of a running machine. */
interface TickSchedule<S, E> {
  tickMs: number;
  makeTick: (atMs: number) => E;
  rest: RestPlan<S> | undefined;
}

/** The step of an event queued by `dispatchCommitted` could not be committed; the state is unchanged. */
export class StepNotCommitted extends Error {
  override readonly name = 'StepNotCommitted';
  /**
   * @param eventType the event whose step was rolled back
   * @param cause why (the store error), or null when the runner stopped before the event was processed
   */
  constructor(
    readonly eventType: string,
    override readonly cause: unknown,
  ) {
    super(
      cause === null
        ? `${eventType} not processed: the machine stopped`
        : `${eventType} not committed: ${errorText(cause)}`,
    );
  }
}

/** An event in the queue, with the waiter of `dispatchCommitted`. */
interface Queued<E> {
  event: E;
  committed?: { resolve(): void; reject(err: StepNotCommitted): void };
}

export class MachineRunner<S, E extends { type: string; atMs: number }> implements FailSafe {
  private readonly queue: Queued<E>[] = [];
  private draining = false;
  private tickTimer: TimerHandle | null = null;
  private ticks: TickSchedule<S, E> | null = null;
  /** origin of this machine's tick grid, clock ms (its start: the machines of a site tick at staggered times) */
  private gridOriginMs = 0;
  /** the tick last dispatched by the tick timer (its step re-plans the schedule) */
  private lastTick: E | null = null;
  /** the armed tick is a resting one (later than the next grid point) */
  private resting = false;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  private dirtySteps = 0;
  private failing: Promise<void> | null = null;
  private resolveFailed: (f: MachineFailure) => void = () => {};
  /** Resolves once the runner failed safe; never rejects. */
  readonly failed: Promise<MachineFailure>;
  /** Current machine state (after the last committed step). */
  state: S;

  /**
   * @param binding the role's machine and effect handlers
   * @param store where the state is persisted (slot `main`)
   * @param clock time source for events and ticks
   * @param log logger
   * @param initial state to start from when nothing is persisted
   */
  constructor(
    private readonly binding: MachineBinding<S, E>,
    private readonly store: SessionStore,
    private readonly clock: Clock,
    private readonly log: Logger,
    initial: S,
  ) {
    this.failed = new Promise((resolve) => (this.resolveFailed = resolve));
    const saved = store.loadMachineState('main');
    this.state = saved === undefined ? initial : binding.deserialize(saved);
  }

  /** True once the runner failed (it takes no more events). */
  get hasFailed(): boolean {
    return this.failing !== null;
  }

  /**
   * Starts ticking every `tickMs` of clock time (the machine needs at least one tick per second while it has
   * something to time), on a grid from now; with `rest`, a machine between sessions ticks only every
   * `rest.restTickMs` unless one of its deadlines falls due sooner (see `RestPlan`).
   *
   * @param tickMs tick period in clock milliseconds
   * @param makeTick builds a tick event for a time
   * @param rest when and how long the machine may rest (default: never)
   */
  startTicks(tickMs: number, makeTick: (atMs: number) => E, rest?: RestPlan<S>): void {
    this.ticks = { tickMs, makeTick, rest };
    this.gridOriginMs = this.clock.now();
    this.armTick(this.gridAfter(this.gridOriginMs));
  }

  /** True while the machine rests (its next tick is later than the next grid point). */
  get isResting(): boolean {
    return this.resting;
  }

  /**
   * The first grid point strictly after `t` (clock ms). The grid is whole multiples of `periodMs` from the
   * machine's start, so each machine keeps its own phase: the connectors of a site that started apart never tick
   * in one burst (a 100-connector bench whose machines all ticked on the same whole second lost sessions to
   * heartbeat timeouts), and a resting machine's longer ticks stay on its own grid.
   */
  private gridAfter(t: number, periodMs = this.ticks!.tickMs): number {
    return this.gridOriginMs + (Math.floor((t - this.gridOriginMs) / periodMs) + 1) * periodMs;
  }

  private armTick(atMs: number): void {
    this.tickTimer?.cancel();
    const ticks = this.ticks!;
    this.tickTimer = this.clock.setTimer(Math.max(0, atMs - this.clock.now()), () => {
      if (this.stopped) return;
      const tick = ticks.makeTick(this.clock.now());
      this.lastTick = tick;
      this.resting = false;
      // the next grid tick at once (a busy machine ticks as before); the tick's step may let the machine rest.
      // A real timer may fire a hair early: the next tick is never the same grid point again
      this.armTick(this.gridAfter(Math.max(this.clock.now(), atMs)));
      this.dispatch(tick);
    });
  }

  /**
   * After a step: a machine that may rest and whose next `restTickMs` hold no deadline ticks next at the end of
   * that time; one that rests but may no longer (a plug, a new deadline) goes back to the grid.
   */
  private planRest(): void {
    const ticks = this.ticks;
    if (!ticks?.rest || this.stopped) return;
    const now = this.clock.now();
    // the rest ends on a multiple of the rest period from the machine's start (a grid point too)
    const restPeriodMs = Math.max(1, Math.round(ticks.rest.restTickMs / ticks.tickMs)) * ticks.tickMs;
    const restUntil = this.gridAfter(now, restPeriodMs);
    if (ticks.rest.mayRest(this.state) && this.quietUntil(restUntil, ticks.makeTick)) {
      this.resting = true;
      this.armTick(restUntil);
    } else if (this.resting) {
      this.resting = false;
      this.armTick(this.gridAfter(now));
    }
  }

  /** Whether a tick at `atMs` would change nothing (the machine is pure: asking ahead has no side effect). */
  private quietUntil(atMs: number, makeTick: (atMs: number) => E): boolean {
    try {
      const probe = this.binding.step(this.state, makeTick(atMs));
      return probe.effects.length === 0 && sameState(probe.state, this.state);
    } catch {
      return false; // the real tick will find out (and fail safe)
    }
  }

  /** Queues an event; events are processed strictly in arrival order. */
  dispatch(event: E): void {
    if (this.stopped) return;
    this.queue.push({ event });
    if (!this.draining) void this.drain();
  }

  /**
   * Queues an event whose outcome is an acknowledgement to the outside (a node settlement): the promise
   * resolves once its step's state and write-ahead rows committed (the step is always persisted), before its
   * effects run. A commit that fails rolls back, leaves the state as it was and rejects with
   * `StepNotCommitted` instead of failing safe: the caller retries (the node redelivers the settlement). A step
   * that throws still fails safe (and rejects).
   *
   * @param event the event
   * @returns resolves after the commit
   * @throws StepNotCommitted (rejection)
   */
  dispatchCommitted(event: E): Promise<void> {
    if (this.stopped) return Promise.reject(new StepNotCommitted(event.type, null));
    return new Promise((resolve, reject) => {
      this.queue.push({ event, committed: { resolve, reject } });
      if (!this.draining) void this.drain();
    });
  }

  /** Resolves once the queue is empty and no step is running. */
  idle(): Promise<void> {
    if (!this.draining && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Fails safe from outside the machine (see `FailSafe.fail`).
   *
   * @param cause the error that left a state the daemon cannot record
   */
  fail(cause: unknown): Promise<void> {
    if (this.stopped && !this.failing) {
      // stopped on purpose (the daemon is shutting down): a late failure of an answer that arrived after the
      // stop changes nothing; the power stays as the machine had it and the next start recovers from the store
      this.log.warn('failure after stop ignored', { error: errorText(cause) });
      return Promise.resolve();
    }
    return this.failSafe(
      cause instanceof MachineFailure ? cause : new MachineFailure('external', null, cause),
    );
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const { event, committed } = this.queue.shift() as Queued<E>;
        let stage: FailureStage = 'step';
        try {
          const step = this.binding.step(this.state, event);
          stage = 'commit';
          // a step without effects changes only bookkeeping the next reading or tick recomputes (timestamps,
          // meter totals); it is kept in memory and persisted with the next step that has effects
          if (step.effects.length > 0 || committed || this.dirtySteps++ > 50) {
            this.dirtySteps = 0;
            try {
              this.store.tx(() => {
                this.store.saveMachineState('main', this.binding.serialize(step.state));
                this.binding.writeAhead(step.state, step.effects, event);
              });
            } catch (err) {
              if (!committed) throw err;
              // acknowledged events are retried by their source: the state stays as it was
              this.log.warn('step not committed: its source retries', {
                event: event.type,
                error: errorText(err),
              });
              committed.reject(new StepNotCommitted(event.type, err));
              continue;
            }
          }
          committed?.resolve();
          const before = this.state;
          this.state = step.state;
          // a tick's step may let the machine rest; a step that changed a resting machine's state may wake it
          // (a new deadline, a session): a step that changed nothing leaves the plan as it was
          if (event === this.lastTick || (this.resting && !sameState(before, step.state))) this.planRest();
          stage = 'effect';
          this.binding.afterStep?.(step.state, event, step.effects);
          for (const effect of step.effects) {
            if (this.stopped) break; // failed safe meanwhile (from outside): nothing more is carried out
            await this.binding.execute(effect, step.state);
          }
        } catch (err) {
          committed?.reject(new StepNotCommitted(event.type, err));
          await this.failSafe(new MachineFailure(stage, event.type, err));
        }
      }
    } finally {
      this.draining = false;
      if (this.queue.length === 0 || this.stopped) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private failSafe(failure: MachineFailure): Promise<void> {
    if (this.failing) return this.failing;
    this.stopped = true;
    this.rejectQueued();
    this.tickTimer?.cancel();
    this.failing = this.runFailSafe(failure);
    return this.failing;
  }

  private async runFailSafe(failure: MachineFailure): Promise<void> {
    const { log, binding } = this;
    log.error('machine failed: failing safe and stopping', {
      stage: failure.stage,
      event: failure.eventType,
      error: errorText(failure.cause),
      stack: failure.cause instanceof Error ? failure.cause.stack : undefined,
    });
    if (binding.failSafe) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          binding.failSafe(failure),
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`no answer within ${FAIL_SAFE_TIMEOUT_MS} ms`)),
              FAIL_SAFE_TIMEOUT_MS,
            );
          }),
        ]);
      } catch (err) {
        log.error('fail-safe action failed', { error: errorText(err) });
      } finally {
        clearTimeout(timer);
      }
    }
    try {
      this.store.tx(() => {
        this.store.appendEvent(null, 'machine.failed', {
          stage: failure.stage,
          event: failure.eventType,
          error: errorText(failure.cause),
        });
        binding.recordFailure?.(this.state, failure);
      });
    } catch (err) {
      log.error('the failure could not be recorded in the store', { error: errorText(err) });
    }
    for (const w of this.idleWaiters.splice(0)) w();
    this.resolveFailed(failure);
  }

  /** Stops ticking and ignores further events. */
  stop(): void {
    this.stopped = true;
    this.rejectQueued();
    this.tickTimer?.cancel();
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Empties the queue; waiters of `dispatchCommitted` learn their event was not processed. */
  private rejectQueued(): void {
    for (const q of this.queue.splice(0)) q.committed?.reject(new StepNotCommitted(q.event.type, null));
  }
}

/** Message of any thrown value. */
function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
