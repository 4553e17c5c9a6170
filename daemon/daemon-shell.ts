/**
 * The part of a daemon that does not depend on its role, composed by the wall and vehicle daemons (not
 * inherited): the machine runner (one loop, write-ahead, fail-safe), the send queue of the cable link, the link's
 * wiring, the meter poller (samples stored, readings fed to the machine), the alarm list, the status server and
 * the stop order, and the write-ahead of the rows every role writes (`writeCommonRows`). The role files keep
 * their mapping (which events, which effects), recovery and role effects.
 */
import type { Clock } from '../hardware/clock.js';
import type { CableLink } from '../hardware/link/cable-link.js';
import type { EnergyMeter, MeterReading } from '../hardware/meter/energy-meter.js';
import { MeterPoller } from '../hardware/meter/meter-poller.js';
import type { StatusConfig } from './config-sections.js';
import type { Logger } from './logger.js';
import { MachineRunner, type MachineBinding } from './machine-runner.js';
import { SendQueue } from './send-queue.js';
import type { SessionStore } from './session-store.js';
import type { Effect } from '../protocol/effects.js';
import { reasonName } from '../protocol/reasons.js';
import { serializeState } from '../protocol/serialize.js';
import { StatusServer, type StatusRoute, type StatusSource } from './status-server.js';

/** Longest alarm list the status page shows. */
const MAX_ALARMS = 20;

/**
 * Longest real time between two ticks of a machine between sessions, ms: the loop's alive signals (systemd's
 * `WATCHDOG=1` at half of `WatchdogSec=30`, the EVSE watchdog's pets) ride on ticks. An EVSE watchdog interval
 * shortens it to a third of that interval.
 */
const MAX_REST_TICK_REAL_MS = 10_000;

/** Meter poll interval between sessions, real ms (the status page's power figure, a meter that went down). */
const REST_METER_POLL_REAL_MS = 30_000;

/** Whether a machine in this phase is between sessions (it may rest: rare ticks, slow meter polls). */
export function betweenSessions(phase: string): boolean {
  return phase === 'idle' || phase === 'ended';
}

/** The events every session machine takes from the shell. */
export type ShellEvent =
  | { type: 'linkUp'; atMs: number }
  | { type: 'linkDown'; atMs: number }
  | { type: 'tick'; atMs: number }
  | { type: 'meter'; energyWh: number; powerW: number; voltageV: number; currentA: number; atMs: number };

/** What the shell runs on (a subset of each role's parts). */
export interface ShellParts {
  config: {
    meter: { pollIntervalMs: number };
    status: StatusConfig;
    /** the daemon clock's speed (rest periods are real time) */
    clock?: { speed: number };
    /** the charger's own watchdog (wall): a resting machine still ticks twice per interval to pet it */
    evse?: { watchdogIntervalSec: number };
  };
  clock: Clock;
  log: Logger;
  store: SessionStore;
  link: CableLink;
  meter: EnergyMeter;
  /** extra routes on the status server (e.g. `/metrics`) */
  routes?: StatusRoute[];
}

/** A session machine's state as the shell sees it. */
export interface ShellState {
  sessionId: string | null;
  phase: string;
}

/** The shared shell of one daemon. */
export class DaemonShell<S extends ShellState, E extends { type: string; atMs: number }> {
  readonly runner: MachineRunner<S, E>;
  readonly poller: MeterPoller;
  readonly sendQueue: SendQueue;
  /** the last alarms (newest last), as the status page shows them */
  readonly alarms: string[] = [];
  /** the last meter reading */
  lastReading: MeterReading | null = null;
  /** set once `stop` began */
  stopping = false;
  private status: StatusServer | null = null;

  /**
   * @param parts clock, log, store, link, meter, status config
   * @param binding the role's machine binding
   * @param initial the machine's state when the store holds none
   * @param asEvent the role's machine event for a shell event (the machines share these event shapes)
   */
  constructor(
    private readonly parts: ShellParts,
    binding: MachineBinding<S, E>,
    initial: S,
    private readonly asEvent: (ev: ShellEvent) => E,
  ) {
    this.sendQueue = new SendQueue(parts.link, parts.log);
    const speed = Math.max(1, parts.config.clock?.speed ?? 1);
    // the EVSE watchdog is petted at most every quarter interval: a tick every third keeps a pet every ~third
    // of the interval (two thirds of it left for a loaded machine), as the 1 s ticks did
    const watchdogMs = ((parts.config.evse?.watchdogIntervalSec ?? Infinity) * 1000) / 3;
    this.restTickMs = Math.round(Math.min(MAX_REST_TICK_REAL_MS, watchdogMs) * speed);
    // the meter polls fast while a session runs and slowly between sessions
    const onStep = binding.afterStep;
    const shellBinding: MachineBinding<S, E> = {
      ...binding,
      afterStep: (state, event, effects) => {
        this.poller.rest(betweenSessions(state.phase));
        onStep?.(state, event, effects);
      },
    };
    this.runner = new MachineRunner(shellBinding, parts.store, parts.clock, parts.log, initial);
    this.poller = new MeterPoller(parts.meter, parts.clock, {
      intervalMs: parts.config.meter.pollIntervalMs,
      restIntervalMs: Math.max(parts.config.meter.pollIntervalMs, REST_METER_POLL_REAL_MS * speed),
    });
    this.poller.rest(betweenSessions(this.runner.state.phase));
  }

  /** Longest clock time between two ticks of a machine between sessions, ms. */
  private readonly restTickMs: number;

  /** The status page URL, if started. */
  get statusUrl(): string | null {
    return this.status?.url ?? null;
  }

  /** Queues a machine event. */
  dispatch(ev: E): void {
    this.runner.dispatch(ev);
  }

  /**
   * Raises an alarm: kept for the status page, logged and recorded in the event log.
   *
   * @param message what happened, for an operator
   */
  alarm(message: string): void {
    this.alarms.push(`${new Date(this.parts.clock.now()).toISOString()} ${message}`);
    if (this.alarms.length > MAX_ALARMS) this.alarms.shift();
    this.parts.log.warn('alarm', { message });
    this.parts.store.appendEvent(this.runner.state.sessionId, 'alarm', { message });
  }

  /**
   * Wraps an event handler: a throw (a store write that failed, a bug) makes the machine fail safe instead of
   * escaping into an emitter or a timer.
   *
   * @param fn the handler
   * @returns the guarded handler
   */
  guard<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
    return (...args: A) => {
      try {
        fn(...args);
      } catch (err) {
        void this.runner.fail(err);
      }
    };
  }

  /** Runs an asynchronous handler whose rejection (a store write that failed) makes the machine fail safe. */
  guardAsync(work: Promise<unknown>): void {
    work.catch((err: unknown) => void this.runner.fail(err));
  }

  /**
   * Wires the cable link (frames to `onMessage`, up/down to the machine, errors to the log) and opens it.
   *
   * @param onMessage what to do with a received frame (the role decides, e.g. a hello starts a session)
   */
  async openLink(onMessage: (bytes: Uint8Array) => void): Promise<void> {
    const { link, clock, log } = this.parts;
    link.on('message', onMessage);
    link.on('up', () => this.dispatch(this.asEvent({ type: 'linkUp', atMs: clock.now() })));
    link.on('down', () => this.dispatch(this.asEvent({ type: 'linkDown', atMs: clock.now() })));
    link.on('error', (err: Error) => log.warn('link error', { error: err.message }));
    await link.open();
  }

  /**
   * Starts the meter poller: each reading is stored as a sample of the running session (when `recordFor`
   * names one), given to `observe`, and fed to the machine; a meter that stops answering raises an alarm.
   *
   * @param recordFor the session a reading belongs to, or null (none running, or not stored yet)
   * @param observe optional observer of every reading (after the sample is stored)
   */
  startMeter(
    recordFor: (state: S) => string | null,
    observe?: (sessionId: string | null, r: MeterReading) => void,
  ): void {
    const { store, clock, log } = this.parts;
    this.poller.on(
      'reading',
      this.guard((r: MeterReading) => {
        this.lastReading = r;
        const sessionId = recordFor(this.runner.state);
        if (sessionId !== null)
          store.addMeterSample({
            sessionId,
            tMs: r.atMs,
            source: 'own',
            energyWh: Math.floor(r.energyImportWh),
            powerW: r.powerW,
            voltageV: r.voltageV,
            currentA: r.currentA,
          });
        observe?.(this.runner.state.sessionId, r);
        this.dispatch(
          this.asEvent({
            type: 'meter',
            energyWh: r.energyImportWh,
            powerW: r.powerW,
            voltageV: r.voltageV,
            currentA: r.currentA,
            atMs: clock.now(),
          }),
        );
      }),
    );
    this.poller.on('error', (e) => log.debug('meter read failed', { error: e.message }));
    this.poller.on(
      'down',
      this.guard((e: Error) => this.alarm(`meter down: ${e.message}`)),
    );
    this.poller.start();
  }

  /**
   * Starts the machine's ticks: one a second of daemon clock on a grid while a session runs or a deadline of the
   * machine falls due; between sessions with nothing due, one per rest period (at most 10 s of real time, a third
   * of the EVSE watchdog's interval), so an idle connector costs next to nothing.
   */
  startTicks(): void {
    this.runner.startTicks(1000, (atMs) => this.asEvent({ type: 'tick', atMs }), {
      restTickMs: this.restTickMs,
      mayRest: (s) => betweenSessions(s.phase),
    });
  }

  /**
   * Starts the status server when the config enables it.
   *
   * @param source what it shows
   * @returns its URL, or null when disabled
   */
  async startStatus(source: StatusSource): Promise<string | null> {
    const { config, routes, log } = this.parts;
    if (!config.status.enabled) return null;
    this.status = await StatusServer.forConfig(source, config.status, routes ? { routes } : {});
    log.info('status page', { url: this.status.url });
    return this.status.url;
  }

  /** Pushes the current snapshot to the status page's live clients. */
  publish(): void {
    this.status?.publish();
  }

  /**
   * Stops in order: the machine (the power stays as it had it), the meter poller, the role's own services
   * (`stopRole`: timers, subscriptions, observers, devices), the status server, the send queue, the link, the
   * meter; then records `daemon.stopped` (best effort) and closes the store last.
   *
   * @param stopRole the role's part, between the poller and the status server
   * @returns false when already stopping
   */
  async stop(stopRole: () => Promise<void>): Promise<boolean> {
    if (this.stopping) return false;
    this.stopping = true;
    const { store, link, meter, log } = this.parts;
    this.runner.stop();
    this.poller.stop();
    await stopRole();
    await this.status?.close().catch(() => {});
    this.sendQueue.close();
    await link.close().catch(() => {});
    await meter.close().catch(() => {});
    try {
      store.appendEvent(null, 'daemon.stopped', { failSafe: this.runner.hasFailed });
    } catch (err) {
      log.warn('daemon.stopped not recorded', { error: (err as Error).message });
    }
    store.close();
    return true;
  }
}

/** What the common rows of a step say about its session. */
export interface CommonSessionRow {
  sessionId: string | null;
  /** the peer's key (vehicle key at the wall, wall key at the vehicle), when known */
  peer: string | null;
  /** energy of the session by this side's meter, Wh */
  energyWh: number;
  /** the current price, msat/Wh, when agreed */
  priceMsatPerWh: bigint | undefined;
}

/**
 * The write-ahead rows every role writes for a step, inside its transaction: the session row (created at the
 * session's first step, its energy, price and peer kept current), the machine's records and alarms in the event
 * log, and at the end of the session its receipt and its end with the reason's name.
 *
 * @param store the daemon's store
 * @param row the session as the step left it
 * @param effects the step's effects
 * @param receiptValid whether this side takes the stored receipt as valid (null: not judged here)
 * @returns true when the step created the session row
 */
export function writeCommonRows(
  store: SessionStore,
  row: CommonSessionRow,
  effects: readonly Effect[],
  receiptValid: (ended: Extract<Effect, { type: 'sessionEnded' }>) => boolean | null,
): boolean {
  const sid = row.sessionId;
  let created = false;
  if (sid && !store.findSession(sid)) {
    store.createSession(sid, row.peer);
    created = true;
  }
  if (sid)
    store.updateSession(sid, {
      energyWh: row.energyWh,
      priceMsatPerWh: row.priceMsatPerWh,
      peer: row.peer ?? undefined,
    });
  for (const e of effects) {
    if (e.type === 'record') store.appendEvent(sid, `machine.${e.kind}`, e.data);
    else if (e.type === 'alarm')
      store.appendEvent(sid, 'machine.alarm', { reason: reasonName(e.reason), message: e.message });
    else if (e.type === 'sessionEnded' && sid) {
      if (e.receipt)
        store.saveReceipt({
          sessionId: sid,
          bodyJson: serializeState(e.receipt),
          signature: e.receipt.signature,
          valid: receiptValid(e),
        });
      store.endSession(sid, e.reasonName);
    }
  }
  return created;
}
