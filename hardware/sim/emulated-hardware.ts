/**
 * Emulated hardware on real serial ports: puts a simulated world behind an OpenEVSE RAPI emulator and two
 * Eastron SDM emulators, each on the far end of its own socat PTY pair. The real drivers (`OpenEvse`,
 * `SdmMeter`) then open `evsePath`, `wallMeterPath` and `vehicleMeterPath` exactly as they would
 * `/dev/ttyUSB0`, so the demo (or a developer) can run the whole serial stack without hardware.
 */
import type { Clock } from '../clock.js';
import type { SdmModel } from '../meter/sdm-registers.js';
import { createPtyPair, type PtyPair } from './pty-pair.js';
import { RapiEmulator } from './rapi-emulator.js';
import { SdmEmulator } from './sdm-emulator.js';
import type { SimWorld } from './sim-world.js';

export interface EmulatedHardwareOptions {
  /** The simulated world to put behind the serial ports. */
  world: SimWorld;
  /** Clock for the RAPI charge-time counter (default: the world's clock). */
  clock?: Clock;
  /** Models to emulate (default SDM120 for both; SDM630 for a three-phase world). */
  wallMeterModel?: SdmModel;
  vehicleMeterModel?: SdmModel;
  /** Modbus unit ids the emulated meters answer to (default 1 each; each meter has its own bus). */
  wallMeterUnitId?: number;
  vehicleMeterUnitId?: number;
}

/** Running emulated hardware. Close it when done (it owns three socat processes). */
export interface EmulatedHardware {
  /** Open with `new OpenEvse({ path: evsePath })`. */
  readonly evsePath: string;
  /** Open with `new SdmMeter({ path: wallMeterPath, model: wallMeterModel })`. */
  readonly wallMeterPath: string;
  readonly vehicleMeterPath: string;
  readonly wallMeterModel: SdmModel;
  readonly vehicleMeterModel: SdmModel;
  /** The emulators, for fault injection (`rapi.faults`, `rapi.reboot()`). */
  readonly rapi: RapiEmulator;
  readonly wallSdm: SdmEmulator;
  readonly vehicleSdm: SdmEmulator;
  /** Closes the emulators and stops socat. Close the drivers first. */
  close(): Promise<void>;
}

/**
 * Starts three PTY pairs and the emulators on their far ends.
 *
 * @param options the world and the meter models / unit ids
 * @returns the paths for the drivers and the running emulators
 * @throws Error when socat is missing or a port cannot be opened (everything started so far is stopped)
 */
export async function startEmulatedHardware(options: EmulatedHardwareOptions): Promise<EmulatedHardware> {
  const { world } = options;
  const defaultModel: SdmModel = world.evse.options.phases === 3 ? 'SDM630' : 'SDM120';
  const wallMeterModel = options.wallMeterModel ?? defaultModel;
  const vehicleMeterModel = options.vehicleMeterModel ?? defaultModel;
  const phases = world.evse.options.phases;
  const pairs: PtyPair[] = [];
  const closers: (() => Promise<void>)[] = [];
  try {
    const evsePair = await createPtyPair('evse');
    pairs.push(evsePair);
    const wallPair = await createPtyPair('wallmeter');
    pairs.push(wallPair);
    const vehiclePair = await createPtyPair('vehiclemeter');
    pairs.push(vehiclePair);
    const rapi = await RapiEmulator.open({
      path: evsePair.b,
      charger: world.evse,
      clock: options.clock ?? world.clock,
    });
    closers.push(() => rapi.close());
    const wallSdm = await SdmEmulator.open({
      path: wallPair.b,
      meter: world.wallMeter,
      model: wallMeterModel,
      unitId: options.wallMeterUnitId ?? 1,
      phases,
    });
    closers.push(() => wallSdm.close());
    const vehicleSdm = await SdmEmulator.open({
      path: vehiclePair.b,
      meter: world.vehicleMeter,
      model: vehicleMeterModel,
      unitId: options.vehicleMeterUnitId ?? 1,
      phases,
    });
    closers.push(() => vehicleSdm.close());
    return {
      evsePath: evsePair.a,
      wallMeterPath: wallPair.a,
      vehicleMeterPath: vehiclePair.a,
      wallMeterModel,
      vehicleMeterModel,
      rapi,
      wallSdm,
      vehicleSdm,
      close: () => shutdown(closers, pairs),
    };
  } catch (err) {
    await shutdown(closers, pairs);
    throw err;
  }
}

async function shutdown(closers: (() => Promise<void>)[], pairs: PtyPair[]): Promise<void> {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  for (const pair of pairs) await pair.dispose().catch(() => undefined);
}
