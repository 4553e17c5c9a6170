/**
 * Keeps one OCPP-J link to the CSMS open: retries the first connect itself (ocpp-rpc only reconnects after a
 * first success) and reconnects after every close, with exponential backoff timed by the injected clock.
 */
import type { Clock, TimerHandle } from '../../hardware/clock.js';
import { openRpcLink, type RpcLink, type RpcLinkOptions } from './rpc-link.js';
import type { OcppLogger } from './types.js';

/** How long `stop()` waits for the CSMS to acknowledge a close, real ms. */
const CLOSE_GRACE_MS = 2000;

export interface BackoffPolicy {
  /** first retry delay, ms */
  initialMs: number;
  /** multiplier per failed attempt */
  factor: number;
  /** cap, ms */
  maxMs: number;
  /** random spread as a fraction of the delay (0 = deterministic) */
  jitter: number;
}

/**
 * Delay before retry number `attempt` (0-based).
 *
 * @param policy backoff policy
 * @param attempt failed attempts so far
 * @param random uniform [0,1) source
 * @returns delay in ms
 */
export function backoffDelayMs(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.factor, attempt));
  const spread = base * policy.jitter * (random() * 2 - 1);
  return Math.max(0, Math.round(base + spread));
}

export interface ConnectionHandlers {
  /** a link opened (handlers may be registered on it now) */
  onOpen(link: RpcLink): void;
  /** the open link closed; a reconnect is already scheduled */
  onClose(code: number, reason: string): void;
  /** a connect attempt failed; a retry is already scheduled */
  onConnectFailed(error: unknown): void;
}

export class OcppConnection {
  private current: RpcLink | undefined;
  private timer: TimerHandle | undefined;
  private failures = 0;
  private running = false;
  private connecting = false;

  /**
   * @param clock time source for backoff
   * @param linkOptions how to open a link
   * @param backoff retry policy
   * @param logger logger
   * @param handlers open/close callbacks
   */
  constructor(
    private readonly clock: Clock,
    private readonly linkOptions: RpcLinkOptions,
    private readonly backoff: BackoffPolicy,
    private readonly logger: OcppLogger,
    private readonly handlers: ConnectionHandlers,
  ) {}

  /** The open link, if any. */
  get link(): RpcLink | undefined {
    return this.current;
  }

  /** Starts connecting (returns at once). */
  start(): void {
    if (this.running) return;
    this.running = true;
    void this.attempt();
  }

  /** Stops reconnecting and closes the link. */
  async stop(): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
    const link = this.current;
    this.current = undefined;
    if (!link) return;
    // a graceful close (code 1000), awaited for a bounded real time: a wedged CSMS must not hold up the
    // daemon's shutdown (ws then finishes or times out the close handshake on its own)
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      link.close(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
  }

  private async attempt(): Promise<void> {
    if (!this.running || this.connecting || this.current) return;
    this.connecting = true;
    try {
      await this.connectOnce();
    } finally {
      this.connecting = false;
    }
  }

  private async connectOnce(): Promise<void> {
    try {
      const link = await openRpcLink(this.linkOptions);
      if (!this.running) {
        await link.close(true);
        return;
      }
      this.failures = 0;
      this.current = link;
      link.onClose((code, reason) => {
        if (this.current !== link) return;
        this.current = undefined;
        this.logger.warn('ocpp: link closed', { code, reason });
        this.handlers.onClose(code, reason);
        this.schedule();
      });
      this.logger.info('ocpp: connected', { protocol: link.protocol });
      try {
        this.handlers.onOpen(link);
      } catch (err: unknown) {
        this.logger.error('ocpp: open handler failed', { error: String(err) });
      }
    } catch (err: unknown) {
      this.logger.warn('ocpp: connect failed', { error: err instanceof Error ? err.message : String(err) });
      this.schedule();
      this.handlers.onConnectFailed(err);
    }
  }

  private schedule(): void {
    if (!this.running) return;
    const delayMs = backoffDelayMs(this.backoff, this.failures++);
    this.timer?.cancel();
    this.timer = this.clock.setTimer(delayMs, () => {
      this.timer = undefined;
      void this.attempt();
    });
  }
}
