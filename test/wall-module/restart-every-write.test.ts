// A wall restart from the store at every write point of a session, enumerated: a reference session counts the
// wall's machine commits; then, for each commit N, a fresh rig runs the same session and "crashes" the wall
// right after commit N (the runner stops before any effect of that step runs; the database closes at once;
// nothing more is written), starts a new wall daemon on the same store, and lets the session finish. Every run
// must end with the wall's books equal to its scripted node and to what the car paid (every settled invoice in
// the ledger, no ledger row settled that the node did not settle), whether or not the session could finish.
//
// Known machine gap (protocol/seller.ts, reported to the machines side of issue 11): a crash between committing
// a step and sending its frame leaves the car waiting for a message the restored seller never sends again — the
// offer (restored in phase `offered`) and the deposit invoice (restored in `deposit`). Those runs are listed by
// the phase they restored in and must still keep the books; every other run must also finish the session.
import { describe, expect, it } from 'vitest';
import { InProcessRig } from './in-process-rig.js';

/** Phases in which the restored seller does not resend its last frame yet (see above). */
const RESEND_GAP_PHASES = new Set(['offered', 'deposit']);

interface Run {
  rig: InProcessRig;
  crashed: boolean;
  restoredPhase: string | null;
  finished: boolean;
}

/** Runs one session; with `crashAt`, crashes the wall after that commit and restarts it. */
async function session(crashAt: number | null): Promise<Run> {
  let crash: Promise<void> | null = null;
  const rig: InProcessRig = new InProcessRig({
    vehicleLimits: 'targetEnergyWh: 120',
    afterWallCommit: (n) => {
      if (n === crashAt) crash = rig.crashWall();
    },
  });
  await rig.startWall();
  await rig.startVehicle();
  rig.world.plug();
  const over = (): boolean => rig.vehicle!.state.phase === 'ended' && rig.wall!.state.phase !== 'charging';
  await rig.runUntil('the session ends (or the crash)', () => crash !== null || over(), 300_000);
  let restoredPhase: string | null = null;
  if (crash !== null) {
    await crash;
    await rig.startWall();
    restoredPhase = rig.wall!.state.phase;
    await rig.runUntil('the session ends after the restart', over, 300_000).catch(() => {});
  }
  await rig.run(3000);
  return { rig, crashed: crash !== null, restoredPhase, finished: over() };
}

/** The wall's ledger equals its node, and the node received what the car paid. */
function booksProblems(rig: InProcessRig): string[] {
  const problems: string[] = [];
  const store = rig.wallStore!;
  let ledgerMsat = 0n;
  for (const s of store.listSessions(100)) {
    ledgerMsat += store.settledMsat(s.id);
    for (const inv of store.invoices(s.id)) {
      const node = inv.paymentHash ? rig.wallNode.invoices.get(inv.paymentHash) : undefined;
      if ((node?.state === 'settled') !== (inv.state === 'settled'))
        problems.push(`invoice ${inv.seq}: ledger ${inv.state}, node ${node?.state ?? 'none'}`);
    }
  }
  const nodeMsat = rig.wallNode.receivedMsat();
  if (ledgerMsat !== nodeMsat) problems.push(`ledger ${ledgerMsat} msat, node ${nodeMsat} msat`);
  let carMsat = 0n;
  for (const amount of rig.paid.values()) carMsat += amount;
  if (carMsat !== nodeMsat) problems.push(`car paid ${carMsat} msat, node received ${nodeMsat} msat`);
  return problems;
}

describe('wall restart at every write point of a session', () => {
  it('ends every run with books equal to the node; every run outside the known resend gap finishes', async () => {
    const reference = await session(null);
    const commits = reference.rig.wallCommits;
    expect(reference.finished).toBe(true);
    expect(booksProblems(reference.rig)).toEqual([]);
    expect(reference.rig.wallNode.receivedMsat()).toBeGreaterThan(0n);
    expect(reference.rig.wallStore!.listSessions(10).map((s) => s.stopReason)).toEqual(['TARGET_REACHED']);
    await reference.rig.close();
    expect(commits).toBeGreaterThan(20);

    const failures: string[] = [];
    const gaps: string[] = [];
    for (let n = 1; n <= commits; n++) {
      const run = await session(n);
      try {
        const label = `crash after commit ${n}/${commits} (restored in ${run.restoredPhase})`;
        if (!run.crashed) failures.push(`${label}: the crash point was not reached`);
        for (const p of booksProblems(run.rig)) failures.push(`${label}: ${p}`);
        if (!run.finished) {
          if (RESEND_GAP_PHASES.has(run.restoredPhase ?? '')) gaps.push(`${n}:${run.restoredPhase}`);
          else failures.push(`${label}: the session did not finish`);
        }
      } finally {
        await run.rig.close();
      }
    }
    expect(failures).toEqual([]);
    // the gap is narrow: one commit per phase (the step whose frame was lost); more means a new recovery bug
    expect(gaps.length).toBeLessThanOrEqual(RESEND_GAP_PHASES.size);
  }, 900_000);
});
