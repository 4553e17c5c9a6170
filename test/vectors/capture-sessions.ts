// Writes test/vectors/sessions/v<version>-<phase>.json: both machines of one simulated session and the simulated
// world around them (clock, meters, the fake wall node's invoices, payments held, frames in flight), captured at
// one moment in the handshake, charging, suspended and closing phases, persisted by the release that runs this
// script. test/protocol/session-fixtures.test.ts restores each into a fresh simulation and the session goes on.
// `npx tsx test/vectors/capture-sessions.ts`. The v2 files were written by the flat-state code (main at
// 1d44457, before the states became unions by phase); keep them as they are.
import { writeFileSync } from 'node:fs';
import { Reason, toHex } from '../../protocol/index.js';
import {
  persistBuyerState,
  persistSellerState,
  serializeState,
  STATE_SCHEMA_VERSION,
} from '../../protocol/serialize.js';
import { Sim } from '../protocol/harness.js';

const dir = new URL('sessions/', import.meta.url);

function write(phase: string, sim: Sim): void {
  const world = {
    phase,
    seller: persistSellerState(sim.seller),
    buyer: persistBuyerState(sim.buyer),
    now: sim.now,
    wallRegisterWh: sim.wallRegisterWh,
    carRegisterWh: sim.carRegisterWh,
    energized: sim.energized,
    autoPay: sim.autoPay,
    nodeInvoices: sim.nodeInvoices,
    heldPayments: sim.heldPayments,
    // events in flight (strings, numbers and bigints only) and frames in flight (hex)
    sellerQueue: sim.sellerQueue,
    buyerQueue: sim.buyerQueue,
    toBuyer: sim.toBuyer.map(toHex),
    toSeller: sim.toSeller.map(toHex),
  };
  writeFileSync(new URL(`v${STATE_SCHEMA_VERSION}-${phase}.json`, dir), serializeState(world) + '\n');
}

// handshake: both plugged in, the hellos in flight
{
  const sim = new Sim();
  sim.plugBoth();
  write('handshake', sim);
}
// charging: power on, invoices paid as they come
{
  const sim = new Sim();
  sim.plug();
  sim.advance(20_000);
  write('charging', sim);
}
// suspended: the car stopped paying, the wall cut the power; its payments are held
{
  const sim = new Sim();
  sim.plug();
  sim.advance(20_000);
  sim.autoPay = false;
  for (let i = 0; i < 120 && sim.seller.phase !== 'suspended'; i++) sim.advance(1_000);
  write('suspended', sim);
}
// closing: the car stopped; the wall sent stop and asks its node to sign the receipt
{
  const sim = new Sim();
  sim.plug();
  sim.advance(20_000);
  sim.stepBuyer({ type: 'stopRequest', atMs: sim.now, reason: Reason.USER_STOP });
  sim.run(10_000, () => sim.seller.phase === 'closing');
  write('closing', sim);
}
console.log('wrote sessions fixtures');
