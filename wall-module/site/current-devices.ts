/**
 * A connector's devices as the services beside its daemon hold them (walk-up, DirectPayment, the daemon
 * itself): an EVSE and a meter that forward to the connector's CURRENT device. A connector that failed safe (or
 * whose start failed) is started again by the site on freshly opened devices (`SiteConnectorParts.reopen`); the
 * site's composition swaps them in here, so a walk-up attached at the start drives the new charger and reads the
 * new meter instead of the closed ones, and its listeners stay attached.
 *
 *   const evse = new CurrentEvse(await evseFromConfig(c.evse, clock));
 *   ... reopen: evse.swap(await evseFromConfig(c.evse, clock)) ...
 */
import { EventEmitter } from 'node:events';
import type {
  Evse,
  EvseEvents,
  EvseReadings,
  EvseStatus,
  EvseWatchdogStatus,
} from '../../hardware/evse/evse.js';
import type { EnergyMeter, MeterReading } from '../../hardware/meter/energy-meter.js';

/** An EVSE that forwards every command to the connector's current EVSE and re-emits its events. */
export class CurrentEvse extends EventEmitter<EvseEvents> implements Evse {
  private readonly forward = {
    status: (s: EvseStatus): boolean => this.emit('status', s),
    fault: (...a: EvseEvents['fault']): boolean => this.emit('fault', ...a),
    link: (connected: boolean): boolean => this.emit('link', connected),
  };

  /** @param device the connector's EVSE at the start */
  constructor(private device: Evse) {
    super();
    this.listen();
  }

  /**
   * Makes `next` the connector's EVSE: commands go to it and its events are re-emitted (the previous one's are
   * no longer). The previous device is not closed here (the stopped daemon closed it).
   *
   * @param next the freshly opened EVSE
   */
  swap(next: Evse): void {
    this.device.off('status', this.forward.status);
    this.device.off('fault', this.forward.fault);
    this.device.off('link', this.forward.link);
    this.device = next;
    this.listen();
  }

  private listen(): void {
    this.device.on('status', this.forward.status);
    this.device.on('fault', this.forward.fault);
    this.device.on('link', this.forward.link);
  }

  status(): Promise<EvseStatus> {
    return this.device.status();
  }
  readings(): Promise<EvseReadings> {
    return this.device.readings();
  }
  enable(): Promise<void> {
    return this.device.enable();
  }
  pause(): Promise<void> {
    return this.device.pause();
  }
  setCurrentLimitA(amps: number): Promise<number> {
    return this.device.setCurrentLimitA(amps);
  }
  watchdogStatus(): Promise<EvseWatchdogStatus | null> {
    return this.device.watchdogStatus();
  }
  armWatchdog(intervalSec: number, fallbackCurrentA: number): Promise<EvseWatchdogStatus> {
    return this.device.armWatchdog(intervalSec, fallbackCurrentA);
  }
  petWatchdog(): Promise<EvseWatchdogStatus> {
    return this.device.petWatchdog();
  }
  ackWatchdog(): Promise<EvseWatchdogStatus> {
    return this.device.ackWatchdog();
  }
  /** Closes the current device. */
  close(): Promise<void> {
    return this.device.close();
  }
}

/** A meter that reads the connector's current meter. */
export class CurrentMeter implements EnergyMeter {
  /** @param device the connector's meter at the start */
  constructor(private device: EnergyMeter) {}

  /**
   * Makes `next` the connector's meter (the previous one is not closed here).
   *
   * @param next the freshly opened meter
   */
  swap(next: EnergyMeter): void {
    this.device = next;
  }

  read(): Promise<MeterReading> {
    return this.device.read();
  }
  /** Closes the current device. */
  close(): Promise<void> {
    return this.device.close();
  }
}
