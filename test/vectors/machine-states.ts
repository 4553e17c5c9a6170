// Seller and buyer machine states captured at the first step of each phase of one simulated session (handshake,
// offer, deposit, charging, suspension for lack of payment, closing, ended), for the persisted-state fixtures in
// test/vectors/states/. Deterministic: fixed entropy, fixed keys, the harness's manual clock.
import { Reason, type BuyerState, type SellerState } from '../../protocol/index.js';
import { Sim } from '../protocol/harness.js';

/** The first state each machine had in each phase it went through. */
export interface PhaseStates {
  seller: Record<string, SellerState>;
  buyer: Record<string, BuyerState>;
}

/**
 * Runs one session through every phase and keeps the first state seen in each.
 * @returns states by phase name (seller: idle … ended incl. suspended; buyer: idle … ended)
 */
export function captureStatesByPhase(): PhaseStates {
  const sim = new Sim();
  const out: PhaseStates = { seller: { idle: sim.seller }, buyer: { idle: sim.buyer } };
  const stepSeller = sim.stepSeller.bind(sim);
  const stepBuyer = sim.stepBuyer.bind(sim);
  sim.stepSeller = (ev) => {
    const effects = stepSeller(ev);
    out.seller[sim.seller.phase] ??= structuredClone(sim.seller);
    return effects;
  };
  sim.stepBuyer = (ev) => {
    const effects = stepBuyer(ev);
    out.buyer[sim.buyer.phase] ??= structuredClone(sim.buyer);
    return effects;
  };
  sim.plug();
  sim.advance(30_000);
  // the car stops paying: the wall cuts power (suspended), then the car pays again
  sim.autoPay = false;
  for (let i = 0; i < 120 && sim.seller.phase !== 'suspended'; i++) sim.advance(1_000);
  sim.autoPay = true;
  for (const p of sim.heldPayments.splice(0)) sim.settle(p.hash);
  sim.run();
  sim.advance(10_000);
  sim.stepBuyer({ type: 'stopRequest', atMs: sim.now, reason: Reason.USER_STOP });
  sim.run();
  return out;
}
