import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CoalescingWriter } from '../../hardware/can/coalescing-writer.js';

/** A stream that records each write it receives. */
function recorder(): { stream: Writable; writes: string[] } {
  const writes: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      writes.push(chunk.toString());
      cb();
    },
  });
  return { stream, writes };
}

describe('CoalescingWriter', () => {
  it('writes the lines of one event-loop turn as one write, in order, and confirms each', async () => {
    const { stream, writes } = recorder();
    const w = new CoalescingWriter(stream);
    const done: string[] = [];
    for (const line of ['t1238\r', 't1248\r', 't1258\r'])
      w.write(line, (err) => done.push(`${line}:${err ?? 'ok'}`));
    await new Promise((r) => setImmediate(r));
    w.write('t1268\r');
    await new Promise((r) => setImmediate(r));
    expect(writes).toEqual(['t1238\rt1248\rt1258\r', 't1268\r']);
    expect(done).toEqual(['t1238\r:ok', 't1248\r:ok', 't1258\r:ok']);
  });

  it('reports an error to every line of a batch written to a destroyed stream', async () => {
    const { stream } = recorder();
    stream.destroy();
    const w = new CoalescingWriter(stream);
    const errors: (Error | null | undefined)[] = [];
    w.write('a\r', (err) => errors.push(err));
    w.write('b\r', (err) => errors.push(err));
    await new Promise((r) => setImmediate(r));
    expect(errors).toHaveLength(2);
    expect(errors.every((e) => e instanceof Error)).toBe(true);
  });
});
