// Packaging: `npm pack` builds the compiled package; installed globally into a temporary prefix it runs from
// outside the repository with no tsx and no TypeScript: `boltcharge --version` and `boltcharge doctor --config
// <example>` (whose exit code is the OR of the problem classes it found).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DoctorProblem, type DoctorClass } from '../../bin/cli/doctor.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Runs a command without blocking the test worker; resolves with its stdout, rejects on a non-zero exit. */
function run(
  cmd: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolveRun(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`)),
    );
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

describe('npm pack + global install', () => {
  it('installs into a temporary prefix and runs --version and doctor outside the repo without tsx', async () => {
    const work = mkdtempSync(join(tmpdir(), 'ops-pack-'));
    const packed = await run('npm', ['pack', '--silent', '--pack-destination', work], repo);
    const tarball = join(work, packed.trim().split('\n').at(-1)!);
    expect(existsSync(tarball)).toBe(true);
    expect(existsSync(join(repo, 'npm-shrinkwrap.json'))).toBe(false); // postpack removed the copy

    const prefix = join(work, 'prefix');
    // a real install, install scripts included; --prefer-offline: packages already in npm's cache are not
    // revalidated against the registry. better-sqlite3's install script (prebuild-install) takes the local
    // prebuild scripts/setup.mjs keeps outside the clone (this checkout's own build of the same version and ABI)
    // instead of compiling SQLite for a minute or more
    const cache = process.env.BOLTCHARGE_CACHE ?? join(homedir(), '.cache', 'boltcharge');
    await run(
      'npm',
      ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball],
      work,
      { ...process.env, npm_config_better_sqlite3_local_prebuilds: join(cache, 'prebuilds') },
    );
    const pkg = join(prefix, 'lib', 'node_modules', 'boltcharge');
    // the installed native module loads and works (the store's database engine)
    const sqlite = spawnSync(
      process.execPath,
      [
        '-e',
        "const D = require('better-sqlite3'); console.log(new D(':memory:').prepare('SELECT 41 + 1 AS x').get().x)",
      ],
      { cwd: pkg, encoding: 'utf8' },
    );
    expect(sqlite.stderr).toBe('');
    expect(sqlite.stdout.trim()).toBe('42');
    const shipped = filesUnder(pkg).filter((f) => !f.includes(`${pkg}/node_modules/`));
    expect(shipped.filter((f) => f.endsWith('.ts'))).toEqual([]);
    expect(existsSync(join(pkg, 'dist', 'bin', 'cli', 'main.js'))).toBe(true);
    expect(existsSync(join(pkg, 'node_modules', 'tsx'))).toBe(false);

    // outside the repo, with only the prefix and the system on the PATH
    const env = {
      HOME: process.env.HOME ?? '/root',
      PATH: `${join(prefix, 'bin')}:/usr/local/bin:/usr/bin:/bin`,
    };
    const version = spawnSync('boltcharge', ['--version'], { cwd: work, env, encoding: 'utf8' });
    expect(version.status).toBe(0);
    const want = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string })
      .version;
    expect(version.stdout.trim()).toBe(`boltcharge ${want}`);

    const example = join(pkg, 'wall-module', 'wall.example.yaml');
    const doctor = spawnSync('boltcharge', ['doctor', '--config', example, '--json'], {
      cwd: work,
      env,
      encoding: 'utf8',
    });
    const report = JSON.parse(doctor.stdout) as {
      exitCode: number;
      checks: { class: string; name: string; status: string; detail: string }[];
    };
    const byName = Object.fromEntries(report.checks.map((c) => [c.name, c]));
    expect(byName.config?.status).toBe('ok');
    // the example names a regtest connection file that an installed package does not have, and /dev/tty*
    // devices this machine lacks
    expect(byName['lightning node']).toMatchObject({ status: 'fail', class: 'node' });
    expect(byName['serial EVSE (RAPI)']).toMatchObject({ status: 'fail', class: 'serial' });
    expect(byName['EVSE watchdog']).toMatchObject({ status: 'fail', class: 'evse' });
    expect(byName['store disk']?.class).toBe('disk');
    const expected = report.checks
      .filter((c) => c.status === 'fail')
      .reduce((acc, c) => acc | DoctorProblem[c.class as DoctorClass], 0);
    expect(report.exitCode).toBe(expected);
    expect(doctor.status).toBe(expected);
    expect(expected & (8 | 16 | 32)).toBe(8 | 16 | 32);

    // a broken config is class 4 and stops there
    const broken = spawnSync('boltcharge', ['doctor', '--config', join(work, 'missing.yaml')], {
      cwd: work,
      env,
      encoding: 'utf8',
    });
    expect(broken.status).toBe(4);
  }, 900_000);
});
