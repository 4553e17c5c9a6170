// SLCAN: the pure codec byte-exact, and SlcanBus's command/ack handling against a scripted adapter stream
// (logic only; the same bus runs against the emulator over real PTYs in slcan-emulator.test.ts).
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { canFrame, type CanFrame } from '../../hardware/can/frame.js';
import {
  CanBusClosed,
  SlcanAckTimeout,
  SlcanCommandRejected,
  SlcanParseError,
  UnsupportedBitrate,
} from '../../hardware/can/errors.js';
import {
  bitrateCommand,
  decodeSlcanFrame,
  encodeSlcanFrame,
  SlcanTokenizer,
} from '../../hardware/can/slcan-codec.js';
import { SlcanBus, type SlcanAckStyle } from '../../hardware/can/slcan-bus.js';
import { ManualClock } from '../../hardware/clock.js';

describe('SLCAN codec: every frame form', () => {
  const cases: [string, CanFrame][] = [
    ['t7CD3010203', canFrame({ id: 0x7cd, data: [1, 2, 3] })],
    ['t0000', canFrame({ id: 0, data: [] })],
    ['T1ABCDEF08' + '0102030405060708', canFrame({ id: 0x1abcdef0, data: [1, 2, 3, 4, 5, 6, 7, 8] })],
    ['T000007FF1AA', canFrame({ id: 0x7ff, extended: true, data: [0xaa] })],
    ['r1234', canFrame({ id: 0x123, rtr: true, rtrLength: 4 })],
    ['R000001238', canFrame({ id: 0x123, extended: true, rtr: true, rtrLength: 8 })],
    ['d7CD9' + '11'.repeat(12), canFrame({ id: 0x7cd, fd: true, data: new Uint8Array(12).fill(0x11) })],
    [
      'D0000ABCDF' + '22'.repeat(64),
      canFrame({ id: 0xabcd, extended: true, fd: true, data: new Uint8Array(64).fill(0x22) }),
    ],
    [
      'b7CDA' + '33'.repeat(16),
      canFrame({ id: 0x7cd, fd: true, brs: true, data: new Uint8Array(16).fill(0x33) }),
    ],
    [
      'B0000ABCDD' + '44'.repeat(32),
      canFrame({ id: 0xabcd, extended: true, fd: true, brs: true, data: new Uint8Array(32).fill(0x44) }),
    ],
  ];
  for (const [line, frame] of cases)
    it(`${line.slice(0, 12)}… round-trips`, () => {
      expect(encodeSlcanFrame(frame)).toBe(line);
      expect(decodeSlcanFrame(line)).toEqual({ frame });
    });

  it('timestamps: 4 hex digits of ms appended, mod 60 000', () => {
    const f = canFrame({ id: 0x7cc, data: [0xde, 0xad] });
    expect(encodeSlcanFrame(f, 0x1a2b)).toBe('t7CC2DEAD1A2B');
    expect(encodeSlcanFrame(f, 60_001)).toBe('t7CC2DEAD0001');
    expect(decodeSlcanFrame('t7CC2DEAD1A2B')).toEqual({ frame: f, timestampMs: 0x1a2b });
    expect(decodeSlcanFrame('r7CC81A2B')).toEqual({
      frame: canFrame({ id: 0x7cc, rtr: true, rtrLength: 8 }),
      timestampMs: 0x1a2b,
    });
  });

  it('malformed lines throw SlcanParseError only', () => {
    for (const bad of [
      't7C',
      't7CD9' + '00'.repeat(9),
      't7CD2AB',
      'tXYZ0',
      'T1234',
      't7CD3AABBCCD',
      'T200000000',
      'x',
      'd7CDF00',
    ])
      expect(() => decodeSlcanFrame(bad), bad).toThrow(SlcanParseError);
  });

  it('bitrate commands: S0–S8, raw s for 33.3 kbit/s, explicit BTR, unsupported rates', () => {
    expect([10e3, 20e3, 50e3, 100e3, 125e3, 250e3, 500e3, 800e3, 1e6].map((b) => bitrateCommand(b))).toEqual([
      'S0',
      'S1',
      'S2',
      'S3',
      'S4',
      'S5',
      'S6',
      'S7',
      'S8',
    ]);
    expect(bitrateCommand(33_333)).toBe('s0E1C');
    expect(bitrateCommand(83_333, '0314')).toBe('s0314');
    expect(() => bitrateCommand(42_000)).toThrow(UnsupportedBitrate);
  });

  it('tokenizer: splits on CR and BEL across chunk boundaries, ignores LF, caps garbage', () => {
    const t = new SlcanTokenizer(16);
    expect(t.push(Buffer.from('t12'))).toEqual([]);
    expect(t.push(Buffer.from('30\r\r\x07z\rZ\rV1013\r\n'))).toEqual([
      { kind: 'frame', line: 't1230' },
      { kind: 'ok' },
      { kind: 'error' },
      { kind: 'txAck', extended: false },
      { kind: 'txAck', extended: true },
      { kind: 'reply', line: 'V1013' },
    ]);
    expect(t.push(Buffer.from('x'.repeat(1000) + '\r'))).toEqual([{ kind: 'reply', line: 'x'.repeat(16) }]);
  });
});

/** A scripted adapter: answers each command line per `answer`. */
class ScriptedAdapter extends Duplex {
  readonly commands: string[] = [];
  private buf = '';
  constructor(private readonly answer: (cmd: string) => string | undefined) {
    super();
  }
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.buf += chunk.toString('latin1');
    let i;
    while ((i = this.buf.indexOf('\r')) >= 0) {
      const cmd = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 1);
      this.commands.push(cmd);
      const reply = this.answer(cmd);
      if (reply !== undefined) setImmediate(() => this.push(Buffer.from(reply, 'latin1')));
    }
    cb();
  }
  /** Data the adapter sends unprompted (received frames). */
  emitLine(text: string): void {
    this.push(Buffer.from(text, 'latin1'));
  }
}

function replyFor(style: SlcanAckStyle) {
  return (cmd: string): string | undefined => {
    if (style === 'none') return undefined;
    if (cmd === 'C') return '\x07'; // channel not open yet: real adapters answer BEL
    if (/^[tr]/.test(cmd) && style === 'z') return 'z\r';
    if (/^[TR]/.test(cmd) && style === 'z') return 'Z\r';
    return '\r';
  };
}

async function openBus(style: SlcanAckStyle, extra: Partial<ConstructorParameters<typeof SlcanBus>[0]> = {}) {
  const adapter = new ScriptedAdapter(replyFor(style));
  const bus = new SlcanBus({ bitrate: 500_000, ackStyle: style, openSerial: async () => adapter, ...extra });
  await bus.open();
  return { adapter, bus };
}

describe('SlcanBus against a scripted adapter', () => {
  for (const style of ['cr', 'z', 'none'] as const)
    it(`ack style ${style}: opens with C, S6, O and sends 11- and 29-bit frames`, async () => {
      const { adapter, bus } = await openBus(style);
      await bus.send(canFrame({ id: 0x7cd, data: [1] }));
      await bus.send(canFrame({ id: 0x1234567, data: [2] }));
      await bus.send(canFrame({ id: 0x7cd, rtr: true, rtrLength: 2 }));
      expect(adapter.commands).toEqual(['C', 'S6', 'O', 't7CD101', 'T01234567102', 'r7CD2']);
      await bus.close();
    });

  it('33.3 kbit/s opens with raw timing s0E1C; timestamps ask Z1 and reach the frame event', async () => {
    const { adapter, bus } = await openBus('cr', { bitrate: 33_333, timestamps: true });
    expect(adapter.commands).toEqual(['C', 's0E1C', 'Z1', 'O']);
    const got: [CanFrame, number | undefined][] = [];
    bus.on('frame', (f, ts) => got.push([f, ts]));
    adapter.emitLine('t7CC2ABCDEA5F\rt7CC10F\r');
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual([
      [canFrame({ id: 0x7cc, data: [0xab, 0xcd] }), 0xea5f],
      [canFrame({ id: 0x7cc, data: [0x0f] }), undefined],
    ]);
    await bus.close();
  });

  it('BEL answers reject the command with SlcanCommandRejected; later commands still match their acks', async () => {
    let refuse = true;
    const adapter = new ScriptedAdapter((cmd) => {
      if (cmd.startsWith('t') && refuse) {
        refuse = false;
        return '\x07';
      }
      return '\r';
    });
    const bus = new SlcanBus({ bitrate: 500_000, openSerial: async () => adapter });
    await bus.open();
    const first = bus.send(canFrame({ id: 1, data: [1] }));
    const second = bus.send(canFrame({ id: 2, data: [2] }));
    await expect(first).rejects.toBeInstanceOf(SlcanCommandRejected);
    await expect(second).resolves.toBeUndefined();
    await bus.close();
  });

  it('an adapter refusing O makes open() fail with SlcanCommandRejected', async () => {
    const adapter = new ScriptedAdapter((cmd) => (cmd === 'O' ? '\x07' : '\r'));
    const bus = new SlcanBus({ bitrate: 500_000, openSerial: async () => adapter });
    await expect(bus.open()).rejects.toBeInstanceOf(SlcanCommandRejected);
    expect(bus.isOpen).toBe(false);
  });

  it('no ack within 1000 ms rejects with SlcanAckTimeout (ManualClock)', async () => {
    const clock = new ManualClock(0);
    let silent = false;
    const adapter = new ScriptedAdapter(() => (silent ? undefined : '\r'));
    const bus = new SlcanBus({ bitrate: 500_000, openSerial: async () => adapter, clock });
    await bus.open();
    silent = true;
    let result: unknown = 'pending';
    void bus.send(canFrame({ id: 1, data: [] })).catch((e: unknown) => (result = e));
    await clock.advance(999);
    expect(result).toBe('pending');
    await clock.advance(1);
    expect(result).toBeInstanceOf(SlcanAckTimeout);
    silent = false;
    await bus.close();
  });

  it('unparseable frame lines become error events, never exceptions; the port vanishing closes the bus', async () => {
    const { adapter, bus } = await openBus('cr');
    const errors: Error[] = [];
    const closes: (Error | undefined)[] = [];
    bus.on('error', (e) => errors.push(e));
    bus.on('close', (r) => closes.push(r));
    adapter.emitLine('t7CD9zz\rT12\r');
    await new Promise((r) => setImmediate(r));
    expect(errors.map((e) => e.name)).toEqual(['SlcanParseError', 'SlcanParseError']);
    adapter.destroy();
    await new Promise((r) => setImmediate(r));
    expect(bus.isOpen).toBe(false);
    expect(closes[0]).toBeInstanceOf(CanBusClosed);
    await expect(bus.send(canFrame({ id: 1 }))).rejects.toBeInstanceOf(CanBusClosed);
  });
});

describe('SlcanBus reply matching', () => {
  it('a stray text line is an error event, not an ack for the pending command', async () => {
    const clock = new ManualClock(0);
    let hold = false;
    const adapter = new ScriptedAdapter((cmd) => (hold && cmd.startsWith('t') ? undefined : '\r'));
    const bus = new SlcanBus({ bitrate: 500_000, openSerial: async () => adapter, clock });
    const errors: Error[] = [];
    bus.on('error', (e) => errors.push(e));
    await bus.open();
    hold = true;
    let settled = false;
    const sent = bus.send(canFrame({ id: 1, data: [1] })).then(() => (settled = true));
    adapter.emitLine('garbage\r');
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    expect(errors.map((e) => e.name)).toEqual(['SlcanParseError']);
    adapter.emitLine('\r'); // the real ack
    await sent;
    hold = false;
    await bus.close();
  });
});
