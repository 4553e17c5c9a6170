/**
 * Ordered, non-blocking transmission over the cable link. The machine runner must never wait on the link (a
 * dead peer makes ISO-TP wait for flow control up to its N_Bs timeout per message), so frames are queued here
 * and sent one at a time in order by a separate loop. The queue is bounded: when the peer is gone and frames
 * pile up, the oldest are dropped (the protocol's counters let the peer see the gap) and counted.
 */
import type { CableLink } from '../hardware/link/cable-link.js';
import type { Logger } from './logger.js';

/** Sends frames in order without blocking the caller. */
export class SendQueue {
  private readonly queue: { frame: Uint8Array; label: string }[] = [];
  private running = false;
  private closed = false;
  /** frames dropped because the queue was full */
  dropped = 0;

  /**
   * @param link the cable link
   * @param log logger for send failures and drops
   * @param maxPending most frames waiting (default 64)
   */
  constructor(
    private readonly link: CableLink,
    private readonly log: Logger,
    private readonly maxPending = 64,
  ) {}

  /**
   * Queues one frame.
   *
   * @param frame the bytes to send
   * @param label message type, for logs
   */
  push(frame: Uint8Array, label: string): void {
    if (this.closed) return;
    this.queue.push({ frame, label });
    while (this.queue.length > this.maxPending) {
      this.queue.shift();
      this.dropped++;
      if (this.dropped % 16 === 1)
        this.log.warn('link send queue full: dropping oldest frames', { dropped: this.dropped });
    }
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const { frame, label } = this.queue.shift()!;
        try {
          await this.link.send(frame);
        } catch (err) {
          this.log.debug('link send failed', { message: label, error: (err as Error).message });
        }
      }
    } finally {
      this.running = false;
    }
  }

  /** Stops sending; queued frames are discarded. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }
}
