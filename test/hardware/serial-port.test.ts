// A serial device that hangs up (USB adapter unplugged, PTY peer gone) must close the port, however late the
// driver gets to read. Real serialport code on real socat PTYs. The late read is made deterministic by having
// the tty hang up completely before the port reads: either the stream is not reading yet, or the event loop is
// blocked (as on a busy CPU) while the kernel tears the tty down. Stock serialport then reads end of file
// forever and never closes (serialport/bindings-cpp#162), which is how an unplugged SLCAN adapter went
// unnoticed under load.
import type { SerialPort } from 'serialport';
import { afterEach, describe, expect, it } from 'vitest';
import { CanBusClosed } from '../../hardware/can/errors.js';
import { canFrame } from '../../hardware/can/frame.js';
import { MemoryCanNetwork } from '../../hardware/can/memory-bus.js';
import { openSerialDevice } from '../../hardware/serial-port.js';
import { SlcanAdapterEmulation } from '../../hardware/can/slcan-adapter-emulation.js';
import { SlcanBus } from '../../hardware/can/slcan-bus.js';
import { SystemClock } from '../../hardware/clock.js';
import { createPtyPair, type PtyPair } from '../../hardware/pty-pair.js';
import { within } from './bounded-wait.js';

/** Blocks the whole event loop for `ms` real milliseconds, as a starved process would be. */
function blockEventLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
async function ptyPair(): Promise<PtyPair> {
  const pair = await createPtyPair('serial-hangup');
  cleanups.push(() => pair.close());
  return pair;
}
function closeWhenOpen(port: SerialPort): void {
  cleanups.push(async () => {
    if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  });
}

describe('openSerialDevice', () => {
  it('carries bytes both ways like any serial port', async () => {
    const pair = await ptyPair();
    const host = await openSerialDevice({ path: pair.a, baudRate: 115_200 });
    closeWhenOpen(host);
    const device = await openSerialDevice({ path: pair.b, baudRate: 115_200 });
    closeWhenOpen(device);
    let received = '';
    const atDevice = new Promise<string>((resolve) =>
      device.on('data', (d: Buffer) => {
        received += d.toString('latin1');
        if (received.endsWith('\r')) resolve(received);
      }),
    );
    host.write('V\r');
    expect(await within(atDevice, 'bytes at the device end')).toBe('V\r');
  });

  it('a device that hung up before the port read closes the port as disconnected (stock serialport never does)', async () => {
    const pair = await ptyPair();
    const port = await openSerialDevice({ path: pair.a, baudRate: 115_200 });
    closeWhenOpen(port);
    await pair.stop(); // socat exited: the tty is hung up; every read now returns end of file
    const closed = new Promise<Error | null>((resolve) => port.once('close', resolve));
    port.on('data', () => undefined); // start reading only now
    const reason = await within(closed, 'the port closing after the hangup', 3000);
    expect(reason?.message).toMatch(/hung up/);
    expect(port.isOpen).toBe(false);
  });

  it('closing the port ourselves is a plain close, not a hangup', async () => {
    const pair = await ptyPair();
    const port = await openSerialDevice({ path: pair.a, baudRate: 115_200 });
    port.on('data', () => undefined);
    const closed = new Promise<Error | null>((resolve) => port.once('close', resolve));
    await new Promise<void>((resolve) => port.close(() => resolve()));
    expect(await within(closed, 'the close event')).toBeNull();
  });
});

describe('SlcanBus on a busy CPU', () => {
  it('an adapter unplugged while the host is busy handling its last frame closes the bus with CanBusClosed', async () => {
    const pair = await ptyPair();
    const adapterPort = await openSerialDevice({ path: pair.b, baudRate: 115_200 });
    closeWhenOpen(adapterPort);
    const clock = new SystemClock();
    const network = new MemoryCanNetwork({ bitrate: 500_000, clock });
    new SlcanAdapterEmulation(adapterPort, network, clock, { name: 'adapter' });
    const peer = network.attach('peer');
    await peer.open();
    const bus = new SlcanBus({ path: pair.a, bitrate: 500_000 });
    cleanups.push(() => bus.close());
    await within(bus.open(), 'SlcanBus.open against the emulated adapter');
    const closed = new Promise<Error | undefined>((resolve) => bus.once('close', resolve));
    // While the host handles a frame it gets no CPU to read on, and meanwhile the adapter vanishes: its next
    // read comes after the tty hung up completely.
    bus.once('frame', () => {
      void pair.stop();
      blockEventLoop(1000);
    });
    await peer.send(canFrame({ id: 0x7cc, data: [1, 2, 3] }));
    const reason = await within(closed, "the bus's close event after the unplug", 3000);
    expect(reason).toBeInstanceOf(CanBusClosed);
    expect(bus.isOpen).toBe(false);
    await expect(bus.send(canFrame({ id: 0x7cd, data: [1] }))).rejects.toBeInstanceOf(CanBusClosed);
  });
});
