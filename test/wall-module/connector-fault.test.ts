// Safety escalation in the simulator (hardware/sim), in process on a manual clock: a welded contactor (stuck
// relay) keeps current flowing after a cut → the wall cuts again → the connector is Faulted (recorded in the
// store, reported to observers, survives a restart) → a new plug-in is refused with CONNECTOR_FAULTED → an
// operator clears it with `boltcharge clear-fault` (a real CLI process talking to the running daemon's status
// server; and in the store when no daemon runs) → the car still plugged in charges again. Also: EVSE link loss ends the
// session with its own record.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { clearFaultMain } from '../../bin/cli/clear-fault.js';
import type { ConnectorOwner } from '../../wall-module/connector-arbiter.js';
import type { WallObserver } from '../../wall-module/wall-daemon.js';
import { InProcessRig } from './in-process-rig.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'boltcharge.js');
const TOKEN = 'operator-token-for-tests-0123456789';

let rig: InProcessRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

/** Runs the real CLI in a child process (the daemon in this process keeps serving meanwhile). */
function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

function eventKinds(r: InProcessRig): string[] {
  return r.wallStore!.events({ limit: 100_000 }).map((e) => e.kind);
}

describe('connector fault (simulator, manual clock)', () => {
  it('stuck relay → failed cut verification → Faulted, plug-in refused, cleared by boltcharge clear-fault', async () => {
    const owners: ConnectorOwner['kind'][] = [];
    const observer: WallObserver = { availabilityChanged: (o) => void owners.push(o.kind) };
    rig = new InProcessRig({
      wallYaml: `
powerCut: { maxCurrentA: 0.5, withinMs: 2000, retries: 1 }
status: { enabled: true, port: 0, operatorToken: "${TOKEN}" }
`,
      wallParts: (p) => ({ ...p, observers: [observer] }),
    });
    const r = rig;
    await r.startWall();
    await r.startVehicle();
    r.world.plug();
    await r.runUntil('charging', () => r.wall!.state.phase === 'charging' && r.world.truth().currentA > 1);
    expect(r.wall!.arbiter.current().kind).toBe('cable');

    r.world.faults.stuckRelay(true);
    r.wall!.requestStop();
    await r.runUntil('faulted', () => r.wall!.arbiter.current().kind === 'faulted', 30_000);
    const kinds = eventKinds(r);
    expect(kinds.filter((k) => k === 'powerCut.alarm')).toHaveLength(2); // the cut, then the retry
    expect(kinds).toContain('connector.faulted');
    expect(owners).toContain('faulted');
    await r.runUntil('session ended', () => r.wall!.state.phase === 'ended');

    // repaired by hand, but still faulted until an operator clears it: a new plug-in is refused with a reason
    r.world.faults.stuckRelay(false);
    r.world.unplug();
    await r.run(2000);
    r.world.plug();
    await r.run(5000);
    expect(r.wall!.state.phase).toBe('ended');
    const refused = r.wallStore!.events({ limit: 100_000 }).filter((e) => e.kind === 'session.refused');
    expect(refused.at(-1)?.data).toMatchObject({ refusal: 'CONNECTOR_FAULTED' });

    // the fault survives a restart
    await r.stopWall();
    await r.startWall();
    expect(r.wall!.arbiter.current().kind).toBe('faulted');

    // cleared through the running daemon by the real CLI
    const res = await cli(['clear-fault', '--config', r.wallConfigFile]);
    expect(res.err).toBe('');
    expect(res.out).toContain('fault cleared by the running daemon');
    expect(res.code).toBe(0);
    expect(r.wall!.arbiter.current().kind).not.toBe('faulted');
    expect(eventKinds(r)).toContain('connector.faultCleared');
    expect(owners.slice(owners.lastIndexOf('faulted') + 1)[0]).toBe('idle');

    // the car still plugged in is greeted as soon as the connector is free, and charges again
    await r.runUntil('charging again', () => r.wall!.state.phase === 'charging', 60_000);
    expect(r.wall!.arbiter.current().kind).toBe('cable');
  }, 120_000);

  it('clear-fault without a running daemon clears the fault in the store', async () => {
    rig = new InProcessRig({
      wallYaml: 'powerCut: { maxCurrentA: 0.5, withinMs: 1000, retries: 0 }\nstatus: { enabled: false }',
    });
    const r = rig;
    await r.startWall();
    await r.startVehicle();
    r.world.plug();
    await r.runUntil('charging', () => r.wall!.state.phase === 'charging' && r.world.truth().currentA > 1);
    r.world.faults.stuckRelay(true);
    r.wall!.requestStop();
    await r.runUntil('faulted', () => r.wall!.arbiter.current().kind === 'faulted', 30_000);
    expect(eventKinds(r).filter((k) => k === 'powerCut.alarm')).toHaveLength(1); // retries: 0
    await r.stopWall();
    const lines: string[] = [];
    expect(await clearFaultMain(r.wallConfigFile, (s) => void lines.push(s))).toBe(0);
    expect(lines.join('')).toContain('fault cleared in the store');
    await r.startWall();
    expect(r.wall!.arbiter.current().kind).toBe('idle');
  }, 120_000);

  it('EVSE link loss ends the session with its own reason and record', async () => {
    rig = new InProcessRig();
    const r = rig;
    await r.startWall();
    await r.startVehicle();
    r.world.plug();
    await r.runUntil('charging', () => r.wall!.state.phase === 'charging');
    r.world.evse.emit('link', false);
    await r.runUntil('ended', () => r.wall!.state.phase === 'ended', 30_000);
    const sid = r.wall!.state.sessionId!;
    expect(r.wallStore!.getSession(sid).stopReason).toBe('EVSE_LINK_LOST');
    expect(eventKinds(r)).toContain('evse.linkLost');
    expect(r.wall!.arbiter.current().kind).toBe('idle');
  }, 60_000);
});
