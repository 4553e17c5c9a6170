// The wall configuration's `split:` section (issue 14) through the daemon's config reader: the section's value is
// checked by payments/split-config.ts, its problems reported under `split` like every other config problem,
// and `tlsCaFile` is resolved against the config file's folder.
import { resolve } from 'node:path';
import type { ConfigReader } from '../../daemon/config-reader.js';
import { describeSplitProblem, readSplitConfig, type SplitConfig } from '../../payments/split-config.js';

/**
 * Reads `split:` from the root reader (marks the key read).
 * @param r the root reader of the wall configuration
 * @returns the checked section, or undefined when absent or invalid (then a problem is recorded and `done()`
 *   throws ConfigInvalid naming it)
 */
export function readSplitSection(r: ConfigReader): SplitConfig | undefined {
  if (!r.has('split')) return undefined;
  // ConfigReader has no getter for a nested list of mappings; `raw` marks the key read and returns its value.
  const value: unknown = r['raw']('split');
  const checked = readSplitConfig(value);
  if (!checked.ok) {
    r.problem('split', describeSplitProblem(checked.error));
    return undefined;
  }
  const { tlsCaFile } = checked.value;
  return tlsCaFile === undefined
    ? checked.value
    : { ...checked.value, tlsCaFile: resolve(r.baseDir, tlsCaFile) };
}
