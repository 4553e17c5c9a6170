/**
 * An Eastron SDM120 / SDM630 emulator: a Modbus RTU slave (modbus-serial's `ServerSerial`) on a serial device
 * (the far end of a socat PTY pair), serving function 0x04 input registers as float32 big-endian pairs from
 * any `EnergyMeter` behind it, typically a simulated meter. Requests for another unit id go unanswered, as on
 * a real RS-485 bus; a backing meter that times out makes the emulator silent too. The tests use it to run
 * the SDM driver's real serial code; the demo can use it to run the real driver against the simulator.
 */
import modbusSerial from 'modbus-serial';
import type { FCallbackVal, IServiceVector } from 'modbus-serial/ServerTCP.js';
import { MeterTimeout, type EnergyMeter, type MeterReading } from '../meter/energy-meter.js';
import { floatToRegisters, SdmRegister, type SdmModel } from '../meter/sdm-registers.js';

export interface SdmEmulatorOptions {
  /** Serial device to open (the emulator's end of the PTY pair). */
  path: string;
  /** The meter whose readings the emulator serves. */
  meter: EnergyMeter;
  /** Model whose register map to serve (default SDM120). */
  model?: SdmModel;
  /** Unit id to answer to (default 1, the Eastron factory setting). */
  unitId?: number;
  /** Baud rate (default 2400; a PTY ignores it). */
  baudRate?: number;
  /** Parity (default none). */
  parity?: 'none' | 'even' | 'odd';
  /** Phases the current is spread over for SDM630 per-phase registers (default 1 for SDM120, 3 for SDM630). */
  phases?: 1 | 3;
  /** Exported energy to report at 0x004A (and inside the 0x0156 total), Wh (default 0). */
  exportEnergyWh?: number;
}

/** Modbus exception 2 (illegal data address), as modbus-serial's server expects it. */
class IllegalDataAddress extends Error {
  readonly modbusErrorCode = 2;
}

/** The emulator. `SdmEmulator.open()`, then `close()`. */
export class SdmEmulator {
  /** Number of requests answered. */
  answered = 0;
  private constructor(
    private readonly server: InstanceType<typeof modbusSerial.ServerSerial>,
    readonly options: SdmEmulatorOptions,
  ) {}

  /**
   * Opens the serial device and starts answering.
   *
   * @param options device, backing meter, model and bus settings
   * @returns the running emulator
   */
  static async open(options: SdmEmulatorOptions): Promise<SdmEmulator> {
    let emulator: SdmEmulator | null = null;
    const serve = (addr: number, length: number, cb: FCallbackVal<number[]>): void => {
      options.meter.read().then(
        (reading) => {
          let words: number[];
          try {
            words = registerWords(reading, addr, length, options);
          } catch (err) {
            cb(err as Error, []);
            return;
          }
          if (emulator) emulator.answered++;
          cb(null, words);
        },
        (err: unknown) => {
          // a silent meter stays silent; any other failure is a slave device failure (exception 4)
          if (err instanceof MeterTimeout) return;
          cb(Object.assign(new Error(String(err)), { modbusErrorCode: 4 }), []);
        },
      );
    };
    const vector: IServiceVector = {
      getMultipleInputRegisters: (addr: number, length: number, _unit: number, cb: FCallbackVal<number[]>) =>
        serve(addr, length, cb),
      getInputRegister: (addr: number, _unit: number, cb: FCallbackVal<number>) =>
        serve(addr, 1, (err, words) => cb(err, words[0] ?? 0)),
    };
    const server = await new Promise<InstanceType<typeof modbusSerial.ServerSerial>>((resolve, reject) => {
      const s: InstanceType<typeof modbusSerial.ServerSerial> = new modbusSerial.ServerSerial(vector, {
        path: options.path,
        baudRate: options.baudRate ?? 2400,
        parity: options.parity ?? 'none',
        unitID: options.unitId ?? 1,
        openCallback: (err?: Error | null) => (err ? reject(err) : resolve(s)),
      });
      s.on('error', () => undefined);
      s.on('socketError', () => undefined);
    });
    emulator = new SdmEmulator(server, options);
    return emulator;
  }

  /** Stops answering and closes the serial device. */
  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * The register words for a request, from a reading.
 *
 * @throws IllegalDataAddress when the range starts or ends inside a value or covers an unmapped register
 */
function registerWords(r: MeterReading, addr: number, length: number, o: SdmEmulatorOptions): number[] {
  const model = o.model ?? 'SDM120';
  const phases = o.phases ?? (model === 'SDM630' ? 3 : 1);
  const importKwh = r.energyImportWh / 1000;
  const exportKwh = (o.exportEnergyWh ?? 0) / 1000;
  const R = SdmRegister;
  const values = new Map<number, number>([
    [R.voltageL1V, r.voltageV],
    [R.currentL1A, r.currentA],
    [R.powerL1W, r.powerW / phases],
    [0x0046, 50], // frequency, Hz
    [R.importEnergyKwh, importKwh],
    [R.exportEnergyKwh, exportKwh],
    [R.totalEnergyKwh, importKwh + exportKwh],
  ]);
  if (model === 'SDM630') {
    const live = (n: number): boolean => n < phases;
    values.set(R.voltageL2V, r.voltageV);
    values.set(R.voltageL3V, r.voltageV);
    values.set(R.currentL2A, live(1) ? r.currentA : 0);
    values.set(R.currentL3A, live(2) ? r.currentA : 0);
    values.set(0x000e, live(1) ? r.powerW / phases : 0);
    values.set(0x0010, live(2) ? r.powerW / phases : 0);
    values.set(R.totalPowerW, r.powerW);
  }
  if (addr % 2 !== 0 || length % 2 !== 0) throw new IllegalDataAddress(`unaligned read ${addr}+${length}`);
  const words: number[] = [];
  for (let a = addr; a < addr + length; a += 2) {
    const v = values.get(a);
    if (v === undefined) throw new IllegalDataAddress(`register 0x${a.toString(16)} not mapped`);
    words.push(...floatToRegisters(v));
  }
  return words;
}
