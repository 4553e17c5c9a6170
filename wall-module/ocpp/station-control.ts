/**
 * `StationControl`: what the OCPP station may ask of the wall daemon when the CSMS sends a command (remote stop,
 * availability, reset, unlock, remote start). The station never reaches into the daemon otherwise; without a
 * control attached, every command that needs one gets the spec's refusal (`Rejected`), never `NotImplemented`.
 */
import type { ConnectorArbiter, ConnectorOwner } from '../connector-arbiter.js';

/** Why the CSMS stopped a session: its stop command, a reset, a 2.1 transactionLimit reached. */
export type RemoteStopReason = 'remote' | 'reset' | 'limit';

/** What a remote start asks for. */
export interface RemoteStartRequest {
  evseId: number;
  /** the CSMS's id for the request (2.x remoteStartId; 1.6: 0) */
  remoteStartId: number;
  /** idToken / idTag the CSMS named */
  idToken: string;
  /** how long the started session may wait for its driver (TxCtrlr EVConnectionTimeOut), ms */
  timeoutMs: number;
}

/** Outcome of an unlock request. */
export type UnlockOutcome = 'Unlocked' | 'UnlockFailed';

/** The daemon surface the OCPP station drives. */
export interface StationControl {
  /**
   * @param evseId EVSE id from the OCPP configuration
   * @returns the connector's arbiter, or undefined when the daemon has none for it
   */
  arbiter(evseId: number): ConnectorArbiter | undefined;
  /**
   * Asks the running session on the EVSE to end cleanly (final invoice, receipt). Returns at once.
   *
   * @param evseId EVSE id
   * @param reason why
   * @returns false when no session runs there
   */
  requestStop(evseId: number, reason: RemoteStopReason): boolean;
  /**
   * Starts a walk-up session for a remote start (optional: only a daemon with walk-up payments has it).
   *
   * @returns whether the session was started
   */
  remoteStart?(request: RemoteStartRequest): boolean;
  /**
   * Releases the cable lock of the EVSE's connector (optional: a socket without a lock actuator never holds
   * the cable, so the station answers `Unlocked`).
   */
  unlock?(evseId: number): UnlockOutcome;
  /**
   * Restarts the daemon (graceful: sessions were stopped first). Called once, after the CSMS got its reply.
   */
  reset(): void;
}

/** The part of `WallDaemon` the adapter needs (its public `arbiter` and `requestStop(reason)`). */
export interface WallDaemonSurface {
  readonly arbiter?: ConnectorArbiter;
  /** ends the session cleanly with the operator-stop reason (the station itself records why the CSMS stopped it) */
  requestStop(): void;
  /** the running session id, if any */
  readonly state: { sessionId: string | null };
}

/**
 * Adapts a wall daemon (one connector) to `StationControl`.
 *
 * @param daemon the running daemon
 * @param evseId the OCPP EVSE id of its connector
 * @param reset how this process restarts (e.g. a graceful shutdown its supervisor restarts)
 * @returns the control
 */
export function wallStationControl(
  daemon: WallDaemonSurface,
  evseId: number,
  reset: () => void,
): StationControl {
  return siteStationControl(new Map([[evseId, daemon]]), reset);
}

/**
 * Adapts a site (one wall daemon per connector) to `StationControl`: each command reaches the connector of the
 * EVSE it names; an EVSE the site does not run gets the spec's refusal.
 *
 * @param byEvse each connector's daemon by its OCPP EVSE id
 * @param reset how this process restarts (e.g. a graceful shutdown its supervisor restarts)
 * @returns the control
 */
export function siteStationControl(
  byEvse: ReadonlyMap<number, WallDaemonSurface>,
  reset: () => void,
): StationControl {
  return {
    arbiter: (id) => byEvse.get(id)?.arbiter,
    // the car sees an operator stop (USER_STOP); the CSMS sees why through the station's own record
    requestStop: (id) => {
      const daemon = byEvse.get(id);
      if (!daemon || daemon.state.sessionId === null) return false;
      daemon.requestStop();
      return true;
    },
    reset,
  };
}

/** The walk-up of one EVSE, as a CSMS remote start / stop drives it (`WalkupRuntime`). */
export interface WalkupRemote {
  /**
   * Starts a walk-up session for the CSMS: the connector is claimed and the display offers the session's QR.
   * @returns ok, or the arbiter's refusal (busy, inoperative, faulted)
   */
  remoteStart(args: {
    remoteStartId: number;
    timeoutMs: number;
  }): { ok: true } | { ok: false; refusal: string; detail: string };
  /**
   * Ends the walk-up occupying the connector cleanly (final invoice, receipt), or calls off one waiting for
   * its deposit.
   * @returns false when no walk-up occupies the connector
   */
  remoteStop(reason: string): boolean;
}

/**
 * Adds walk-up payments to a daemon's control (`remoteStart: walkup`): a remote start on an EVSE with walk-up
 * starts a walk-up session there (an EVSE without one refuses); a remote stop (or a transactionLimit reached)
 * of a walk-up session ends it cleanly; everything else goes to `base`.
 *
 * @param base the daemon's control (`siteStationControl`)
 * @param byEvse the walk-up of each EVSE that has one, by OCPP EVSE id
 * @returns the control
 */
export function walkupStationControl(
  base: StationControl,
  byEvse: ReadonlyMap<number, WalkupRemote>,
): StationControl {
  const unlock = base.unlock?.bind(base);
  return {
    arbiter: (evseId) => base.arbiter(evseId),
    reset: () => base.reset(),
    ...(unlock !== undefined ? { unlock } : {}),
    requestStop: (evseId, reason) => {
      const walkup = byEvse.get(evseId);
      if (walkup !== undefined && base.arbiter(evseId)?.current().kind === 'walkup')
        if (walkup.remoteStop(`ocpp ${reason}`)) return true;
      return base.requestStop(evseId, reason);
    },
    remoteStart: (request) => {
      const walkup = byEvse.get(request.evseId);
      if (walkup === undefined) return false;
      return walkup.remoteStart({ remoteStartId: request.remoteStartId, timeoutMs: request.timeoutMs }).ok;
    },
  };
}

/**
 * The 2.x availability word for a connector owner.
 *
 * @param owner the arbiter's owner (undefined: no arbiter)
 * @param occupied a cable is plugged or a transaction is open
 * @returns `Available`, `Occupied`, `Reserved`, `Unavailable` or `Faulted`
 */
export function availabilityOf(owner: ConnectorOwner | undefined, occupied: boolean): string {
  if (owner?.kind === 'faulted') return 'Faulted';
  if (owner?.kind === 'inoperative') return occupied ? 'Occupied' : 'Unavailable';
  if (owner?.kind === 'reserved' && !occupied) return 'Reserved';
  return occupied || owner?.kind === 'cable' || owner?.kind === 'walkup' ? 'Occupied' : 'Available';
}
