// fast-check arbitraries of hostile input shared by the property tests and the fuzz runner (scripts/fuzz.ts):
// one definition each, so the tests and the fuzzer explore the same input space.
import fc from 'fast-check';
import { FD_LENGTHS } from '../../hardware/can/frame.js';

/** Data of one CAN frame as an ISO-TP receiver may see it: classic and FD lengths, PCI-shaped, escaped FFs. */
export const isoTpFrameData: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 8 }),
  fc.constantFrom(...FD_LENGTHS).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
  // frames that look like ISO-TP: a PCI nibble 0..3 then random bytes
  fc
    .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 15 }), fc.uint8Array({ maxLength: 7 }))
    .map(([t, l, rest]) => Uint8Array.of((t << 4) | l, ...rest)),
  // escaped First Frames with random 32-bit lengths
  fc.tuple(fc.nat(), fc.uint8Array({ minLength: 2, maxLength: 2 })).map(([len, rest]) => {
    const b = new Uint8Array(8);
    b[0] = 0x10;
    new DataView(b.buffer).setUint32(2, len);
    b.set(rest, 6);
    return b;
  }),
);

/** What an SLCAN adapter might write: raw bytes and strings over SLCAN's alphabet (frames, acks, BEL, junk). */
export const slcanInputChunks: fc.Arbitrary<(Uint8Array | string)[]> = fc.array(
  fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    fc.string({ unit: fc.constantFrom(...'tTrRdDbBzZ0123456789ABCDEFabcdef\r\x07\nxV'), maxLength: 60 }),
  ),
);
