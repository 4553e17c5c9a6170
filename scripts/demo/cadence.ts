/**
 * The invoice cadence the product promises (an invoice about every 16 s), turned into the demo's tariff and
 * clock. The rule: a block is the energy of one cadence at the connector's largest power,
 * floor(maxPowerW × invoiceIntervalSec / 3600) Wh, within the seller's block ranges (`SELLER_RANGES`); the seller
 * then sizes each block from measured power (`blockWhForPower`), so at lower power blocks shrink and the cadence
 * holds. 3.7 kW → 16 Wh, 11 kW → 48 Wh, 50 kW → 222 Wh, 350 kW → 1,555 Wh per 16 s block.
 *
 * Pure arithmetic; the demo and the benches use it to write configs.
 */
import { MIN_INVOICE_MSAT, SELLER_DEFAULTS, SELLER_RANGES, blockWhForPower } from '../../protocol/index.js';

/** The cadence the product promises, s between invoices. */
export const PROMISED_INVOICE_INTERVAL_SEC = SELLER_DEFAULTS.targetInvoiceIntervalSec;

/** Block bounds for a connector, Wh. */
export interface CadenceBlocks {
  /** one cadence of energy at `maxPowerW`: the largest block, Wh */
  maxBlockWh: number;
  /** the smallest block: the seller default, raised until an invoice is payable, never above `maxBlockWh`, Wh */
  minBlockWh: number;
}

/**
 * Block bounds that keep invoices every `invoiceIntervalSec` at any power up to `maxPowerW`.
 *
 * @param maxPowerW the connector's largest power, W (3,700 … 350,000 and beyond)
 * @param invoiceIntervalSec target seconds between invoices
 * @param priceMsatPerWh price, msat per Wh (the smallest block must still make a payable invoice)
 * @returns { maxBlockWh, minBlockWh }, Wh, within `SELLER_RANGES`
 */
export function cadenceBlocks(
  maxPowerW: number,
  invoiceIntervalSec: number,
  priceMsatPerWh: bigint,
): CadenceBlocks {
  const range = SELLER_RANGES.maxBlockWh;
  const oneCadenceWh = blockWhForPower(maxPowerW, invoiceIntervalSec, range.min, range.max);
  const payableWh = Number((MIN_INVOICE_MSAT + priceMsatPerWh - 1n) / priceMsatPerWh);
  const maxBlockWh = Math.max(oneCadenceWh, payableWh);
  const minBlockWh = Math.min(maxBlockWh, Math.max(SELLER_DEFAULTS.minBlockWh, payableWh));
  return { maxBlockWh, minBlockWh };
}

/**
 * Clock speed so that charging `targetWh` at `maxPowerW` takes about `realSeconds` of real time.
 *
 * @param targetWh energy to charge, Wh
 * @param maxPowerW charging power, W
 * @param realSeconds wanted real duration of the charging, s
 * @returns speed factor ≥ 1, rounded to a whole number
 */
export function speedForDuration(targetWh: number, maxPowerW: number, realSeconds: number): number {
  const chargingSec = (targetWh / maxPowerW) * 3600;
  return Math.max(1, Math.round(chargingSec / realSeconds));
}

/** The simulated charger's largest power in the demo and the benches, W (3 phases × 16 A × 230 V). */
export const DEMO_MAX_POWER_W = 11_000;

/**
 * The wall and vehicle config overlays of a charge at the promised cadence (for `ChargeRig.create`): tariff and
 * blocks per {@link cadenceBlocks}, two deposit blocks, the car's target energy and matching block limit.
 * The wall's non-payment timers are daemon-clock seconds but wait on Lightning, which runs on real time: on a
 * fast clock they keep at least 10 real seconds before an unpaid invoice is cancelled and reissued (cancelling
 * an invoice whose payment is on its way only turns a slow payment into a failed one) and 60 before a cut
 * session ends.
 *
 * @param o.targetWh energy the car asks for, Wh
 * @param o.priceMsatPerWh price, msat per Wh
 * @param o.invoiceIntervalSec target seconds between invoices
 * @param o.speed the rig's clock speed (default 1)
 * @returns `{ wall, vehicle, blocks }`: the two overlays and the block bounds they use
 */
export function cadenceOverlays(o: {
  targetWh: number;
  priceMsatPerWh: number;
  invoiceIntervalSec: number;
  speed?: number;
}): {
  wall: Record<string, unknown>;
  vehicle: Record<string, unknown>;
  blocks: CadenceBlocks;
} {
  const blocks = cadenceBlocks(DEMO_MAX_POWER_W, o.invoiceIntervalSec, BigInt(o.priceMsatPerWh));
  const speed = o.speed ?? 1;
  return {
    blocks,
    wall: {
      tariff: {
        priceMsatPerWh: o.priceMsatPerWh,
        invoiceIntervalSec: o.invoiceIntervalSec,
        ...blocks,
        depositBlocks: 2,
        graceWh: 50,
        reissueAfterSec: Math.max(30, Math.ceil(10 * speed)),
        maxSuspendSec: Math.max(300, Math.ceil(60 * speed)),
      },
      evse: { maxPowerW: DEMO_MAX_POWER_W },
    },
    vehicle: { limits: { targetEnergyWh: o.targetWh, maxPrepaidWh: 4000, maxBlockWh: blocks.maxBlockWh } },
  };
}
