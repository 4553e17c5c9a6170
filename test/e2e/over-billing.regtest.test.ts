import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { readBooks } from '../../scripts/demo/books.js';
import { ChargeRig } from '../../scripts/demo/rig.js';
import { VehicleStore } from '../../vehicle-module/store.js';
import { SystemClock } from '../../hardware/clock.js';

describe('the wall over-bills', () => {
  const connectionFile = inject('regtestConnectionPath');
  let rig: ChargeRig;
  afterAll(async () => {
    await rig?.stop();
  });

  it('a wall meter reading 12 % high makes the car refuse and stop with the meter-mismatch reason', async () => {
    rig = await ChargeRig.create({
      dir: mkdtempSync(join(tmpdir(), 'e2e-overbill-')),
      connectionFile,
      link: 'can',
      speed: 10,
      // the wall's meter claims 12 % more energy than flows; the car tolerates 3 % + 20 Wh
      world: { wallMeter: { gainError: 0.12 } },
      vehicle: { limits: { meterTolerancePpm: 30_000, meterToleranceWh: 20 } },
    });
    await rig.startDaemons();
    rig.world.plug();
    await rig.until('both sides ended', async () => {
      const [w, v] = await Promise.all([rig.wall.status(), rig.vehicle.status()]);
      return w.state === 'ended' && v.state === 'ended';
    });
    const v = await rig.vehicle.status();
    expect(v.stopReason).toBe('METER_MISMATCH');
    await rig.until('current stops', () => rig.world.truth().currentA < 0.5, 10_000);
    const truth = rig.world.truth();
    await rig.stop();

    const books = await readBooks(rig.files, connectionFile);
    expect(books.problems).toEqual([]);
    const b = books.sessions[0]!;
    // the car paid for no more than the energy it measured plus what it had prepaid within its limit
    expect(b.paidBlocksWh).toBeLessThanOrEqual(truth.vehicleEnergyWh + 4000);
    expect(b.vehicleStopReason).toBe('METER_MISMATCH');
    // the refusal is on record in the vehicle's event log
    const store = VehicleStore.open(rig.files.vehicleDb, new SystemClock());
    try {
      const kinds = store.events({ limit: 100_000 }).map((e) => `${e.kind} ${JSON.stringify(e.data)}`);
      expect(kinds.some((k) => k.includes('METER_MISMATCH'))).toBe(true);
    } finally {
      store.close();
    }
  });
});
