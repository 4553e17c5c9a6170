/**
 * Keeps an EVSE's own watchdog (OpenEVSE heartbeat supervision) armed and petted on behalf of a daemon, so that
 * a daemon that dies, hangs or is killed makes the EVSE itself fall back to a safe current (0 = stop) within
 * the interval. At start it reads the watchdog first (arming clears the missed flag), reports a miss that
 * happened while nobody was watching, acknowledges it, then arms. `pet()` is called from the loop that drives
 * the session machine, so it stops when that loop stops; pets are rate-limited on real time (the firmware
 * counts real seconds, whatever the daemon's clock speed).
 *
 * An EVSE without a watchdog is refused unless the host allows unsupervised operation explicitly.
 */
import type { Evse, EvseWatchdogStatus } from './evse.js';

/** The EVSE has no watchdog and `evse.allowUnsupervised` is not set: the daemon refuses to start. */
export class EvseUnsupervised extends Error {
  override readonly name = 'EvseUnsupervised';
  constructor() {
    super(
      'the EVSE has no heartbeat supervision (OpenEVSE firmware built without HEARTBEAT_SUPERVISION): a dead ' +
        'daemon could not stop the power. Update the firmware, or set evse.allowUnsupervised: true to run anyway',
    );
  }
}

/** When a missed pet was found. */
export type WatchdogMissedWhen = 'startup' | 'running';

/** The part of a logger the keeper uses (the daemons' `Logger` fits). */
export interface WatchdogLog {
  info(msg: string, fields?: object): void;
  warn(msg: string, fields?: object): void;
  error(msg: string, fields?: object): void;
}

/** Options of `EvseWatchdogKeeper.start`. */
export interface WatchdogKeeperOptions {
  /** Supervision interval, whole seconds of real time. */
  intervalSec: number;
  /** Current the EVSE falls back to, amps (0 = stop). */
  fallbackCurrentA: number;
  /** Run on an EVSE without a watchdog (logged as an error at start). */
  allowUnsupervised: boolean;
  log: WatchdogLog;
  /** A missed pet was found (the keeper has acknowledged it, or tried to). */
  onMissed(when: WatchdogMissedWhen, status: EvseWatchdogStatus): void;
  /** Real time, ms (default `Date.now`). */
  nowMs?: () => number;
}

/** Result of the start-up check. */
export interface WatchdogStartup {
  /** The EVSE has a watchdog and it is armed. */
  supervised: boolean;
  /** A pet was missed before this start (the EVSE fell back while the daemon was away). */
  missedBeforeStart: boolean;
}

/** Arms, pets and acknowledges an EVSE watchdog. */
export class EvseWatchdogKeeper {
  private lastPetMs = Number.NEGATIVE_INFINITY;
  private inFlight = false;
  private readonly nowMs: () => number;

  private constructor(
    private readonly evse: Evse,
    private readonly options: WatchdogKeeperOptions,
    /** What the start-up check found. */
    readonly startup: WatchdogStartup,
  ) {
    this.nowMs = options.nowMs ?? Date.now;
  }

  /**
   * Reads the watchdog, reports and acknowledges a miss, and arms it.
   *
   * @param evse the EVSE
   * @param options interval, fallback, what to do without a watchdog, logger, miss callback
   * @returns the keeper
   * @throws EvseUnsupervised when the EVSE has no watchdog and unsupervised operation is not allowed;
   *   EvseCommandFailed / EvseUnreachable when the EVSE does not answer
   */
  static async start(evse: Evse, options: WatchdogKeeperOptions): Promise<EvseWatchdogKeeper> {
    const status = await evse.watchdogStatus();
    if (status === null) {
      if (!options.allowUnsupervised) throw new EvseUnsupervised();
      options.log.error(
        'EVSE WATCHDOG UNAVAILABLE: running unsupervised (evse.allowUnsupervised: true); if this daemon dies ' +
          'or hangs, the EVSE keeps delivering power that nobody bills',
      );
      return new EvseWatchdogKeeper(evse, options, { supervised: false, missedBeforeStart: false });
    }
    const missedBeforeStart = status.missed === 'unacknowledged';
    const keeper = new EvseWatchdogKeeper(evse, options, { supervised: true, missedBeforeStart });
    if (missedBeforeStart) await keeper.acknowledge('startup', status);
    const armed = await evse.armWatchdog(options.intervalSec, options.fallbackCurrentA);
    keeper.lastPetMs = keeper.nowMs();
    options.log.info('EVSE watchdog armed', {
      intervalSec: armed.intervalSec,
      fallbackCurrentA: armed.fallbackCurrentA,
    });
    return keeper;
  }

  /**
   * Pets the watchdog if a quarter of the interval passed since the last pet and no pet is in flight. Never
   * throws; a failed pet is logged (the next call tries again; if none succeeds the EVSE falls back).
   */
  pet(): void {
    if (!this.startup.supervised || this.inFlight) return;
    const now = this.nowMs();
    if (now - this.lastPetMs < (this.options.intervalSec * 1000) / 4) return;
    this.inFlight = true;
    this.evse
      .petWatchdog()
      .then(async (s) => {
        this.lastPetMs = now;
        if (s.missed === 'unacknowledged') await this.acknowledge('running', s);
      })
      .catch((err: Error) => this.options.log.warn('EVSE watchdog pet failed', { error: err.message }))
      .finally(() => {
        this.inFlight = false;
      });
  }

  private async acknowledge(when: WatchdogMissedWhen, status: EvseWatchdogStatus): Promise<void> {
    this.options.log.warn('EVSE watchdog missed a heartbeat: the EVSE fell back to its safe current', {
      when,
      intervalSec: status.intervalSec,
      fallbackCurrentA: status.fallbackCurrentA,
    });
    try {
      await this.evse.ackWatchdog();
    } catch (err) {
      this.options.log.error('EVSE watchdog acknowledgement failed', { error: (err as Error).message });
    }
    this.options.onMissed(when, status);
  }
}
