/**
 * One call to lnd through the `lightning` package, the way every node wrapper here makes it: under a timeout
 * (a dead node gives NodeUnreachable instead of hanging), every failure mapped to a typed error; and closing a
 * wrapper's gRPC clients.
 */
import type { AuthenticatedLnd } from 'lightning';
import { fromLnServiceError, NodeUnreachable } from './errors.js';

/** Runs one `lightning` call under a timeout.

  @param lnd the authenticated gRPC clients
  @param context what the call is for (in error messages)
  @param fn the call
  @param timeoutMs how long the node may take, ms
  @returns the call's result
  @throws NodeUnreachable on timeout, else the typed error of `fromLnServiceError`
*/
export async function callLnd<T>(
  lnd: AuthenticatedLnd,
  context: string,
  fn: (lnd: AuthenticatedLnd) => Promise<T>,
  timeoutMs: number,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new NodeUnreachable(`${context}: Lightning node did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([fn(lnd), timeout]);
  } catch (err) {
    throw fromLnServiceError(err, context);
  } finally {
    clearTimeout(timer);
  }
}

/** Closes every gRPC client of an authenticated lnd (errors of clients already closed are ignored). */
export function closeLndClients(lnd: AuthenticatedLnd): void {
  for (const client of Object.values(lnd) as { close?: () => void }[]) {
    try {
      client?.close?.();
    } catch {
      // already closed
    }
  }
}
