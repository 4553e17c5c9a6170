// The shipped systemd units pass `systemd-analyze verify` (no errors and no warnings) in a temporary root that
// holds the host's systemd units and the real CLI entry point at the unit's ExecStart path; the hardening the
// operator guide promises is present.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const analyze = '/usr/bin/systemd-analyze';
const units = ['boltcharge-wall.service', 'boltcharge-vehicle.service'];

describe('systemd units', () => {
  it('pass systemd-analyze verify', () => {
    if (!existsSync(analyze))
      throw new Error(`${analyze} is missing: install systemd (apt-get install systemd) to verify the units`);
    const root = mkdtempSync(join(tmpdir(), 'ops-units-'));
    mkdirSync(join(root, 'usr', 'bin'), { recursive: true });
    mkdirSync(join(root, 'etc', 'systemd', 'system'), { recursive: true });
    cpSync('/usr/lib/systemd', join(root, 'usr', 'lib', 'systemd'), { recursive: true });
    execFileSync('install', [
      '-m',
      '755',
      join(repo, 'bin', 'boltcharge.js'),
      join(root, 'usr', 'bin', 'boltcharge'),
    ]);
    for (const u of units)
      cpSync(join(repo, 'packaging', 'systemd', u), join(root, 'etc', 'systemd', 'system', u));
    const r = spawnSync(
      analyze,
      ['verify', '--man=no', `--root=${root}`, ...units.map((u) => `/etc/systemd/system/${u}`)],
      { encoding: 'utf8' },
    );
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  it('are Type=notify with a watchdog, restart on failure, and are hardened', () => {
    for (const u of units) {
      const text = readFileSync(join(repo, 'packaging', 'systemd', u), 'utf8');
      for (const line of [
        'Type=notify',
        'NotifyAccess=all',
        'WatchdogSec=30',
        'Restart=on-failure',
        'User=boltcharge',
        'ProtectSystem=strict',
        'ReadWritePaths=/var/lib/boltcharge',
        'NoNewPrivileges=true',
        'DevicePolicy=closed',
        'DeviceAllow=char-ttyUSB rw',
      ])
        expect(text.split('\n')).toContain(line);
    }
  });
});
