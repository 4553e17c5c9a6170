#!/usr/bin/env node
// Idempotent setup for a fresh clone: `npm test` and `npm run demo` call this first (pretest / predemo).
// It uses only Node built-ins, because it runs before the npm dependencies are installed.
//
// Usage: node scripts/setup.mjs [--for test|demo|all]
//   test: npm deps, system tools (socat, chromium), the Python ISO-TP peer, the EMV cross-check peer, the
//         regtest toolchain
//   demo: npm deps, socat, the regtest toolchain
// Every step checks first and does nothing when already satisfied. A step that cannot be done stops setup with
// one clear line naming what to install.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  lstatSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cacheRoot = process.env.BOLTCHARGE_CACHE ?? join(homedir(), '.cache', 'boltcharge');
const argFor = process.argv.indexOf('--for');
const purpose = argFor > 0 ? process.argv[argFor + 1] : 'all';

/** Prints one progress line to stderr. */
const say = (line) => process.stderr.write(`setup: ${line}\n`);

/** The regtest toolchain build running beside the other steps (see startRegtestTools), or null. */
let toolsBuild = null;

/** Stops setup with a clear message and a non-zero exit code (and stops a toolchain build still running). */
function fail(line) {
  process.stderr.write(`setup: ${line}\n`);
  toolsBuild?.kill('SIGTERM');
  process.exit(1);
}

/** Runs a command with inherited output; returns true when it exited 0. */
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  return r.status === 0;
}

/** True when `cmd` is on PATH. */
const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

const sha = (text) => createHash('sha256').update(text).digest('hex').slice(0, 16);

// 1. npm dependencies, re-installed when package-lock.json changes. `npm install` honours the lock file; `npm ci`
//    is not used because it demands every platform's optional packages in the lock (e.g. rollup's), and
//    registries that serve only this platform's leave them out.
function ensureNpmDeps() {
  const lock = join(root, 'package-lock.json');
  const stamp = join(root, 'node_modules', '.boltcharge-lock');
  const want = existsSync(lock) ? sha(readFileSync(lock)) : 'no-lock';
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return;
  say('installing npm dependencies');
  if (!run('npm', ['install', '--no-audit', '--no-fund'])) {
    fail('npm install failed; see the output above.');
  }
  writeFileSync(stamp, want);
}

// 2. System packages from Debian (apt) when missing.
let aptUpdated = false;
function ensureApt(commands) {
  const missing = commands.filter(([cmd]) => !have(cmd));
  if (missing.length === 0) return;
  const pkgs = missing.map(([, pkg]) => pkg);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !have('apt-get')) {
    fail(
      `missing ${missing.map(([c]) => c).join(', ')}: install the Debian packages ${pkgs.join(' ')} and retry.`,
    );
  }
  say(`installing ${pkgs.join(' ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    run('apt-get', ['update', '-qq'], { env });
    aptUpdated = true;
  }
  if (!run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { env })) {
    fail(`apt-get install ${pkgs.join(' ')} failed; install them by hand and retry.`);
  }
}

// 3. Python venv with the independent ISO-TP peer, cached outside the clone, linked as .venv.
function ensurePython() {
  if (!have('python3'))
    fail('python3 is missing: install Python 3.9+ (Debian: python3 python3-venv) and retry.');
  const reqFile = join(root, 'scripts', 'python-requirements.txt');
  const key = sha(readFileSync(reqFile));
  const venv = join(cacheRoot, `python-${key}`);
  const done = join(venv, '.complete');
  if (!existsSync(done)) {
    say(`creating Python venv ${venv}`);
    rmSync(venv, { recursive: true, force: true });
    mkdirSync(dirname(venv), { recursive: true });
    if (!run('python3', ['-m', 'venv', venv]))
      fail('python3 -m venv failed: install python3-venv and retry.');
    if (!run(join(venv, 'bin', 'pip'), ['install', '-q', '-r', reqFile]))
      fail('pip install of the ISO-TP peer failed.');
    writeFileSync(done, key);
  }
  const link = join(root, '.venv');
  let current = null;
  try {
    current = lstatSync(link).isSymbolicLink() ? readFileSync(join(link, '.complete'), 'utf8') : 'not-a-link';
  } catch {
    current = null;
  }
  if (current !== key) {
    rmSync(link, { recursive: true, force: true });
    symlinkSync(venv, link);
  }
}

// 4. The regtest toolchain (lnd, lncli, btcd, btcctl) built from Go modules into the cache. Started before the
//    other steps and awaited after them: a cold Go build is minutes of CPU, while apt and pip mostly wait on the
//    network, so they overlap instead of adding up (a cached toolchain returns at once).
/** Starts the toolchain build; resolves to true when it succeeded. */
function startRegtestTools() {
  toolsBuild = spawn('bash', [join(root, 'scripts', 'build-regtest-tools.sh')], {
    stdio: 'inherit',
    cwd: root,
  });
  return new Promise((resolve) => {
    toolsBuild.once('error', () => resolve(false));
    toolsBuild.once('exit', (code) => resolve(code === 0));
  });
}

/** Waits for the build started by startRegtestTools; stops setup when it failed. */
async function ensureRegtestTools(build) {
  const ok = await build;
  toolsBuild = null;
  if (!ok) fail('building the regtest toolchain failed; see the output above.');
}

// 5. The independent EMV MPM decoder the codec is cross-checked against (test/payments/emv-crosscheck.test.ts):
//    cemacqr from PyPI (pure Python, counts lengths in code points, CRC over UTF-8 bytes) in its own venv,
//    cached outside the clone by version. mercari/go-emv-code, the first choice, is not served by the Go
//    module proxy reachable here. The name and version live in test/support/emv-peer.json, which
//    test/support/emv-peer.ts reads to find the same venv.
function ensureEmvPeer() {
  const peer = JSON.parse(readFileSync(join(root, 'test', 'support', 'emv-peer.json'), 'utf8'));
  if (!have('python3'))
    fail('python3 is missing: install Python 3.9+ (Debian: python3 python3-venv) and retry.');
  const venv = join(cacheRoot, `emv-peer-${peer.name}-${peer.version}`);
  const done = join(venv, '.complete');
  if (existsSync(done)) return;
  say(`creating the EMV cross-check peer ${venv}`);
  rmSync(venv, { recursive: true, force: true });
  mkdirSync(dirname(venv), { recursive: true });
  if (!run('python3', ['-m', 'venv', venv])) fail('python3 -m venv failed: install python3-venv and retry.');
  if (!run(join(venv, 'bin', 'pip'), ['install', '-q', `${peer.name}==${peer.version}`]))
    fail(`pip install ${peer.name}==${peer.version} (the EMV cross-check peer) failed.`);
  writeFileSync(done, peer.version);
}

// 1b. better-sqlite3's native module, kept as a local prebuild outside the clone keyed by its version and the
//     Node ABI: its install script (prebuild-install) cannot download one here and compiles SQLite from source
//     (about a minute of CPU; several on a busy 2-core machine). With `npm_config_better_sqlite3_local_prebuilds`
//     pointing at this folder (.ci/run exports it; the packaging test passes it to its install) the install
//     script unpacks this one instead. Made from the module this checkout's install built.
function cacheSqlitePrebuild() {
  const moduleDir = join(root, 'node_modules', 'better-sqlite3');
  const binary = join(moduleDir, 'build', 'Release', 'better_sqlite3.node');
  if (!existsSync(binary)) return;
  const { version } = JSON.parse(readFileSync(join(moduleDir, 'package.json'), 'utf8'));
  const libc = process.report?.getReport().header.glibcVersionRuntime === undefined ? 'musl' : '';
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}${libc}-${process.arch}.tar.gz`;
  const dir = join(cacheRoot, 'prebuilds');
  if (existsSync(join(dir, name))) return;
  mkdirSync(dir, { recursive: true });
  const partial = join(dir, `${name}.partial`);
  if (!run('tar', ['-czf', partial, '-C', moduleDir, 'build/Release/better_sqlite3.node'])) {
    say('could not keep better-sqlite3 as a local prebuild (tar failed); installs will compile it');
    return;
  }
  renameSync(partial, join(dir, name));
  say(`kept better-sqlite3 ${version} as a local prebuild: ${join(dir, name)}`);
}

ensureNpmDeps();
cacheSqlitePrebuild();
if (purpose === 'test' || purpose === 'all') {
  const tools = startRegtestTools();
  ensureApt([
    ['socat', 'socat'],
    ['chromium', 'chromium'],
    ['zbarimg', 'zbar-tools'], // walk-up e2e: the QR decoded from a screenshot by an independent decoder
  ]);
  ensurePython();
  ensureEmvPeer();
  await ensureRegtestTools(tools);
} else if (purpose === 'demo') {
  const tools = startRegtestTools();
  ensureApt([['socat', 'socat']]);
  await ensureRegtestTools(tools);
}
