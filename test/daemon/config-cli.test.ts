// Regression tests for configurations the daemons could not run with (issue 10, item 6 and the config build):
// each is refused by the real CLI (`bin/boltcharge.js wall|vehicle --config F`, a child process, for the first
// case of each item; variants run the same `main` in this process to keep the test quick) with exit code 2, a
// report naming the file and the key, no stack trace, and no file created (a store, a log) before refusing.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../bin/cli/main.js';

const bin = fileURLToPath(new URL('../../bin/boltcharge.js', import.meta.url));

interface Run {
  status: number | null;
  stderr: string;
  stdout: string;
}

/** Runs the CLI; kills it after 60 s (a daemon that starts instead of refusing would otherwise hang). */
function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

const wallBase = {
  tariff: 'tariff: { priceMsatPerWh: 100 }',
  lightning: 'lightning: { connectionFile: conn.json, node: wall }',
  link: 'link: { kind: can, port: /dev/ttyACM0 }',
  evse: 'evse: { kind: sim, url: "http://127.0.0.1:1/" }',
  meter: 'meter: { kind: sim, url: "http://127.0.0.1:1/", name: wall }',
  store: 'store: { path: wall.sqlite }',
};
const vehicleBase = {
  limits: 'limits: { maxPriceMsatPerWh: 150, sessionBudgetMsat: 1000000, dailyBudgetMsat: 2000000 }',
  lightning: 'lightning: { connectionFile: conn.json, node: vehicle }',
  link: 'link: { kind: can, port: /dev/ttyACM0 }',
  meter: 'meter: { kind: sim, url: "http://127.0.0.1:1/", name: vehicle }',
  store: 'store: { path: vehicle.sqlite }',
};

/** Runs the CLI's `main` in this process, capturing stderr. */
async function inProcess(...args: string[]): Promise<Run> {
  let stderr = '';
  let stdout = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  });
  try {
    const status = await main(args, (t) => (stdout += t));
    return { status, stdout, stderr };
  } finally {
    spy.mockRestore();
  }
}

/**
 * Writes a config (the base with some sections replaced or added) into a fresh directory.
 * @returns the directory and the file
 */
function configFile(
  base: Record<string, string>,
  over: Record<string, string | Buffer> = {},
): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'config-cli-'));
  const file = join(dir, 'daemon.yaml');
  const parts = Object.entries({ ...base, ...over }).map(([, v]) =>
    Buffer.isBuffer(v) ? v : Buffer.from(v),
  );
  writeFileSync(file, Buffer.concat(parts.flatMap((p) => [p, Buffer.from('\n')])));
  return { dir, file };
}

/**
 * Runs `boltcharge <role> --config` on the config and checks the refusal: exit 2, the file and every key named,
 * no stack trace, nothing but the config file in its directory.
 * @returns stderr
 */
async function refused(
  role: 'wall' | 'vehicle',
  over: Record<string, string | Buffer>,
  keys: (string | RegExp)[],
  how: 'child' | 'inProcess' = 'inProcess',
): Promise<string> {
  const { dir, file } = configFile(role === 'wall' ? wallBase : vehicleBase, over);
  const r = await (how === 'child' ? cli : inProcess)(role, '--config', file);
  expect(r.stdout).not.toMatch(/"ready"/);
  expect(r.status, r.stderr).toBe(2);
  expect(r.stderr).toContain(`invalid configuration in ${file}`);
  for (const k of keys) expect(r.stderr).toMatch(typeof k === 'string' ? `  - ${k}: ` : k);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(readdirSync(dir)).toEqual(['daemon.yaml']);
  return r.stderr;
}

describe('boltcharge refuses configurations it could not run with (exit 2, key named)', () => {
  it('a tariff whose smallest invoice is below 1 sat, and one whose last block before a limit is', async () => {
    const small = await refused(
      'wall',
      { tariff: 'tariff: { priceMsatPerWh: 50, minBlockWh: 10 }' },
      ['tariff.minBlockWh'],
      'child',
    );
    expect(small).toMatch(/500 msat, is below Lightning's 1000 msat \(1 sat\).*at least 20/);
    const last = await refused(
      'wall',
      { tariff: 'tariff: { priceMsatPerWh: 60, minBlockWh: 20, maxBlockWh: 30 }' },
      ['tariff.maxBlockWh'],
    );
    expect(last).toMatch(/can shrink to 11 Wh = 660 msat/);
  }, 60_000);

  it('a fractional invoice interval', async () => {
    const e = await refused(
      'wall',
      { tariff: 'tariff: { priceMsatPerWh: 100, invoiceIntervalSec: 1.5 }' },
      ['tariff.invoiceIntervalSec'],
      'child',
    );
    expect(e).toMatch(/must be an integer, got 1.5/);
  }, 60_000);

  it('money beyond what the store holds: a vehicle price limit of 2^63 msat/Wh and budgets above 21M BTC', async () => {
    await refused(
      'vehicle',
      {
        limits:
          'limits: { maxPriceMsatPerWh: "9223372036854775808", sessionBudgetMsat: 1000000, ' +
          'dailyBudgetMsat: "9000000000000000000", maxRoutingFeeMsat: "9223372036854775807" }',
      },
      [
        /limits\.maxPriceMsatPerWh: must be <= 1000000000/,
        /limits\.dailyBudgetMsat: must be <= 2100000000000000000/,
        /limits\.maxRoutingFeeMsat: must be <= 2100000000000000000/,
      ],
      'child',
    );
    await refused('wall', { tariff: 'tariff: { priceMsatPerWh: "18446744073709551616" }' }, [
      'tariff.priceMsatPerWh',
    ]);
  }, 60_000);

  it('an accelerated clock with real hardware (wall: OpenEVSE; vehicle: SDM meter)', async () => {
    await refused(
      'wall',
      { evse: 'evse: { kind: openevse, port: /dev/ttyUSB0 }', clock: 'clock: { speed: 60 }' },
      [/clock\.speed: must be 1 with real hardware/],
      'child',
    );
    await refused(
      'vehicle',
      { meter: 'meter: { kind: sdm120, port: /dev/ttyUSB0 }', clock: 'clock: { speed: 2 }' },
      ['clock.speed'],
    );
    // and a fractional speed, which made fractional-millisecond timestamps (issue 10, item 2)
    await refused('wall', { clock: 'clock: { speed: 3.3333 }' }, [/clock\.speed: must be an integer/]);
  }, 60_000);

  it('a log file in a missing directory, or in a path that is not a directory', async () => {
    await refused(
      'wall',
      { log: 'log: { file: no-such-dir/wall.log }' },
      [/log\.file: directory .*no-such-dir does not exist/],
      'child',
    );
    await refused('vehicle', { log: 'log: { file: daemon.yaml/x.log }' }, [
      /log\.file: .* is not a directory/,
    ]);
  }, 60_000);

  it('non-UTF-8 bytes (never silently U+FFFD: no store named "wall\\ufffd.sqlite" is created)', async () => {
    const e = await refused(
      'wall',
      {
        store: Buffer.concat([
          Buffer.from('store: { path: "wall'),
          Buffer.of(0xff),
          Buffer.from('.sqlite" }'),
        ]),
      },
      [/\(file\): line 6 is not valid UTF-8/],
      'child',
    );
    expect(e).not.toContain('\ufffd');
  }, 60_000);

  it('a YAML alias bomb and a YAML syntax error: the same report, exit 2, no stack', async () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      ...Array.from({ length: 8 }, (_, i) => {
        const prev = i === 0 ? 'a' : `b${i - 1}`;
        return `b${i}: &b${i} [${Array(10).fill(`*${prev}`).join(', ')}]`;
      }),
    ].join('\n');
    await refused('wall', { bomb }, [/\(yaml\): .*alias/i], 'child');
    await refused('vehicle', { broken: 'limits: [unclosed' }, ['(yaml)']);
  }, 60_000);

  it('an IP link that would listen on every interface, or has neither interface nor address', async () => {
    await refused(
      'wall',
      { link: 'link: { kind: ip }' },
      [/link\.interface: an IP link needs the PLC interface/],
      'child',
    );
    await refused('wall', { link: 'link: { kind: ip, listenAddress: "::" }' }, [
      /link\.listenAddress: :: means every interface/,
    ]);
    await refused('wall', { link: 'link: { kind: ip, listenAddress: "0.0.0.0", peerAddress: "::1" }' }, [
      'link.listenAddress',
      /link\.peerAddress: the wall listens/,
    ]);
    await refused('wall', { link: 'link: { kind: ip, listenAddress: "fe80::1" }' }, [
      /link\.listenAddress: a link-local address needs its interface/,
    ]);
    await refused('vehicle', { link: 'link: { kind: ip }' }, ['link.interface']);
  }, 60_000);
});

describe('a missing config directory is a file problem, not a crash', () => {
  it('exit 2 naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-cli-'));
    mkdirSync(join(dir, 'sub'));
    const r = await cli('wall', '--config', join(dir, 'sub', 'absent.yaml'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/invalid configuration in .*absent\.yaml:\n {2}- \(file\): cannot read/);
  }, 60_000);
});
