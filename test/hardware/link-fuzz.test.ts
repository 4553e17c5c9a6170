// Property and fuzz tests (fast-check): hostile frame streams never throw out of ISO-TP or SLCAN parsing,
// never leave a reception hanging once N_Cr has passed, and never buffer beyond the configured maximum;
// random messages with random flow-control settings always arrive intact.
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CanBus, CanBusEvents } from '../../hardware/can/bus.js';
import { SlcanAckTimeout, SlcanParseError } from '../../hardware/can/errors.js';
import { canFrame, type CanFrame } from '../../hardware/can/frame.js';
import { MemoryCanNetwork } from '../../hardware/can/memory-bus.js';
import { SlcanBus } from '../../hardware/can/slcan-bus.js';
import { decodeSlcanFrame, SlcanTokenizer } from '../../hardware/can/slcan-codec.js';
import { ManualClock } from '../../hardware/clock.js';
import { IsoTpTransport } from '../../hardware/isotp/transport.js';
import { isoTpFrameData, slcanInputChunks } from '../support/fuzz-arbitraries.js';

/** A bus that records our frames and lets the test inject frames; sends complete immediately. */
class LoopBus extends EventEmitter<CanBusEvents> implements CanBus {
  bitrate = 500_000;
  isOpen = true;
  sent: CanFrame[] = [];
  async open() {}
  async close() {}
  async send(frame: CanFrame) {
    this.sent.push(frame);
  }
}

const RX = 0x7cc;
const frameData = isoTpFrameData;
const frameArb = fc.record({
  data: frameData,
  id: fc.oneof(fc.constant(RX), fc.integer({ min: 0, max: 0x7ff })),
  gapMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 1500 })),
});

describe('ISO-TP under random and malformed frames', () => {
  it('never throws, never buffers beyond the maximum, and is idle once N_Cr has passed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(frameArb, { maxLength: 60 }),
        fc.integer({ min: 1, max: 5000 }),
        async (frames, max) => {
          const clock = new ManualClock(0);
          const bus = new LoopBus();
          const isotp = new IsoTpTransport(bus, { txId: 0x7cd, rxId: RX, clock, maxMessageBytes: max });
          const errors: Error[] = [];
          isotp.on('error', (e) => errors.push(e));
          isotp.on('message', (m) => expect(m.length).toBeLessThanOrEqual(max));
          for (const f of frames) {
            const frame = canFrame({ id: f.id, data: f.data, fd: f.data.length > 8 });
            expect(() => bus.emit('frame', frame)).not.toThrow();
            expect(isotp.bufferedBytes).toBeLessThanOrEqual(max);
            await clock.advance(f.gapMs);
          }
          await clock.advance(1001);
          expect(isotp.receiving).toBe(false);
          for (const e of errors) expect(e.name).toMatch(/^IsoTp/);
          isotp.close();
        },
      ),
      { numRuns: 300 },
    );
  });

  it('also without an error listener (errors are dropped, not thrown)', () => {
    fc.assert(
      fc.property(fc.array(frameData, { maxLength: 40 }), (datas) => {
        const bus = new LoopBus();
        const isotp = new IsoTpTransport(bus, { txId: 0x7cd, rxId: RX, clock: new ManualClock(0) });
        for (const data of datas) bus.emit('frame', canFrame({ id: RX, data, fd: data.length > 8 }));
        isotp.close();
      }),
      { numRuns: 300 },
    );
  });
});

describe('ISO-TP sender under random flow control', () => {
  it('a send always settles (resolves or rejects with an IsoTp error) once the timers have run', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 300 }),
        fc.array(fc.record({ data: frameData, gapMs: fc.integer({ min: 0, max: 1200 }) }), { maxLength: 30 }),
        async (length, replies) => {
          const clock = new ManualClock(0);
          const bus = new LoopBus();
          const isotp = new IsoTpTransport(bus, { txId: 0x7cd, rxId: RX, clock, wftMax: 3 });
          let outcome: unknown = 'pending';
          void isotp.send(new Uint8Array(length)).then(
            () => (outcome = 'sent'),
            (e: unknown) => (outcome = e),
          );
          for (const r of replies) {
            await clock.advance(r.gapMs);
            bus.emit('frame', canFrame({ id: RX, data: r.data, fd: r.data.length > 8 }));
          }
          // worst case: every remaining CF waits a reserved STmin (127 ms), then N_Bs (1000 ms) per block
          for (let i = 0; i < 200 && outcome === 'pending'; i++) await clock.advance(1000);
          expect(outcome).not.toBe('pending');
          if (outcome !== 'sent') expect((outcome as Error).name).toMatch(/^IsoTp/);
          isotp.close();
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('ISO-TP round trip property', () => {
  it('random messages with random BS, STmin, TX_DL and padding arrive intact', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 1, maxLength: 5000 }),
        fc.integer({ min: 0, max: 20 }),
        fc.constantFrom(0, 0xf3, 1, 5),
        fc.constantFrom(8, 12, 64),
        fc.constantFrom(null, 0x00, 0xcc),
        async (message, blockSize, stMinRaw, txDl, padding) => {
          const clock = new ManualClock(0);
          const net = new MemoryCanNetwork({ bitrate: 1_000_000, dataBitrate: 4_000_000, clock });
          const a = net.attach();
          const b = net.attach();
          await a.open();
          await b.open();
          const stMinUs = stMinRaw >= 0xf1 ? (stMinRaw - 0xf0) * 100 : stMinRaw * 1000;
          const tx = new IsoTpTransport(a, { txId: 0x7cd, rxId: 0x7cc, clock, txDl, padding });
          const rx = new IsoTpTransport(b, { txId: 0x7cc, rxId: 0x7cd, clock, blockSize, stMinUs, padding });
          const got: Uint8Array[] = [];
          rx.on('message', (m) => got.push(m));
          let done = false;
          void tx.send(message).then(() => (done = true));
          for (let i = 0; i < 100_000 && !done; i++) await clock.advance(5);
          await clock.advance(5);
          expect(done).toBe(true);
          expect(got).toEqual([message]);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('SLCAN input under random bytes', () => {
  it('the tokenizer and frame decoder only ever throw SlcanParseError', () => {
    fc.assert(
      fc.property(slcanInputChunks, (chunks) => {
        const tok = new SlcanTokenizer();
        for (const c of chunks) {
          const bytes = typeof c === 'string' ? Buffer.from(c, 'latin1') : c;
          for (const t of tok.push(bytes)) {
            if (t.kind !== 'frame') continue;
            try {
              decodeSlcanFrame(t.line);
            } catch (err) {
              expect(err).toBeInstanceOf(SlcanParseError);
            }
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('SlcanBus survives random adapter output and keeps acking commands in order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 20 }), async (garbage) => {
        class Adapter extends Duplex {
          override _read() {}
          override _write(chunk: Buffer, _e: BufferEncoding, cb: () => void) {
            for (const _ of chunk.toString().split('\r').slice(1)) setImmediate(() => this.push('\r'));
            cb();
          }
        }
        const adapter = new Adapter();
        const bus = new SlcanBus({ bitrate: 500_000, openSerial: async () => adapter, ackTimeoutMs: 50 });
        bus.on('error', () => undefined);
        await bus.open();
        // strip BEL and CR from the garbage so acks stay aligned; the rest is arbitrary
        for (const g of garbage) adapter.push(Buffer.from(g.filter((b) => b !== 0x07 && b !== 0x0d)));
        // garbage glued to the next ack can eat it: that command times out (typed), the next one is in step again
        await bus
          .send(canFrame({ id: 1, data: [1] }))
          .catch((e: unknown) => expect(e).toBeInstanceOf(SlcanAckTimeout));
        await bus.send(canFrame({ id: 2, data: [2] }));
        await bus.close();
      }),
      { numRuns: 100 },
    );
  });
});
