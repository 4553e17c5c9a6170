import { describe, expect, it } from 'vitest';
import { blockWhForPower } from '../../protocol/index.js';
import { cadenceBlocks, cadenceOverlays, speedForDuration } from '../../scripts/demo/cadence.js';

describe('demo cadence: blocks sized from power for an invoice every 16 s', () => {
  it('a block is one cadence of energy at the largest power, 3.7 to 350 kW', () => {
    expect(cadenceBlocks(3_700, 16, 100n)).toEqual({ maxBlockWh: 16, minBlockWh: 10 });
    expect(cadenceBlocks(11_000, 16, 100n)).toEqual({ maxBlockWh: 48, minBlockWh: 10 });
    expect(cadenceBlocks(50_000, 16, 100n)).toEqual({ maxBlockWh: 222, minBlockWh: 10 });
    expect(cadenceBlocks(350_000, 16, 100n)).toEqual({ maxBlockWh: 1555, minBlockWh: 10 });
  });

  it('at full power the seller sizes exactly that block, so invoices come every 16 s', () => {
    for (const powerW of [3_700, 7_400, 11_000, 22_000, 50_000, 150_000, 350_000]) {
      const { minBlockWh, maxBlockWh } = cadenceBlocks(powerW, 16, 100n);
      const blockWh = blockWhForPower(powerW, 16, minBlockWh, maxBlockWh);
      const intervalSec = (blockWh * 3600) / powerW;
      expect(intervalSec).toBeGreaterThan(15.5);
      expect(intervalSec).toBeLessThanOrEqual(16);
    }
  });

  it('keeps the smallest invoice payable (≥ 1 sat) at a low price', () => {
    // 5 msat/Wh: a 1-sat invoice needs 200 Wh, more than one 16 s block at 3.7 kW
    expect(cadenceBlocks(3_700, 16, 5n)).toEqual({ maxBlockWh: 200, minBlockWh: 200 });
  });

  it('the car accepts the blocks the wall will send', () => {
    const o = cadenceOverlays({ targetWh: 20_000, priceMsatPerWh: 100, invoiceIntervalSec: 16 });
    expect((o.vehicle.limits as { maxBlockWh: number }).maxBlockWh).toBe(o.blocks.maxBlockWh);
  });

  it('picks the clock speed that charges 20 kWh at 11 kW in about two minutes', () => {
    expect(speedForDuration(20_000, 11_000, 120)).toBe(55);
    expect(speedForDuration(100, 11_000, 120)).toBe(1);
  });
});
