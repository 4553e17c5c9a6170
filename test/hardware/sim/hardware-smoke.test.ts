// The hardware smoke-test script, run as a user runs it, against the emulated hardware (`--emulate`): the
// real drivers talk to the RAPI and SDM emulators over socat PTYs.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');

describe('scripts/hardware-smoke.ts', () => {
  it('prints readings, toggles charging and verifies the cut on emulated hardware', () => {
    const run = spawnSync(
      join(root, 'node_modules', '.bin', 'tsx'),
      [
        'scripts/hardware-smoke.ts',
        '--emulate',
        '--toggle',
        '--seconds',
        '1',
        '--charge-seconds',
        '5',
        '--amps',
        '16',
      ],
      { cwd: root, encoding: 'utf8', timeout: 60_000 },
    );
    expect(run.stderr).not.toMatch(/FAILED/);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/OpenEVSE firmware 7\.1\.3/);
    expect(run.stdout).toMatch(/current limit set to 16 A/);
    expect(run.stdout).toMatch(/pilot C plugged CHARGING limit 16 A/);
    expect(run.stdout).toMatch(/energy while enabled: \d+\.\d Wh/);
    expect(run.stdout).toMatch(/power cut verified/);
  }, 60_000);

  it('refuses bad usage with exit code 2', () => {
    const run = spawnSync(
      join(root, 'node_modules', '.bin', 'tsx'),
      ['scripts/hardware-smoke.ts', '--model', 'X'],
      {
        cwd: root,
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/--model must be SDM120 or SDM630/);
  }, 30_000);
});
