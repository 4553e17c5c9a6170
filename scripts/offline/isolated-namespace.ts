/**
 * The machine that goes offline, as a network namespace beside the host (scripts and tests of the offline
 * modes): its links are
 *   - the **cable** — a veth pair, as a PLC modem's Ethernet, with IPv6 link-local addresses (the cable
 *     protocol's discovery) and a /30 of IPv4 (for the Lightning peer connection across it);
 *   - an **uplink** while it is online — a second veth pair whose host end runs a gateway: TCP forwards from
 *     the host end's address to the same ports on the host's loopback (the regtest chain backend and peers).
 * `cutUplink()` closes the gateway (every connection through it is reset) and deletes the uplink veth: from then
 * on the namespace's only network is the cable. `restoreUplink()` gives it back (same addresses).
 *
 * An lnd cannot start without its chain backend (it stays "in the process of starting up"), so a node that is
 * to run offline is started in the namespace while the uplink is up, and the uplink is cut afterwards: the
 * node lost its signal while running, as in the field.
 *
 * Needs root (CAP_NET_ADMIN) and iproute2; creation fails with a clear error otherwise (callers never skip).
 */
import { execFileSync } from 'node:child_process';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { createNamespaceBesideHost } from '../../test/support/netns.js';

/** The cable between the host and the namespace. */
export interface Cable {
  /** veth end on the host, and inside the namespace */
  hostIf: string;
  nsIf: string;
  /** IPv6 link-local addresses (no zone) */
  hostLinkLocal: string;
  nsLinkLocal: string;
  /** IPv4 addresses of each end (a /30) */
  hostIpv4: string;
  nsIpv4: string;
}

/** A namespace whose links are the cable and, until cut, an uplink. */
export interface IsolatedNamespace {
  ns: string;
  cable: Cable;
  /** the uplink gateway's address as seen from inside the namespace (the same ports as the host's loopback) */
  uplinkHost: string;
  /** whether the uplink is up */
  online(): boolean;
  /** closes the gateway and deletes the uplink veth; idempotent */
  cutUplink(): Promise<void>;
  /** re-creates the uplink veth and the gateway; idempotent */
  restoreUplink(): Promise<void>;
  /** the namespace's network interfaces (names) */
  interfaces(): string[];
  /** cuts the uplink and deletes the namespace */
  destroy(): Promise<void>;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** TCP forwards from `host:port` to `127.0.0.1:port`, for each port. */
class UplinkGateway {
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();

  /** Listens on every port. @throws the listen error */
  async open(host: string, ports: number[]): Promise<void> {
    for (const port of ports) {
      const server = createServer((inbound) => {
        const outbound = createConnection({ host: '127.0.0.1', port });
        for (const s of [inbound, outbound]) {
          this.sockets.add(s);
          s.on('error', () => undefined);
          s.once('close', () => {
            this.sockets.delete(s);
            inbound.destroy();
            outbound.destroy();
          });
        }
        inbound.pipe(outbound);
        outbound.pipe(inbound);
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve());
      });
      this.servers.push(server);
    }
  }

  /** Resets every forwarded connection and stops listening. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.resetAndDestroy();
    const servers = this.servers.splice(0);
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/** Creates the namespace (`bcc-<id>`), its cable and its uplink.

  {
    uplinkPorts: [<Host Loopback TCP Port Number>] (what the namespace may reach while online)
  }

  @returns <IsolatedNamespace>
  @throws Error naming what failed (not root, no iproute2)
*/
export async function createIsolatedNamespace(args: { uplinkPorts: number[] }): Promise<IsolatedNamespace> {
  const beside = await createNamespaceBesideHost();
  const { ns, hostIf, nsIf } = beside;
  const id = ns.slice('bcc-'.length);
  const n = parseInt(id, 16);
  // two /30s from the id: 10.203.x.y for the cable, 10.204.x.y for the uplink
  const [a, b] = [(n >> 8) & 0xff, (n & 0x3f) << 2];
  const cable: Cable = {
    hostIf,
    nsIf,
    hostLinkLocal: beside.hostLinkLocal,
    nsLinkLocal: beside.nsLinkLocal,
    hostIpv4: `10.203.${a}.${b + 1}`,
    nsIpv4: `10.203.${a}.${b + 2}`,
  };
  const uplinkHost = `10.204.${a}.${b + 1}`;
  const uplinkNs = `10.204.${a}.${b + 2}`;
  const hostUp = `uh${id}`;
  const nsUp = `uc${id}`;
  let gateway: UplinkGateway | null = null;
  const destroyNs = beside.destroy;
  try {
    ip('addr', 'add', `${cable.hostIpv4}/30`, 'dev', hostIf);
    ip('-n', ns, 'addr', 'add', `${cable.nsIpv4}/30`, 'dev', nsIf);
  } catch (err) {
    destroyNs();
    throw new Error(`cannot address the cable veth: ${(err as Error).message}`);
  }
  const isolated: IsolatedNamespace = {
    ns,
    cable,
    uplinkHost,
    online: () => gateway !== null,
    async cutUplink() {
      if (gateway === null) return;
      await gateway.close();
      gateway = null;
      try {
        ip('link', 'del', hostUp);
      } catch {
        // already gone
      }
    },
    async restoreUplink() {
      if (gateway !== null) return;
      ip('link', 'add', hostUp, 'type', 'veth', 'peer', 'name', nsUp);
      ip('link', 'set', nsUp, 'netns', ns);
      ip('addr', 'add', `${uplinkHost}/30`, 'dev', hostUp);
      ip('-n', ns, 'addr', 'add', `${uplinkNs}/30`, 'dev', nsUp);
      ip('link', 'set', hostUp, 'up');
      ip('-n', ns, 'link', 'set', nsUp, 'up');
      const g = new UplinkGateway();
      await g.open(uplinkHost, args.uplinkPorts);
      gateway = g;
    },
    interfaces: () =>
      ip('-n', ns, '-o', 'link', 'show')
        .split('\n')
        .map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1])
        .filter((x): x is string => x !== undefined),
    async destroy() {
      await isolated.cutUplink();
      destroyNs();
    },
  };
  try {
    await isolated.restoreUplink();
  } catch (err) {
    await isolated.destroy();
    throw new Error(`cannot create the namespace's uplink: ${(err as Error).message}`);
  }
  return isolated;
}
