// For `*.regtest.test.ts` files that need a phone: ensures the opt-in walk-up nodes (router, phone) are up on the
// network the global setup brought up, and returns their connections. Idempotent and fast when they are already
// up (one health check under the network lock); the first call builds them (funding, channels, announcement).
import { up, type NetworkConnection, type NodeConnection } from '../../scripts/regtest/network.js';

/** The walk-up topology: phone → router → wall. */
export interface WalkupNetwork {
  connection: NetworkConnection;
  wall: NodeConnection;
  router: NodeConnection;
  /** the phone's only channel is to the router */
  phone: NodeConnection;
  /** the wall reached with its invoice-only macaroon as `macaroon` (can create, settle, cancel and watch
    invoices; can never spend) */
  wallInvoiceOnly: NodeConnection;
}

/** Brings up (or confirms) the walk-up nodes and returns their connections.

  @returns <WalkupNetwork>
  @throws Error naming the step that failed (e.g. a channel that never became active)
*/
export async function walkupNetwork(): Promise<WalkupNetwork> {
  const { connection } = await up({
    walkup: true,
    log: (line) => process.stderr.write(`regtest: ${line}\n`),
  });
  const { wall, router, phone } = connection.nodes;
  if (!router || !phone || !wall.invoiceMacaroon || !wall.invoiceMacaroonPath) {
    throw new Error('regtest: up({walkup: true}) returned no router, phone or invoice-only macaroon');
  }
  return {
    connection,
    wall,
    router,
    phone,
    wallInvoiceOnly: { ...wall, macaroon: wall.invoiceMacaroon, macaroonPath: wall.invoiceMacaroonPath },
  };
}
