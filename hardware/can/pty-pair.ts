/**
 * A pseudo-terminal pair made by socat: bytes written to one end come out of the other, and each end is a real
 * tty that serialport can open. The SLCAN emulator owns one end and gives the other to the application; tests
 * use pairs for every serial device. Close the ports on both ends before calling `close()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

/** A running socat PTY pair. */
export interface PtyPair {
  /** Path (symlink) of end A, e.g. `/tmp/x/wall`. */
  readonly a: string;
  /** Path (symlink) of end B. */
  readonly b: string;
  /** The socat process id. */
  readonly pid: number;
  /** Stops socat and waits for it to exit. Idempotent. */
  close(): Promise<void>;
}

/** socat is missing or failed to create the pair. */
export class PtyPairFailed extends Error {
  override name = 'PtyPairFailed';
}

/**
 * Starts `socat -d -d pty,raw,echo=0,link=<a> pty,raw,echo=0,link=<b>` and waits until both links exist.
 *
 * @param a path for end A (a symlink socat creates; its directory must exist)
 * @param b path for end B
 * @param timeoutMs how long to wait for socat, default 10 000 ms
 * @returns the running pair
 * @throws PtyPairFailed when socat is not installed (install the Debian package `socat`) or does not start
 */
export async function openPtyPair(a: string, b: string, timeoutMs = 10_000): Promise<PtyPair> {
  let child: ChildProcess;
  try {
    child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (err) {
    throw new PtyPairFailed(`cannot run socat (apt-get install socat): ${(err as Error).message}`);
  }
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new PtyPairFailed(`socat did not create ${a} / ${b} in ${timeoutMs} ms: ${stderr}`)),
      timeoutMs,
    );
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new PtyPairFailed(`cannot run socat (apt-get install socat): ${err.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new PtyPairFailed(`socat exited with ${code}: ${stderr}`));
    });
    child.stderr?.on('data', (d: Buffer) => {
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
    child.kill('SIGTERM');
    throw err;
  }
  let closed: Promise<void> | undefined;
  return {
    a,
    b,
    pid: child.pid as number,
    close: () => {
      closed ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          await exited;
        }
      })();
      return closed;
    },
  };
}
