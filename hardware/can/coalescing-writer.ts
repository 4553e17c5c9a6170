/**
 * `CoalescingWriter`: the SLCAN lines written to one serial stream within one turn of the event loop go out as
 * one `write` (one system call, one serial transfer), in order.
 *
 * Why: an ISO-TP burst hands a window of consecutive frames to the adapter at once, and an adapter acknowledges
 * (or forwards) several frames at once. Written one by one, each line is its own `write` on the serialport
 * stream, and serialport's stream runs them strictly one after another, each through the libuv thread pool; at
 * 500 kbit/s (0.27 ms per frame) that queue, not the bus, set the pace on a busy machine. A USB adapter packs
 * its replies into USB packets the same way.
 */
import type { Writable } from 'node:stream';

export class CoalescingWriter {
  private chunks: string[] = [];
  private callbacks: ((err: Error | null | undefined) => void)[] = [];
  private scheduled = false;

  /** @param stream the serial stream (host side or adapter side) */
  constructor(private readonly stream: Writable) {}

  /**
   * Queues `text` for the next flush (at the end of the current event-loop turn).
   *
   * @param text bytes to write (ASCII SLCAN lines)
   * @param done called once the batch holding `text` was written (with the stream's error, if any)
   */
  write(text: string, done?: (err: Error | null | undefined) => void): void {
    this.chunks.push(text);
    if (done) this.callbacks.push(done);
    if (this.scheduled) return;
    this.scheduled = true;
    process.nextTick(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const text = this.chunks.join('');
    const callbacks = this.callbacks;
    this.chunks = [];
    this.callbacks = [];
    if (this.stream.destroyed) {
      const err = new Error('serial stream destroyed before the write');
      for (const cb of callbacks) cb(err);
      return;
    }
    this.stream.write(text, (err) => {
      for (const cb of callbacks) cb(err);
    });
  }
}
