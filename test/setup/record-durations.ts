// Records how long each test file took, for the test order (test/setup/sequencer.ts), from vitest JSON reports:
// `npx vitest run --reporter=json --outputFile.json=report.json` (or one project's), then
// `npx tsx test/setup/record-durations.ts report.json [more.json]`. Updates test/setup/file-durations.json (file
// path relative to the repository → milliseconds, rounded to the second; files not in the reports keep their
// entry). Only the order of files depends on it.
import { readFileSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DURATIONS_FILE, recordedDurations } from './sequencer.js';

/** The part of vitest's JSON report read here. */
interface JsonReport {
  testResults: { name: string; startTime: number; endTime: number }[];
}

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const reportPaths = process.argv.slice(2);
if (reportPaths.length === 0) {
  console.error('usage: tsx test/setup/record-durations.ts <vitest-json-report> [more reports]');
  process.exit(2);
}
const durations = recordedDurations();
for (const reportPath of reportPaths) {
  const report = JSON.parse(readFileSync(reportPath, 'utf8')) as JsonReport;
  for (const file of report.testResults) {
    const path = relative(root, file.name);
    durations[path] = Math.round((file.endTime - file.startTime) / 1000) * 1000;
  }
}
const sorted = Object.fromEntries(Object.entries(durations).sort(([a], [b]) => a.localeCompare(b)));
writeFileSync(DURATIONS_FILE, JSON.stringify(sorted, null, 2) + '\n');
console.log(`recorded ${Object.keys(sorted).length} test file durations in ${fileURLToPath(DURATIONS_FILE)}`);
