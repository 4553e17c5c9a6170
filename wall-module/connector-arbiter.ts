/**
 * Who drives one connector's EVSE right now. Every session kind that can energise a connector (the cable
 * seller session, a walk-up phone session, an OCPP remote start) claims the connector here first, and an operator
 * state (Inoperative from the CSMS, Faulted after an unconfirmed cut) keeps every claim out. It is the one place
 * that answers "may a new session start on this connector, and if not, why" — with a reason the car, the phone
 * page and the CSMS all see in the same words.
 *
 * In-memory and synchronous; the owners persist what they own (the seller and walk-up sessions in their stores,
 * Faulted and Inoperative in the wall store) and re-claim on boot before any new session can start.
 */

/** What a connector is doing. */
export type ConnectorOwner =
  | { kind: 'idle' }
  /** a vehicle module's cable session */
  | { kind: 'cable'; sessionId: string }
  /** a phone (walk-up, LNURL / QR) session */
  | { kind: 'walkup'; sessionId: string }
  /** held for a session announced elsewhere (OCPP NotifyWebPaymentStarted: a driver is paying on the web) */
  | { kind: 'reserved'; reason: string }
  /** an operator took it out of service (OCPP ChangeAvailability Inoperative, or config) */
  | { kind: 'inoperative'; reason: string }
  /** a safety fault (e.g. a cut the meter did not confirm); only an operator clears it */
  | { kind: 'faulted'; reason: string; sinceMs: number };

/** The session kinds that can claim a connector. */
export type SessionKind = 'cable' | 'walkup';

/** Why a claim was refused (stable words: they reach the car, the phone page and the CSMS). */
export type ClaimRefusal = 'CONNECTOR_BUSY' | 'CONNECTOR_INOPERATIVE' | 'CONNECTOR_FAULTED';

/** The outcome of `claim`. */
export type ClaimResult = { ok: true } | { ok: false; refusal: ClaimRefusal; detail: string };

/** Listener of owner changes. */
export type OwnerListener = (owner: ConnectorOwner, previous: ConnectorOwner) => void;

/** The arbiter of one connector. */
export class ConnectorArbiter {
  private owner: ConnectorOwner = { kind: 'idle' };
  private readonly listeners = new Set<OwnerListener>();
  /** an Inoperative request that waits for the running session to end (OCPP `Scheduled`) */
  private pendingInoperative: string | null = null;

  /** @returns the current owner */
  current(): ConnectorOwner {
    return this.owner;
  }

  /** Claims the connector for a session.

    {
      kind: <Session Kind>
      sessionId: <Session Id String>
    }

    @returns ok, or the refusal (busy with another session, inoperative, faulted). Re-claiming by the session
      that already owns it succeeds (idempotent, e.g. on boot recovery).
  */
  claim(kind: SessionKind, sessionId: string): ClaimResult {
    const o = this.owner;
    if (o.kind === 'idle') {
      this.set({ kind, sessionId });
      return { ok: true };
    }
    if ((o.kind === 'cable' || o.kind === 'walkup') && o.kind === kind && o.sessionId === sessionId) {
      return { ok: true };
    }
    if (o.kind === 'faulted') return { ok: false, refusal: 'CONNECTOR_FAULTED', detail: o.reason };
    if (o.kind === 'inoperative') return { ok: false, refusal: 'CONNECTOR_INOPERATIVE', detail: o.reason };
    if (o.kind === 'reserved') return { ok: false, refusal: 'CONNECTOR_BUSY', detail: o.reason };
    return { ok: false, refusal: 'CONNECTOR_BUSY', detail: `${o.kind} session ${o.sessionId}` };
  }

  /** Releases the connector at the end of a session. A release by a session that does not own it is ignored.
    A pending Inoperative request takes effect now.

    {
      sessionId: <Session Id String>
    }
  */
  release(sessionId: string): void {
    const o = this.owner;
    if ((o.kind === 'cable' || o.kind === 'walkup') && o.sessionId === sessionId) {
      if (this.pendingInoperative !== null) {
        const reason = this.pendingInoperative;
        this.pendingInoperative = null;
        this.set({ kind: 'inoperative', reason });
      } else {
        this.set({ kind: 'idle' });
      }
    }
  }

  /** Marks the connector faulted (overrides any owner; the session owner must already have cut the power).

    {
      reason: <Fault Reason String>
      atMs: <Clock Milliseconds Number>
    }
  */
  fault(reason: string, atMs: number): void {
    if (this.owner.kind === 'faulted') return;
    this.set({ kind: 'faulted', reason, sinceMs: atMs });
  }

  /** Clears a fault (operator action): the connector becomes idle, or inoperative if that was requested.
    @returns whether a fault was cleared
  */
  clearFault(): boolean {
    if (this.owner.kind !== 'faulted') return false;
    const reason = this.pendingInoperative;
    this.pendingInoperative = null;
    this.set(reason === null ? { kind: 'idle' } : { kind: 'inoperative', reason });
    return true;
  }

  /** Operator availability (OCPP ChangeAvailability).

    {
      operative: <Make Operative Bool>
      reason: <Why Inoperative String> (when not operative)
    }

    @returns 'Accepted' when applied now, 'Scheduled' when a session runs and it applies at its end,
      'Rejected' never for inoperative; operative on a faulted connector is 'Rejected' (clear the fault first)
  */
  setAvailability(operative: boolean, reason = 'operator'): 'Accepted' | 'Scheduled' | 'Rejected' {
    const o = this.owner;
    if (operative) {
      this.pendingInoperative = null;
      if (o.kind === 'faulted') return 'Rejected';
      if (o.kind === 'inoperative') this.set({ kind: 'idle' });
      return 'Accepted';
    }
    if (o.kind === 'cable' || o.kind === 'walkup') {
      this.pendingInoperative = reason;
      return 'Scheduled';
    }
    if (o.kind === 'faulted') {
      this.pendingInoperative = reason;
      return 'Accepted';
    }
    this.set({ kind: 'inoperative', reason });
    return 'Accepted';
  }

  /** Holds an idle connector for a session announced elsewhere: every claim is refused (CONNECTOR_BUSY with the
    reason) until `unreserve`. The holder unreserves before it claims, and when the announcement times out.

    {
      reason: <What The Connector Is Held For String>
    }

    @returns whether it is now reserved (false when a session, an operator state or a fault holds it)
  */
  reserve(reason: string): boolean {
    const o = this.owner;
    if (o.kind !== 'idle' && o.kind !== 'reserved') return false;
    this.set({ kind: 'reserved', reason });
    return true;
  }

  /** Ends a reservation (the connector is idle again); anything else is left as it is. */
  unreserve(): void {
    if (this.owner.kind === 'reserved') this.set({ kind: 'idle' });
  }

  /** Subscribes to owner changes. @returns unsubscribe */
  onChange(listener: OwnerListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private set(next: ConnectorOwner): void {
    const previous = this.owner;
    this.owner = next;
    for (const l of this.listeners) l(next, previous);
  }
}
