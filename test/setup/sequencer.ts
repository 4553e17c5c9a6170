// The order in which vitest starts test files: the unit files first, then the regtest files; each longest first.
// - Unit files are CPU-bound; regtest files mostly wait on the network but some judge what happens within a few
//   hundred real milliseconds (a daemon clock 10× faster turns a late timer into energy). Running the unit files
//   first keeps them from starving the regtest files of CPU; regtest files side by side cost little CPU (one
//   network per fork, test/setup/regtest-pool.ts).
// - Longest first keeps a long file from running alone at the end while the other forks idle.
//
// A file's length is its last duration in vitest's local results cache (node_modules/.vite/vitest) when there
// is one, else the duration recorded in test/setup/file-durations.json (a clean clone, e.g. CI, has no cache;
// refresh the record with `tsx test/setup/record-durations.ts <vitest json report>`); a file in neither is
// taken as the longest (new files start first, like vitest's own unknown-first rule).
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** Path of the recorded test file durations (file path relative to the repository → milliseconds). */
export const DURATIONS_FILE = new URL('./file-durations.json', import.meta.url);

/** Reads the recorded durations; an absent or unreadable record counts as empty (order only, never results).

  @returns {<File Path Relative To The Repository String>: <Milliseconds Number>}
*/
export function recordedDurations(): Record<string, number> {
  try {
    return JSON.parse(readFileSync(DURATIONS_FILE, 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
}

export class UnitThenRegtestSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const usual = await super.sort(files);
    const recorded = recordedDurations();
    const root = this.ctx.config.root;
    const length = (spec: TestSpecification): number => {
      const path = relative(root, spec.moduleId);
      const cached = this.ctx.cache.getFileTestResults(`${spec.project.name}:${path}`)?.duration;
      return cached ?? recorded[path] ?? Number.POSITIVE_INFINITY;
    };
    const longestFirst = (specs: TestSpecification[]): TestSpecification[] =>
      specs
        .map((spec) => ({ spec, ms: length(spec) }))
        .sort((a, b) => b.ms - a.ms)
        .map((x) => x.spec);
    return [
      ...longestFirst(usual.filter((s) => s.project.name !== 'regtest')),
      ...longestFirst(usual.filter((s) => s.project.name === 'regtest')),
    ];
  }
}
