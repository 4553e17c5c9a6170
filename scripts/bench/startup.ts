/**
 * What the compiled build saves: the wall daemon started through the CLI from the TypeScript sources (tsx
 * compiles at run time) and from `dist/` (`npm run build`; `BOLTCHARGE_USE_DIST=1`), each against the regtest
 * network with a simulated charger, car and meters. Prints time from spawn to the ready line and resident memory
 * (VmRSS) after the daemon has idled for a few seconds, for each build, median of `runs`. For scale, also the
 * idle RSS of a bare `node` process and of one that only imported `lightning` (the lnd client: gRPC and its
 * protobuf definitions), which no build step can shrink.
 * Needs the regtest network (`npm run regtest -- up`) and a build (`npm run build`).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChargeRig } from '../demo/rig.js';

export const description =
  'wall daemon start time (spawn → ready) and idle RSS, from the TypeScript sources via tsx vs compiled dist/';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const runs = 3;
const idleMs = 5000;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : Number.NaN;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Idle RSS of a plain node process running `script` (ESM, from the repo root), MB. */
async function bareNodeRssMb(script: string): Promise<number> {
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', `${script}; setInterval(() => {}, 1e6);`],
    {
      cwd: repo,
      stdio: 'ignore',
    },
  );
  try {
    await new Promise((r) => setTimeout(r, idleMs));
    return rssMb(child.pid!);
  } finally {
    child.kill();
  }
}

async function measure(rig: ChargeRig, dist: boolean): Promise<{ startMs: number; rssMb: number }> {
  if (dist) process.env.BOLTCHARGE_USE_DIST = '1';
  else delete process.env.BOLTCHARGE_USE_DIST;
  try {
    const t0 = performance.now();
    await rig.wall.start();
    const startMs = Math.round(performance.now() - t0);
    await new Promise((r) => setTimeout(r, idleMs));
    const rss = rssMb(rig.wall.pid!);
    await rig.wall.stop();
    return { startMs, rssMb: rss };
  } finally {
    delete process.env.BOLTCHARGE_USE_DIST;
  }
}

/** @returns per build: median start ms and idle RSS MB, and the savings */
export async function run(): Promise<Record<string, unknown>> {
  const connectionFile = join(repo, '.regtest', 'network', 'connection.json');
  if (!existsSync(connectionFile)) throw new Error('regtest network not up: npm run regtest -- up');
  if (!existsSync(join(repo, 'dist', 'bin', 'cli', 'main.js'))) throw new Error('no build: npm run build');
  const rig = await ChargeRig.create({
    dir: mkdtempSync(join(tmpdir(), 'bench-startup-')),
    connectionFile,
    link: 'ip',
  });
  const results: Record<'tsx' | 'dist', { startMs: number; rssMb: number }[]> = { tsx: [], dist: [] };
  try {
    for (let i = 0; i < runs; i++) {
      results.tsx.push(await measure(rig, false));
      results.dist.push(await measure(rig, true));
    }
  } finally {
    await rig.stop();
  }
  const tsxStartMs = median(results.tsx.map((r) => r.startMs));
  const distStartMs = median(results.dist.map((r) => r.startMs));
  const tsxRssMb = median(results.tsx.map((r) => r.rssMb));
  const distRssMb = median(results.dist.map((r) => r.rssMb));
  const bareNodeRss = await bareNodeRssMb('');
  const lightningOnlyRss = await bareNodeRssMb("await import('lightning')");
  return {
    runs,
    tsxStartMs,
    distStartMs,
    startSavedMs: tsxStartMs - distStartMs,
    tsxRssMb,
    distRssMb,
    rssSavedMb: Math.round((tsxRssMb - distRssMb) * 10) / 10,
    bareNodeRssMb: bareNodeRss,
    lightningOnlyRssMb: lightningOnlyRss,
  };
}
