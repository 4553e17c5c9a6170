/**
 * Runs a pure session machine (`protocol/`) inside a daemon: events go in one at a time, and for each step
 * the new state and the write-ahead ledger rows are committed in ONE SQLite transaction before any effect is
 * executed (a payment row exists before `pay` is called; an invoice row before `createInvoice`). Effects then
 * run in order; slow ones (paying, creating invoices, signing) answer later with new events, so the machine
 * never waits on the network. Ticks from the daemon's clock keep time moving for the machine.
 */
import type { Clock, TimerHandle } from '../hardware/clock.js';
import type { Effect, Step } from '../protocol/effects.js';
import type { Logger } from './logger.js';
import type { SessionStore } from './session-store.js';

/** How the runner talks to one role's machine and effects. */
export interface MachineBinding<S, E extends { type: string; atMs: number }> {
  /** The pure transition function. */
  step(state: S, event: E): Step<S>;
  /** State → text for the store, and back. */
  serialize(state: S): string;
  deserialize(text: string): S;
  /**
   * Write-ahead: called inside the transaction that persists the new state, with the step's effects
   * (e.g. insert the payment row for a `pay`, the invoice row for a `createInvoice`).
   */
  writeAhead(state: S, effects: readonly Effect[]): void;
  /** Carries out one effect. Must not throw; failures are reported as events through `dispatch`. */
  execute(effect: Effect, state: S): Promise<void>;
  /** Called after every step (status page, OCPP, metrics). */
  afterStep?(state: S, event: E, effects: readonly Effect[]): void;
}

/** The machine's event loop. */
export class MachineRunner<S, E extends { type: string; atMs: number }> {
  private readonly queue: E[] = [];
  private draining = false;
  private tickTimer: TimerHandle | null = null;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  private dirtySteps = 0;
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
    const saved = store.loadMachineState('main');
    this.state = saved === undefined ? initial : binding.deserialize(saved);
  }

  /**
   * Starts ticking every `tickMs` of clock time (the machine needs at least one tick per second).
   *
   * @param tickMs tick period in clock milliseconds
   * @param makeTick builds a tick event for a time
   */
  startTicks(tickMs: number, makeTick: (atMs: number) => E): void {
    const arm = (): void => {
      this.tickTimer = this.clock.setTimer(tickMs, () => {
        if (this.stopped) return;
        this.dispatch(makeTick(this.clock.now()));
        arm();
      });
    };
    arm();
  }

  /** Queues an event; events are processed strictly in arrival order. */
  dispatch(event: E): void {
    if (this.stopped) return;
    this.queue.push(event);
    if (!this.draining) void this.drain();
  }

  /** Resolves once the queue is empty and no step is running. */
  idle(): Promise<void> {
    if (!this.draining && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const event = this.queue.shift() as E;
        let step: Step<S>;
        try {
          step = this.binding.step(this.state, event);
        } catch (err) {
          // the machine is pure and total; an exception is a bug: log it and keep the old state
          this.log.error('machine step threw', { event: event.type, error: (err as Error).stack });
          continue;
        }
        // a step without effects changes only bookkeeping the next reading or tick recomputes (timestamps,
        // meter totals); it is kept in memory and persisted with the next step that has effects
        if (step.effects.length > 0 || this.dirtySteps++ > 50) {
          this.dirtySteps = 0;
          this.store.tx(() => {
            this.store.saveMachineState('main', this.binding.serialize(step.state));
            this.binding.writeAhead(step.state, step.effects);
          });
        }
        this.state = step.state;
        this.binding.afterStep?.(step.state, event, step.effects);
        for (const effect of step.effects) {
          try {
            await this.binding.execute(effect, step.state);
          } catch (err) {
            this.log.error('effect failed', { effect: effect.type, error: (err as Error).message });
          }
        }
      }
    } finally {
      this.draining = false;
      if (this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Stops ticking and ignores further events. */
  stop(): void {
    this.stopped = true;
    this.tickTimer?.cancel();
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
