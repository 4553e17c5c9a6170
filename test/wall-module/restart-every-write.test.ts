// A wall restart from the store at every write point of a session, enumerated: a reference session counts the
// wall's machine commits; then, for each commit N, a fresh rig runs the same session and "crashes" the wall
// right after commit N (the runner stops before any effect of that step runs; the database closes at once;
// nothing more is written), starts a new wall daemon on the same store, and lets the session finish. Every run
// must end with the wall's books equal to its scripted node and to what the car paid (every settled invoice in
// the ledger, no ledger row settled that the node did not settle), whether or not the session could finish.
// Every run must also finish the session: a crash between committing a step and sending its frame (the offer,
// the deposit invoice) is covered by the seller resending what the car has not answered on link-up.
import { describe, expect, it } from 'vitest';
import { booksProblems, restartSession as session } from './restart-session.js';

describe('wall restart at every write point of a session', () => {
  it('ends every run with books equal to the node; every run finishes the session', async () => {
    const reference = await session(null);
    const commits = reference.rig.wallCommits;
    expect(reference.finished).toBe(true);
    expect(booksProblems(reference.rig)).toEqual([]);
    expect(reference.rig.wallNode.receivedMsat()).toBeGreaterThan(0n);
    expect(reference.rig.wallStore!.listSessions(10).map((s) => s.stopReason)).toEqual(['TARGET_REACHED']);
    await reference.rig.close();
    expect(commits).toBeGreaterThan(20);

    const failures: string[] = [];
    for (let n = 1; n <= commits; n++) {
      const run = await session(n);
      try {
        const label = `crash after commit ${n}/${commits} (restored in ${run.restoredPhase})`;
        if (!run.crashed) failures.push(`${label}: the crash point was not reached`);
        for (const p of booksProblems(run.rig)) failures.push(`${label}: ${p}`);
        if (!run.finished) failures.push(`${label}: the session did not finish`);
      } finally {
        await run.rig.close();
      }
    }
    expect(failures).toEqual([]);
  }, 900_000);
});
