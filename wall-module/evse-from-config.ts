/**
 * Opens the charger the wall configuration names: an OpenEVSE over RAPI, or the charger of a simulated world.
 */
import type { Clock } from '../hardware/clock.js';
import type { Evse } from '../hardware/evse/evse.js';
import { OpenEvse } from '../hardware/evse/openevse.js';
import { RemoteEvse } from '../daemon/sim-remote.js';
import type { EvseConfig } from './config.js';

/**
 * Opens and connects the EVSE.
 *
 * @param c the `evse` section
 * @param clock time source for the driver's timeouts and retries
 * @returns the connected EVSE
 */
export async function evseFromConfig(c: EvseConfig, clock: Clock): Promise<Evse> {
  if (c.kind === 'sim') return RemoteEvse.connect(c.url);
  const evse = new OpenEvse({
    path: c.port,
    baudRate: c.baud,
    checksum: c.checksum,
    clock,
    statusPollMs: 1000,
  });
  await evse.open();
  return evse;
}
