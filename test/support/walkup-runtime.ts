/**
 * A walk-up runtime for in-process tests of the paths that never reach the node (endpoint guards, OCPP remote
 * start and stop): the real `WalkupRuntime` on an in-memory store, a node that fails the test if it is called,
 * and no charger (these paths do not touch it). Paying flows run on real lnd in test/e2e/walkup-*.
 */
import Database from 'better-sqlite3';
import type { Clock } from '../../hardware/clock.js';
import type { Evse } from '../../hardware/evse/evse.js';
import type { LightningNode } from '../../lightning/lightning-node.js';
import { walkupConfig } from '../../payments/walkup-config.js';
import type { ConnectorArbiter } from '../../wall-module/connector-arbiter.js';
import { WalkupRuntime } from '../../wall-module/walkup/runtime.js';
import { WalkupStore } from '../../wall-module/walkup/store.js';

/** A node that fails the test if any path reaches it. */
export const untouchableNode = new Proxy({} as LightningNode, {
  get: (_t, name) => () => {
    throw new Error(`the node was called (${String(name)})`);
  },
});

/**
 * The runtime of connector 1 (regtest, no node calls allowed).
 *
 * @param args.priceMsatPerWh the walk-up price, msat per Wh
 * @param args.arbiter the connector's arbiter
 * @param args.clock the clock (a ManualClock drives timeouts)
 * @returns the runtime (not started) and its store
 */
export function nodelessWalkupRuntime(args: {
  priceMsatPerWh: bigint;
  arbiter: ConnectorArbiter;
  clock: Clock;
}): { runtime: WalkupRuntime; store: WalkupStore } {
  const machine = walkupConfig({ network: 'regtest', priceMsatPerWh: args.priceMsatPerWh });
  if (!machine.ok) throw new Error(machine.error.message);
  const store = new WalkupStore(new Database(':memory:'));
  const runtime = new WalkupRuntime({
    connectorId: 1,
    config: machine.value,
    hold: { blockIntervalMs: 60_000, marginBlocks: 18, holdExpiryDeltaBlocks: 12, cltvDeltaBlocks: 80 },
    maxCurrentA: 16,
    evse: {} as Evse,
    node: untouchableNode,
    store,
    clock: args.clock,
    log: { debug() {}, info() {}, warn() {}, error() {} },
    arbiter: args.arbiter,
  });
  return { runtime, store };
}
