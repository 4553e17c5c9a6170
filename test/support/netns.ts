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

/** A namespace joined to the host's own (root) namespace by a veth pair: a car whose only network is the cable. */
export interface NamespaceBesideHost {
  /** the namespace */
  ns: string;
  /** the veth end in the host namespace, and the one inside `ns` */
  hostIf: string;
  nsIf: string;
  /** IPv6 link-local addresses (no zone) of each end */
  hostLinkLocal: string;
  nsLinkLocal: string;
  /** Deletes the namespace (and with it the veth pair). */
  destroy(): void;
}

/** An interface end: in a namespace, or in the host's (ns null). */
interface End {
  ns: string | null;
  dev: string;
}

/** `ip` for an end's namespace. */
function ipIn(ns: string | null, ...args: string[]): string {
  return ns === null ? ip(...args) : ip('-n', ns, ...args);
}

/** The IPv6 link-local address of an end once it is usable (not tentative), or null. */
function readyLinkLocal(end: End): string | null {
  const text = ipIn(end.ns, '-6', 'addr', 'show', 'dev', end.dev, 'scope', 'link');
  if (/tentative/.test(text)) return null;
  return /inet6 (fe80:[0-9a-f:]+)\//.exec(text)?.[1] ?? null;
}

/** Brings a veth pair's ends up (lo too inside namespaces, DAD off) and waits for both link-local addresses.
  @returns the two addresses, in order */
async function raise(ends: [End, End]): Promise<[string, string]> {
  for (const end of ends) {
    const sysctl = ['sysctl', '-qw', `net.ipv6.conf.${end.dev}.accept_dad=0`];
    if (end.ns === null) execFileSync(sysctl[0]!, sysctl.slice(1));
    else {
      execFileSync('ip', ['netns', 'exec', end.ns, ...sysctl]);
      ip('-n', end.ns, 'link', 'set', 'lo', 'up');
    }
    ipIn(end.ns, 'link', 'set', end.dev, 'up');
  }
  for (let i = 0; i < 50; i++) {
    const a = readyLinkLocal(ends[0]);
    const b = readyLinkLocal(ends[1]);
    if (a !== null && b !== null) return [a, b];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('link-local addresses did not appear on the veth pair');
}

/** Rethrows a set-up failure as one clear line. */
function setupFailed(what: string, err: unknown): never {
  const e = err as Error & { stderr?: string };
  throw new Error(`cannot create ${what} (needs root and iproute2): ${e.stderr?.trim() || e.message}`);
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
    await raise([
      { ns: pair.wallNs, dev: pair.wallIf },
      { ns: pair.vehicleNs, dev: pair.vehicleIf },
    ]);
    return pair;
  } catch (err) {
    pair.destroy();
    return setupFailed('network namespaces joined by veth', err);
  }
}

/**
 * Creates namespace `bcc-<id>` joined to the host namespace by a veth pair (`vh<id>` here, `vc<id>` inside),
 * both up with usable IPv6 link-local addresses; the namespace has no other interface than lo and no route
 * beyond the link.
 * @throws Error explaining what failed (not root, no iproute2, no netns support)
 */
export async function createNamespaceBesideHost(): Promise<NamespaceBesideHost> {
  const id = randomBytes(3).toString('hex');
  const ns = `bcc-${id}`;
  const hostIf = `vh${id}`;
  const nsIf = `vc${id}`;
  const destroy = (): void => {
    try {
      ip('netns', 'del', ns);
    } catch {
      // already gone
    }
  };
  try {
    ip('netns', 'add', ns);
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
    ip('link', 'set', nsIf, 'netns', ns);
    const [hostLinkLocal, nsLinkLocal] = await raise([
      { ns: null, dev: hostIf },
      { ns, dev: nsIf },
    ]);
    return { ns, hostIf, nsIf, hostLinkLocal, nsLinkLocal, destroy };
  } catch (err) {
    destroy();
    return setupFailed('a network namespace beside the host', err);
  }
}
