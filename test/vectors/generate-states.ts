// Writes test/vectors/states/v<current>-<role>-<phase>.json: machine states persisted by this release (one per
// phase and role), which test/protocol/state-fixtures.test.ts restores. `npx tsx test/vectors/generate-states.ts`.
// Run it only when the persisted format changes on purpose, together with a new STATE_SCHEMA_VERSION and its
// migration: the fixtures of earlier versions (v0: the unversioned format written before versioning, by the
// code on main at 1c5a30f) stay as they were written, so that restoring them keeps being tested.
import { writeFileSync } from 'node:fs';
import { captureStatesByPhase } from './machine-states.js';
import { persistBuyerState, persistSellerState, STATE_SCHEMA_VERSION } from '../../protocol/serialize.js';

const dir = new URL('states/', import.meta.url);
const states = captureStatesByPhase();
const written: string[] = [];
const write = (role: string, phase: string, text: string): void => {
  const name = `v${STATE_SCHEMA_VERSION}-${role}-${phase}.json`;
  writeFileSync(new URL(name, dir), text + '\n');
  written.push(name);
};
for (const [phase, state] of Object.entries(states.seller)) write('seller', phase, persistSellerState(state));
for (const [phase, state] of Object.entries(states.buyer)) write('buyer', phase, persistBuyerState(state));
console.log(`wrote ${written.join(', ')}`);
