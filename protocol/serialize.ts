/**
 * JSON (de)serialisation of machine states and messages for persistence (e.g. a SQLite TEXT column).
 * bigint values become `{"$bigint":"123"}`; everything else in the states is plain JSON already.
 */
import { fail, ok, protocolError, type Result } from './errors.js';

/**
 * Serialises a machine state (or any value holding bigints) to JSON text.
 * @returns JSON text
 */
export function serializeState(state: unknown): string {
  return JSON.stringify(state, (_k, v: unknown) => (typeof v === 'bigint' ? { $bigint: v.toString() } : v));
}

/**
 * Parses JSON text written by `serializeState`, restoring bigints.
 * @returns the value, or MalformedMessage if the text is not valid JSON. The caller asserts the type it stored.
 */
export function deserializeState<T>(text: string): Result<T> {
  try {
    const value = JSON.parse(text, (_k, v: unknown) => {
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        const o = v as Record<string, unknown>;
        const keys = Object.keys(o);
        if (
          keys.length === 1 &&
          keys[0] === '$bigint' &&
          typeof o.$bigint === 'string' &&
          /^-?\d+$/.test(o.$bigint)
        ) {
          return BigInt(o.$bigint);
        }
      }
      return v;
    }) as T;
    return ok(value);
  } catch (e) {
    return fail(protocolError('MalformedMessage', `state is not valid JSON: ${(e as Error).message}`));
  }
}
