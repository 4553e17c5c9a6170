/**
 * Opens the cable link a daemon's configuration names: CAN ISO-TP through an SLCAN adapter, or IP over a PLC
 * modem. The link runs on real time (ISO-TP and socket timeouts are physical), whatever the daemon's clock.
 */
import type { CableLink } from '../hardware/link/cable-link.js';
import { createCableLink } from '../hardware/link/create-cable-link.js';
import type { LinkConfig } from './config-sections.js';

/**
 * Builds the link (not yet opened). An IP link of the wall listens only on `listenAddress` or the link-local
 * address of `interface` (never on all interfaces) and refuses a second connection while the car's is live.
 *
 * @param c the `link` section
 * @param role which end of the cable this daemon is
 * @returns the link; call `open()`
 */
export function linkFromConfig(c: LinkConfig, role: 'wall' | 'vehicle'): CableLink {
  if (c.kind === 'can')
    return createCableLink(role, {
      medium: 'slcan',
      path: c.port,
      bitrate: c.bitrate,
      txId: c.txId,
      rxId: c.rxId,
    });
  return createCableLink(role, {
    medium: 'ip',
    interface: c.interface,
    ...(role === 'wall'
      ? { tcpPort: c.port, listenAddress: c.listenAddress }
      : { peerAddress: c.peerAddress, peerPort: c.peerAddress ? c.port : undefined }),
  });
}
