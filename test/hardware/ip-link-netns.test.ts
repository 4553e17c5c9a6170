// IpLink between two machines: wall and vehicle run as separate processes in two network namespaces joined by
// a veth pair, as over a PLC modem's Ethernet. The vehicle finds the wall by link-local multicast discovery
// (no address configured), then they exchange messages over TCP; taking the wall's interface down is
// detected and the link recovers when it comes back. Exposure: the wall listens only on its PLC interface's
// link-local address — a host on its other network (a "LAN" namespace) reaches neither the TCP listener nor
// discovery — and a second connection from another address on the PLC segment is refused without cutting the
// car's. Fails (never skips) when namespaces cannot be made.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createVethPair, type VethPair } from '../support/netns.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

class Peer {
  readonly events: Record<string, string>[] = [];
  private wake: (() => void)[] = [];
  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      this.events.push(JSON.parse(l) as Record<string, string>);
      this.wake.splice(0).forEach((w) => w());
    });
    child.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
  }
  async next(
    pred: (e: Record<string, string>) => boolean,
    timeoutMs = 20_000,
  ): Promise<Record<string, string>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.events.findIndex(pred);
      if (i >= 0) return this.events.splice(i, 1)[0]!;
      if (Date.now() > deadline) throw new Error(`timeout; events: ${JSON.stringify(this.events)}`);
      await new Promise<void>((r) => {
        this.wake.push(r);
        setTimeout(r, 200);
      });
    }
  }
  send(bytes: Uint8Array): void {
    this.child.stdin!.write(`${JSON.stringify({ send: Buffer.from(bytes).toString('hex') })}\n`);
  }
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.stdin!.end();
    const t = setTimeout(() => this.child.kill('SIGTERM'), 5000);
    await exited;
    clearTimeout(t);
  }
}

function startPeer(ns: string, role: string, iface: string): Peer {
  const tsx = join(repo, 'node_modules', '.bin', 'tsx');
  const script = join(repo, 'test', 'support', 'ip-link-peer.ts');
  return new Peer(
    spawn('ip', ['netns', 'exec', ns, tsx, script, '--role', role, '--interface', iface], {
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
}

/** Runs network probes (test/support/net-probe.ts) inside a namespace. */
function probe(ns: string, probes: unknown[]): Record<string, unknown>[] {
  const tsx = join(repo, 'node_modules', '.bin', 'tsx');
  const script = join(repo, 'test', 'support', 'net-probe.ts');
  const out = execFileSync('ip', ['netns', 'exec', ns, tsx, script, JSON.stringify(probes)], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return JSON.parse(out.trim().split('\n').pop() ?? '[]') as Record<string, unknown>[];
}

/** The IPv6 link-local address of `dev` in `ns`. */
function linkLocal(ns: string, dev: string): string {
  const text = execFileSync('ip', ['-n', ns, '-6', 'addr', 'show', 'dev', dev, 'scope', 'link'], {
    encoding: 'utf8',
  });
  const m = /inet6 (fe80::[0-9a-f:]+)\//.exec(text);
  if (!m?.[1]) throw new Error(`no link-local address on ${dev}: ${text}`);
  return m[1];
}

let veth: VethPair | undefined;
const peers: Peer[] = [];
const extraNs: string[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) await p.stop();
  veth?.destroy();
  veth = undefined;
  for (const ns of extraNs.splice(0)) execFileSync('ip', ['netns', 'del', ns]);
});

describe('IpLink between two network namespaces over veth', () => {
  it('discovers the wall by link-local multicast, exchanges messages, detects a dead wall and a pulled cable, recovers', async () => {
    veth = await createVethPair();
    const wall = startPeer(veth.wallNs, 'wall', veth.wallIf);
    peers.push(wall);
    await wall.next((e) => e.event === 'open');
    const vehicle = startPeer(veth.vehicleNs, 'vehicle', veth.vehicleIf);
    peers.push(vehicle);
    await vehicle.next((e) => e.event === 'up');
    await wall.next((e) => e.event === 'up');
    const offer = Uint8Array.from({ length: 400 }, (_, i) => i & 0xff);
    wall.send(offer);
    expect((await vehicle.next((e) => e.event === 'message')).hex).toBe(Buffer.from(offer).toString('hex'));
    vehicle.send(Uint8Array.of(1, 2, 3));
    expect((await wall.next((e) => e.event === 'message')).hex).toBe('010203');
    // Pull the "cable": the wall's process ends, so its TCP connection resets; the vehicle notices and,
    // when a wall is back, rediscovers it and reconnects.
    await wall.stop();
    expect((await vehicle.next((e) => e.event === 'down')).reason).toBe('peer disconnected');
    const wall2 = startPeer(veth.wallNs, 'wall', veth.wallIf);
    peers.push(wall2);
    await vehicle.next((e) => e.event === 'up');
    await wall2.next((e) => e.event === 'up');
    vehicle.send(Uint8Array.of(9));
    expect((await wall2.next((e) => e.event === 'message')).hex).toBe('09');
    // Pull the cable for real: the wall's interface goes down. No FIN, no RST: the heartbeats stop and both
    // sides declare the peer silent; once the interface is back the vehicle rediscovers and reconnects.
    execFileSync('ip', ['-n', veth.wallNs, 'link', 'set', veth.wallIf, 'down']);
    expect((await vehicle.next((e) => e.event === 'down')).reason).toBe('peer silent');
    expect((await wall2.next((e) => e.event === 'down')).reason).toBe('peer silent');
    execFileSync('ip', ['-n', veth.wallNs, 'link', 'set', veth.wallIf, 'up']);
    await vehicle.next((e) => e.event === 'up');
    await wall2.next((e) => e.event === 'up');
    wall2.send(Uint8Array.of(7));
    expect((await vehicle.next((e) => e.event === 'message')).hex).toBe('07');
    // the discovery really was link-local multicast: the vehicle had no address configured for the wall
    expect(execFileSync('ip', ['-n', veth.vehicleNs, '-6', 'addr'], { encoding: 'utf8' })).not.toMatch(
      /global/,
    );
  }, 60_000);

  it('listens only on the PLC interface: unreachable from the LAN; a second connection on the PLC segment is refused and cuts nothing', async () => {
    veth = await createVethPair();
    const { wallNs, vehicleNs, wallIf, vehicleIf } = veth;
    // the wall host's LAN: another interface with global addresses, and a host on it
    const id = wallNs.slice(4);
    const lanNs = `bcl-${id}`;
    const lanWall = `lw${id}`;
    const lanHost = `lh${id}`;
    execFileSync('ip', ['netns', 'add', lanNs]);
    extraNs.push(lanNs);
    execFileSync('ip', [
      'link',
      'add',
      lanWall,
      'netns',
      wallNs,
      'type',
      'veth',
      'peer',
      'name',
      lanHost,
      'netns',
      lanNs,
    ]);
    for (const [ns, dev, v4, v6] of [
      [wallNs, lanWall, '10.77.0.1/24', 'fd77::1/64'],
      [lanNs, lanHost, '10.77.0.2/24', 'fd77::2/64'],
    ] as const) {
      execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${dev}.accept_dad=0`]);
      execFileSync('ip', ['-n', ns, 'addr', 'add', v4, 'dev', dev]);
      execFileSync('ip', ['-n', ns, 'addr', 'add', v6, 'dev', dev, 'nodad']);
      execFileSync('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    for (
      let i = 0;
      i < 50 && /tentative/.test(execFileSync('ip', ['-n', lanNs, '-6', 'addr'], { encoding: 'utf8' }));
      i++
    )
      await new Promise((r) => setTimeout(r, 100));

    const wall = startPeer(wallNs, 'wall', wallIf);
    peers.push(wall);
    const port = Number((await wall.next((e) => e.event === 'open')).port);
    const vehicle = startPeer(vehicleNs, 'vehicle', vehicleIf);
    peers.push(vehicle);
    await vehicle.next((e) => e.event === 'up');
    await wall.next((e) => e.event === 'up');

    // the only listener is on the PLC interface's link-local address, never on * or [::]
    const wallLl = linkLocal(wallNs, wallIf);
    const listening = execFileSync('ip', ['netns', 'exec', wallNs, 'ss', '-ltnH', `sport = :${port}`], {
      encoding: 'utf8',
    });
    expect(listening.trim().split('\n')).toHaveLength(1);
    expect(listening).toContain(`[${wallLl}]%${wallIf}:${port}`);

    // from the LAN: no TCP on any of the wall's addresses, no discovery answer
    const lan = probe(lanNs, [
      { tcp: { host: '10.77.0.1', port } },
      { tcp: { host: 'fd77::1', port } },
      { tcp: { host: `${wallLl}%${lanHost}`, port } },
      { discovery: { interface: lanHost, port: 51_815 } },
    ]);
    expect(lan.slice(0, 3).map((r) => r.connected)).toEqual([false, false, false]);
    expect(lan[3]).toEqual({ answered: false });
    // the probes themselves worked: the same discovery on the PLC segment is answered
    expect(probe(vehicleNs, [{ discovery: { interface: vehicleIf, port: 51_815 } }])).toEqual([
      { answered: true },
    ]);

    // an attacker on the PLC segment, from another address, while the car's connection is live
    execFileSync('ip', ['-n', vehicleNs, 'addr', 'add', 'fe80::bad/64', 'dev', vehicleIf, 'nodad']);
    const attacks = probe(
      vehicleNs,
      Array.from({ length: 3 }, () => ({
        tcp: { host: `${wallLl}%${vehicleIf}`, port, localAddress: `fe80::bad%${vehicleIf}` },
      })),
    );
    for (const a of attacks) expect(a).toMatchObject({ connected: true, closedByPeer: true, bytes: 0 });
    const refusal = await wall.next((e) => e.event === 'error');
    expect(refusal.message).toMatch(/refused a second connection from \[fe80::bad(%\S+)?\]:\d+/);
    // the car's connection carries on: no down on either side, messages both ways
    vehicle.send(Uint8Array.of(5, 5));
    expect((await wall.next((e) => e.event === 'message')).hex).toBe('0505');
    wall.send(Uint8Array.of(6));
    expect((await vehicle.next((e) => e.event === 'message')).hex).toBe('06');
    expect(wall.events.filter((e) => e.event === 'down')).toEqual([]);
    expect(vehicle.events.filter((e) => e.event === 'down')).toEqual([]);
  }, 90_000);
});
