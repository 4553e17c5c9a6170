// The pino-based logger keeps the daemons' line format: t, level, daemon, msg and the fields (bigints as
// strings); the session context lands on every line; levels filter; the file destination is asynchronous and
// complete after flush().
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../hardware/clock.js';
import { createLogger } from '../../daemon/logger.js';

describe('daemon logger (pino)', () => {
  it('writes the same fields as before, bigints as strings, with the session id from the context', () => {
    const clock = new ManualClock(Date.parse('2026-01-02T03:04:05.678Z'));
    const lines: string[] = [];
    const log = createLogger({ name: 'wall', level: 'info', clock, sink: (l) => lines.push(l) });
    log.debug('hidden');
    log.info('invoice settled', { amountMsat: 123_456_789_012_345_678n, seq: 3 });
    let sessionId: string | null = null;
    log.setContext(() => ({ sessionId }));
    log.warn('idle line');
    sessionId = 'f00d';
    log.error('session line', { reason: 'UNPAID' });
    log.info('explicit wins', { sessionId: 'beef' });
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed).toEqual([
      {
        t: '2026-01-02T03:04:05.678Z',
        level: 'info',
        daemon: 'wall',
        msg: 'invoice settled',
        amountMsat: '123456789012345678',
        seq: 3,
      },
      { t: '2026-01-02T03:04:05.678Z', level: 'warn', daemon: 'wall', msg: 'idle line' },
      {
        t: '2026-01-02T03:04:05.678Z',
        level: 'error',
        daemon: 'wall',
        msg: 'session line',
        sessionId: 'f00d',
        reason: 'UNPAID',
      },
      {
        t: '2026-01-02T03:04:05.678Z',
        level: 'info',
        daemon: 'wall',
        msg: 'explicit wins',
        sessionId: 'beef',
      },
    ]);
  });

  it('appends to a file (directory created) asynchronously; flush() writes everything out', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'logger-')), 'sub', 'wall.log');
    const log = createLogger({ name: 'wall', level: 'debug', clock: new ManualClock(0), file });
    // let the destination open, then log a burst
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 300; i++) log.debug('line', { i });
    log.flush();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(300);
    expect(JSON.parse(lines[299]!)).toMatchObject({ level: 'debug', daemon: 'wall', msg: 'line', i: 299 });
  });
});
