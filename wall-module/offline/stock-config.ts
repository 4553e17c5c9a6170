/**
 * The wall's `offline:` section (offline case 1b: sell on a stock of invoices while the wall's node is
 * unreachable, see payments/invoice-stock.ts). Off when absent.
 *
 * ```yaml
 * offline:
 *   stock:
 *     denominationsMsat: ['200000', '1000000']   # fixed amounts, each a whole number of Wh at the price
 *     perDenomination: 5                         # invoices kept of each while online
 *     expirySec: 604800                          # long expiry (7 days)
 *     retireBeforeExpirySec: 86400               # an unused one this close to expiry is cancelled and replaced
 *     upkeepSec: 30                              # how often the stock is topped up and reconciled while online
 *     delegationSec: 604800                      # validity of the signing key the node delegates (7 days)
 * ```
 *
 * With a stock, the wall also holds a signing key its node delegates while online (protocol/delegation.ts), so
 * that a session can start and end while the node is unreachable (version-3 cars).
 */
import type { ConfigReader } from '../../daemon/config-reader.js';
import type { StockConfig } from '../../payments/invoice-stock.js';

/** The stock rules and how often the daemon keeps the stock. */
export interface OfflineStockConfig extends StockConfig {
  /** interval of the upkeep (replenish while online, reconcile after an outage), s */
  upkeepSec: number;
  /** validity of the signing delegation the node gives the wall daemon (renewed at half of it), s */
  delegationSec: number;
}

/** The parsed `offline:` section. */
export interface OfflineConfig {
  stock?: OfflineStockConfig;
}

/** Reads `offline:`.

  @param r the section's reader
  @returns the offline configuration; problems are recorded on the reader
*/
export function readOfflineSection(r: ConfigReader): OfflineConfig {
  if (!r.has('stock')) return {};
  const s = r.section('stock');
  const denominationsMsat: bigint[] = [];
  for (const text of s.stringList('denominationsMsat', 16)) {
    if (!/^[1-9][0-9]{0,15}$/.test(text)) {
      s.problem('denominationsMsat', `${text}: a positive whole number of msat`);
      continue;
    }
    denominationsMsat.push(BigInt(text));
  }
  if (denominationsMsat.length === 0) s.problem('denominationsMsat', 'at least one amount');
  denominationsMsat.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    stock: {
      denominationsMsat,
      perDenomination: s.int('perDenomination', 5, { min: 1, max: 1000 }),
      expirySec: s.int('expirySec', 7 * 86_400, { min: 600, max: 365 * 86_400 }),
      retireBeforeExpirySec: s.int('retireBeforeExpirySec', 86_400, { min: 60, max: 30 * 86_400 }),
      upkeepSec: s.int('upkeepSec', 30, { min: 1, max: 86_400 }),
      delegationSec: s.int('delegationSec', 7 * 86_400, { min: 3_600, max: 30 * 86_400 }),
    },
  };
}
