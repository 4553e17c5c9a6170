/**
 * Typed errors of the OCPP component. Each is named for what went wrong; none of them ever reaches the daemon's
 * energy path (the station logs them and carries on), except `OcppConfigInvalid` and `OcppArgumentInvalid`,
 * which are programming or configuration errors thrown synchronously.
 */

/** The station configuration is unusable (bad URL, empty identity, bad vendorId...). */
export class OcppConfigInvalid extends Error {
  override readonly name = 'OcppConfigInvalid';
}

/** A daemon call passed an argument the station cannot report (negative energy, unknown EVSE...). */
export class OcppArgumentInvalid extends Error {
  override readonly name = 'OcppArgumentInvalid';
}

/** The CSMS answered a CALL with a CALLERROR. */
export class OcppCallError extends Error {
  override readonly name = 'OcppCallError';
  /**
   * @param action the OCPP action that was called
   * @param code OCPP-J error code from the CALLERROR (e.g. `NotImplemented`, `FormatViolation`)
   * @param description the CSMS's error description
   */
  constructor(
    readonly action: string,
    readonly code: string,
    readonly description: string,
  ) {
    super(`${action}: CSMS replied ${code}${description ? `: ${description}` : ''}`);
  }
}

/** A payload the station was about to send failed the official OCPP JSON schema (a station bug). */
export class OcppPayloadInvalid extends Error {
  override readonly name = 'OcppPayloadInvalid';
  constructor(
    readonly action: string,
    readonly detail: string,
  ) {
    super(`${action}: outgoing payload violates the OCPP schema: ${detail}`);
  }
}

/** The CSMS's reply to a CALL failed the official OCPP JSON schema. */
export class OcppResponseInvalid extends Error {
  override readonly name = 'OcppResponseInvalid';
  constructor(
    readonly action: string,
    readonly detail: string,
  ) {
    super(`${action}: CSMS reply violates the OCPP schema: ${detail}`);
  }
}

/** No reply to a CALL within the call timeout. */
export class OcppCallTimeout extends Error {
  override readonly name = 'OcppCallTimeout';
  constructor(readonly action: string) {
    super(`${action}: no reply from the CSMS in time`);
  }
}

/** The WebSocket closed before the reply arrived, or a call was made with no open link. */
export class OcppLinkClosed extends Error {
  override readonly name = 'OcppLinkClosed';
}

/** Connecting to the CSMS failed (refused, TLS, HTTP 401, no common subprotocol...). */
export class OcppConnectFailed extends Error {
  override readonly name = 'OcppConnectFailed';
  /**
   * @param url CSMS URL (without credentials)
   * @param detail cause
   * @param httpStatus HTTP status of a refused upgrade, when there was one
   */
  constructor(
    readonly url: string,
    readonly detail: string,
    readonly httpStatus?: number,
  ) {
    super(`connect to ${url} failed: ${detail}`);
  }
}
