/**
 * Payment notifications: the owner hears about every payment (time, amount, energy, seller) through the log
 * and, if configured, a webhook. Notifications are queued in the store first (so a crash or a dead endpoint
 * loses nothing), then POSTed as JSON with retries and exponential backoff on the daemon's clock.
 */
import type { Clock } from '../hardware/clock.js';
import type { Logger } from '../daemon/logger.js';
import { toJson } from '../daemon/session-store.js';
import type { NotificationConfig } from './config.js';
import type { VehicleStore } from './store.js';

/** What the owner is told about one payment. */
export interface PaymentNotification {
  type: 'payment';
  /** ISO time the payment succeeded or failed */
  time: string;
  sessionId: string;
  seq: number;
  outcome: 'succeeded' | 'failed';
  amountMsat: bigint;
  feeMsat: bigint | null;
  /** energy this payment bought, Wh */
  energyWh: number;
  priceMsatPerWh: bigint;
  /** the seller's Lightning node key, hex */
  seller: string;
  paymentHash: string;
  error?: string;
}

/** Posts queued notifications to the webhook. */
export class Notifier {
  private running = false;
  private stopped = false;
  private wake: (() => void) | undefined;

  /**
   * @param config notification settings
   * @param store where notifications are queued
   * @param clock timing of retries
   * @param log log destination
   */
  constructor(
    private readonly config: NotificationConfig,
    private readonly store: VehicleStore,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /**
   * Queues a notification (committed before delivery is attempted) and logs it.
   *
   * @param n the payment notification
   */
  notify(n: PaymentNotification): void {
    if (this.config.log) this.log.info(`payment ${n.outcome}`, { notification: n });
    if (!this.config.webhook) return;
    this.store.enqueueNotification(n);
    this.wake?.();
  }

  /** Starts the delivery loop (also delivers what a previous run left pending). */
  start(): void {
    if (this.running || !this.config.webhook) return;
    this.running = true;
    void this.loop();
  }

  /** Stops the delivery loop; pending notifications stay queued for the next start. */
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private async loop(): Promise<void> {
    const hook = this.config.webhook;
    if (!hook) return;
    while (!this.stopped) {
      const next = this.store.pendingNotifications()[0];
      if (!next) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      const error = await this.post(next.body);
      if (this.stopped) return;
      const attempts = next.attempts + 1;
      if (error === undefined) {
        this.store.noteDelivery(next.id, { ok: true });
        continue;
      }
      const final = attempts >= hook.attempts;
      this.store.noteDelivery(next.id, { ok: false, error, final });
      this.log.warn(final ? 'webhook gave up on a notification' : 'webhook failed, will retry', {
        id: next.id,
        attempts,
        error,
      });
      if (!final) {
        const delay = hook.backoffMs * 2 ** (attempts - 1);
        await new Promise<void>((resolve) => {
          const t = this.clock.setTimer(delay, resolve);
          this.wake = () => {
            t.cancel();
            resolve();
          };
        });
        this.wake = undefined;
      }
    }
  }

  /** POSTs one body; returns an error text or undefined on a 2xx reply. */
  private async post(body: unknown): Promise<string | undefined> {
    const hook = this.config.webhook;
    if (!hook) return 'no webhook';
    try {
      const res = await fetch(hook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(hook.secret ? { authorization: `Bearer ${hook.secret}` } : {}),
        },
        body: toJson(body),
        signal: AbortSignal.timeout(hook.timeoutMs),
      });
      await res.arrayBuffer();
      return res.ok ? undefined : `HTTP ${res.status}`;
    } catch (err) {
      return (err as Error).message;
    }
  }
}
