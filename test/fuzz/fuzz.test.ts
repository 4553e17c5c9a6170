// The fuzz runner's short pass (`npm run fuzz` runs 100,000 inputs per target): every parser of hostile input
// and both session machines take 2,000 random and mutated inputs each without a crash (an exception that is not
// the module's own typed error). A failure prints the exception and fast-check's shrunk input; reproduce with
// `npm run fuzz -- --only <target> --seed <seed> --inputs 2000`.
import { describe, expect, it } from 'vitest';
import { FUZZ_TARGETS, fuzzTarget } from '../../scripts/fuzz/targets.js';

const INPUTS = 2_000;
const SEED = Date.now() % 2 ** 31;

describe(`fuzz: ${INPUTS} inputs per target (seed ${SEED})`, () => {
  it('covers every parser and both machines', () => {
    expect(FUZZ_TARGETS.map((t) => t.name)).toEqual([
      'frame',
      'messages',
      'channel',
      'bolt11',
      'nodeSignature',
      'storedState',
      'config',
      'slcan',
      'isotp',
      'rapi',
      'ipStream',
      'sdm',
      'machines',
    ]);
  });

  for (const target of FUZZ_TARGETS) {
    it(`${target.name}: ${target.description}`, () => {
      const r = fuzzTarget(target, INPUTS, SEED);
      expect(r.crash, r.crash && `${r.crash.stack}\ninput: ${r.crash.input}`).toBeUndefined();
      expect(r.inputs).toBe(INPUTS);
    }, 120_000);
  }
});
