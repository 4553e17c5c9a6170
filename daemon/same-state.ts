/**
 * Structural equality of machine states (plain data: objects, arrays, strings, numbers, booleans, null, bigint,
 * byte arrays), without serializing them: the runner asks it often (does a tick change anything?), and an idle
 * site's connectors ask it every few seconds.
 */

/**
 * Whether two machine states hold the same data.
 *
 * @param a one state (or part of one)
 * @param b the other
 * @returns true when every field is equal (objects by their own enumerable keys, arrays element by element)
 */
export function sameState(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || ArrayBuffer.isView(a)) {
    const x = a as ArrayLike<unknown>;
    const y = b as ArrayLike<unknown>;
    if (Array.isArray(a) !== Array.isArray(b) || ArrayBuffer.isView(a) !== ArrayBuffer.isView(b))
      return false;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!sameState(x[i], y[i])) return false;
    return true;
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!sameState((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}
