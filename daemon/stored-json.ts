/**
 * Reading JSON the daemons stored with the protocol's `serializeState` (bigints tagged as `{"$bigint":"…"}`),
 * e.g. receipts, back into values with real bigints.
 */
import { deserializeState } from '../protocol/serialize.js';

/**
 * @param text stored JSON text
 * @returns the value (bigints restored); plain JSON is returned as parsed
 */
export function readStoredJson(text: string): unknown {
  const r = deserializeState<unknown>(text);
  return r.ok ? r.value : (JSON.parse(text) as unknown);
}
