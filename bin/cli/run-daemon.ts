/**
 * `boltcharge wall|vehicle --config F`: validates the configuration, then starts the daemon and runs it until
 * SIGINT/SIGTERM.
 */
import { loadVehicleConfig } from '../../vehicle-module/config.js';
import { loadWallConfig } from '../../wall-module/config.js';

/**
 * Starts one daemon.
 *
 * @param role which daemon
 * @param configFile its YAML configuration
 * @returns exit code once the daemon has stopped
 * @throws ConfigInvalid when the configuration is invalid (the CLI prints every bad key and exits 2)
 */
export async function runDaemon(role: 'wall' | 'vehicle', configFile: string): Promise<number> {
  if (role === 'wall') loadWallConfig(configFile);
  else loadVehicleConfig(configFile);
  process.stderr.write(`boltcharge ${role}: the daemon shell is not wired yet on this branch\n`);
  return 1;
}
