/**
 * A wall daemon as the OCPP station's `StationControl` sees it, for the CSMS-command tests: a real
 * `ConnectorArbiter`, and a session driver that reports to the station what the daemon would (session start,
 * paid block, energy, end). A stop request ends the session on the next tick, as the daemon's machine does.
 */
import { ConnectorArbiter } from '../../wall-module/connector-arbiter.js';
import type { OcppStation } from '../../wall-module/ocpp/station.js';
import type { RemoteStopReason, StationControl } from '../../wall-module/ocpp/station-control.js';
import { blockInvoice } from './harness.js';

export class DaemonDouble implements StationControl {
  readonly connector = new ConnectorArbiter();
  readonly stops: RemoteStopReason[] = [];
  resets = 0;
  private session: { id: string; meterWh: number; atMs: number } | null = null;

  constructor(private readonly station: OcppStation) {}

  arbiter(evseId: number): ConnectorArbiter | undefined {
    return evseId === 1 ? this.connector : undefined;
  }

  requestStop(evseId: number, reason: RemoteStopReason): boolean {
    const s = this.session;
    if (evseId !== 1 || s === null) return false;
    this.stops.push(reason);
    setImmediate(() => this.end('Local'));
    return true;
  }

  reset(): void {
    this.resets++;
  }

  /**
   * A cable session that buys its first block and draws energy (Charging).
   *
   * @param id session id
   * @param atMs start time, ms since epoch
   * @param payerKey the car's key
   */
  startPaidSession(id: string, atMs: number, payerKey?: string): void {
    const claim = this.connector.claim('cable', id);
    if (!claim.ok) throw new Error(`claim refused: ${claim.refusal}`);
    this.session = { id, meterWh: 1000, atMs };
    this.station.sessionStarted({
      evseId: 1,
      sessionId: id,
      atMs,
      meterStartWh: 1000,
      ...(payerKey !== undefined ? { payerKey } : {}),
    });
    const block = blockInvoice(id, 0, 1000);
    this.station.invoiceIssued({ ...block, atMs: atMs + 1000 });
    this.station.invoicePaid({ ...block, atMs: atMs + 2000 });
    this.station.meterSample({ sessionId: id, energyWh: 1001, powerW: 7000, atMs: atMs + 3000 });
    this.session.meterWh = 1001;
  }

  /** Ends the running session as the daemon reports it, and releases the connector. */
  end(reason: 'Local' | 'EVDisconnected' | 'LocalOutOfCredit'): void {
    const s = this.session;
    if (!s) return;
    this.session = null;
    this.station.sessionEnded({
      sessionId: s.id,
      reason,
      meterStopWh: s.meterWh,
      atMs: s.atMs + 10_000,
      receipt: {
        energyWh: s.meterWh - 1000,
        paidMsat: blockInvoice(s.id, 0, 1000).amountMsat,
        invoicesIssued: 1,
        invoicesPaid: 1,
        lastSeq: 0,
        priceMsatPerWh: blockInvoice(s.id, 0, 1000).priceMsatPerWh,
      },
    });
    this.connector.release(s.id);
  }
}
