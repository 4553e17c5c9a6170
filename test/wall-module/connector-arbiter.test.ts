import { describe, expect, it } from 'vitest';
import { ConnectorArbiter, type ConnectorOwner } from '../../wall-module/connector-arbiter.js';

describe('ConnectorArbiter', () => {
  it('gives a connector to one session at a time and names why another is refused', () => {
    const a = new ConnectorArbiter();
    expect(a.claim('walkup', 'w1')).toEqual({ ok: true });
    expect(a.claim('walkup', 'w1')).toEqual({ ok: true });
    const refused = a.claim('cable', 'c1');
    expect(refused).toMatchObject({ ok: false, refusal: 'CONNECTOR_BUSY' });
    a.release('c1'); // not the owner: ignored
    expect(a.current()).toEqual({ kind: 'walkup', sessionId: 'w1' });
    a.release('w1');
    expect(a.claim('cable', 'c1')).toEqual({ ok: true });
  });

  it('keeps a faulted connector out of service until an operator clears it', () => {
    const a = new ConnectorArbiter();
    const seen: ConnectorOwner['kind'][] = [];
    a.onChange((o) => seen.push(o.kind));
    a.claim('cable', 'c1');
    a.fault('CUT_NOT_CONFIRMED', 1000);
    expect(a.claim('cable', 'c2')).toMatchObject({ ok: false, refusal: 'CONNECTOR_FAULTED' });
    expect(a.setAvailability(true)).toBe('Rejected');
    expect(a.clearFault()).toBe(true);
    expect(a.claim('cable', 'c2')).toEqual({ ok: true });
    expect(seen).toEqual(['cable', 'faulted', 'idle', 'cable']);
  });

  it('schedules Inoperative after the running session and applies it at release', () => {
    const a = new ConnectorArbiter();
    a.claim('walkup', 'w1');
    expect(a.setAvailability(false, 'maintenance')).toBe('Scheduled');
    a.release('w1');
    expect(a.current()).toEqual({ kind: 'inoperative', reason: 'maintenance' });
    expect(a.claim('cable', 'c1')).toMatchObject({ ok: false, refusal: 'CONNECTOR_INOPERATIVE' });
    expect(a.setAvailability(true)).toBe('Accepted');
    expect(a.current()).toEqual({ kind: 'idle' });
  });
});
