/**
 * Test helper: waits for a promise at most `ms` real milliseconds and otherwise fails with a message naming
 * what did not arrive, so a lost frame or a promise that never settles fails its test at once (and says
 * which step hung) instead of hanging it until vitest's test timeout.
 *
 * @param promise what the test awaits
 * @param what description of the awaited outcome, used in the failure message
 * @param ms bound in real milliseconds; default 5000
 * @returns the promise's value
 * @throws Error `<what>: nothing within <ms> ms` when the bound expires first; the promise's own rejection
 */
export async function within<T>(promise: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}
