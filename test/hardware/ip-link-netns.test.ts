// IpLink between two machines: wall and vehicle run as separate processes in two network namespaces joined by
// a veth pair, as over a PLC modem's Ethernet. The vehicle finds the wall by link-local multicast discovery
// (no address configured), then they exchange messages over TCP; taking the wall's interface down is
// detected and the link recovers when it comes back. Fails (never skips) when namespaces cannot be made.
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

let veth: VethPair | undefined;
const peers: Peer[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) await p.stop();
  veth?.destroy();
  veth = undefined;
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
});
