// PTY pairs for serial-device tests: re-exports the socat helper the SLCAN emulator uses, so every test that
// needs a pair of connected ttys uses one implementation. See hardware/can/pty-pair.ts.
export { openPtyPair, PtyPairFailed, type PtyPair } from '../../hardware/can/pty-pair.js';
