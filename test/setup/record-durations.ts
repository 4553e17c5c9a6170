// Records how long each regtest file took, for the test order (test/setup/sequencer.ts), from a vitest JSON
// report: `npx vitest run --project regtest --reporter=json --outputFile.json=report.json`, then
// `npx tsx test/setup/record-durations.ts report.json`. Writes test/setup/regtest-durations.json (file path
// relative to the repository → milliseconds, rounded to the second). Only the order of files depends on it.
import { readFileSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DURATIONS_FILE } from './sequencer.js';

/** The part of vitest's JSON report read here. */
interface JsonReport {
  testResults: { name: string; startTime: number; endTime: number }[];
}

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const reportPath = process.argv[2];
if (!reportPath) {
  console.error('usage: tsx test/setup/record-durations.ts <vitest-json-report>');
  process.exit(2);
}
const report = JSON.parse(readFileSync(reportPath, 'utf8')) as JsonReport;
const durations: Record<string, number> = {};
for (const file of report.testResults) {
  const path = relative(root, file.name);
  if (!path.endsWith('.regtest.test.ts')) continue;
  durations[path] = Math.round((file.endTime - file.startTime) / 1000) * 1000;
}
const sorted = Object.fromEntries(Object.entries(durations).sort(([a], [b]) => a.localeCompare(b)));
writeFileSync(DURATIONS_FILE, JSON.stringify(sorted, null, 2) + '\n');
console.log(
  `recorded ${Object.keys(sorted).length} regtest file durations in ${fileURLToPath(DURATIONS_FILE)}`,
);
