/**
 * Opens the energy meter a daemon's configuration names: an Eastron SDM over Modbus RTU, or a meter of a
 * simulated world in another process (demo and tests).
 */
import type { Clock } from '../hardware/clock.js';
import type { EnergyMeter } from '../hardware/meter/energy-meter.js';
import { SdmMeter } from '../hardware/meter/sdm-meter.js';
import type { MeterConfig } from './config-sections.js';
import { RemoteMeter } from './sim-remote.js';

/**
 * Opens the meter.
 *
 * @param c the `meter` section
 * @param clock time source for reading timestamps
 * @returns the meter (its first `read()` opens the port)
 */
export function meterFromConfig(c: MeterConfig, clock: Clock): EnergyMeter {
  if (c.kind === 'sim') {
    if (c.name !== 'wall' && c.name !== 'vehicle') throw new RangeError(`meter.name must be wall or vehicle`);
    return new RemoteMeter(c.url, c.name);
  }
  return new SdmMeter({
    path: c.port,
    model: c.kind === 'sdm630' ? 'SDM630' : 'SDM120',
    baudRate: c.baud,
    parity: c.parity,
    unitId: c.unitId,
    timeoutMs: c.timeoutMs,
    clock,
  });
}
