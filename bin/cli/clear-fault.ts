/**
 * `boltcharge clear-fault --config wall.yaml`: an operator clears a connector's safety fault (raised when the
 * meter did not confirm a power cut; see `WallDaemon.fault`) after checking the charger.
 *
 * - Daemon running (it holds the store lock): the request goes to its status server's operator action
 *   `POST /api/actions/clear-fault` with the configured `status.operatorToken`; the daemon clears its arbiter,
 *   records `connector.faultCleared` and reports the connector available again (OCPP). The server's address is
 *   the one the daemon recorded at start (`status.listening`, so a port 0 works).
 * - No daemon running: the fault is cleared in the store (`connector.faultCleared`, from `cli`), so the next
 *   start takes sessions again.
 *
 * Exit codes: 0 cleared (or nothing to clear), 1 the running daemon refused, did not answer, or cannot be
 * reached (no status server or operator token), 2 usage/configuration (not a wall config), 3 store unusable.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { lockStore, StoreLocked } from '../../daemon/store-lock.js';
import { SystemClock } from '../../hardware/clock.js';
import { loadWallConfig } from '../../wall-module/config.js';
import { WallStore } from '../../wall-module/store.js';
import { recordConnectorFaultCleared, storedConnectorFault } from '../../daemon/connector-fault.js';
import { ExitCode } from './exit-codes.js';
import { roleOfConfig, StoreNotFound } from './open-store.js';

/** The running daemon cannot be reached for the action (no status server, no token, no answer). */
export class DaemonUnreachable extends Error {
  override readonly name = 'DaemonUnreachable';
}

/**
 * Runs `clear-fault`.
 *
 * @param configFile the wall daemon's YAML config
 * @param out where the one-line result goes
 * @param connectorId the connector to clear (default: every connector of the config)
 * @returns the exit code
 * @throws ConfigInvalid (exit 2 by the caller), StoreUnusable
 */
export async function clearFaultMain(
  configFile: string,
  out: (s: string) => void,
  connectorId?: number,
): Promise<number> {
  if (roleOfConfig(configFile) !== 'wall')
    throw new StoreNotFound(`${configFile}: clear-fault needs a wall config (connectors live at the wall)`);
  const config = loadWallConfig(configFile);
  const storeFile = config.store.path;
  const known = config.connectors.map((c) => c.id);
  if (connectorId !== undefined && !known.includes(connectorId))
    throw new StoreNotFound(
      `${configFile} has no connector ${connectorId} (connectors: ${known.join(', ')})`,
    );
  const targets = connectorId === undefined ? known : [connectorId];
  if (!existsSync(storeFile)) {
    out('no store yet: nothing to clear\n');
    return ExitCode.OK;
  }
  let lock;
  try {
    lock = lockStore(storeFile);
  } catch (err) {
    if (!(err instanceof StoreLocked)) throw err;
    try {
      let code: number = ExitCode.OK;
      for (const id of targets)
        code = Math.max(code, await clearThroughDaemon(storeFile, config.status.operatorToken, out, id));
      return code;
    } catch (e) {
      if (!(e instanceof DaemonUnreachable)) throw e;
      process.stderr.write(`boltcharge clear-fault: ${e.message}\n`);
      return ExitCode.FAILURE;
    }
  }
  try {
    const store = WallStore.open(storeFile, new SystemClock());
    try {
      for (const id of targets) {
        const fault = storedConnectorFault(store, id);
        if (!fault) {
          out(`connector ${id}: no fault\n`);
          continue;
        }
        store.tx(() => {
          store.appendEvent(null, 'operator.clearFault', { connectorId: id, from: 'cli' });
          recordConnectorFaultCleared(store, id, 'cli');
        });
        out(`connector ${id}: fault cleared in the store (${fault.reason})\n`);
      }
      return ExitCode.OK;
    } finally {
      store.close();
    }
  } finally {
    lock.release();
  }
}

/** Asks the running daemon through its status server's operator action. */
async function clearThroughDaemon(
  storeFile: string,
  token: string | undefined,
  out: (s: string) => void,
  connectorId: number,
): Promise<number> {
  if (!token)
    throw new DaemonUnreachable(
      'the wall daemon is running and has no status.operatorToken: set one (and restart it), or stop it and run clear-fault again',
    );
  const url = listeningUrl(storeFile);
  if (!url)
    throw new DaemonUnreachable(
      'the wall daemon is running without a status server (status.enabled): stop it and run clear-fault again',
    );
  let res: Response;
  try {
    res = await fetch(new URL('/api/actions/clear-fault', url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-operator-token': token },
      body: JSON.stringify({ connectorId: connectorId }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new DaemonUnreachable(
      `the wall daemon's status server ${url} did not answer: ${(err as Error).message}`,
    );
  }
  const body = (await res.json().catch(() => ({}))) as { detail?: string; message?: string };
  if (!res.ok) {
    out(`the daemon refused: ${res.status} ${body.message ?? ''}\n`);
    return ExitCode.FAILURE;
  }
  out(`connector ${connectorId}: fault cleared by the running daemon (${body.detail ?? 'ok'})\n`);
  return ExitCode.OK;
}

/** The status server URL the running daemon recorded at start, read without writing. */
function listeningUrl(storeFile: string): string | null {
  const db = new Database(storeFile, { readonly: true, fileMustExist: true });
  try {
    const r = db
      .prepare(
        `SELECT json_extract(data_json, '$.url') AS url FROM events WHERE kind = 'status.listening'
         ORDER BY id DESC LIMIT 1`,
      )
      .get() as { url: string | null } | undefined;
    return r?.url ?? null;
  } finally {
    db.close();
  }
}
