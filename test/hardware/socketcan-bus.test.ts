// SocketCanBus frame mapping and lifecycle against a fake channel (these machines have no AF_CAN; the real
// interface is exercised by scripts/socketcan-smoke.ts on hardware).
import { describe, expect, it } from 'vitest';
import { CanBusClosed, CanError } from '../../hardware/can/errors.js';
import { canFrame, type CanFrame } from '../../hardware/can/frame.js';
import {
  CanBusErrorFrame,
  fromSocketCanMessage,
  SocketCanBus,
  toSocketCanMessage,
  type SocketCanChannel,
  type SocketCanMessage,
} from '../../hardware/can/socketcan-bus.js';

class FakeChannel implements SocketCanChannel {
  sent: ['send' | 'sendFD', SocketCanMessage][] = [];
  started = false;
  private onMessage: ((m: SocketCanMessage) => void) | undefined;
  private onStopped: (() => void) | undefined;
  addListener(event: 'onMessage' | 'onStopped', cb: ((m: SocketCanMessage) => void) & (() => void)): void {
    if (event === 'onMessage') this.onMessage = cb;
    else this.onStopped = cb;
  }
  start() {
    this.started = true;
  }
  stop() {
    this.onStopped?.();
  }
  send(m: SocketCanMessage) {
    this.sent.push(['send', m]);
  }
  sendFD(m: SocketCanMessage) {
    this.sent.push(['sendFD', m]);
  }
  deliver(m: SocketCanMessage) {
    this.onMessage?.(m);
  }
}

describe('SocketCAN frame mapping', () => {
  it('maps 11/29-bit, RTR and FD frames both ways', () => {
    const frames: CanFrame[] = [
      canFrame({ id: 0x7cd, data: [1, 2, 3] }),
      canFrame({ id: 0x1abcdef, data: [4] }),
      canFrame({ id: 0x123, rtr: true, rtrLength: 2 }),
      canFrame({ id: 0x7cc, fd: true, data: new Uint8Array(64).fill(7) }),
    ];
    for (const f of frames) expect(fromSocketCanMessage(toSocketCanMessage(f))).toEqual(f);
    expect(toSocketCanMessage(frames[1]!)).toEqual({
      id: 0x1abcdef,
      ext: true,
      rtr: false,
      data: Buffer.from([4]),
    });
    expect(
      fromSocketCanMessage({ id: 0x40, ext: false, rtr: false, data: Buffer.alloc(8), err: true }),
    ).toBeInstanceOf(CanBusErrorFrame);
  });
});

describe('SocketCanBus with a fake channel', () => {
  it('opens, sends classic via send() and FD via sendFD(), receives frames, reports error frames and stops', async () => {
    const channel = new FakeChannel();
    const bus = new SocketCanBus({ interface: 'can0', bitrate: 33_333, createChannel: async () => channel });
    await expect(bus.send(canFrame({ id: 1 }))).rejects.toBeInstanceOf(CanBusClosed);
    await bus.open();
    expect(channel.started).toBe(true);
    await bus.send(canFrame({ id: 0x7cd, data: [1] }));
    await bus.send(canFrame({ id: 0x7cd, fd: true, data: new Uint8Array(12) }));
    expect(channel.sent.map(([how]) => how)).toEqual(['send', 'sendFD']);
    const frames: CanFrame[] = [];
    const errors: Error[] = [];
    bus.on('frame', (f) => frames.push(f));
    bus.on('error', (e) => errors.push(e));
    channel.deliver({ id: 0x7cc, ext: false, rtr: false, data: Buffer.from([9, 9]) });
    channel.deliver({ id: 0x4, ext: false, rtr: false, data: Buffer.alloc(8), err: true });
    channel.deliver({ id: 0x7cc, ext: false, rtr: false, data: Buffer.alloc(9) }); // not a valid length
    expect(frames).toEqual([canFrame({ id: 0x7cc, data: [9, 9] })]);
    expect(errors.map((e) => e.name)).toEqual(['CanBusErrorFrame', 'InvalidCanFrame']);
    const closed = new Promise<Error | undefined>((r) => bus.once('close', r));
    channel.stop(); // interface went away
    expect(await closed).toBeInstanceOf(CanBusClosed);
    expect(bus.isOpen).toBe(false);
  });

  it('without AF_CAN, opening a real interface fails with a typed CanError, not a crash', async () => {
    const bus = new SocketCanBus({ interface: 'can-nonexistent', bitrate: 500_000 });
    await expect(bus.open()).rejects.toBeInstanceOf(CanError);
  });
});
