/**
 * An in-memory CAN network: nodes attach as `CanBus`es; frames are arbitrated by identifier (lowest wins among
 * the nodes' queue heads), occupy the bus for {@link frameDurationMs} at the configured bitrate, and reach every
 * other open node when their transmission completes. The bus keeps exact virtual time, so a timer that fires
 * late (real clocks round to a millisecond) delivers every frame that completed meanwhile, in order; the
 * throughput follows the bitrate exactly. Used by unit tests (on a ManualClock), the SLCAN emulator and the
 * link benchmark.
 */
import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../clock.js';
import { frameDurationMs, type BusBitrates } from './bit-timing.js';
import type { CanBus, CanBusEvents } from './bus.js';
import { CanBusClosed } from './errors.js';
import type { CanFrame } from './frame.js';

interface Pending {
  frame: CanFrame;
  from: MemoryCanBus;
  enqueuedMs: number;
  seq: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** Options of a {@link MemoryCanNetwork}. */
export interface MemoryCanNetworkOptions extends BusBitrates {
  /** Time source for frame timing. */
  clock: Clock;
}

export class MemoryCanNetwork {
  readonly rates: BusBitrates;
  private readonly clock: Clock;
  private readonly nodes = new Set<MemoryCanBus>();
  private queue: Pending[] = [];
  private seq = 0;
  /** Virtual time (ms, fractional) at which the bus becomes idle. */
  private busFreeAtMs = -Infinity;
  private timer: TimerHandle | undefined;
  /** Frames that have completed on the wire since construction. */
  framesTransmitted = 0;

  /** @param options bitrate(s) in bit/s and the clock */
  constructor(options: MemoryCanNetworkOptions) {
    if (!(options.bitrate > 0)) throw new RangeError(`bitrate must be > 0, got ${options.bitrate}`);
    this.rates = { bitrate: options.bitrate, dataBitrate: options.dataBitrate };
    this.clock = options.clock;
  }

  /**
   * Creates a node on this network. It receives nothing until opened.
   * @param name label for diagnostics
   */
  attach(name = `node${this.nodes.size}`): MemoryCanBus {
    const bus = new MemoryCanBus(this, name);
    this.nodes.add(bus);
    return bus;
  }

  /** @internal queues a frame from `from`; resolves when it has completed on the wire. */
  transmit(from: MemoryCanBus, frame: CanFrame): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ frame, from, enqueuedMs: this.clock.now(), seq: this.seq++, resolve, reject });
      this.pump();
    });
  }

  /** @internal drops the queued frames of a node that closed. */
  dropFrom(node: MemoryCanBus, reason: Error): void {
    const mine = this.queue.filter((p) => p.from === node);
    this.queue = this.queue.filter((p) => p.from !== node);
    for (const p of mine) p.reject(reason);
  }

  private pump(): void {
    this.timer?.cancel();
    this.timer = undefined;
    for (;;) {
      if (this.queue.length === 0) return;
      // Arbitration: among frames waiting when the bus frees, the lowest identifier wins; FIFO per node.
      const startMs = Math.max(this.busFreeAtMs, Math.min(...this.queue.map((p) => p.enqueuedMs)));
      const heads = new Map<MemoryCanBus, Pending>();
      for (const p of this.queue) if (p.enqueuedMs <= startMs && !heads.has(p.from)) heads.set(p.from, p);
      const winner = [...heads.values()].sort(
        (a, b) => arbitrationKey(a.frame) - arbitrationKey(b.frame) || a.seq - b.seq,
      )[0] as Pending;
      const endMs = startMs + frameDurationMs(winner.frame, this.rates);
      const now = this.clock.now();
      if (endMs > now) {
        this.timer = this.clock.setTimer(endMs - now, () => {
          this.timer = undefined;
          this.pump();
        });
        return;
      }
      this.queue.splice(this.queue.indexOf(winner), 1);
      this.busFreeAtMs = endMs;
      this.framesTransmitted++;
      for (const node of this.nodes) if (node !== winner.from && node.isOpen) node.deliver(winner.frame);
      winner.resolve();
    }
  }
}

/** 11-bit ids win over 29-bit ids with the same base id; a data frame wins over a remote frame. */
function arbitrationKey(frame: CanFrame): number {
  const base = frame.extended ? frame.id >>> 18 : frame.id;
  const extBits = frame.extended ? (frame.id & 0x3ffff) + 1 : 0;
  return (base * 2 ** 19 + extBits) * 2 + (frame.rtr ? 1 : 0);
}

/** One node of a {@link MemoryCanNetwork}; obtain with `network.attach()`. */
export class MemoryCanBus extends EventEmitter<CanBusEvents> implements CanBus {
  private open_ = false;

  /** @internal use {@link MemoryCanNetwork.attach} */
  constructor(
    private readonly network: MemoryCanNetwork,
    readonly name: string,
  ) {
    super();
  }

  get bitrate(): number {
    return this.network.rates.bitrate;
  }
  get isOpen(): boolean {
    return this.open_;
  }
  async open(): Promise<void> {
    this.open_ = true;
  }
  /** Sends a frame; resolves when its transmission on the bus completes. */
  async send(frame: CanFrame): Promise<void> {
    if (!this.open_) throw new CanBusClosed(`${this.name}: bus is closed`);
    return this.network.transmit(this, frame);
  }
  async close(): Promise<void> {
    this.shutDown(undefined);
  }
  /**
   * Simulates the adapter vanishing (USB unplugged): the bus closes with `reason` and pending sends reject.
   * @param reason the error delivered with the `close` event
   */
  fail(reason: Error): void {
    this.shutDown(reason);
  }
  /** @internal called by the network when a frame from another node completes */
  deliver(frame: CanFrame): void {
    this.emit('frame', frame);
  }
  private shutDown(reason: Error | undefined): void {
    if (!this.open_) return;
    this.open_ = false;
    this.network.dropFrom(this, reason ?? new CanBusClosed(`${this.name}: bus closed`));
    this.emit('close', reason);
  }
}
