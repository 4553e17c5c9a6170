// Runs the independent ISO-TP peer (test/support/isotp-peer.py: python-can slcan + can-isotp) as a child
// process and talks to it over JSON lines. Fails clearly when the venv is missing — never skips.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `<repo>/.venv/bin/python`, or throws telling how to create it. */
export function venvPython(): string {
  const python = join(repo, '.venv', 'bin', 'python');
  if (!existsSync(python))
    throw new Error(
      `${python} is missing: run 'node scripts/setup.mjs --for test' (creates the venv with python-can and can-isotp)`,
    );
  return python;
}

export interface PythonPeerOptions {
  port: string;
  txId: number;
  rxId: number;
  bitrate?: number;
  btr?: string;
  blockSize?: number;
  stMin?: number;
  /** TX_DL: 8 (classic, default) or a CAN FD length. */
  txDl?: number;
}

/** A running Python ISO-TP peer. */
export class PythonIsoTpPeer {
  private readonly child: ChildProcess;
  private readonly lines: Record<string, unknown>[] = [];
  private waiters: (() => void)[] = [];
  stderr = '';

  private constructor(child: ChildProcess) {
    this.child = child;
    child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      try {
        this.lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        this.lines.push({ junk: line });
      }
      for (const w of this.waiters.splice(0)) w();
    });
    child.on('exit', () => {
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Starts the peer and waits for it to report ready. */
  static async start(options: PythonPeerOptions): Promise<PythonIsoTpPeer> {
    const args = [
      join(repo, 'test', 'support', 'isotp-peer.py'),
      '--port',
      options.port,
      '--txid',
      `0x${options.txId.toString(16)}`,
      '--rxid',
      `0x${options.rxId.toString(16)}`,
      '--blocksize',
      String(options.blockSize ?? 0),
      '--stmin',
      String(options.stMin ?? 0),
      '--txdl',
      String(options.txDl ?? 8),
    ];
    if (options.btr) args.push('--btr', options.btr);
    else args.push('--bitrate', String(options.bitrate ?? 500_000));
    const peer = new PythonIsoTpPeer(spawn(venvPython(), args, { stdio: ['pipe', 'pipe', 'pipe'] }));
    await peer.waitFor((l) => l.ready === true, 30_000);
    return peer;
  }

  /** Waits for an output line matching `pred`, consuming it. */
  async waitFor(
    pred: (line: Record<string, unknown>) => boolean,
    timeoutMs = 60_000,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.lines.findIndex(pred);
      if (i >= 0) return this.lines.splice(i, 1)[0]!;
      if (this.child.exitCode !== null)
        throw new Error(`python peer exited ${this.child.exitCode}: ${this.stderr}`);
      if (Date.now() > deadline)
        throw new Error(`python peer: timeout; output ${JSON.stringify(this.lines)} ${this.stderr}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  /** Asks the peer to send `bytes`; resolves when can-isotp finished transmitting. */
  async send(bytes: Uint8Array): Promise<void> {
    this.child.stdin!.write(`${JSON.stringify({ send: Buffer.from(bytes).toString('hex') })}\n`);
    await this.waitFor((l) => l.sent === bytes.length);
  }

  /** The next message the peer received. */
  async received(): Promise<Uint8Array> {
    const line = await this.waitFor((l) => typeof l.recv === 'string');
    return Uint8Array.from(Buffer.from(line.recv as string, 'hex'));
  }

  /** Errors the peer's ISO-TP stack reported so far. */
  errors(): string[] {
    return this.lines.filter((l) => typeof l.error === 'string').map((l) => l.error as string);
  }

  /** Stops the peer (closes its serial port first) and waits for exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.stdin!.write(`${JSON.stringify({ quit: true })}\n`);
    const t = setTimeout(() => this.child.kill('SIGTERM'), 5000);
    await exited;
    clearTimeout(t);
  }
}
