// One connector, two ways to pay, in process on a manual clock: while a phone (walk-up) session owns the
// connector, a car with a vehicle module that plugs in gets no second session (the plug-in is refused with
// CONNECTOR_BUSY and the EVSE is never energised for it); a car without a module that only gets greeted leaves
// the connector free for a walk-up; once the walk-up session releases the connector the car is greeted again
// and charges.
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectorArbiter } from '../../wall-module/connector-arbiter.js';
import { InProcessRig } from './in-process-rig.js';

let rig: InProcessRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

describe('connector ownership between cable and walk-up sessions', () => {
  it('a car arriving mid-walk-up gets no second session; it charges after the walk-up ends', async () => {
    const arbiter = new ConnectorArbiter();
    rig = new InProcessRig({ wallParts: (p) => ({ ...p, arbiter }) });
    const r = rig;
    await r.startWall();
    expect(arbiter.claim('walkup', 'phone-1')).toEqual({ ok: true });

    await r.startVehicle();
    r.world.plug();
    await r.run(10_000);
    const refused = r.wallStore!.events({ limit: 1000 }).filter((e) => e.kind === 'session.refused');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]!.data).toMatchObject({ refusal: 'CONNECTOR_BUSY' });
    expect(r.wall!.state.phase).not.toBe('charging');
    expect(arbiter.current()).toEqual({ kind: 'walkup', sessionId: 'phone-1' });

    arbiter.release('phone-1');
    await r.runUntil('the car charges', () => r.wall!.state.phase === 'charging', 120_000);
    expect(arbiter.current()).toMatchObject({ kind: 'cable', sessionId: r.wall!.state.sessionId });
  }, 180_000);

  it('a plugged car whose module does not answer leaves the connector to a walk-up', async () => {
    const arbiter = new ConnectorArbiter();
    rig = new InProcessRig({ wallParts: (p) => ({ ...p, arbiter }) });
    const r = rig;
    await r.startWall();
    r.world.plug(); // no vehicle daemon: nothing answers the greeting
    await r.run(3_000);
    expect(['handshake', 'authenticating', 'ended', 'idle']).toContain(r.wall!.state.phase);
    expect(arbiter.claim('walkup', 'phone-2')).toEqual({ ok: true });
  }, 60_000);
});
