// Writes test/vectors/states/<format>-<role>-<phase>.json: machine states persisted by this release, one per
// phase, which test/protocol/state-fixtures.test.ts restores. `npx tsx test/vectors/generate-states.ts <format>`.
// Run it only when the persisted format changes on purpose (a new schema version): the fixtures of earlier
// formats must stay as they were written, so that restoring them keeps being tested.
import { writeFileSync } from 'node:fs';
import { captureStatesByPhase } from './machine-states.js';
import { serializeState } from '../../protocol/serialize.js';

const format = process.argv[2];
if (format === undefined || !/^v\d+$/.test(format)) throw new Error('usage: generate-states.ts v<N>');
const dir = new URL('states/', import.meta.url);
const states = captureStatesByPhase();
const written: string[] = [];
for (const [role, byPhase] of Object.entries(states)) {
  for (const [phase, state] of Object.entries(byPhase as Record<string, unknown>)) {
    const name = `${format}-${role}-${phase}.json`;
    writeFileSync(new URL(name, dir), serializeState(state) + '\n');
    written.push(name);
  }
}
console.log(`wrote ${written.join(', ')}`);
