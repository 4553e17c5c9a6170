/** `mount` for tests that need a real full or read-only disk (a small tmpfs); needs root, as in CI. */
import { execFileSync } from 'node:child_process';

/**
 * Runs `mount` with the given arguments.
 *
 * @param args e.g. `['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', dir]` or `['-o', 'remount,ro', dir]`
 * @throws Error saying root is needed when mount fails
 */
export function mount(args: string[]): void {
  try {
    execFileSync('mount', args, { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`mount ${args.join(' ')} failed (this test needs root): ${(err as Error).message}`);
  }
}

/**
 * Unmounts (lazily, so a file still open does not keep it mounted); ignores a directory not mounted.
 *
 * @param dir the mount point
 */
export function unmount(dir: string): void {
  try {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  } catch {
    // not mounted
  }
}
