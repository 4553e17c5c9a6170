// Helpers for `*.regtest.test.ts` files: LndNode objects for the shared network's `wall` and `vehicle`.
import { inject } from 'vitest';
import { LndNode } from '../../lightning/lnd-node.js';
import {
  readConnection,
  type NetworkConnection,
  type NodeConnection,
} from '../../scripts/regtest/network.js';

/** The connection file of the network the global setup brought up. */
export function regtestConnection(): NetworkConnection {
  return readConnection(inject('regtestConnectionPath'));
}

/** An LndNode for one node connection (close it in afterAll). */
export function lndNodeFor(node: NodeConnection, opts: { callTimeoutMs?: number } = {}): LndNode {
  return new LndNode({
    connection: { socket: node.socket, cert: node.cert, macaroon: node.macaroon },
    ...opts,
  });
}

/** LndNode objects for `wall` and `vehicle`. */
export function regtestNodes(): { connection: NetworkConnection; wall: LndNode; vehicle: LndNode } {
  const connection = regtestConnection();
  return {
    connection,
    wall: lndNodeFor(connection.nodes.wall),
    vehicle: lndNodeFor(connection.nodes.vehicle),
  };
}
