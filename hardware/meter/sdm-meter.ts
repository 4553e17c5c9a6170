/**
 * `EnergyMeter` for Eastron SDM120 (single-phase) and SDM630 (three-phase) meters over Modbus RTU, using
 * modbus-serial. Each value is read with function 0x04 as a float32 big-endian register pair; energy comes
 * from 0x0048 (import), never 0x0156 (import + export). The port is opened lazily and reopened after it
 * drops, so a meter on a replugged USB adapter comes back without restarting the daemon.
 */
import modbusSerial from 'modbus-serial';
import type { ModbusRTU as ModbusClient } from 'modbus-serial/ModbusRTU.js';
import type { Clock } from '../clock.js';
import { SystemClock } from '../clock.js';
import {
  MeterError,
  MeterException,
  MeterImplausibleValue,
  MeterPortUnavailable,
  MeterTimeout,
  MeterUnitIdNoResponse,
  type EnergyMeter,
  type MeterReading,
} from './energy-meter.js';
import { registersToFloat, SdmRegister, type SdmModel } from './sdm-registers.js';

// modbus-serial is CommonJS: its module.exports is the client class, which its typings call `default`.
const ModbusRTU = modbusSerial as unknown as new () => ModbusClient;

export type SerialParity = 'none' | 'even' | 'odd';

export interface SdmMeterOptions {
  /** Serial device, e.g. `/dev/ttyUSB0`. */
  path: string;
  /** `SDM120` (default) or `SDM630`. */
  model?: SdmModel;
  /** Baud rate as set on the meter (Eastron default 2400 for SDM120, 9600 for SDM630). */
  baudRate?: number;
  /** Parity as set on the meter (default none). */
  parity?: SerialParity;
  /** Data bits (default 8). */
  dataBits?: 7 | 8;
  /** Stop bits (default 1). */
  stopBits?: 1 | 2;
  /** Modbus unit id, 1..247 (default 1). */
  unitId?: number;
  /** Per-request reply timeout, ms (default 1000). */
  timeoutMs?: number;
  /** Extra attempts after a timeout (default 1). */
  retries?: number;
  /** Clock for reading timestamps (default real time). */
  clock?: Clock;
}

interface ModbusLikeError {
  name?: string;
  message?: string;
  errno?: string;
  modbusCode?: number;
}

/** An Eastron SDM meter. Reading opens the port on first use. */
export class SdmMeter implements EnergyMeter {
  readonly model: SdmModel;
  private readonly unitId: number;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly clock: Clock;
  private client: ModbusClient | null = null;
  private answeredSinceOpen = false;
  private lastEnergyWh: number | null = null;
  private busy: Promise<unknown> = Promise.resolve();

  /** @param options port and meter settings; see `SdmMeterOptions` */
  constructor(readonly options: SdmMeterOptions) {
    this.model = options.model ?? 'SDM120';
    this.unitId = options.unitId ?? 1;
    if (!Number.isInteger(this.unitId) || this.unitId < 1 || this.unitId > 247)
      throw new RangeError(`Modbus unit id must be 1..247, got ${options.unitId}`);
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.retries = options.retries ?? 1;
    this.clock = options.clock ?? new SystemClock();
  }

  /** Human-readable location for errors, e.g. `SDM120 unit 1 on /dev/ttyUSB0`. */
  get where(): string {
    return `${this.model} unit ${this.unitId} on ${this.options.path}`;
  }

  /**
   * Reads energy, power, voltage and current (SDM120: 4 requests; SDM630: 3).
   *
   * @returns the reading; `energyImportWh` from register 0x0048 (kWh × 1000)
   * @throws MeterImplausibleValue once when the register goes backwards (meter reset or swapped); the read
   *   after that succeeds from the new value, so callers must treat the error as a break in the series
   * @throws MeterUnitIdNoResponse, MeterTimeout, MeterPortUnavailable, MeterException, MeterImplausibleValue
   */
  read(): Promise<MeterReading> {
    const run = this.busy.then(() => this.readOnce());
    this.busy = run.catch(() => undefined);
    return run;
  }

  /** Closes the port. The next `read()` reopens it. */
  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client?.isOpen) await new Promise<void>((resolve) => client.close(() => resolve()));
  }

  private async readOnce(): Promise<MeterReading> {
    const R = SdmRegister;
    let voltageV: number;
    let currentA: number;
    let powerW: number;
    if (this.model === 'SDM630') {
      const vi = await this.readFloats(R.voltageL1V, 6);
      voltageV = vi[0] as number;
      currentA = Math.max(vi[3] as number, vi[4] as number, vi[5] as number);
      powerW = (await this.readFloats(R.totalPowerW, 1))[0] as number;
    } else {
      voltageV = (await this.readFloats(R.voltageL1V, 1))[0] as number;
      currentA = (await this.readFloats(R.currentL1A, 1))[0] as number;
      powerW = (await this.readFloats(R.powerL1W, 1))[0] as number;
    }
    const energyKwh = (await this.readFloats(R.importEnergyKwh, 1))[0] as number;
    const atMs = this.clock.now();
    for (const [name, v] of [
      ['energy', energyKwh],
      ['power', powerW],
      ['voltage', voltageV],
      ['current', currentA],
    ] as const) {
      if (!Number.isFinite(v)) throw new MeterImplausibleValue(this.where, `${name} is ${v}`);
    }
    const energyImportWh = energyKwh * 1000;
    if (energyImportWh < 0)
      throw new MeterImplausibleValue(this.where, `import energy ${energyImportWh} Wh < 0`);
    // float32 kWh can wobble by one ulp; anything beyond 1 Wh backwards is a swapped or reset meter. That is
    // reported once (the caller must not bill across it); the next read starts from the new register value.
    const previousWh = this.lastEnergyWh;
    this.lastEnergyWh = energyImportWh;
    if (previousWh !== null && energyImportWh < previousWh - 1)
      throw new MeterImplausibleValue(
        this.where,
        `import energy went backwards from ${previousWh} Wh to ${energyImportWh} Wh (meter reset or swapped?)`,
      );
    return { energyImportWh, powerW, voltageV, currentA, atMs };
  }

  /** Reads `count` consecutive float32 values starting at `register`, with retries on timeout. */
  private async readFloats(register: number, count: number): Promise<number[]> {
    let attempts = 0;
    for (;;) {
      attempts++;
      const client = await this.connect();
      try {
        const res = await client.readInputRegisters(register, count * 2);
        this.answeredSinceOpen = true;
        const out: number[] = [];
        for (let i = 0; i < count; i++)
          out.push(registersToFloat(res.data[2 * i] ?? 0, res.data[2 * i + 1] ?? 0));
        return out;
      } catch (err) {
        const e = err as ModbusLikeError;
        if (typeof e.modbusCode === 'number') throw new MeterException(this.where, register, e.modbusCode);
        const timedOut = e.errno === 'ETIMEDOUT' || e.name === 'TransactionTimedOutError';
        if (!timedOut) {
          if (!client.isOpen || e.name === 'PortNotOpenError') {
            await this.close();
            throw new MeterPortUnavailable(this.options.path, e.message ?? String(err));
          }
          if (attempts > this.retries) throw new MeterError(`${this.where}: ${e.message ?? String(err)}`);
          continue;
        }
        if (attempts > this.retries) {
          if (!this.answeredSinceOpen)
            throw new MeterUnitIdNoResponse(
              this.where,
              this.unitId,
              this.timeoutMs,
              attempts,
              this.serialHint(),
            );
          throw new MeterTimeout(this.where, this.timeoutMs, attempts);
        }
      }
    }
  }

  private serialHint(): string {
    const o = this.options;
    const parity = (o.parity ?? 'none')[0]?.toUpperCase() ?? 'N';
    return `the serial settings (${this.baudRate()} baud ${o.dataBits ?? 8}${parity}${o.stopBits ?? 1})`;
  }

  private baudRate(): number {
    return this.options.baudRate ?? (this.model === 'SDM630' ? 9600 : 2400);
  }

  private async connect(): Promise<ModbusClient> {
    if (this.client?.isOpen) return this.client;
    await this.close();
    const client = new ModbusRTU();
    // A port error outside a request (a write to a vanished PTY, EIO on unplug) arrives as an 'error' event;
    // without a listener it would crash the process. The client is dropped so the next read reopens the port
    // and reports MeterPortUnavailable if it is still gone; a request in flight fails on its own timeout.
    client.on('error', () => {
      if (this.client === client) this.client = null;
      if (client.isOpen) client.close(() => undefined);
    });
    try {
      await client.connectRTUBuffered(this.options.path, {
        baudRate: this.baudRate(),
        parity: this.options.parity ?? 'none',
        dataBits: this.options.dataBits ?? 8,
        stopBits: this.options.stopBits ?? 1,
      });
    } catch (err) {
      throw new MeterPortUnavailable(this.options.path, (err as Error).message ?? String(err));
    }
    client.setID(this.unitId);
    client.setTimeout(this.timeoutMs);
    this.client = client;
    this.answeredSinceOpen = false;
    return client;
  }
}
