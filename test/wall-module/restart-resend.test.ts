// The resend gap of the enumerated-restart test closed: a wall that crashes right after committing a step whose
// frame it never sent (the offer, restored in phase `offered`; an invoice, restored in `deposit`) sends the car
// every message the car has not answered yet when the link comes up after the restart, and the car treats a
// repeat as the same message (it answers again, never pays twice).
//
// A reference session notes the phase each wall commit saved; then, for every commit that saved `offered` or
// `deposit` (every point of the scenario where restore-in-that-phase hung before), a fresh rig runs the same
// session, crashes the wall right after that commit (the runner stops before any effect of the step runs) and
// restarts it on the same store. Each run must finish the session with TARGET_REACHED, pay every invoice once,
// and end with the wall's books equal to its scripted node and to what the car paid.
import { describe, expect, it } from 'vitest';
import { booksProblems, restartSession as session } from './restart-session.js';

/** Phases in which a crash after the commit used to leave the car waiting for a frame never resent. */
const RESEND_PHASES = new Set(['offered', 'deposit']);

describe('a restored wall resends what the car has not answered', () => {
  it('finishes the session after a crash at every commit that saved phase offered or deposit', async () => {
    const reference = await session(null);
    expect(reference.finished).toBe(true);
    expect(booksProblems(reference.rig)).toEqual([]);
    await reference.rig.close();
    const points = [...reference.savedPhases].filter(([, phase]) => RESEND_PHASES.has(phase)).map(([n]) => n);
    // the offer, the accept, the deposit invoice's request and its creation at least
    expect(points.length).toBeGreaterThanOrEqual(3);
    expect(new Set(points.map((n) => reference.savedPhases.get(n)))).toEqual(RESEND_PHASES);

    const failures: string[] = [];
    const resent = new Set<string>();
    for (const n of points) {
      const run = await session(n);
      try {
        const label = `crash after commit ${n} (saved ${reference.savedPhases.get(n)}, restored in ${run.restoredPhase})`;
        if (!run.crashed) failures.push(`${label}: the crash point was not reached`);
        if (!run.finished) failures.push(`${label}: the session did not finish`);
        for (const p of booksProblems(run.rig)) failures.push(`${label}: ${p}`);
        const reasons = run.rig.wallStore!.listSessions(10).map((s) => s.stopReason);
        if (reasons.join() !== 'TARGET_REACHED') failures.push(`${label}: sessions ended ${reasons.join()}`);
        // every invoice the car's node was asked to pay, once: a repeated invoice is never paid again
        if (run.payAttempts !== run.rig.paid.size)
          failures.push(`${label}: ${run.payAttempts} payments asked for ${run.rig.paid.size} invoices`);
        // a repeat is never taken for a duplicate or an unexpected message
        for (const line of run.rig.wallLog.lines.concat(run.rig.vehicleLog.lines))
          if (/INVOICE_DUPLICATE|already seen|not expected in/.test(line)) failures.push(`${label}: ${line}`);
        for (const type of run.resent) resent.add(type);
      } finally {
        await run.rig.close();
      }
    }
    expect(failures).toEqual([]);
    expect([...resent].sort()).toEqual(['invoice', 'offer']);
  }, 600_000);
});
