// Checks every sealed message's vector must pass: a flipped bit fails decryption, the same frame twice is a
// replay, and a session of an older version refuses the frame. Shared by the versioned message vectors' tests.
import { expect } from 'vitest';
import { openFrame, type ChannelState } from '../../protocol/index.js';

/** The name of a failed result's error (its code, else its class name). */
export function errorCode(r: { ok: boolean; error?: { code?: string; name?: string } }): string | undefined {
  return r.ok ? undefined : (r.error?.code ?? r.error?.name);
}

/**
 * Asserts that `receiver` refuses `frame` tampered (bit 0 of byte 40 flipped: `DecryptionFailed`), replayed
 * (`ReplayedFrame`) and in a session of `olderVersion` (`UnsupportedVersion`), and opens it once.
 *
 * @param receiver the receiving channel, ready for this frame
 * @param frame the sealed frame
 * @param olderVersion a protocol version without the frame's message
 */
export function expectSealedFrameRefusals(receiver: ChannelState, frame: Uint8Array, olderVersion: number): void {
  const flipped = Uint8Array.from(frame);
  flipped[40] = flipped[40]! ^ 0x01;
  expect(errorCode(openFrame(receiver, flipped))).toBe('DecryptionFailed');
  const opened = openFrame(receiver, frame);
  expect(opened.ok).toBe(true);
  if (opened.ok) expect(errorCode(openFrame(opened.value.channel, frame))).toBe('ReplayedFrame');
  expect(errorCode(openFrame({ ...receiver, version: olderVersion }, frame))).toBe('UnsupportedVersion');
}
