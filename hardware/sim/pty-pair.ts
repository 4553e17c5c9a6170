/**
 * A socat PTY pair: two linked pseudo-terminals, `a` and `b`, so a driver opens one end with its real
 * serialport code and an emulator opens the other (tests, and the demo's emulated hardware). `stop()` then
 * `start()` kills socat and starts it again with the same link names, which is what a USB serial adapter
 * being unplugged and replugged looks like to a driver. Fails with a clear message when socat is missing
 * (tests never silently skip). Waiting for the links uses real time: socat is a real process.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PtyPair {
  /** Path of end A (a symlink to /dev/pts/N). */
  readonly a: string;
  /** Path of end B. */
  readonly b: string;
  /** Kills socat (both ends vanish); resolves when it exited. */
  stop(): Promise<void>;
  /** Starts socat again with the same link names; resolves when both links exist. */
  start(): Promise<void>;
  /** Stops socat and removes the temporary directory. */
  dispose(): Promise<void>;
}

/**
 * Creates a PTY pair with socat and waits until both ends exist.
 *
 * @param name short label used in the temporary directory name
 * @returns the pair, already started
 * @throws Error when socat is not installed or does not create the links within 5 s
 */
export async function createPtyPair(name = 'pty'): Promise<PtyPair> {
  if (spawnSync('socat', ['-V']).error) {
    throw new Error('socat is required for serial tests (apt-get install socat); it was not found on PATH');
  }
  const dir = mkdtempSync(join(tmpdir(), `boltcharge-${name}-${process.pid}-`));
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  let proc: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  const start = async (): Promise<void> => {
    if (proc) return;
    const child = spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    exited = new Promise((resolve) => child.once('exit', () => resolve()));
    proc = child;
    const deadline = Date.now() + 5000;
    while (!(existsSync(a) && existsSync(b))) {
      if (child.exitCode !== null) throw new Error(`socat exited early: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`socat did not create ${a} and ${b} within 5 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  const stop = async (): Promise<void> => {
    const child = proc;
    if (!child) return;
    proc = null;
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    // socat removes its links on SIGTERM; make sure, so start() waits for fresh ones
    for (const p of [a, b]) rmSync(p, { force: true });
  };

  await start();
  return {
    a,
    b,
    start,
    stop,
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
