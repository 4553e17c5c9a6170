/**
 * The wall alias cache: a found alias is stored (and shown offline after a restart) and never asked again; a
 * wall the graph does not know is asked once per run; a failed lookup is logged and asked again; concurrent
 * lookups share one call; control characters are removed.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../hardware/clock.js';
import { NodeUnreachable } from '../../lightning/errors.js';
import { VehicleStore } from '../../vehicle-module/store.js';
import { WallAliases } from '../../vehicle-module/wall-aliases.js';

const A = '02'.padEnd(66, 'a');
const B = '03'.padEnd(66, 'b');
const C = '02'.padEnd(66, 'c');

describe('WallAliases', () => {
  it('caches per wall in the store, asks unknown walls once per run, retries failures', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'wall-aliases-')), 'vehicle.sqlite');
    const clock = new ManualClock(1_700_000_000_000);
    let store = VehicleStore.open(file, clock);
    const asked: string[] = [];
    let cDown = true;
    const node = {
      getNodeAlias: async (pub: string): Promise<string | null> => {
        asked.push(pub);
        if (pub === A) return 'Corner\u0007 charger\u202e';
        if (pub === C && cDown) throw new NodeUnreachable('getNodeAlias: down');
        return pub === C ? 'Garage' : null;
      },
    };
    const logged: string[] = [];
    const log = { debug: (m: string) => logged.push(m), info() {}, warn() {}, error() {} };
    const aliases = new WallAliases(store, node, log);

    // concurrent lookups of one wall share one call; control characters are removed before storing
    const [a1, a2] = await Promise.all([aliases.lookup(A), aliases.lookup(A.toUpperCase())]);
    expect([a1, a2]).toEqual(['Corner charger', 'Corner charger']);
    expect(store.wallAlias(A)).toBe('Corner charger');
    expect(await aliases.lookup(A)).toBe('Corner charger');
    // unknown in the graph: asked once in this run
    expect(await aliases.lookup(B)).toBeNull();
    expect(await aliases.lookup(B)).toBeNull();
    expect(store.wallAlias(B)).toBeUndefined();
    // node unreachable: logged, null, asked again at the next session
    expect(await aliases.lookup(C)).toBeNull();
    expect(logged).toEqual(['wall alias lookup failed']);
    cDown = false;
    expect(await aliases.lookup(C)).toBe('Garage');
    expect(asked).toEqual([A, B, C, C]);

    // after a restart the stored aliases are there without the node; the unknown wall is asked again
    store.close();
    store = VehicleStore.open(file, clock);
    expect(store.wallAlias(A)).toBe('Corner charger');
    expect(store.wallAlias(C)).toBe('Garage');
    const again = new WallAliases(store, node, log);
    expect(await again.lookup(A)).toBe('Corner charger');
    expect(await again.lookup(B)).toBeNull();
    expect(asked).toEqual([A, B, C, C, B]);
    store.close();
  });
});
