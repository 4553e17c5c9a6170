/**
 * The wall daemon started exactly as `boltcharge wall --config F` starts it, with walk-up crash points: after
 * the step whose committed state matches the next pending point of `<points.json>` (written ahead, before any
 * of that step's node calls or EVSE commands), the process kills itself with SIGKILL. The points file
 * `{pending: string[], fired: string[]}` survives the restarts, so each point fires once.
 *
 *   node --import tsx test/e2e/walkup-crashing-wall.ts <points.json> --config wall.yaml
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { runDaemon } from '../../bin/cli/run-daemon.js';
import type { WalkupState } from '../../payments/walkup-state.js';
import { walkupTestHooks } from '../../wall-module/walkup/runtime.js';

/** The walk-up crash points: states right after their write-ahead commit. */
export const CRASH_POINTS = {
  /** the deposit invoice is written as `creating`; the node was never asked */
  depositCreating: (s: WalkupState) =>
    s.phase === 'awaitingDeposit' && s.session.deposit.status === 'creating',
  /** the deposit is held and charging is decided; the EVSE was not yet energised */
  charging: (s: WalkupState) => s.phase === 'charging',
  /** metering is final, the final invoice is written as `creating` */
  finalCreating: (s: WalkupState) => s.phase === 'awaitingFinal' && s.session.final?.status === 'creating',
  /** the final is held; the deposit cancel is written ahead, not sent */
  depositCancelling: (s: WalkupState) =>
    s.phase === 'closing' && s.plan === 'final' && s.session.deposit.status === 'cancelling',
  /** the deposit is cancelled; the final settle is written ahead, not sent */
  finalSettling: (s: WalkupState) => s.phase === 'closing' && s.session.final?.status === 'settling',
  /** walk-away: the deposit settle is written ahead, not sent */
  depositSettling: (s: WalkupState) =>
    s.phase === 'closing' && s.plan === 'walkAway' && s.session.deposit.status === 'settling',
  /** a refund claim is accepted and written; the payout was not sent */
  refundPaying: (s: WalkupState) => s.phase === 'refundClaimed',
  /** the session ended; its receipt is stored unsigned */
  ended: (s: WalkupState) => s.phase === 'ended' && s.session !== null,
} as const;

/** Name of a crash point. */
export type CrashPoint = keyof typeof CRASH_POINTS;

/** The points file. */
export interface CrashPoints {
  pending: CrashPoint[];
  fired: CrashPoint[];
}

const pointsFile = process.argv[2];
const configFile = process.argv[4];
if (process.argv[1]?.endsWith('walkup-crashing-wall.ts')) {
  if (!pointsFile || process.argv[3] !== '--config' || !configFile) {
    process.stderr.write('usage: walkup-crashing-wall.ts <points.json> --config <wall.yaml>\n');
    process.exit(2);
  }
  walkupTestHooks.afterCommit = (state) => {
    const points = JSON.parse(readFileSync(pointsFile, 'utf8')) as CrashPoints;
    const next = points.pending[0];
    if (next === undefined || !CRASH_POINTS[next](state)) return;
    writeFileSync(
      pointsFile,
      JSON.stringify({ pending: points.pending.slice(1), fired: [...points.fired, next] }),
    );
    process.stderr.write(`walk-up crash point ${next}: SIGKILL\n`);
    process.kill(process.pid, 'SIGKILL');
  };
  process.exit(await runDaemon('wall', configFile));
}
