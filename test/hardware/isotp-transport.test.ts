// Byte-exact ISO-TP tests on an in-memory CAN bus driven by a ManualClock: the device under test (DUT) talks to
// a "tester" node that records every frame with its completion time and injects hand-made frames.
import { describe, expect, it } from 'vitest';
import { canFrame, type CanFrame } from '../../hardware/can/frame.js';
import { MemoryCanNetwork, type MemoryCanBus } from '../../hardware/can/memory-bus.js';
import { ManualClock } from '../../hardware/clock.js';
import {
  IsoTpInvalidLength,
  IsoTpMalformedFrame,
  IsoTpMessageTooLong,
  IsoTpOverflow,
  IsoTpReceptionInterrupted,
  IsoTpTimeout,
  IsoTpWaitLimitExceeded,
  IsoTpWrongSequence,
  type IsoTpError,
} from '../../hardware/isotp/errors.js';
import { IsoTpTransport, type IsoTpOptions } from '../../hardware/isotp/transport.js';
import type { CanBus, CanBusEvents } from '../../hardware/can/bus.js';
import { EventEmitter } from 'node:events';

const TX = 0x7cd;
const RX = 0x7cc;

interface Seen {
  atMs: number;
  hex: string;
}

async function setup(options: Partial<IsoTpOptions> = {}, bitrate = 500_000) {
  const clock = new ManualClock(0);
  const net = new MemoryCanNetwork({ bitrate, clock });
  const dutBus = net.attach('dut');
  const tester = net.attach('tester');
  await dutBus.open();
  await tester.open();
  const dut = new IsoTpTransport(dutBus, { txId: TX, rxId: RX, clock, ...options });
  const seen: Seen[] = [];
  tester.on('frame', (f) => seen.push({ atMs: clock.now(), hex: hex(f.data) }));
  const messages: Uint8Array[] = [];
  const errors: IsoTpError[] = [];
  dut.on('message', (m) => messages.push(m));
  dut.on('error', (e) => errors.push(e));
  /** Tester sends a frame on the DUT's rx id. */
  const inject = async (h: string, id = RX): Promise<void> => {
    const p = tester.send(canFrame({ id, data: Buffer.from(h.replace(/ /g, ''), 'hex') }));
    await clock.advance(1);
    await p;
  };
  return { clock, net, dutBus, tester, dut, seen, messages, errors, inject };
}

/** Lets queued promise continuations run without moving time (ManualClock.advance(0) flushes microtasks). */
async function settle(clock: ManualClock): Promise<void> {
  for (let i = 0; i < 20; i++) await clock.advance(0);
}

/** Advances in `stepMs` steps until `promise` settles (at most `maxSteps`). */
async function runUntil<T>(
  clock: ManualClock,
  promise: Promise<T>,
  stepMs = 1,
  maxSteps = 10_000,
): Promise<T> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < maxSteps && !done; i++) await clock.advance(stepMs);
  return promise;
}

function hex(data: Uint8Array): string {
  return Buffer.from(data).toString('hex').toUpperCase();
}
function seq(n: number, start = 0): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i + start) & 0xff);
}
function h(s: string): string {
  return s.replace(/ /g, '').toUpperCase();
}

/** Sends `payload` from the DUT while the tester plays receiver granting `fc` after the FF and each block. */
async function sendWithTesterFc(
  env: Awaited<ReturnType<typeof setup>>,
  payload: Uint8Array,
  fc = '300000',
  stepMs = 1,
  maxSteps = 10_000,
) {
  let settled = false;
  let failure: unknown;
  const p = env.dut.send(payload).then(
    () => (settled = true),
    (e: unknown) => {
      settled = true;
      failure = e;
    },
  );
  let answered = 0;
  for (let i = 0; i < maxSteps && !settled; i++) {
    await env.clock.advance(stepMs);
    // answer each FF / end of block: the tester knows it by counting frames itself below
    const needFc = env.seen.filter((s) => s.hex.startsWith('1')).length + pendingBlocks(env, fc) - answered;
    if (needFc > 0) {
      answered++;
      void env.tester.send(canFrame({ id: RX, data: Buffer.from(fc, 'hex') }));
    }
  }
  await p;
  if (failure) throw failure;
}

function pendingBlocks(env: Awaited<ReturnType<typeof setup>>, fc: string): number {
  const bs = parseInt(fc.slice(2, 4), 16);
  if (bs === 0) return 0;
  const cfs = env.seen.filter((s) => s.hex.startsWith('2')).length;
  return Math.floor(cfs / bs);
}

describe('ISO-TP sender: byte-exact frames (classic CAN, padding 0xCC)', () => {
  it('1 byte: one padded Single Frame', async () => {
    const env = await setup();
    await runUntil(env.clock, env.dut.send(Uint8Array.of(0xab)));
    expect(env.seen.map((s) => s.hex)).toEqual([h('01 AB CC CC CC CC CC CC')]);
  });

  it('7 bytes: one full Single Frame; unpadded when padding is null', async () => {
    const env = await setup({ padding: null });
    await runUntil(env.clock, env.dut.send(seq(7, 1)));
    expect(env.seen.map((s) => s.hex)).toEqual([h('07 01 02 03 04 05 06 07')]);
    const env2 = await setup({ padding: null });
    await runUntil(env2.clock, env2.dut.send(Uint8Array.of(1, 2)));
    expect(env2.seen.map((s) => s.hex)).toEqual(['020102']);
  });

  it('8 bytes: FF 10 08 + 6, FC, CF 21 + 2 padded', async () => {
    const env = await setup();
    await sendWithTesterFc(env, seq(8, 0x10));
    expect(env.seen.map((s) => s.hex)).toEqual([h('10 08 10 11 12 13 14 15'), h('21 16 17 CC CC CC CC CC')]);
  });

  it('62 bytes: FF + 8 CFs, last one unpadded when padding is null', async () => {
    const env = await setup({ padding: null });
    await sendWithTesterFc(env, seq(62));
    const frames = env.seen.map((s) => s.hex);
    expect(frames[0]).toBe(h('10 3E 00 01 02 03 04 05'));
    expect(frames.length).toBe(1 + 8);
    expect(frames[1]).toBe(h('21 06 07 08 09 0A 0B 0C'));
    expect(frames[8]).toBe(h('28 37 38 39 3A 3B 3C 3D'));
  });

  it('4095 bytes: 12-bit FF length 0FFF; 4096 and 5000 bytes: escaped FF 10 00 + 32-bit length', async () => {
    const e1 = await setup();
    await sendWithTesterFc(e1, seq(4095));
    expect(e1.seen[0]?.hex).toBe(h('1F FF 00 01 02 03 04 05'));
    expect(e1.seen.length).toBe(1 + Math.ceil((4095 - 6) / 7));
    const e2 = await setup();
    await sendWithTesterFc(e2, seq(4096));
    expect(e2.seen[0]?.hex).toBe(h('10 00 00 00 10 00 00 01'));
    expect(e2.seen[1]?.hex).toBe(h('21 02 03 04 05 06 07 08'));
    expect(e2.seen.length).toBe(1 + Math.ceil((4096 - 2) / 7));
    const e3 = await setup();
    await sendWithTesterFc(e3, seq(5000));
    expect(e3.seen[0]?.hex).toBe(h('10 00 00 00 13 88 00 01'));
    expect(e3.seen.length).toBe(1 + Math.ceil((5000 - 2) / 7));
  });

  it('sequence numbers run 1..15 then wrap to 0', async () => {
    const env = await setup();
    await sendWithTesterFc(env, seq(200));
    const sns = env.seen.slice(1).map((s) => parseInt(s.hex.slice(0, 2), 16) - 0x20);
    expect(sns.slice(0, 18)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2]);
  });

  it('block size 4: the sender stops after each 4 CFs until the next flow control', async () => {
    const env = await setup();
    const p = env.dut.send(seq(60)); // FF(6) + 8 CFs
    await settle(env.clock);
    await env.clock.advance(5);
    expect(env.seen.length).toBe(1);
    await env.inject('30 04 00');
    await env.clock.advance(50);
    expect(env.seen.filter((s) => s.hex.startsWith('2')).length).toBe(4);
    await env.clock.advance(500); // still waiting (N_Bs 1000 not elapsed)
    expect(env.seen.filter((s) => s.hex.startsWith('2')).length).toBe(4);
    await env.inject('30 04 00');
    await runUntil(env.clock, p);
    expect(env.seen.filter((s) => s.hex.startsWith('2')).length).toBe(8);
  });
});

describe('ISO-TP sender: STmin classes', () => {
  async function gaps(stMin: number): Promise<number[]> {
    const env = await setup({}, 1_000_000);
    const p = env.dut.send(seq(27)); // FF + 3 CFs
    await settle(env.clock);
    await env.clock.advance(1);
    await env.inject(`3000${stMin.toString(16).padStart(2, '0')}`);
    await runUntil(env.clock, p, 0.05, 10_000);
    const cf = env.seen.filter((s) => s.hex.startsWith('2')).map((s) => s.atMs);
    return [cf[1]! - cf[0]!, cf[2]! - cf[1]!];
  }
  const frameMs = (47 + 64 + 24) / 1000; // one 8-byte frame at 1 Mbit/s

  it('0: back to back', async () => {
    for (const g of await gaps(0)) expect(g).toBeCloseTo(frameMs, 2);
  });
  it('0x0A: at least 10 ms between CFs', async () => {
    for (const g of await gaps(0x0a)) expect(g).toSatisfy((x: number) => x >= 10 && x < 10.5);
  });
  it('0xF5: at least 500 µs (100 µs codes)', async () => {
    for (const g of await gaps(0xf5)) expect(g).toSatisfy((x: number) => x >= 0.5 && x < 0.8);
  });
  it('reserved 0x80 and 0xFA: treated as 127 ms', async () => {
    for (const raw of [0x80, 0xfa])
      for (const g of await gaps(raw)) expect(g).toSatisfy((x: number) => x >= 127 && x < 127.5);
  });
});

describe('ISO-TP sender: flow status and timeouts', () => {
  it('WAIT holds the sender and restarts N_Bs; CTS resumes', async () => {
    const env = await setup();
    const p = env.dut.send(seq(20));
    await settle(env.clock);
    await env.clock.advance(1);
    for (let i = 0; i < 3; i++) {
      await env.clock.advance(900);
      await env.inject('31 00 00');
    }
    expect(env.seen.length).toBe(1);
    await env.inject('30 00 00');
    await runUntil(env.clock, p);
    expect(env.seen.length).toBe(3);
  });

  it('more WAITs than WFTmax abort with IsoTpWaitLimitExceeded', async () => {
    const env = await setup({ wftMax: 2 });
    const p = env.dut.send(seq(20));
    const caught = p.catch((e: unknown) => e);
    await settle(env.clock);
    await env.clock.advance(1);
    for (let i = 0; i < 3; i++) await env.inject('31 00 00');
    expect(await caught).toBeInstanceOf(IsoTpWaitLimitExceeded);
  });

  it('OVFLW aborts with IsoTpOverflow; a reserved status with IsoTpInvalidFlowStatus', async () => {
    const env = await setup();
    const caught = env.dut.send(seq(20)).catch((e: unknown) => e);
    await settle(env.clock);
    await env.clock.advance(1);
    await env.inject('32 00 00');
    expect(await caught).toBeInstanceOf(IsoTpOverflow);
    const caught2 = env.dut.send(seq(20)).catch((e: unknown) => e);
    await settle(env.clock);
    await env.clock.advance(1);
    await env.inject('35 00 00');
    expect((await caught2) as Error).toHaveProperty('name', 'IsoTpInvalidFlowStatus');
  });

  it('N_Bs: no flow control within 1000 ms rejects with IsoTpTimeout N_Bs, not earlier', async () => {
    const env = await setup();
    let result: unknown = 'pending';
    void env.dut.send(seq(20)).catch((e: unknown) => (result = e));
    await settle(env.clock);
    await env.clock.advance(1); // FF on the wire (0.27 ms at 500 kbit/s); N_Bs starts
    await env.clock.advance(990);
    expect(result).toBe('pending');
    await env.clock.advance(20);
    expect(result).toBeInstanceOf(IsoTpTimeout);
    expect((result as IsoTpTimeout).timer).toBe('N_Bs');
  });

  it('N_As: a bus that never completes a frame rejects with IsoTpTimeout N_As', async () => {
    const clock = new ManualClock(0);
    class StuckBus extends EventEmitter<CanBusEvents> implements CanBus {
      bitrate = 500_000;
      isOpen = true;
      async open() {}
      async close() {}
      send(_f: CanFrame): Promise<void> {
        return new Promise(() => undefined);
      }
    }
    const dut = new IsoTpTransport(new StuckBus(), { txId: TX, rxId: RX, clock, nAsMs: 300 });
    let result: unknown = 'pending';
    void dut.send(seq(3)).catch((e: unknown) => (result = e));
    await settle(clock);
    await clock.advance(299);
    expect(result).toBe('pending');
    await clock.advance(2);
    expect((result as IsoTpTimeout).timer).toBe('N_As');
  });

  it('rejects empty and over-maximum messages with IsoTpInvalidLength', async () => {
    const env = await setup({ maxMessageBytes: 100 });
    await expect(env.dut.send(new Uint8Array(0))).rejects.toBeInstanceOf(IsoTpInvalidLength);
    await expect(env.dut.send(new Uint8Array(101))).rejects.toBeInstanceOf(IsoTpInvalidLength);
  });
});

describe('ISO-TP receiver', () => {
  it('accepts unpadded and padded frames; answers FF with FC CTS carrying its BS and STmin', async () => {
    const env = await setup({ blockSize: 0, stMinUs: 500 });
    await env.inject('03 01 02 03');
    await env.inject('03 01 02 03 AA AA AA AA');
    await env.inject('10 0A 01 02 03 04 05 06');
    expect(env.seen.map((s) => s.hex)).toEqual([h('30 00 F5 CC CC CC CC CC')]);
    await env.inject('21 07 08 09 0A');
    await env.inject('03 0B 0C 0D');
    await env.inject('10 09 01 02 03 04 05 06');
    await env.inject('21 07 08 09 55 55 55 55');
    expect(env.messages.map(hex)).toEqual(['010203', '010203', hex(seq(10, 1)), '0B0C0D', hex(seq(9, 1))]);
    expect(env.errors).toEqual([]);
  });

  it('sends a new FC after each block of BS frames', async () => {
    const env = await setup({ blockSize: 2 });
    await env.inject('10 14 00 01 02 03 04 05'); // 20 bytes: FF + 2 CFs... 6 + 7 + 7
    await env.inject('21 06 07 08 09 0A 0B 0C');
    expect(env.seen.length).toBe(1);
    await env.inject('22 0D 0E 0F 10 11 12 13');
    expect(env.messages.length).toBe(1); // complete before a second FC is due
    expect(env.seen.length).toBe(1);
    await env.inject('10 1C 00 01 02 03 04 05'); // 28 bytes: FF + 4 CFs
    await env.inject('21 06 07 08 09 0A 0B 0C');
    await env.inject('22 0D 0E 0F 10 11 12 13');
    expect(env.seen.map((s) => s.hex)).toEqual([
      h('30 02 00 CC CC CC CC CC'),
      h('30 02 00 CC CC CC CC CC'),
      h('30 02 00 CC CC CC CC CC'),
    ]);
  });

  it('a wrong sequence number aborts the reception with IsoTpWrongSequence', async () => {
    const env = await setup();
    await env.inject('10 14 00 01 02 03 04 05');
    await env.inject('22 06 07 08 09 0A 0B 0C');
    await env.inject('23 0D 0E 0F 10 11 12 13');
    expect(env.messages).toEqual([]);
    expect(env.errors[0]).toBeInstanceOf(IsoTpWrongSequence);
    expect(env.dut.receiving).toBe(false);
  });

  it('a new FF restarts reception; a SF during reception is delivered and aborts it', async () => {
    const env = await setup();
    await env.inject('10 14 00 01 02 03 04 05');
    await env.inject('10 08 AA AA AA AA AA AA');
    await env.inject('21 BB BB');
    expect(env.messages.map(hex)).toEqual(['AAAAAAAAAAAABBBB']);
    expect(env.errors[0]).toBeInstanceOf(IsoTpReceptionInterrupted);
    await env.inject('10 14 00 01 02 03 04 05');
    await env.inject('01 77');
    expect(env.messages.map(hex)).toEqual(['AAAAAAAAAAAABBBB', '77']);
    expect(env.dut.receiving).toBe(false);
  });

  it('a short non-final CF is malformed and aborts', async () => {
    const env = await setup();
    await env.inject('10 14 00 01 02 03 04 05');
    await env.inject('21 06 07');
    expect(env.errors[0]).toBeInstanceOf(IsoTpMalformedFrame);
    expect(env.dut.receiving).toBe(false);
  });

  it('N_Cr: silence after FF aborts after 1000 ms with IsoTpTimeout N_Cr', async () => {
    const env = await setup();
    await env.inject('10 14 00 01 02 03 04 05');
    await env.clock.advance(990);
    expect(env.errors).toEqual([]);
    await env.clock.advance(20);
    expect((env.errors[0] as IsoTpTimeout).timer).toBe('N_Cr');
    expect(env.dut.receiving).toBe(false);
  });

  it('a First Frame over the maximum gets FC OVFLW and IsoTpMessageTooLong; nothing is buffered', async () => {
    const env = await setup({ maxMessageBytes: 4096 });
    await env.inject('10 00 00 01 00 00 01 02');
    expect(env.seen.map((s) => s.hex)).toEqual([h('32 00 00 CC CC CC CC CC')]);
    expect(env.errors[0]).toBeInstanceOf(IsoTpMessageTooLong);
    expect(env.dut.receiving).toBe(false);
  });
});

describe('ISO-TP end to end on the in-memory bus', () => {
  for (const length of [1, 7, 8, 62, 4095, 4096, 5000])
    it(`${length} bytes arrive intact`, async () => {
      const clock = new ManualClock(0);
      const net = new MemoryCanNetwork({ bitrate: 500_000, clock });
      const a = net.attach('a');
      const b = net.attach('b');
      await a.open();
      await b.open();
      const wall = new IsoTpTransport(a, { txId: 0x7cd, rxId: 0x7cc, clock });
      const car = new IsoTpTransport(b, { txId: 0x7cc, rxId: 0x7cd, clock, blockSize: 8 });
      const got: Uint8Array[] = [];
      car.on('message', (m) => got.push(m));
      const payload = seq(length, 3);
      let done = false;
      void wall.send(payload).then(() => (done = true));
      for (let i = 0; i < 10_000 && !done; i++) await clock.advance(1);
      expect(done).toBe(true);
      expect(got.map(hex)).toEqual([hex(payload)]);
    });

  it('CAN FD TX_DL 64: 400 bytes as FF(62) + 6 CFs(63), SF escape for 20 bytes padded to 24', async () => {
    const clock = new ManualClock(0);
    const net = new MemoryCanNetwork({ bitrate: 500_000, dataBitrate: 2_000_000, clock });
    const a = net.attach('a');
    const b = net.attach('b');
    await a.open();
    await b.open();
    const frames: CanFrame[] = [];
    b.on('frame', (f) => frames.push(f));
    const wall = new IsoTpTransport(a, { txId: 0x7cd, rxId: 0x7cc, clock, txDl: 64, fdBitrateSwitch: true });
    const car = new IsoTpTransport(b, { txId: 0x7cc, rxId: 0x7cd, clock, txDl: 64 });
    const got: Uint8Array[] = [];
    car.on('message', (m) => got.push(m));
    let done = false;
    void wall.send(seq(400)).then(() => (done = true));
    for (let i = 0; i < 1000 && !done; i++) await clock.advance(1);
    expect(got.map(hex)).toEqual([hex(seq(400))]);
    expect(frames.length).toBe(7);
    expect(hex(frames[0]!.data.subarray(0, 4))).toBe('11900001');
    expect(frames.every((f) => f.fd && f.brs)).toBe(true);
    expect(frames[6]!.data.length).toBe(fdLen(1 + (400 - 62 - 5 * 63)));
    frames.length = 0;
    await runUntil(clock, wall.send(seq(20)));
    expect(hex(frames[0]!.data)).toBe(h('00 14') + hex(seq(20)) + 'CCCC');
    expect(got.length).toBe(2);
  });
});

function fdLen(n: number): number {
  return [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64].find((l) => l >= n)!;
}

// keep the type import used
export type _Bus = MemoryCanBus;
