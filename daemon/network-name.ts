/**
 * Maps the network name a Lightning node reports to the protocol's network names.
 */
import type { Network } from '../protocol/index.js';

/** The node reports a network the protocol does not support. */
export class UnsupportedNetwork extends Error {
  override readonly name = 'UnsupportedNetwork';
}

/**
 * @param nodeNetwork what lnd reports: mainnet, testnet, testnet4, signet, regtest
 * @returns the protocol's network name
 * @throws UnsupportedNetwork for anything else
 */
export function protocolNetwork(nodeNetwork: string): Network {
  switch (nodeNetwork) {
    case 'mainnet':
    case 'bitcoin':
      return 'bitcoin';
    case 'testnet':
    case 'testnet3':
    case 'testnet4':
      return 'testnet';
    case 'signet':
      return 'signet';
    case 'regtest':
      return 'regtest';
    default:
      throw new UnsupportedNetwork(
        `the Lightning node is on '${nodeNetwork}', which boltcharge does not support`,
      );
  }
}
