/**
 * The wall's signing delegate (offline case 1b, protocol/delegation.ts): a secp256k1 key the wall daemon holds,
 * delegated by its node while the node is reachable, so that a session can start (handshake signature) and end
 * (receipt signature) while the node is not. Kept in the wall database (machine-state slot `signing-delegate`,
 * per connector): the key, and the node's signed delegation with its validity end. Renewed at the stock's upkeep
 * once less than half its validity is left. The key signs nothing but handshake and receipt texts; invoices are
 * always the node's.
 */
import { randomBytes } from 'node:crypto';
import { delegationText, type Delegation } from '../../protocol/delegation.js';
import { normaliseSignature, publicKeyOf, signNodeMessage } from '../../protocol/nodeSignature.js';
import type { Clock } from '../../hardware/clock.js';
import type { LightningNode } from '../../lightning/lightning-node.js';
import type { WallStore } from '../store.js';

/** Machine-state slot of the delegate. */
const SLOT = 'signing-delegate';

interface Stored {
  secret: string;
  delegation: { delegatePub: string; untilMs: number; signature: string };
}

/** The wall's delegate key and its node-signed delegation. */
export class SigningDelegate {
  private current: Stored | null;

  /**
   * @param store the wall store (the delegate's slot)
   * @param node the wall's node (signs the delegation while reachable)
   * @param nodePub the node's key (hex)
   * @param clock the daemon's clock (the validity is on the clock the cars check it with)
   * @param validityMs how long a delegation is valid, ms
   */
  constructor(
    private readonly store: WallStore,
    private readonly node: LightningNode,
    private readonly nodePub: string,
    private readonly clock: Clock,
    private readonly validityMs: number,
  ) {
    const text = store.loadMachineState(SLOT);
    this.current = text ? (JSON.parse(text) as Stored) : null;
  }

  /**
   * A fresh delegation when none is held or less than half its validity is left: a new key, signed by the node.
   * @returns whether a new one was made
   * @throws the node's error when it cannot sign (unreachable): the held one stays
   */
  async renew(): Promise<boolean> {
    const now = this.clock.now();
    if (this.current && this.current.delegation.untilMs - now > this.validityMs / 2) return false;
    const secret = randomBytes(32).toString('hex');
    const delegatePub = publicKeyOf(secret);
    const untilMs = now + this.validityMs;
    const signed = await this.node.signMessage(
      delegationText({ nodePub: this.nodePub, delegatePub, untilMs }),
    );
    const signature = normaliseSignature(signed);
    if (!signature.ok) throw new Error(`node signature unreadable: ${signature.error.message}`);
    this.current = { secret, delegation: { delegatePub, untilMs, signature: signature.value } };
    this.store.saveMachineState(SLOT, JSON.stringify(this.current));
    return true;
  }

  /**
   * Signs `text` with the delegate key, if a delegation is valid now.
   * @returns the signature (65 bytes hex) and the delegation to send first, or null (none valid)
   */
  sign(text: string): { signature: string; delegation: Delegation } | null {
    const c = this.current;
    if (!c || c.delegation.untilMs <= this.clock.now()) return null;
    return { signature: signNodeMessage(text, c.secret).signatureHex, delegation: { ...c.delegation } };
  }
}
