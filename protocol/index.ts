/**
 * boltcharge cable protocol: the pure functional core. See docs/PROTOCOL.md.
 * - Machines: `createSeller`/`sellerStep`, `createBuyer`/`buyerStep` (events in, effects out).
 * - Config: `sellerConfig`, `buyerConfig` (defaults + validation).
 * - Wire: messages, frames, secure channel, handshake cryptography.
 * - Lightning: BOLT11 decoding/checks, node-key signatures (lnd signmessage format), receipts.
 * - Tariff math shared by both sides.
 */
export * from './errors.js';
export * from './reasons.js';
export * from './messages.js';
export * from './frame.js';
export * from './channel.js';
export * from './handshake.js';
export * from './nodeSignature.js';
export * from './bolt11.js';
export * from './tariff.js';
export * from './receipt.js';
export * from './config.js';
export * from './effects.js';
export * from './seller.js';
export * from './buyer.js';
export * from './serialize.js';
export * from './invoiceBook.js';
export * from './paymentBook.js';
export { sellerStateShape, buyerStateShape, sellerPhaseProblem, buyerPhaseProblem } from './stateShapes.js';
export { toHex, fromHex, isHex } from './bytes.js';
