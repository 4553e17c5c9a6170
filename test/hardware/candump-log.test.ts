// candump -L log writer: byte-exact lines, and read back by an independent parser (python-can's
// CanutilsLogReader, the reader for can-utils logs).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CandumpLogWriter, formatCandumpLine } from '../../hardware/can/candump-log.js';
import { canFrame } from '../../hardware/can/frame.js';
import { MemoryCanNetwork } from '../../hardware/can/memory-bus.js';
import { ManualClock } from '../../hardware/clock.js';
import { venvPython } from '../support/python-peer.js';

const frames = [
  canFrame({ id: 0x7cd, data: [1, 2, 3, 4, 5, 6, 7, 8] }),
  canFrame({ id: 0x1abcdef0, data: [0xff] }),
  canFrame({ id: 0x123, rtr: true, rtrLength: 3 }),
  canFrame({ id: 0x7cc, fd: true, brs: true, data: new Uint8Array(12).fill(0xab) }),
  canFrame({ id: 0x7cc, data: [] }),
];

describe('candump -L log', () => {
  it('formats each frame kind exactly like can-utils', () => {
    const t = 1_700_000_000_123.456;
    expect(frames.map((f) => formatCandumpLine(f, t, 'can0'))).toEqual([
      '(1700000000.123456) can0 7CD#0102030405060708',
      '(1700000000.123456) can0 1ABCDEF0#FF',
      '(1700000000.123456) can0 123#R3',
      '(1700000000.123456) can0 7CC##1' + 'AB'.repeat(12),
      '(1700000000.123456) can0 7CC#',
    ]);
  });

  it('logs received frames of an attached bus; python-can reads the file back identically', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const net = new MemoryCanNetwork({ bitrate: 500_000, clock });
    const a = net.attach();
    const b = net.attach();
    await a.open();
    await b.open();
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const log = new CandumpLogWriter(out, { iface: 'slcan0', clock });
    log.attach(b);
    for (const f of frames) {
      const p = a.send(f);
      await clock.advance(1);
      await p;
    }
    log.detach();
    const dir = mkdtempSync(join(tmpdir(), 'boltcharge-candump-'));
    try {
      const file = join(dir, 'capture.log');
      writeFileSync(file, text);
      const script = [
        'import can, json, sys',
        'out = []',
        'for m in can.CanutilsLogReader(sys.argv[1]):',
        '    out.append([m.arbitration_id, m.is_extended_id, m.is_remote_frame, m.is_fd, m.bitrate_switch, m.dlc, m.data.hex(), m.channel, round(m.timestamp, 6)])',
        'print(json.dumps(out))',
      ].join('\n');
      const parsed = JSON.parse(
        execFileSync(venvPython(), ['-c', script, file], { encoding: 'utf8' }),
      ) as unknown[];
      expect(parsed.length).toBe(frames.length);
      expect(parsed[0]).toEqual([
        0x7cd,
        false,
        false,
        false,
        false,
        8,
        '0102030405060708',
        'slcan0',
        expect.any(Number),
      ]);
      expect(parsed[1]).toEqual([
        0x1abcdef0,
        true,
        false,
        false,
        false,
        1,
        'ff',
        'slcan0',
        expect.any(Number),
      ]);
      expect((parsed[2] as unknown[]).slice(0, 3)).toEqual([0x123, false, true]);
      expect(parsed[3]).toEqual([
        0x7cc,
        false,
        false,
        true,
        true,
        12,
        'ab'.repeat(12),
        'slcan0',
        expect.any(Number),
      ]);
      expect(readFileSync(file, 'utf8').split('\n').length).toBe(frames.length + 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
