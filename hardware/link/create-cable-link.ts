/**
 * Builds a {@link CableLink} from configuration, so the daemons choose the medium in their config file
 * without knowing the drivers:
 *
 *   { medium: 'slcan', path: '/dev/ttyACM0', bitrate: 33333 }                 CAN via an SLCAN USB adapter
 *   { medium: 'socketcan', interface: 'can0', bitrate: 33333 }                CAN via SocketCAN (MCP2515 hat…)
 *   { medium: 'ip', interface: 'eth1' }                                       PLC modem (IPv6 link-local)
 *   { medium: 'ip', peerAddress: '::1', peerPort: 4000 }                      fixed address (tests, vehicle)
 */
import { SlcanBus, type SlcanAckStyle } from '../can/slcan-bus.js';
import { SocketCanBus } from '../can/socketcan-bus.js';
import type { Clock } from '../clock.js';
import type { IsoTpOptions } from '../isotp/transport.js';
import type { CableLink } from './cable-link.js';
import { CanIsoTpLink, type CableRole } from './can-isotp-link.js';
import { IpLink, type IpLinkOptions } from './ip-link.js';

/** CAN-specific settings shared by both CAN media. */
interface CanCommon {
  /** bit/s; 33 333 for single-wire CAN on the pilot line. */
  bitrate: number;
  /** Override the role's default transmit id (wall 0x7CD, vehicle 0x7CC). */
  txId?: number;
  /** Override the role's default receive id. */
  rxId?: number;
  /** ISO-TP tuning (padding, block size, STmin, timeouts, TX_DL, max length). */
  isotp?: Omit<IsoTpOptions, 'txId' | 'rxId' | 'clock'>;
  /** Declare the link down after this many ms without a frame from the peer; default off. */
  silenceTimeoutMs?: number;
}

/** Configuration of the cable link, by medium. */
export type CableLinkConfig =
  | ({
      medium: 'slcan';
      /** Serial device of the adapter. */
      path: string;
      ackStyle?: SlcanAckStyle;
      /** 4-hex-digit BTR0BTR1 for adapters needing other raw timing. */
      rawTiming?: string;
      timestamps?: boolean;
    } & CanCommon)
  | ({ medium: 'socketcan'; interface: string } & CanCommon)
  | ({ medium: 'ip' } & Omit<IpLinkOptions, 'role' | 'clock'>);

/**
 * @param role which module this is (sets default CAN ids; wall listens on IP, vehicle discovers)
 * @param config medium and its settings
 * @param clock optional time source (default SystemClock)
 * @returns an unopened link; call `open()`
 */
export function createCableLink(role: CableRole, config: CableLinkConfig, clock?: Clock): CableLink {
  switch (config.medium) {
    case 'slcan':
      return new CanIsoTpLink({
        role,
        clock,
        txId: config.txId,
        rxId: config.rxId,
        isotp: config.isotp,
        silenceTimeoutMs: config.silenceTimeoutMs,
        bus: new SlcanBus({
          path: config.path,
          bitrate: config.bitrate,
          ackStyle: config.ackStyle,
          rawTiming: config.rawTiming,
          timestamps: config.timestamps,
          clock,
        }),
      });
    case 'socketcan':
      return new CanIsoTpLink({
        role,
        clock,
        txId: config.txId,
        rxId: config.rxId,
        isotp: config.isotp,
        silenceTimeoutMs: config.silenceTimeoutMs,
        bus: new SocketCanBus({ interface: config.interface, bitrate: config.bitrate }),
      });
    case 'ip': {
      const { medium: _medium, ...ip } = config;
      return new IpLink({ ...ip, role, clock });
    }
  }
}
