// The emulator as a process, as the demo spawns it: prints its PTY paths as JSON, carries frames between
// them, and cleans up on SIGTERM.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { canFrame } from '../../hardware/can/frame.js';
import { SlcanBus } from '../../hardware/can/slcan-bus.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('scripts/slcan-emulator.ts', () => {
  it('prints {"ready":true,...,"adapters":{wall,vehicle}} and forwards frames; SIGTERM removes the PTYs', async () => {
    const child = spawn(
      join(repo, 'node_modules', '.bin', 'tsx'),
      [
        join(repo, 'scripts', 'slcan-emulator.ts'),
        '--bitrate',
        '500000',
        '--adapter',
        'wall',
        '--adapter',
        'vehicle:z',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const line = await new Promise<string>((r) => createInterface({ input: child.stdout! }).once('line', r));
    const ready = JSON.parse(line) as { ready: boolean; bitrate: number; adapters: Record<string, string> };
    expect(ready.ready).toBe(true);
    expect(ready.bitrate).toBe(500_000);
    const wall = new SlcanBus({ path: ready.adapters.wall!, bitrate: 500_000 });
    const vehicle = new SlcanBus({ path: ready.adapters.vehicle!, bitrate: 500_000, ackStyle: 'z' });
    await wall.open();
    await vehicle.open();
    const got = new Promise((r) => vehicle.once('frame', r));
    await wall.send(canFrame({ id: 0x7cd, data: [7] }));
    expect(await got).toEqual(canFrame({ id: 0x7cd, data: [7] }));
    await wall.close();
    await vehicle.close();
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(ready.adapters.wall!)).toBe(false);
  });
});
