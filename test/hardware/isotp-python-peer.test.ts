// Independent peer: our ISO-TP (IsoTpTransport over SlcanBus/serialport) exchanges messages with Python's
// can-isotp over python-can's `slcan` interface, both on PTYs of the SLCAN emulator. Both directions, with
// lengths up to a > 4095-byte message (escaped First Frame), at 500 kbit/s and 33.3 kbit/s (raw `s` timing).
import { afterEach, describe, expect, it } from 'vitest';
import { SlcanBus } from '../../hardware/can/slcan-bus.js';
import { SlcanEmulator } from '../../hardware/can/slcan-emulator.js';
import { IsoTpTransport } from '../../hardware/isotp/transport.js';
import { PythonIsoTpPeer, venvPython } from '../support/python-peer.js';

let emulator: SlcanEmulator | undefined;
let peer: PythonIsoTpPeer | undefined;
let bus: SlcanBus | undefined;
afterEach(async () => {
  await peer?.stop();
  await bus?.close();
  await emulator?.stop();
  peer = undefined;
  bus = undefined;
  emulator = undefined;
});

function payload(n: number, salt: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 13 + salt) & 0xff);
}

describe('ISO-TP against python-can + can-isotp', () => {
  it('the Python venv exists (setup creates it)', () => {
    expect(venvPython()).toMatch(/\.venv\/bin\/python$/);
  });

  for (const [bitrate, btr, blockSize] of [
    [500_000, undefined, 0],
    [33_333, '0E1C', 8],
  ] as const)
    it(`both directions at ${bitrate} bit/s, lengths 1 to 5000 (500k) or 4200 (33.3k), incl. > 4095 (peer block size ${blockSize})`, async () => {
      emulator = new SlcanEmulator({ bitrate, adapters: [{ name: 'ours' }, { name: 'python' }] });
      const paths = await emulator.start();
      peer = await PythonIsoTpPeer.start({
        port: paths.python!,
        bitrate,
        btr,
        txId: 0x7cc,
        rxId: 0x7cd,
        blockSize,
      });
      bus = new SlcanBus({ path: paths.ours!, bitrate });
      await bus.open();
      const ours = new IsoTpTransport(bus, { txId: 0x7cd, rxId: 0x7cc, blockSize: 5, stMinUs: 0 });
      const inbox: Uint8Array[] = [];
      const waiting: (() => void)[] = [];
      ours.on('message', (m) => {
        inbox.push(m);
        waiting.splice(0).forEach((w) => w());
      });
      const nextOurs = async (): Promise<Uint8Array> => {
        while (inbox.length === 0) await new Promise<void>((r) => waiting.push(r));
        return inbox.shift()!;
      };
      const lengths = bitrate === 500_000 ? [1, 7, 8, 62, 400, 4095, 5000] : [1, 8, 400, 4200];
      for (const n of lengths) {
        const a = payload(n, 1);
        await ours.send(a);
        expect(await peer.received(), `ours → python, ${n} bytes`).toEqual(a);
        const b = payload(n, 2);
        await peer.send(b);
        expect(await nextOurs(), `python → ours, ${n} bytes`).toEqual(b);
      }
      expect(peer.errors()).toEqual([]);
      ours.close();
    }, 120_000);

  it('CAN FD, TX_DL 64, both directions: 20, 400 and 5000 bytes', async () => {
    emulator = new SlcanEmulator({ bitrate: 500_000, adapters: [{ name: 'ours' }, { name: 'python' }] });
    const paths = await emulator.start();
    peer = await PythonIsoTpPeer.start({
      port: paths.python!,
      bitrate: 500_000,
      txId: 0x7cc,
      rxId: 0x7cd,
      txDl: 64,
    });
    bus = new SlcanBus({ path: paths.ours!, bitrate: 500_000 });
    await bus.open();
    const ours = new IsoTpTransport(bus, { txId: 0x7cd, rxId: 0x7cc, txDl: 64 });
    const inbox: Uint8Array[] = [];
    ours.on('message', (m) => inbox.push(m));
    for (const n of [20, 400, 5000]) {
      const a = payload(n, 3);
      await ours.send(a);
      expect(await peer.received(), `ours → python, ${n} bytes`).toEqual(a);
      const b = payload(n, 4);
      await peer.send(b);
      for (let i = 0; i < 500 && inbox.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(inbox.shift(), `python → ours, ${n} bytes`).toEqual(b);
    }
    expect(peer.errors()).toEqual([]);
    ours.close();
  }, 120_000);
});
