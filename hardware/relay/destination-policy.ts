/**
 * Where the blind relay may connect for a car. The relay lends the wall's uplink to the car's Lightning node, not
 * the wall's network: by default only public unicast addresses on the configured ports (Lightning's 9735), never
 * the wall's own host, LAN, link-local segment or multicast — a car must not reach the host's router admin page,
 * its lnd's gRPC port, or the CSMS through the charger. A host may open more (e.g. a chain backend on its LAN)
 * with explicit `allow` entries. Pure: decides on IP literals (the relay resolves names first and checks every
 * address it would connect to).
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** Why a destination is refused. */
export type DestinationRefusal = 'RELAY_DESTINATION_REFUSED' | 'RELAY_PORT_REFUSED';

/** The relay's destination rules (config `relay:`). */
export interface DestinationRules {
  /** TCP ports a car may reach on public addresses (default [9735]) */
  ports: number[];
  /** extra destinations allowed even when not public: `CIDR` or `CIDR:port` / `[v6CIDR]:port` (e.g. a LAN
   *  chain backend `192.168.1.10/32:8334`) */
  allow: string[];
}

/** Defaults: Lightning peer port only, nothing private. */
export const DEFAULT_DESTINATION_RULES: DestinationRules = { ports: [9735], allow: [] };

/** Address ranges that are never "the internet". */
const NOT_PUBLIC: [string, number, 'ipv4' | 'ipv6'][] = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'],
  ['240.0.0.0', 4, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['::ffff:0:0', 96, 'ipv6'],
  ['64:ff9b:1::', 48, 'ipv6'],
  ['100::', 64, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

/** A parsed `allow` entry. */
interface AllowEntry {
  list: BlockList;
  port: number | null;
}

/** The configuration is not usable. */
export class RelayRulesInvalid extends Error {
  override readonly name = 'RelayRulesInvalid';
}

/** Compiled destination rules. */
export class DestinationPolicy {
  /** one list per family: a BlockList matches IPv4 addresses against IPv6 ranges too (as ::ffff:a.b.c.d) */
  private readonly notPublic = { ipv4: new BlockList(), ipv6: new BlockList() };
  private readonly allow: AllowEntry[];
  private readonly ports: Set<number>;

  /** @throws RelayRulesInvalid for a port outside 1..65535 or an unparsable `allow` entry */
  constructor(rules: DestinationRules = DEFAULT_DESTINATION_RULES) {
    for (const [net, prefix, type] of NOT_PUBLIC) this.notPublic[type].addSubnet(net, prefix, type);
    for (const p of rules.ports)
      if (!Number.isInteger(p) || p < 1 || p > 65535)
        throw new RelayRulesInvalid(`relay port ${p} not in 1..65535`);
    this.ports = new Set(rules.ports);
    this.allow = rules.allow.map(parseAllow);
  }

  /** Decides a destination.

    @param ip an IP literal (v4 or v6, no zone)
    @param port TCP port
    @returns null when allowed, else the refusal
  */
  check(ip: string, port: number): DestinationRefusal | null {
    const type = isIPv4(ip) ? 'ipv4' : isIPv6(ip) ? 'ipv6' : null;
    if (type === null) return 'RELAY_DESTINATION_REFUSED';
    for (const a of this.allow)
      if (a.list.check(ip, type) && (a.port === null || a.port === port)) return null;
    if (this.notPublic[type].check(ip, type)) return 'RELAY_DESTINATION_REFUSED';
    // an IPv4-mapped or NAT64 form of a private v4 address is caught above (::ffff:0:0/96, 64:ff9b:1::/48)
    if (!this.ports.has(port)) return 'RELAY_PORT_REFUSED';
    return null;
  }
}

function parseAllow(entry: string): AllowEntry {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry) ?? /^([^:\s]+)(?::(\d+))?$/.exec(entry);
  const bad = (): never => {
    throw new RelayRulesInvalid(`relay allow entry ${JSON.stringify(entry)}: expected CIDR or CIDR:port`);
  };
  if (!m) return bad();
  const [net, prefixText] = m[1]!.split('/');
  const type = isIPv4(net!) ? 'ipv4' : isIPv6(net!) ? 'ipv6' : bad();
  const max = type === 'ipv4' ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) bad();
  const port = m[2] === undefined ? null : Number(m[2]);
  if (port !== null && (port < 1 || port > 65535)) bad();
  const list = new BlockList();
  list.addSubnet(net!, prefix, type);
  return { list, port };
}
