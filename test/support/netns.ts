// Two network namespaces joined by a veth pair, for link tests between "wall" and "vehicle" machines.
// Needs root (CAP_NET_ADMIN) and iproute2; `create` throws a clear error otherwise — callers must not skip.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface VethPair {
  /** Namespace names. */
  wallNs: string;
  vehicleNs: string;
  /** Interface names inside each namespace. */
  wallIf: string;
  vehicleIf: string;
  /** Deletes both namespaces (and with them the veth pair). */
  destroy(): void;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Creates namespaces `bcw-<id>` / `bcv-<id>` with a veth pair between them, both up, IPv6 link-local
 * addresses usable immediately (duplicate address detection off).
 * @throws Error explaining what failed (not root, no iproute2, no netns support)
 */
export async function createVethPair(): Promise<VethPair> {
  const id = randomBytes(3).toString('hex');
  const pair: VethPair = {
    wallNs: `bcw-${id}`,
    vehicleNs: `bcv-${id}`,
    wallIf: `vw${id}`,
    vehicleIf: `vv${id}`,
    destroy: () => {
      for (const ns of [pair.wallNs, pair.vehicleNs])
        try {
          ip('netns', 'del', ns);
        } catch {
          // already gone
        }
    },
  };
  try {
    ip('netns', 'add', pair.wallNs);
    ip('netns', 'add', pair.vehicleNs);
    ip('link', 'add', pair.wallIf, 'type', 'veth', 'peer', 'name', pair.vehicleIf);
    ip('link', 'set', pair.wallIf, 'netns', pair.wallNs);
    ip('link', 'set', pair.vehicleIf, 'netns', pair.vehicleNs);
    for (const [ns, dev] of [
      [pair.wallNs, pair.wallIf],
      [pair.vehicleNs, pair.vehicleIf],
    ] as const) {
      execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${dev}.accept_dad=0`]);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
    // wait for the link-local addresses
    for (let i = 0; i < 50; i++) {
      const a = ip('-n', pair.wallNs, '-6', 'addr', 'show', 'dev', pair.wallIf, 'scope', 'link');
      const b = ip('-n', pair.vehicleNs, '-6', 'addr', 'show', 'dev', pair.vehicleIf, 'scope', 'link');
      if (/inet6 fe80/.test(a) && /inet6 fe80/.test(b) && !/tentative/.test(a + b)) return pair;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('link-local addresses did not appear on the veth pair');
  } catch (err) {
    pair.destroy();
    const e = err as Error & { stderr?: string };
    throw new Error(
      `cannot create network namespaces joined by veth (needs root and iproute2): ${e.stderr?.trim() || e.message}`,
    );
  }
}
