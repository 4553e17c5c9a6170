/**
 * Signing-key delegation (protocol version 3): a wall whose Lightning node is unreachable (offline case 1b: its
 * node is remote and the uplink is gone) can still start a session and sign its receipt. While online, its node
 * signs a delegation naming a key the wall daemon holds and a validity end; offline, the daemon signs the
 * handshake and the receipt with that key and sends the delegation first (a sealed `delegation` message). The car
 * accepts a signature by the delegate key only with a delegation its wall's node key signed and that has not
 * expired by the car's clock. The delegate key signs nothing else: every invoice must still be signed by the node
 * key (the car checks the payee), so a stolen delegate key cannot get anyone paid.
 */
import type { DelegationMessage } from './messages.js';
import { isHex } from './bytes.js';
import { verifyNodeSignature } from './nodeSignature.js';

/** A node-signed delegation: the key that may sign for the node, until when, and the node's signature. */
export type Delegation = Omit<DelegationMessage, 'type'>;

/** Why a delegation or a signature under it is refused. */
export type DelegationRefusal =
  'DELEGATION_MALFORMED' | 'DELEGATION_NOT_BY_NODE' | 'DELEGATION_EXPIRED' | 'DELEGATE_SIGNATURE_INVALID';

/**
 * The text the node signs (lnd signmessage) to delegate: one field per line, hex lower case.
 *
 * @param d the node key, the delegate key (33-byte compressed, hex) and the validity end (ms since epoch)
 * @returns UTF-8 text
 */
export function delegationText(d: { nodePub: string; delegatePub: string; untilMs: number }): string {
  return [
    'boltcharge signing delegation v3',
    `node ${d.nodePub.toLowerCase()}`,
    `delegate ${d.delegatePub.toLowerCase()}`,
    `until ${Math.floor(d.untilMs)}`,
  ].join('\n');
}

/**
 * Checks a delegation: well formed, signed by the node key, not expired at `atMs`.
 *
 * @param nodePub the wall's node key (hex), proven in the hello
 * @param d the delegation
 * @param atMs the checker's clock, ms
 * @returns null when valid, else the refusal
 */
export function delegationProblem(nodePub: string, d: Delegation, atMs: number): DelegationRefusal | null {
  if (!isHex(d.delegatePub, 33) || !Number.isSafeInteger(d.untilMs)) return 'DELEGATION_MALFORMED';
  const text = delegationText({ nodePub, delegatePub: d.delegatePub, untilMs: d.untilMs });
  if (!verifyNodeSignature(text, d.signature, nodePub).ok) return 'DELEGATION_NOT_BY_NODE';
  if (d.untilMs <= atMs) return 'DELEGATION_EXPIRED';
  return null;
}

/**
 * Checks a signature that may be by the node key itself or by the delegate of a valid delegation.
 *
 * @param text the signed text
 * @param signature the signature (hex or zbase32)
 * @param nodePub the node key (hex)
 * @param delegate the delegation the signer announced, or null
 * @param atMs the checker's clock, ms
 * @returns null when the signature is the node's or a valid delegate's, else why not
 */
export function signedForNode(
  text: string,
  signature: string,
  nodePub: string,
  delegate: Delegation | null,
  atMs: number,
): string | null {
  const byNode = verifyNodeSignature(text, signature, nodePub);
  if (byNode.ok) return null;
  if (delegate === null) return byNode.error.message;
  const problem = delegationProblem(nodePub, delegate, atMs);
  if (problem !== null) return problem;
  return verifyNodeSignature(text, signature, delegate.delegatePub).ok ? null : 'DELEGATE_SIGNATURE_INVALID';
}
