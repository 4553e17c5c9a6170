/**
 * The wall's `relay:` section (offline case 2: lend the wall's uplink to a car without signal, see
 * hardware/relay/blind-relay.ts). Off by default. Needs the IP (PLC) link: over CAN there is no byte stream to
 * relay on (docs/OPERATING.md says what that means for a car without signal on a CAN charger).
 *
 * ```yaml
 * relay:
 *   enabled: true
 *   port: 9736                 # TCP port on the wall's link address
 *   peerPort: 9735             # the port a car may reach on public addresses (Lightning peers)
 *   allow: ['192.168.1.10/32:8334', '127.0.0.1/32:9735']   # extra non-public destinations (CIDR[:port])
 *   maxConnections: 16
 *   maxConnectsPerMinute: 30
 *   maxBytesPerSec: 262144
 *   handshakeTimeoutMs: 5000
 *   connectTimeoutMs: 10000
 *   idleTimeoutMs: 600000
 * ```
 * Defaults come from RELAY_DEFAULTS / DEFAULT_DESTINATION_RULES (defined once, beside the relay).
 *
 * On a site the relay runs on every connector whose link is IP, each on its link's own address at the same
 * `port` (a car finds the relay on the wall address of its own link), lending the uplink only to that
 * connector's authenticated car. Two IP connectors whose links listen on the same address would need the same
 * port there: the configuration refuses that, naming the connectors.
 */
import type { ConfigReader } from '../daemon/config-reader.js';
import type { LinkConfig } from '../daemon/config-sections.js';
import { RELAY_DEFAULTS, type RelayLimits } from '../hardware/relay/blind-relay.js';
import {
  DEFAULT_DESTINATION_RULES,
  DestinationPolicy,
  RelayRulesInvalid,
  type DestinationRules,
} from '../hardware/relay/destination-policy.js';

/** Default TCP port of the relay on the wall's link address. */
export const DEFAULT_RELAY_PORT = 9736;

/** The parsed section. */
export type RelayConfig =
  { enabled: false } | { enabled: true; port: number; rules: DestinationRules; limits: RelayLimits };

/** A connector as the relay sees it: its id and its cable link. */
export interface RelayConnector {
  id: number;
  link: LinkConfig;
}

/** Reads `relay:`.

  @param r the section's reader (absent section → disabled)
  @param connectors the wall's connectors: the relay needs at least one IP (PLC) link, and no two IP links on the
    same listen address
  @returns the relay configuration; problems are recorded on the reader
*/
export function readRelay(r: ConfigReader, connectors: readonly RelayConnector[]): RelayConfig {
  if (!r.bool('enabled', false)) return { enabled: false };
  if (!connectors.some((c) => c.link.kind === 'ip'))
    r.problem('enabled', 'the relay needs the IP (PLC) link: a CAN link carries no byte stream');
  const shared = relayAddressShared(connectors);
  if (shared) r.problem('enabled', shared);
  const d = RELAY_DEFAULTS;
  const port = r.int('port', DEFAULT_RELAY_PORT, { min: 1, max: 65535 });
  const peerPort = r.int('peerPort', DEFAULT_DESTINATION_RULES.ports[0], { min: 1, max: 65535 });
  const rules: DestinationRules = { ports: [peerPort], allow: r.stringList('allow') };
  try {
    new DestinationPolicy(rules);
  } catch (err) {
    if (!(err instanceof RelayRulesInvalid)) throw err;
    r.problem('allow', err.message);
  }
  const limits: RelayLimits = {
    maxConnections: r.int('maxConnections', d.maxConnections, { min: 1, max: 256 }),
    maxConnectsPerMinute: r.int('maxConnectsPerMinute', d.maxConnectsPerMinute, { min: 1, max: 10_000 }),
    maxBytesPerSec: r.int('maxBytesPerSec', d.maxBytesPerSec, { min: 1024, max: 1_000_000_000 }),
    handshakeTimeoutMs: r.int('handshakeTimeoutMs', d.handshakeTimeoutMs, { min: 100, max: 60_000 }),
    connectTimeoutMs: r.int('connectTimeoutMs', d.connectTimeoutMs, { min: 100, max: 120_000 }),
    idleTimeoutMs: r.int('idleTimeoutMs', d.idleTimeoutMs, { min: 1000, max: 86_400_000 }),
  };
  return { enabled: true, port, rules, limits };
}

/**
 * Two IP connectors whose links listen on the same address (the relay of each would need the same port there).
 *
 * @param connectors the wall's connectors (CAN ones are ignored)
 * @returns the problem naming the connectors, or undefined
 */
export function relayAddressShared(connectors: readonly RelayConnector[]): string | undefined {
  const byAddress = new Map<string, number>();
  for (const c of connectors) {
    if (c.link.kind !== 'ip') continue;
    const key = relayListenKey(c.link);
    const other = byAddress.get(key);
    if (other !== undefined)
      return relayAddressSharedMessage(other, c.id, c.link.listenAddress ?? `interface ${c.link.interface}`);
    byAddress.set(key, c.id);
  }
  return undefined;
}

/**
 * The message of two connectors whose relays would listen on one address.
 *
 * @param a one connector id
 * @param b the other
 * @param address the shared address (or interface)
 */
export function relayAddressSharedMessage(a: number, b: number, address: string): string {
  return `connectors ${a} and ${b} both listen on ${address}: the relay of each needs its port there; give each IP connector its own listenAddress or interface`;
}

/** What identifies the address an IP link listens on: its literal address (zone from `interface` when absent), or
 * its interface's link-local address. */
function relayListenKey(link: Extract<LinkConfig, { kind: 'ip' }>): string {
  const given = link.listenAddress;
  if (given === undefined) return `iface:${link.interface ?? ''}`;
  const [bare = given, zone] = given.split('%', 2);
  const scoped = /^fe80:/i.test(bare) ? `%${zone ?? link.interface ?? ''}` : '';
  return `addr:${bare.toLowerCase()}${scoped}`;
}
