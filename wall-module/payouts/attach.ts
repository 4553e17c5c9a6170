/**
 * Composition of split payouts into the wall daemon (issue 14): `attachPayouts` opens the payout ledger on the
 * wall store's connection, a payout node over the wall's lnd connection, and polls the payout engine on a timer
 * beside the connectors. Nothing here is awaited by charging: a node that is down, an LNURL server that refuses
 * or a failing payout only shows in the log, the alarms and the ledger.
 */
import { readFileSync } from 'node:fs';
import type { Db } from '../../daemon/database.js';
import { protocolNetwork } from '../../daemon/network-name.js';
import type { LndConnection } from '../../lightning/connection.js';
import { LndPayouts } from '../../lightning/lnd-payouts.js';
import type { SignedStatement } from '../../payments/payout-statement.js';
import type { SplitConfig } from '../../payments/split-config.js';
import type { Network } from '../../protocol/messages.js';
import type { SplitSettledReport } from '../ocpp/station.js';
import { PayoutEngine } from './payout-engine.js';
import { PayoutLedger } from './payout-ledger.js';

/** The log the payouts write to (the daemon's logger fits). */
export interface PayoutLog {
  info(msg: string, fields?: object): void;
  warn(msg: string, fields?: object): void;
  error(msg: string, fields?: object): void;
}

/** Options of {@link attachPayouts}. */
export interface AttachPayoutsOptions {
  split: SplitConfig;
  /** the wall store's connection (`WallStore.db`) */
  db: Db;
  /** the wall's node (`LndNode`): its connection (a macaroon that can pay and sign) and its network */
  wallNode: { readonly connection: LndConnection; getIdentity(): Promise<{ network: string }> };
  /** clock, ms since epoch */
  now: () => number;
  log: PayoutLog;
  /** how often the engine polls the store, ms (default 2000) */
  pollIntervalMs?: number;
  /** a statement is signed: hand it to the CSMS (DataTransfer `SplitSettled`) and other reports */
  onStatement?: (payoutId: string, signed: SignedStatement) => void;
}

/**
 * The DataTransfer `data` text of a `SplitSettled` report: the signed statement as JSON, which the CSMS checks
 * with `boltcharge verify-statement`.
 * @param signed the signed statement
 * @returns JSON text
 */
export function splitSettledData(signed: SignedStatement): string {
  return JSON.stringify({ statement: signed.statement, text: signed.text, signature: signed.signature });
}

/**
 * The CSMS report of a signed payout statement (`OcppStation.splitSettled`: DataTransfer `SplitSettled`, and on
 * OCPP 2.1 also NotifySettlement), against the last session the payout covers.
 * @param payoutId the payout
 * @param signed its signed statement
 * @returns the report, or undefined when the statement covers no session
 */
export function statementReport(payoutId: string, signed: SignedStatement): SplitSettledReport | undefined {
  const last = signed.statement.covered.at(-1);
  if (!last) return undefined;
  return {
    payoutId,
    sessionId: last.sessionId,
    amountMsat: BigInt(signed.statement.amountMsat),
    statement: splitSettledData(signed),
    atMs: signed.statement.settledAtMs,
  };
}

/**
 * Starts split payouts beside the wall daemon.
 * @returns a stop function (stops polling, lets running payments finish, closes the node connection)
 */
export function attachPayouts(o: AttachPayoutsOptions): () => Promise<void> {
  const node = new LndPayouts({ connection: o.wallNode.connection });
  const ledger = new PayoutLedger(o.db);
  // the split counts from now: payments settled before it was first enabled stay the host's
  ledger.tx(() => ledger.loadState(o.now()));
  const caPem = o.split.tlsCaFile ? readFileSync(o.split.tlsCaFile, 'utf8') : undefined;
  let engine: PayoutEngine | undefined;
  let starting = false;
  let stopped = false;
  const begin = async (): Promise<void> => {
    const network: Network = protocolNetwork((await o.wallNode.getIdentity()).network);
    engine = new PayoutEngine({
      ledger,
      node,
      config: o.split,
      network,
      now: o.now,
      ...(caPem ? { lnurl: { caPem } } : {}),
      events: {
        alarm: (recipient, reason, failures) =>
          o.log.error('split: recipient unreachable', { recipient, reason, failures }),
        alarmCleared: (recipient) => o.log.info('split: recipient reachable again', { recipient }),
        statement: (payoutId, signed) => {
          o.log.info('split: payout settled', { payoutId, amountMsat: signed.statement.amountMsat });
          o.onStatement?.(payoutId, signed);
        },
        warn: (message, fields) => o.log.warn(`split: ${message}`, fields),
      },
    });
    await engine.start();
  };
  const timer = setInterval(() => {
    if (stopped) return;
    if (engine) {
      try {
        engine.poll();
      } catch (err) {
        o.log.error('split: payout step failed', { error: (err as Error).message });
      }
      return;
    }
    if (starting) return;
    starting = true;
    begin()
      .catch((err: unknown) => o.log.warn('split: payouts not started yet', { error: String(err) }))
      .finally(() => {
        starting = false;
      });
  }, o.pollIntervalMs ?? 2_000);
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await engine?.stop();
    await node.close();
  };
}
