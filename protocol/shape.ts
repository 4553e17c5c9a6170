/**
 * A small structural validator for values read back from storage (no dependency): each `Check<T>` either
 * proves an `unknown` is a `T` or says where and why it is not. `object` is typed so that a check must name
 * every key of `T` with a check of that key's type: adding a state field without validating it does not compile.
 */
import { fail, ok, type Result } from './errors.js';

/** Where a value failed its check (a dotted path from the root, e.g. `state.invoices[2].status`) and why. */
export interface ShapeProblem {
  readonly path: string;
  readonly message: string;
}

/** Proves `v` is a `T`. @param path where `v` is, for the problem report */
export type Check<T> = (v: unknown, path: string) => Result<T, ShapeProblem>;

function problem(path: string, message: string): { ok: false; error: ShapeProblem } {
  return fail({ path, message });
}

/** Any string. */
export const str: Check<string> = (v, path) =>
  typeof v === 'string' ? ok(v) : problem(path, 'not a string');

/** A boolean. */
export const bool: Check<boolean> = (v, path) =>
  typeof v === 'boolean' ? ok(v) : problem(path, 'not a boolean');

/** A finite number (ms timestamps, W, V: plain JSON numbers). */
export const num: Check<number> = (v, path) =>
  typeof v === 'number' && Number.isFinite(v) ? ok(v) : problem(path, 'not a finite number');

/** A safe integer. */
export const int: Check<number> = (v, path) =>
  typeof v === 'number' && Number.isSafeInteger(v) ? ok(v) : problem(path, 'not a safe integer');

/** A bigint (restored from `{"$bigint":"…"}` by `deserializeState`). */
export const big: Check<bigint> = (v, path) =>
  typeof v === 'bigint' ? ok(v) : problem(path, 'not a bigint');

/** Lower-case or mixed-case hex of exactly `bytes` bytes. */
export function hex(bytes: number): Check<string> {
  const re = new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`);
  return (v, path) =>
    typeof v === 'string' && re.test(v) ? ok(v) : problem(path, `not hex of ${bytes} bytes`);
}

/** One of the listed literal values. */
export function oneOf<const L extends readonly (string | number | boolean)[]>(
  ...values: L
): Check<L[number]> {
  return (v, path) => {
    const found = values.find((x) => x === v);
    return found !== undefined ? ok(found) : problem(path, `not one of ${values.join(', ')}`);
  };
}

/** `null` or a `T`. */
export function nullable<T>(check: Check<T>): Check<T | null> {
  return (v, path) => (v === null ? ok(null) : check(v, path));
}

/** `undefined` (key absent) or a `T`. */
export function optional<T>(check: Check<T>): Check<T | undefined> {
  return (v, path) => (v === undefined ? ok(undefined) : check(v, path));
}

/** An array of `T`, at most `maxLength` long. */
export function array<T>(check: Check<T>, maxLength = 100_000): Check<T[]> {
  return (v, path) => {
    if (!Array.isArray(v)) return problem(path, 'not an array');
    if (v.length > maxLength) return problem(path, `more than ${maxLength} entries`);
    const out: T[] = [];
    for (let i = 0; i < v.length; i++) {
      const r = check(v[i], `${path}[${i}]`);
      if (!r.ok) return r;
      out.push(r.value);
    }
    return ok(out);
  };
}

/** A check of every key of `T` (optional keys with `optional`). */
export type Shape<T> = { readonly [K in keyof T]-?: Check<T[K]> };

/**
 * A plain object with exactly the keys of `shape` (an unknown key is refused: it means another writer or a
 * corrupted row), each proven by its check.
 */
export function object<T>(shape: Shape<T>): Check<T> {
  const keys = Object.keys(shape) as (keyof T & string)[];
  return (v, path) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return problem(path, 'not an object');
    const record = v as Record<string, unknown>;
    for (const k of Object.keys(record)) {
      if (!(k in shape)) return problem(`${path}.${k}`, 'unknown key');
    }
    const out: Partial<T> = {};
    for (const k of keys) {
      const r = shape[k](record[k], `${path}.${k}`);
      if (!r.ok) return r;
      if (r.value !== undefined) out[k] = r.value;
    }
    // every key of T was proven by its check above (absent ones only where the check allows undefined)
    return ok(out as T);
  };
}

/** A union discriminated by `key`: the value's `key` picks the check. */
export function tagged<T, K extends string>(key: K, checks: Record<string, Check<T>>): Check<T> {
  return (v, path) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return problem(path, 'not an object');
    const tag: unknown = (v as Record<string, unknown>)[key];
    const check = typeof tag === 'string' ? checks[tag] : undefined;
    if (check === undefined) return problem(`${path}.${key}`, `not one of ${Object.keys(checks).join(', ')}`);
    return check(v, path);
  };
}

/** A `T` that also satisfies `rule` (a message when it does not). */
export function refine<T>(check: Check<T>, rule: (v: T) => string | undefined): Check<T> {
  return (v, path) => {
    const r = check(v, path);
    if (!r.ok) return r;
    const why = rule(r.value);
    return why === undefined ? r : problem(path, why);
  };
}
