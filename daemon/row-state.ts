/**
 * Explicit state machines for ledger rows (wall invoices, vehicle payments). A store moves a row only along an
 * allowed edge; anything else is a bug or a replayed event and raises `IllegalStateTransition` instead of
 * silently rewriting money records.
 */

/** Allowed edges: from-state → the states it may move to. */
export type TransitionTable<S extends string> = Readonly<Record<S, readonly S[]>>;

/** A row was asked to move along an edge its state machine does not have. */
export class IllegalStateTransition extends Error {
  override readonly name = 'IllegalStateTransition';
  constructor(
    readonly table: string,
    readonly key: string,
    readonly from: string,
    readonly to: string,
  ) {
    super(`${table} ${key}: cannot go from ${from} to ${to}`);
  }
}

/**
 * Checks one transition.
 *
 * @param table name of the row kind (for the error)
 * @param key row identifier (for the error)
 * @param edges the state machine
 * @param from current state
 * @param to requested state
 * @returns true when `from === to` (an idempotent repeat the caller may skip), false for a real move
 * @throws IllegalStateTransition when the edge does not exist
 */
export function checkTransition<S extends string>(
  table: string,
  key: string,
  edges: TransitionTable<S>,
  from: S,
  to: S,
): boolean {
  if (from === to) return true;
  if (!edges[from].includes(to)) throw new IllegalStateTransition(table, key, from, to);
  return false;
}
