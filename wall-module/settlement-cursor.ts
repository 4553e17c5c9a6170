/**
 * Where the wall resumes the node's settlement stream: the last committed settle index, kept in the wall
 * store's machine-state table (slot `lnd.settleIndex`), shared by a one-connector wall and a site.
 */
import type { Logger } from '../daemon/logger.js';
import type { SettlementCursor } from '../lightning/settlement-delivery.js';

/** The machine-state slot holding the last committed settle index. */
export const SETTLE_INDEX_SLOT = 'lnd.settleIndex';

/**
 * The cursor to pass to `LightningNode.resumeSettlements`: resume after the committed index, persist each new
 * one, log every settlement a handler failed to commit (the node retries it).
 *
 * @param store where the index lives (`loadMachineState` / `saveMachineState`)
 * @param log the daemon's logger
 * @param fields extra log fields for a failed settlement (e.g. the connector it belongs to)
 * @returns the cursor
 */
export function settlementCursor(
  store: {
    loadMachineState(slot: string): string | undefined;
    saveMachineState(slot: string, value: string): void;
  },
  log: Logger,
  fields: (paymentHash: string) => Record<string, unknown> = () => ({}),
): SettlementCursor {
  return {
    afterIndex: Number(store.loadMachineState(SETTLE_INDEX_SLOT) ?? 0),
    commit: (index) => store.saveMachineState(SETTLE_INDEX_SLOT, String(index)),
    onError: (err, ev, attempt, retryInMs) =>
      log.error('settlement not committed', {
        paymentHash: ev.paymentHash,
        ...fields(ev.paymentHash),
        attempt,
        retryInMs,
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      }),
  };
}
