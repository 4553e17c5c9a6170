/**
 * Runs the blind relay (hardware/relay/blind-relay.ts) beside a wall connector: listens on the cable link's own
 * address, lets in only the car of the live authenticated session, closes every relayed connection when that
 * session ends, and logs each refusal with its named reason.
 */
import type { Logger } from '../daemon/logger.js';
import type { Clock } from '../hardware/clock.js';
import { BlindRelay, type RelayStats } from '../hardware/relay/blind-relay.js';
import type { RelayConfig } from './relay-config.js';

/** What the relay needs from the connector it serves. */
export interface RelayHost {
  /** the literal address the cable link listens on (IPv6 link-local with zone, e.g. `fe80::1%eth1`) */
  listenHost: string;
  /** the car's address on the link while an authenticated session is open, else null (no zone) */
  authorizedPeer(): string | null;
  /** subscribes to "the session ended" (authorisation gone); returns unsubscribe */
  onSessionEnded(listener: () => void): () => void;
}

/** A running relay. */
export interface RunningRelay {
  /** the bound TCP port */
  port: number;
  stats(): RelayStats;
  stop(): Promise<void>;
}

/** Starts the relay when enabled.

  {
    config: <Relay Config> (disabled → null)
    host: <Relay Host>
    clock: <Clock>
    log: <Logger>
  }

  @returns the running relay, or null when disabled
  @throws RelayListenRefused, or the listen error (address in use, interface gone)
*/
export async function startRelay(args: {
  config: RelayConfig;
  host: RelayHost;
  clock: Clock;
  log: Logger;
}): Promise<RunningRelay | null> {
  const { config, host, log } = args;
  if (!config.enabled) return null;
  const relay = new BlindRelay({
    listenHost: host.listenHost,
    port: config.port,
    rules: config.rules,
    limits: config.limits,
    clock: args.clock,
    authorize: (remote) => {
      const peer = host.authorizedPeer();
      return peer !== null && stripZone(remote) === stripZone(peer);
    },
  });
  relay.on('refused', (e) =>
    log.warn('relay refused', { reason: e.reason, remote: e.remote, detail: e.detail }),
  );
  relay.on('opened', (e) => log.info('relay opened', e));
  relay.on('closed', (e) => log.info('relay closed', e));
  const port = await relay.listen();
  const unsubscribe = host.onSessionEnded(() => relay.revokeAll());
  log.info('relay listening', { host: host.listenHost, port });
  return {
    port,
    stats: () => relay.stats(),
    stop: async () => {
      unsubscribe();
      await relay.close();
    },
  };
}

function stripZone(address: string): string {
  const bare = address.split('%', 1)[0] ?? address;
  return bare.startsWith('::ffff:') ? bare.slice(7) : bare;
}
