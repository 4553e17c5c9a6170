/**
 * Eastron SDM120 / SDM630 input registers (Modbus function 0x04), each value a float32 big-endian in two
 * consecutive 16-bit registers. Shared by the SDM driver and the SDM emulator.
 */

/** Supported meter models. */
export type SdmModel = 'SDM120' | 'SDM630';

/** Register addresses (start of each float32 pair). */
export const SdmRegister = {
  /** Voltage L1–N, V. */
  voltageL1V: 0x0000,
  voltageL2V: 0x0002,
  voltageL3V: 0x0004,
  /** Current L1, A. */
  currentL1A: 0x0006,
  currentL2A: 0x0008,
  currentL3A: 0x000a,
  /** Active power (L1 on the SDM630), W. */
  powerL1W: 0x000c,
  /** SDM630 total system active power, W. */
  totalPowerW: 0x0034,
  /** Import active energy, kWh. Bill from this one. */
  importEnergyKwh: 0x0048,
  /** Export active energy, kWh. */
  exportEnergyKwh: 0x004a,
  /** Total (import + export) active energy, kWh. Never bill from this one. */
  totalEnergyKwh: 0x0156,
} as const;

/**
 * Decodes a float32 big-endian from two registers.
 *
 * @param hi first register (high word)
 * @param lo second register (low word)
 * @returns the value
 */
export function registersToFloat(hi: number, lo: number): number {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(hi & 0xffff, 0);
  b.writeUInt16BE(lo & 0xffff, 2);
  return b.readFloatBE(0);
}

/**
 * Encodes a value as float32 big-endian in two registers.
 *
 * @param value the value
 * @returns [high word, low word]
 */
export function floatToRegisters(value: number): [number, number] {
  const b = Buffer.alloc(4);
  b.writeFloatBE(value, 0);
  return [b.readUInt16BE(0), b.readUInt16BE(2)];
}
