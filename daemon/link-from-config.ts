/**
 * Opens the cable link a daemon's configuration names: CAN ISO-TP through an SLCAN adapter, or IP over a PLC
 * modem. The link runs on real time (ISO-TP and socket timeouts are physical), whatever the daemon's clock.
 */
import { SlcanBus } from '../hardware/can/slcan-bus.js';
import type { CableLink } from '../hardware/link/cable-link.js';
import { CanIsoTpLink } from '../hardware/link/can-isotp-link.js';
import type { LinkConfig } from './config-sections.js';

/** The configured link kind cannot be used by this build. */
export class LinkKindUnavailable extends Error {
  override readonly name = 'LinkKindUnavailable';
}

/**
 * Builds the link (not yet opened).
 *
 * @param c the `link` section
 * @param role which end of the cable this daemon is
 * @returns the link; call `open()`
 */
export async function linkFromConfig(c: LinkConfig, role: 'wall' | 'vehicle'): Promise<CableLink> {
  if (c.kind === 'can') {
    const bus = new SlcanBus({ path: c.port, baudRate: c.serialBaud, bitrate: c.bitrate });
    return new CanIsoTpLink({ bus, role, txId: c.txId, rxId: c.rxId });
  }
  throw new LinkKindUnavailable('link.kind ip: the IP (PLC) link is not in this build yet');
}
