// Daemon processes of the regtest network: started detached with a pid file, stopped only when the pid file's
// process is still ours (its command line names our state folder), so a reused pid is never killed.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Starts `bin args` detached, stdout/stderr to `<dir>/<name>.out.log`, pid into `<dir>/<name>.pid`.

  {
    dir: <State Folder Path String> (must appear in `args`, which makes the process recognisable)
    name: <Daemon Name String>
    bin: <Executable Path String>
    args: [<Argument String>]
  }

  @returns <Process Id Number>
*/
export function startDaemon(args: { dir: string; name: string; bin: string; args: string[] }): number {
  const log = openSync(join(args.dir, `${args.name}.out.log`), 'a');
  const child = spawn(args.bin, args.args, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  if (child.pid === undefined) throw new Error(`could not start ${args.bin}`);
  child.unref();
  writeFileSync(pidFile(args.dir, args.name), `${child.pid}\n`);
  return child.pid;
}

/** The pid of a daemon when its pid file names a live process that is ours, else undefined. */
export function runningPid(dir: string, name: string): number | undefined {
  const file = pidFile(dir, name);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return isOurs(pid, dir) ? pid : undefined;
}

/** Stops a daemon by its pid file: SIGTERM, then SIGKILL after `graceMs`. Removes the pid file.

  @returns <Was Running Bool>
*/
export async function stopDaemon(dir: string, name: string, graceMs = 20_000): Promise<boolean> {
  const pid = runningPid(dir, name);
  rmSync(pidFile(dir, name), { force: true });
  if (pid === undefined) return false;
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isOurs(pid, dir)) return true;
    await sleep(100);
  }
  signal(pid, 'SIGKILL');
  while (isOurs(pid, dir)) await sleep(50);
  return true;
}

function pidFile(dir: string, name: string): string {
  return join(dir, `${name}.pid`);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** True when `pid` is alive (not a zombie) and its command line mentions `dir`. */
function isOurs(pid: number, dir: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
  } catch {
    return false;
  }
}
