// A wall killed between its ledger recording an invoice the node created (`open`, with its BOLT11) and its
// machine stepping that answer: the restored machine still has the invoice `requested`. Before the fix it waited
// for an answer that never came (no invoice reached the car, the power was cut and the session ended UNPAID after
// maxSuspendSec: seen in the ocpp-outage-restart e2e, kill -9 while the car's ISO-TP transfer of the invoice was
// cut). The restart steps the answer again from the ledger and the session finishes, books = node. Likewise a
// wall killed while its node signed the receipt asks again at the restart: the car gets its signed receipt.
import { afterEach, describe, expect, it } from 'vitest';
import { InProcessRig } from './in-process-rig.js';
import { booksProblems, restartSession } from './restart-session.js';

describe('wall restart between the ledger and the machine taking an issued invoice', () => {
  let rig: InProcessRig | null = null;
  afterEach(async () => {
    await rig?.close();
    rig = null;
  });

  it('bills the invoice issued before the restart and finishes the session; books = node', async () => {
    let crash: Promise<void> | null = null;
    let issued = 0;
    let requestedAtRestart: string[] = [];
    const r = new InProcessRig({
      vehicleLimits: 'targetEnergyWh: 120',
      wallParts: (parts) => {
        const markIssued = parts.store.markIssued.bind(parts.store);
        parts.store.markIssued = (...args) => {
          markIssued(...args);
          // the third invoice: recorded, then the process dies before the machine's step
          if (++issued === 3 && crash === null) crash = r.crashWall();
        };
        return parts;
      },
    });
    rig = r;
    await r.startWall();
    await r.startVehicle();
    r.world.plug();
    await r.runUntil('the crash', () => crash !== null, 300_000);
    await crash;
    await r.startWall();
    requestedAtRestart = r.wallStore!.invoices(r.wallStore!.listSessions(1)[0]!.id).map((i) => i.state);
    expect(requestedAtRestart).toContain('open');
    await r.runUntil('the session ends', () => r.vehicle!.state.phase === 'ended', 300_000);
    await r.run(3000);
    const [session] = r.wallStore!.listSessions(1);
    expect(session!.stopReason).toBe('TARGET_REACHED');
    const invoices = r.wallStore!.invoices(session!.id);
    expect(invoices.every((i) => i.state === 'settled' || i.state === 'cancelled')).toBe(true);
    expect(invoices.filter((i) => i.state === 'settled').map((i) => i.seq)).toContain(2);
    expect(booksProblems(r)).toEqual([]);
  }, 120_000);
});

describe('wall restart while its receipt is being signed', () => {
  it('asks its node again for the signature: the car gets the signed receipt', async () => {
    const reference = await restartSession(null);
    const closingAt = [...reference.savedPhases].find(([, phase]) => phase === 'closing')?.[0];
    await reference.rig.close();
    expect(closingAt).toBeDefined();
    const run = await restartSession(closingAt!);
    try {
      expect(run.crashed).toBe(true);
      // restored closing, the receipt being signed (the boot's answers may already have ended it)
      expect(['closing', 'ended']).toContain(run.restoredPhase);
      expect(run.finished).toBe(true);
      const [session] = run.rig.wallStore!.listSessions(1);
      expect(run.rig.vehicleStore!.receipt(session!.id)).toBeDefined();
      expect(booksProblems(run.rig)).toEqual([]);
    } finally {
      await run.rig.close();
    }
  }, 120_000);
});
