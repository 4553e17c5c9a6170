// Serial tests use the library's socat PTY pair (the demo's emulated hardware uses the same one).
export { createPtyPair, type PtyPair } from '../../hardware/sim/pty-pair.js';
