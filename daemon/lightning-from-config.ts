/**
 * Connects to the daemon's own Lightning node as its configuration says: a regtest connection file (demo and
 * tests), an lndconnect URI, or socket + macaroon (+ cert) files.
 */
import { readFileSync } from 'node:fs';
import { InvalidLndConnection } from '../lightning/connection.js';
import { LndNode } from '../lightning/lnd-node.js';
import type { LightningConfig } from './config-sections.js';

/** The connection file does not describe the configured node. */
export class LightningConfigUnusable extends Error {
  override readonly name = 'LightningConfigUnusable';
}

/**
 * Builds the node client (connects lazily on the first call). Every credential (connection file, macaroon,
 * certificate) is read and checked here, before the daemon creates any file.
 *
 * @param c the `lightning` section
 * @returns an `LndNode`
 * @throws LightningConfigUnusable when a connection file is missing or lacks the named node, or a credential
 *   (macaroon, certificate, URI) is missing or malformed; the message names the option and the file
 */
export function lightningFromConfig(c: LightningConfig): LndNode {
  try {
    return buildNode(c);
  } catch (err) {
    if (err instanceof InvalidLndConnection) {
      const where = c.kind === 'connectionFile' ? `lightning (${c.file}, node '${c.node}')` : 'lightning';
      throw new LightningConfigUnusable(`${where}: ${err.message}`);
    }
    throw err;
  }
}

function buildNode(c: LightningConfig): LndNode {
  if (c.kind === 'lndconnect') return new LndNode({ connection: c.uri });
  if (c.kind === 'direct')
    return new LndNode({
      connection: { socket: c.socket, certPath: c.certPath, macaroonPath: c.macaroonPath },
    });
  let doc: { nodes?: Record<string, { socket: string; cert: string; macaroon: string }> };
  try {
    doc = JSON.parse(readFileSync(c.file, 'utf8')) as typeof doc;
  } catch (err) {
    throw new LightningConfigUnusable(`lightning.connectionFile ${c.file}: ${(err as Error).message}`);
  }
  const node = doc.nodes?.[c.node];
  if (!node)
    throw new LightningConfigUnusable(
      `lightning.node: ${c.file} has no node '${c.node}' (has ${Object.keys(doc.nodes ?? {}).join(', ')})`,
    );
  return new LndNode({ connection: { socket: node.socket, cert: node.cert, macaroon: node.macaroon } });
}
