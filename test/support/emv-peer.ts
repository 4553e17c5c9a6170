/**
 * The independent EMV MPM decoder (PyPI `cemacqr`, pinned in emv-peer.json) run as a batch process over the
 * harness emv_peer.py. Its venv is built by `node scripts/setup.mjs --for test` into the shared cache; a missing
 * venv is an error naming that command, never a skip.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const peer = JSON.parse(readFileSync(new URL('./emv-peer.json', import.meta.url), 'utf8')) as {
  name: string;
  version: string;
};

/** The peer's answer for one payload. */
export type PeerVerdict =
  | { syntax: false; error: string }
  | {
      syntax: true;
      valid: boolean;
      /** cemacqr violation codes, e.g. CRC_MISMATCH, MANDATORY_MISSING. */
      violations: string[];
      /** Top-level objects in order: [id, value, children of a template as [id, value] pairs, or null]. */
      fields: [string, string, [string, string][] | null][];
    };

/** Where setup puts the peer's Python. */
export function emvPeerPython(): string {
  const cache = process.env.BOLTCHARGE_CACHE ?? join(homedir(), '.cache', 'boltcharge');
  return join(cache, `emv-peer-${peer.name}-${peer.version}`, 'bin', 'python');
}

/**
 * Runs the peer over payloads.
 * @param payloads texts to decode and validate
 * @returns one verdict per payload, in order
 * @throws Error when the peer is not installed (naming the setup command) or fails
 */
export function runEmvPeer(payloads: string[]): PeerVerdict[] {
  const python = emvPeerPython();
  if (!existsSync(python)) {
    throw new Error(
      `EMV cross-check peer ${peer.name} ${peer.version} is not installed at ${python}: run \`node scripts/setup.mjs --for test\``,
    );
  }
  const script = fileURLToPath(new URL('./emv_peer.py', import.meta.url));
  const r = spawnSync(python, [script], {
    input: payloads.map((p) => JSON.stringify(p)).join('\n') + '\n',
    encoding: 'utf8',
    env: { ...process.env, PYTHONIOENCODING: 'utf-8', PYTHONUTF8: '1' },
    maxBuffer: 256 * 1024 * 1024,
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`EMV peer failed (${r.status}): ${r.stderr}`);
  const lines = r.stdout.split('\n').filter((l) => l.length > 0);
  if (lines.length !== payloads.length)
    throw new Error(`EMV peer answered ${lines.length} of ${payloads.length}`);
  return lines.map((l) => JSON.parse(l) as PeerVerdict);
}
