/**
 * A pseudo-terminal pair made by socat: bytes written to one end come out of the other, and each end is a real
 * tty that serialport can open. Emulators (SLCAN adapters, OpenEVSE RAPI, Eastron SDM) own one end and the
 * application's real driver opens the other, in tests and in the demo's emulated hardware.
 *
 * `stop()` then `start()` kills socat and starts it again with the same link names, which is what a USB serial
 * adapter being unplugged and replugged looks like to a driver. Close the serial ports on both ends before
 * stopping socat. Waiting for socat uses real time: socat is a real process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A socat PTY pair. */
export interface PtyPair {
  /** Path (symlink to /dev/pts/N) of end A. */
  readonly a: string;
  /** Path of end B. */
  readonly b: string;
  /** Kills socat (both ends vanish) and removes the links; resolves when it exited. Idempotent. */
  stop(): Promise<void>;
  /** Starts socat again with the same link names; resolves when both links exist. No-op while running. */
  start(): Promise<void>;
  /** Stops socat for good, and removes the temporary directory when the pair made one. Idempotent. */
  close(): Promise<void>;
}

/** socat is missing, exited, or did not create the pair in time. */
export class PtyPairFailed extends Error {
  override name = 'PtyPairFailed';
}

/**
 * Starts `socat -d -d pty,raw,echo=0,link=<a> pty,raw,echo=0,link=<b>` and waits until both links exist and
 * socat is in its transfer loop.
 *
 * @param a path for end A (a symlink socat creates; its directory must exist)
 * @param b path for end B
 * @param timeoutMs how long to wait for socat on each start, default 10 000 ms
 * @returns the running pair
 * @throws PtyPairFailed when socat is not installed (Debian package `socat`) or does not start
 */
export async function openPtyPair(a: string, b: string, timeoutMs = 10_000): Promise<PtyPair> {
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let closed = false;

  const start = async (): Promise<void> => {
    if (child || closed) return;
    let stderr = '';
    const proc = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child = proc;
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new PtyPairFailed(`socat did not create ${a} / ${b} in ${timeoutMs} ms: ${stderr}`)),
        timeoutMs,
      );
      proc.once('error', (err) => {
        clearTimeout(timer);
        reject(new PtyPairFailed(`cannot run socat (install the Debian package socat): ${err.message}`));
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new PtyPairFailed(`socat exited with ${code}: ${stderr}`));
      });
      proc.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('starting data transfer loop') && existsSync(a) && existsSync(b)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    try {
      await ready;
    } catch (err) {
      child = null;
      proc.kill('SIGTERM');
      throw err;
    }
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    if (!proc) return;
    child = null;
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    await exited;
    // socat removes its links on SIGTERM; make sure, so a later start() waits for fresh ones
    for (const p of [a, b]) rmSync(p, { force: true });
  };

  await start();
  return {
    a,
    b,
    start,
    stop,
    close: async () => {
      closed = true;
      await stop();
    },
  };
}

/**
 * Creates a PTY pair in a fresh temporary directory (`<tmp>/boltcharge-<name>-<pid>-XXXX/{a,b}`).
 *
 * @param name short label for the directory name
 * @returns the running pair; `close()` also removes the directory
 * @throws PtyPairFailed as `openPtyPair`
 */
export async function createPtyPair(name = 'pty'): Promise<PtyPair> {
  const dir = mkdtempSync(join(tmpdir(), `boltcharge-${name}-${process.pid}-`));
  let pair: PtyPair;
  try {
    pair = await openPtyPair(join(dir, 'a'), join(dir, 'b'));
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    ...pair,
    close: async () => {
      await pair.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
