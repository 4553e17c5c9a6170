/**
 * The SLCAN adapter emulator: one emulated CAN bus at a configured bitrate and, per adapter, a socat PTY pair
 * whose far end it drives as an {@link SlcanAdapterEmulation}. Applications open the near end (`paths[name]`)
 * with their real serialport code, exactly as they would open `/dev/ttyACM0`.
 * Used by tests in-process and by `scripts/slcan-emulator.ts` as a process for the demo.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SerialPort } from 'serialport';
import type { Clock } from '../clock.js';
import { MemoryCanNetwork } from './memory-bus.js';
import { openPtyPair, type PtyPair } from '../pty-pair.js';
import { openSerialDevice } from '../serial-port.js';
import { SlcanAdapterEmulation } from './slcan-adapter-emulation.js';
import { PreciseClock } from './precise-clock.js';
import type { SlcanAckStyle } from './slcan-bus.js';

/** One emulated adapter. */
export interface EmulatedAdapterSpec {
  /** Name; also the PTY file name. Letters, digits, `-` and `_`. */
  name: string;
  /** Default `cr`. */
  ackStyle?: SlcanAckStyle;
  /** Frames the adapter buffers before refusing transmits with BEL; default 256. */
  txQueueFrames?: number;
}

/** Options of {@link SlcanEmulator}. */
export interface SlcanEmulatorOptions {
  /** Bus bitrate in bit/s (e.g. 33 333 or 500 000). Adapters opened at another rate are refused. */
  bitrate: number;
  /** CAN FD data-phase bitrate in bit/s; default `bitrate`. */
  dataBitrate?: number;
  adapters: EmulatedAdapterSpec[];
  /** Directory for the PTY links; default a fresh temporary directory (removed on `stop()`). */
  dir?: string;
  /** Time source of the bus; default {@link PreciseClock} (frames take their sub-millisecond wire time). */
  clock?: Clock;
}

export class SlcanEmulator {
  /** Application-side PTY path per adapter name; filled by `start()`. */
  readonly paths: Record<string, string> = {};
  /** The emulated adapters by name; filled by `start()`. */
  readonly adapters: Record<string, SlcanAdapterEmulation> = {};
  readonly network: MemoryCanNetwork;
  private readonly pairs: PtyPair[] = [];
  private readonly ports: SerialPort[] = [];
  private dir: string | undefined;
  private ownsDir = false;
  private readonly clock: Clock;

  /** @param options bitrate, adapters, PTY directory */
  constructor(private readonly options: SlcanEmulatorOptions) {
    for (const a of options.adapters)
      if (!/^[A-Za-z0-9_-]+$/.test(a.name)) throw new RangeError(`bad adapter name '${a.name}'`);
    this.clock = options.clock ?? new PreciseClock();
    this.network = new MemoryCanNetwork({
      bitrate: options.bitrate,
      dataBitrate: options.dataBitrate,
      clock: this.clock,
    });
  }

  /**
   * Creates the PTY pairs and starts answering on them.
   * @returns application-side PTY path per adapter name
   * @throws PtyPairFailed when socat is missing
   */
  async start(): Promise<Record<string, string>> {
    this.ownsDir = this.options.dir === undefined;
    this.dir = this.options.dir ?? mkdtempSync(join(tmpdir(), 'boltcharge-slcan-'));
    try {
      for (const spec of this.options.adapters) {
        const near = join(this.dir, spec.name);
        const pair = await openPtyPair(near, `${near}.adapter`);
        this.pairs.push(pair);
        const port = await openSerialDevice({ path: pair.b, baudRate: 115_200 });
        this.ports.push(port);
        this.adapters[spec.name] = new SlcanAdapterEmulation(port, this.network, this.clock, {
          name: spec.name,
          ackStyle: spec.ackStyle,
          txQueueFrames: spec.txQueueFrames,
        });
        this.paths[spec.name] = near;
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    return { ...this.paths };
  }

  /**
   * Makes an adapter vanish as if unplugged: its PTY pair goes away, so the application's port closes.
   * @param name adapter name
   */
  async unplug(name: string): Promise<void> {
    const i = this.options.adapters.findIndex((a) => a.name === name);
    if (i < 0) throw new RangeError(`no adapter '${name}'`);
    await this.adapters[name]?.powerOff();
    const port = this.ports[i];
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
    await this.pairs[i]?.close();
  }

  /** Closes the adapters' ports, stops socat and removes the temporary directory. Idempotent. */
  async stop(): Promise<void> {
    for (const a of Object.values(this.adapters)) await a.powerOff();
    for (const port of this.ports)
      if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
    for (const pair of this.pairs) await pair.close();
    if (this.ownsDir && this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
