import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  decodeBody,
  deriveChannel,
  fromHex,
  handshakeText,
  openFrame,
  parseFrame,
  recoverNodeKey,
  deserializeState,
  toHex,
  transcriptHash,
  type Message,
} from '../../protocol/index.js';
import {
  buildHandshake,
  buildMessageVectors,
  type HandshakeVector,
  type MessageVector,
} from '../vectors/build.js';

const dir = new URL('../vectors/', import.meta.url);
const handshake = JSON.parse(readFileSync(new URL('handshake.json', dir), 'utf8')) as HandshakeVector;
const messages = JSON.parse(readFileSync(new URL('messages.json', dir), 'utf8')) as MessageVector[];

describe('test vectors', () => {
  it('the code still produces exactly the stored handshake and message bytes', () => {
    expect(buildHandshake().vector).toEqual(handshake);
    expect(buildMessageVectors()).toEqual(messages);
  });

  it('cover every message type', () => {
    expect(messages.map((m) => m.name).sort()).toEqual(
      [
        'accept',
        'auth',
        'clearError',
        'decline',
        'error',
        'hello',
        'invoice',
        'meter',
        'offer',
        'paid',
        'ping',
        'pong',
        'receipt',
        'renew',
        'stop',
      ].sort(),
    );
  });

  it('the handshake recomputes from its frames alone: transcript, keys and both signatures', () => {
    const helloW = fromHex(handshake.wallHelloFrame);
    const helloV = fromHex(handshake.vehicleHelloFrame);
    const th = transcriptHash(1, helloW, helloV);
    expect(toHex(th)).toBe(handshake.transcriptHash);
    const pw = parseFrame(helloW);
    const pv = parseFrame(helloV);
    if (!pw.ok || !pv.ok || pw.value.kind !== 'clear' || pv.value.kind !== 'clear') throw new Error('hello');
    const hw = pw.value.message;
    const hv = pv.value.message;
    if (hw.type !== 'hello' || hv.type !== 'hello') throw new Error('hello');
    const vehicle = deriveChannel(
      'vehicle',
      1,
      hw.sessionId,
      handshake.vehicleEphemeralSecret,
      hw.ephemeralPub,
      th,
    );
    const wall = deriveChannel('wall', 1, hw.sessionId, handshake.wallEphemeralSecret, hv.ephemeralPub, th);
    if (!vehicle.ok || !wall.ok) throw new Error('derive');
    expect(vehicle.value.recvKey).toBe(handshake.keyWallToVehicle);
    expect(wall.value.recvKey).toBe(handshake.keyVehicleToWall);
    expect(handshakeText(1, 'wall', th)).toBe(handshake.wallAuthText);
    expect(recoverNodeKey(handshake.wallAuthText, handshake.wallAuthSignature)).toEqual({
      ok: true,
      value: handshake.wallNodePub,
    });
    expect(recoverNodeKey(handshake.vehicleAuthText, handshake.vehicleAuthSignature)).toEqual({
      ok: true,
      value: handshake.vehicleIdentityPub,
    });
    const wAuth = openFrame(vehicle.value, fromHex(handshake.wallAuthFrame));
    expect(wAuth.ok && wAuth.value.message).toMatchObject({ type: 'auth' });
    const vAuth = openFrame(wall.value, fromHex(handshake.vehicleAuthFrame));
    expect(vAuth.ok && vAuth.value.message).toMatchObject({ type: 'auth' });
  });

  it('every stored frame decodes to its stored message', () => {
    const hs = buildHandshake();
    let vehicle = hs.vehicle;
    vehicle = { ...vehicle, recvNext: 0 };
    for (const v of messages) {
      const expected = deserializeState<Message>(JSON.stringify(v.message));
      if (!expected.ok) throw new Error('json');
      const body = decodeBody(expected.value.type, fromHex(v.bodyHex));
      expect(body).toEqual({ ok: true, value: expected.value });
      if (v.counter === null) {
        expect(parseFrame(fromHex(v.frameHex))).toEqual({
          ok: true,
          value: { kind: 'clear', message: expected.value },
        });
      } else {
        const opened = openFrame(vehicle, fromHex(v.frameHex));
        if (!opened.ok) throw new Error(`${v.name}: ${opened.error.message}`);
        expect(opened.value.message).toEqual(expected.value);
        vehicle = opened.value.channel;
      }
    }
  });
});
