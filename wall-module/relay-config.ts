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
 */
import type { ConfigReader } from '../daemon/config-reader.js';
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

/** Reads `relay:`.

  @param r the section's reader (absent section → disabled)
  @param linkKind the cable link's kind: the relay needs `ip`
  @returns the relay configuration; problems are recorded on the reader
*/
export function readRelay(r: ConfigReader, linkKind: 'can' | 'ip'): RelayConfig {
  if (!r.bool('enabled', false)) return { enabled: false };
  if (linkKind !== 'ip')
    r.problem('enabled', 'the relay needs the IP (PLC) link: a CAN link carries no byte stream');
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
