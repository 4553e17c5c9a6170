/**
 * The energy meter interface, in the spirit of EVerest's `powermeter`: one command (`read`) returning the
 * published values with units in their names, and typed errors. The Eastron SDM driver and the simulated
 * meters implement it; the daemons bill from `energyImportWh` differences between two reads.
 */

/** One reading of a meter. */
export interface MeterReading {
  /**
   * Cumulative imported active energy, Wh (monotonic, never import+export). Fractional: drivers report the
   * device's own resolution (SDM: float32 kWh, i.e. ≤ 0.125 Wh below 1 000 kWh and ≤ 1 Wh below 8 000 kWh;
   * simulator: exact). Callers that bill round the difference of two readings to integer Wh themselves.
   */
  energyImportWh: number;
  /** Total active power, W (sum of phases; positive = import). */
  powerW: number;
  /** Voltage, V (L1–N on three-phase meters). */
  voltageV: number;
  /** Current, A (the highest phase current on three-phase meters, so a single live phase is never missed). */
  currentA: number;
  /** When the reading was taken, ms since epoch (the driver's clock). */
  atMs: number;
}

/** A meter: read it whenever a value is needed. */
export interface EnergyMeter {
  /**
   * Reads every value once.
   *
   * @returns the reading
   * @throws MeterError subclasses: MeterTimeout, MeterUnitIdNoResponse, MeterPortUnavailable, MeterException,
   *   MeterImplausibleValue
   */
  read(): Promise<MeterReading>;
  /** Releases the meter (closes its port). */
  close(): Promise<void>;
}

/** Base of every meter error. */
export class MeterError extends Error {
  override readonly name: string = 'MeterError';
}

/** The meter stopped answering (it answered before): wiring, power or bus problem. */
export class MeterTimeout extends MeterError {
  override readonly name: string = 'MeterTimeout';
  /** @param where port and unit; @param timeoutMs per-attempt timeout, ms; @param attempts tries made */
  constructor(
    readonly where: string,
    readonly timeoutMs: number,
    readonly attempts: number,
    hint = 'the meter answered before: check its power and the bus wiring',
  ) {
    super(`no reply from ${where} within ${timeoutMs} ms (${attempts} attempt(s)): ${hint}`);
  }
}

/**
 * The meter has never answered since the port opened: almost always a wrong unit id (or baud rate / parity).
 * Modbus RTU cannot tell these apart on the wire; the message lists what to check.
 */
export class MeterUnitIdNoResponse extends MeterTimeout {
  override readonly name = 'MeterUnitIdNoResponse';
  /** @param where port and unit; @param unitId unit id asked; @param timeoutMs ms; @param attempts tries made */
  constructor(where: string, unitId: number, timeoutMs: number, attempts: number, serialHint: string) {
    super(
      where,
      timeoutMs,
      attempts,
      `no meter answers to unit id ${unitId}; check the unit id set on the meter (Eastron default 1), ${serialHint}, and the A/B wiring`,
    );
  }
}

/** The serial port could not be opened or vanished. */
export class MeterPortUnavailable extends MeterError {
  override readonly name = 'MeterPortUnavailable';
  /** @param path the serial device; @param detail the operating system's reason */
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`meter port ${path} unavailable: ${detail}`);
  }
}

/** The meter answered with a Modbus exception (e.g. 2 = illegal data address: wrong model configured). */
export class MeterException extends MeterError {
  override readonly name = 'MeterException';
  /** @param where port and unit; @param register start register; @param code Modbus exception code */
  constructor(
    readonly where: string,
    readonly register: number,
    readonly code: number,
  ) {
    super(`${where} rejected register 0x${register.toString(16).padStart(4, '0')}: Modbus exception ${code}`);
  }
}

/** The meter answered with a value that cannot be right (NaN, negative energy, energy going backwards). */
export class MeterImplausibleValue extends MeterError {
  override readonly name = 'MeterImplausibleValue';
  /** @param where port and unit; @param detail what is wrong */
  constructor(
    readonly where: string,
    detail: string,
  ) {
    super(`${where}: implausible value: ${detail}`);
  }
}
