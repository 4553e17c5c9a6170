// One session of the enumerated wall-restart tests, and what every run checks at its end: the wall's books equal
// its scripted node, and the node received what the car paid. One module serves the enumerated-restart tests.
import { InProcessRig } from './in-process-rig.js';

/**
 * The problems with a run's books, none when they agree.
 *
 * @param rig the rig after the run
 * @returns one line per problem: an invoice whose ledger state differs from the node's, ledger msat ≠ node msat,
 *   car-paid msat ≠ node msat
 */
export function booksProblems(rig: InProcessRig): string[] {
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

/** One run of the session. */
export interface Run {
  rig: InProcessRig;
  /** phase each commit saved, by commit number (1-based) */
  savedPhases: Map<number, string>;
  crashed: boolean;
  restoredPhase: string | null;
  finished: boolean;
  /** types of the messages the wall resent */
  resent: string[];
  /** payments the car's node was asked to make */
  payAttempts: number;
}

/**
 * Runs one session of 120 Wh on a fresh rig; with `crashAt`, crashes the wall right after that commit (the
 * runner stops before any effect of the step runs; the database closes at once) and restarts it on the same store.
 *
 * @param crashAt the commit number (1-based) to crash after, or null for a reference run
 * @returns the run (its rig still open: the caller closes it)
 */
export async function restartSession(crashAt: number | null): Promise<Run> {
  let crash: Promise<void> | null = null;
  let lastSavedPhase = '';
  const resent: string[] = [];
  let payAttempts = 0;
  const savedPhases = new Map<number, string>();
  const rig: InProcessRig = new InProcessRig({
    vehicleLimits: 'targetEnergyWh: 120',
    carPayGate: async () => {
      payAttempts++;
    },
    wallParts: (parts) => {
      const save = parts.store.saveMachineState.bind(parts.store);
      parts.store.saveMachineState = (slot, json) => {
        if (slot === 'main') lastSavedPhase = /"phase":"(\w+)"/.exec(json)?.[1] ?? '?';
        save(slot, json);
      };
      return parts;
    },
    afterWallCommit: (n) => {
      savedPhases.set(n, lastSavedPhase);
      if (n === crashAt) crash = rig.crashWall();
    },
  });
  // the machines' records reach the log at debug level: keep the resends
  rig.wallLog.debug = (msg, fields) => {
    if (msg === 'machine: messageResent') resent.push(String((fields as { type?: unknown }).type));
  };
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
  return { rig, savedPhases, crashed: crash !== null, restoredPhase, finished: over(), resent, payAttempts };
}
