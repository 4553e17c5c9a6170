/**
 * `boltcharge` commands:
 *   boltcharge wall --config wall.yaml            run the wall daemon
 *   boltcharge vehicle --config vehicle.yaml      run the vehicle daemon
 *   boltcharge sessions (--config F | --db F) [--json]
 *   boltcharge receipt <session> (--config F | --db F) [--json | --csv]
 *   boltcharge qr decode|encode|sticker …         EMV MPM / JPQR codes (bin/cli/qr.ts)
 *   boltcharge store check|backup|restore (--config F | --db F) [--to F | --from F] [--force] [--json]
 *   boltcharge doctor --config F [--json]          check an installation (exit codes: bin/cli/doctor.ts)
 *   boltcharge clear-fault --config wall.yaml     clear a connector's safety fault (bin/cli/clear-fault.ts)
 *   boltcharge --version
 * Exit codes (`exit-codes.ts`): 0 ok, 1 runtime failure (a daemon that failed safe), 2 usage or configuration
 * error, 3 the store cannot be used. Known failures print one line naming what is wrong, never a stack.
 */
import { parseArgs } from 'node:util';
import { ConfigInvalid } from '../../daemon/config-reader.js';
import { StoreTooNew, StoreUnusable } from '../../daemon/database.js';
import { LightningConfigUnusable } from '../../daemon/lightning-from-config.js';
import { toJson } from '../../daemon/session-store.js';
import { StoreLocked } from '../../daemon/store-lock.js';
import { InvalidLndConnection } from '../../lightning/connection.js';
import { LightningError } from '../../lightning/errors.js';
import { SellerConfigRefused } from '../../wall-module/wall-daemon.js';
import { WalkupConfigRefused } from '../../wall-module/walkup/index.js';
import {
  walkupReceipt,
  walkupSessionRows,
  type AnySessionRow,
} from '../../wall-module/walkup/session-rows.js';
import { RelayListenRefused } from '../../hardware/relay/blind-relay.js';
import { RelayRulesInvalid } from '../../hardware/relay/destination-policy.js';
import { ExitCode } from './exit-codes.js';
import { openStoreFor, StoreNotFound } from './open-store.js';
import { StoreCommandUsage, storeCommand } from './store-command.js';
import { receiptCsv, receiptJson, receiptText, receiptView } from '../../daemon/receipt-view.js';
import { splitStatementsFor } from '../../wall-module/payouts/receipt-split.js'; // split

const usage = `usage:
  boltcharge wall --config wall.yaml
  boltcharge vehicle --config vehicle.yaml
  boltcharge sessions (--config <daemon.yaml> | --db <store.sqlite>) [--connector <id>] [--json]
  boltcharge receipt <session> (--config <daemon.yaml> | --db <store.sqlite>) [--json | --csv]
  boltcharge qr decode|encode|sticker ...   (boltcharge qr --help)
  boltcharge store check (--config <daemon.yaml> | --db <store.sqlite>) [--json]
  boltcharge store backup (--config <daemon.yaml> | --db <store.sqlite>) --to <file> [--force]
  boltcharge store restore (--config <daemon.yaml> | --db <store.sqlite>) --from <file> [--force]
  boltcharge doctor --config <daemon.yaml> [--json]
  boltcharge clear-fault --config <wall.yaml> [--connector <id>]   (default: every connector)
  boltcharge --version
`;

/**
 * The `--connector <id>` option.
 *
 * @param raw the option's text, if given
 * @returns the 1-based connector id, or undefined for all
 * @throws StoreCommandUsage when it is not a positive integer
 */
function connectorOption(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const id = Number(raw);
  if (!Number.isInteger(id) || id < 1)
    throw new StoreCommandUsage(`--connector must be a connector id (1, 2, …), got ${raw}`);
  return id;
}

/** Whether a listed session ran on the connector (any, when none is asked for; walk-up sessions: connector 1). */
function onConnector(row: { connectorId?: number }, connectorId: number | undefined): boolean {
  return connectorId === undefined || (row.connectorId ?? 1) === connectorId;
}

/** A session's promises to pay (offline case 3): how many in each state, and what is not paid. */
interface PromiseSummary {
  /** count per state (wall: outstanding/paid/unpaid; car: outstanding/paid/refused/lapsed) */
  counts: Record<string, number>;
  /** promises found unpaid (wall) or lapsed (car): energy, Wh, and money, msat */
  unpaidWh: number;
  unpaidMsat: bigint;
}

/** The summary of a session's promises, or undefined when it made none. */
function promiseSummary(
  rows: readonly { state: string; blockWh: number; amountMsat: bigint }[],
): PromiseSummary | undefined {
  if (rows.length === 0) return undefined;
  const counts: Record<string, number> = {};
  let unpaidWh = 0;
  let unpaidMsat = 0n;
  for (const r of rows) {
    counts[r.state] = (counts[r.state] ?? 0) + 1;
    if (r.state === 'unpaid' || r.state === 'lapsed') {
      unpaidWh += r.blockWh;
      unpaidMsat += r.amountMsat;
    }
  }
  return { counts, unpaidWh, unpaidMsat };
}

/** `3 paid, 1 unpaid (48 Wh, 4800 msat unpaid)`. */
function promiseText(p: PromiseSummary): string {
  const parts = Object.entries(p.counts).map(([state, n]) => `${n} ${state}`);
  return parts.join(', ') + (p.unpaidMsat > 0n ? ` (${p.unpaidWh} Wh, ${p.unpaidMsat} msat unpaid)` : '');
}

/**
 * The exit code and one-line message of a known failure.
 *
 * @param err what a command threw
 * @returns the code, or undefined for an unexpected error (a bug: printed with its stack)
 */
function knownFailure(err: unknown): number | undefined {
  if (
    err instanceof ConfigInvalid ||
    err instanceof StoreNotFound ||
    err instanceof StoreCommandUsage ||
    err instanceof LightningConfigUnusable ||
    err instanceof InvalidLndConnection ||
    err instanceof SellerConfigRefused ||
    err instanceof WalkupConfigRefused ||
    err instanceof RelayRulesInvalid ||
    err instanceof RelayListenRefused
  )
    return ExitCode.CONFIG;
  if (err instanceof StoreUnusable || err instanceof StoreTooNew || err instanceof StoreLocked)
    return ExitCode.STORE;
  // the node did not answer or refused at start: a runtime failure, reported by name
  if (err instanceof LightningError) return ExitCode.FAILURE;
  return undefined;
}

/**
 * Runs one CLI command.
 *
 * @param argv arguments after the program name
 * @param out where results go (stdout by default)
 * @returns the process exit code
 */
export async function main(
  argv: string[],
  out: (text: string) => void = (t) => process.stdout.write(t),
): Promise<number> {
  if (argv[0] === 'qr') return (await import('./qr.js')).qrMain(argv.slice(1), out);
  if (argv[0] === 'verify-statement')
    return (await import('./verify-statement.js')).verifyStatementMain(argv.slice(1), out);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        db: { type: 'string' },
        json: { type: 'boolean' },
        csv: { type: 'boolean' },
        to: { type: 'string' },
        from: { type: 'string' },
        force: { type: 'boolean' },
        connector: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.version) {
    const { packageVersion } = await import('./version.js');
    out(`boltcharge ${packageVersion()}\n`);
    return 0;
  }
  if (values.help || !command) {
    out(usage);
    return values.help ? 0 : 2;
  }
  try {
    switch (command) {
      case 'wall':
      case 'vehicle': {
        if (!values.config) {
          process.stderr.write(`boltcharge ${command}: --config <file> is required\n`);
          return 2;
        }
        const { runDaemon } = await import('./run-daemon.js');
        return await runDaemon(command, values.config);
      }
      case 'doctor': {
        const { runDoctor } = await import('./doctor.js');
        return await runDoctor(values.config, { json: values.json === true, out });
      }
      case 'sessions': {
        const opened = openStoreFor(values);
        // the wall's list holds its phone (walk-up) sessions too, newest first, each marked with its kind
        const promisesOf = (sid: string) => promiseSummary(opened.store.promises.ofSession(sid));
        const sessions: (AnySessionRow & { promises?: PromiseSummary })[] = [
          ...opened.store.listSessions(1000).map((r) => ({
            ...r,
            kind: 'cable' as const,
            ...(promisesOf(r.id) ? { promises: promisesOf(r.id) } : {}),
          })),
          ...(opened.role === 'wall' ? walkupSessionRows(opened.store.db, 1000) : []),
        ]
          .filter((r) => onConnector(r, connectorOption(values.connector)))
          .sort((a, b) => b.startedAtMs - a.startedAtMs);
        opened.store.close();
        if (values.json) {
          out(toJson(sessions) + '\n');
          return 0;
        }
        // a site's list names each session's connector
        const site = sessions.some((x) => (x.connectorId ?? 1) > 1);
        out(
          'session id                        status  started                   energy Wh   paid msat  reason / kind\n',
        );
        for (const s of sessions) {
          out(
            `${s.id.padEnd(33)} ${s.status.padEnd(7)} ${new Date(s.startedAtMs).toISOString()}  ${String(s.energyWh).padStart(9)} ${String(s.paidMsat).padStart(11)}  ${s.stopReason ?? ''}${s.kind === 'walkup' ? '  (walk-up)' : ''}${site ? `  connector ${s.connectorId ?? 1}` : ''}${s.promises ? `  promises: ${promiseText(s.promises)}` : ''}\n`,
          );
        }
        return 0;
      }
      case 'receipt': {
        const id = rest[0];
        if (!id) {
          process.stderr.write(`boltcharge receipt: give a session id\n${usage}`);
          return 2;
        }
        const opened = openStoreFor(values);
        const view = receiptView(
          opened.role === 'wall'
            ? { ...opened, splitStatements: (sid) => splitStatementsFor(opened.store.db, sid) }
            : opened,
          id,
        );
        // a walk-up session's receipt: the signed text as stored (JSON: text, signature, signer)
        const walkup = !view && opened.role === 'wall' ? walkupReceipt(opened.store.db, id) : undefined;
        opened.store.close();
        if (walkup) {
          out(
            values.json
              ? toJson({ kind: 'walkup', receipt: JSON.parse(walkup.text) as unknown, ...walkup }) + '\n'
              : `walk-up session ${walkup.sessionId}\n${walkup.text}\nsignature ${walkup.signature ?? '(unsigned)'} by ${walkup.signerPubkey ?? '-'}\n`,
          );
          return 0;
        }
        if (!view) {
          process.stderr.write(`boltcharge receipt: no session ${id}\n`);
          return 1;
        }
        out(values.json ? receiptJson(view) + '\n' : values.csv ? receiptCsv(view) : receiptText(view));
        return 0;
      }
      case 'store':
        return await storeCommand(rest[0], values, out);
      case 'clear-fault':
        if (!values.config) throw new StoreNotFound('clear-fault needs --config <wall.yaml>');
        return await (
          await import('./clear-fault.js')
        ).clearFaultMain(values.config, out, connectorOption(values.connector));
      default:
        process.stderr.write(`unknown command ${command}\n${usage}`);
        return 2;
    }
  } catch (err) {
    const code = knownFailure(err);
    if (code !== undefined) {
      process.stderr.write(`boltcharge ${command}: ${(err as Error).message}\n`);
      return code;
    }
    process.stderr.write(`boltcharge ${command}: ${(err as Error).stack ?? String(err)}\n`);
    return ExitCode.FAILURE;
  }
}
