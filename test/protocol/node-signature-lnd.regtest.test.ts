// The protocol's pure verifier of node-key signatures (handshake proof, receipts) against signatures made by a
// real lnd: the wall module obtains them from its node with `signMessage`, the vehicle checks them offline.
import { afterAll, describe, expect, it } from 'vitest';
import { handshakeText } from '../../protocol/handshake.js';
import { recoverNodeKey, verifyNodeSignature } from '../../protocol/nodeSignature.js';
import { regtestNodes } from '../setup/regtest-nodes.js';

const { wall, vehicle } = regtestNodes();

afterAll(async () => {
  await wall.close();
  await vehicle.close();
});

describe('lnd signMessage ↔ protocol/nodeSignature', () => {
  it('a handshake text signed by the wall lnd verifies as the wall node key, offline', async () => {
    const { pubkey } = await wall.getIdentity();
    const text = handshakeText(1, 'wall', new Uint8Array(32).fill(0xab));
    const signature = await wall.signMessage(text);

    expect(verifyNodeSignature(text, signature, pubkey)).toEqual({ ok: true, value: true });
    // the same signature does not pass for another node's key or another text
    const other = (await vehicle.getIdentity()).pubkey;
    expect(verifyNodeSignature(text, signature, other).ok).toBe(false);
    const altered = recoverNodeKey(text.replace('wall', 'vehicle'), signature);
    expect(altered.ok && altered.value === pubkey).toBe(false);
  });

  it('a signature made by the protocol verifier’s rules is what lnd itself accepts', async () => {
    const text = 'boltcharge/1 receipt ' + 'cd'.repeat(32);
    const signature = await vehicle.signMessage(text);
    const recovered = recoverNodeKey(text, signature);
    const byLnd = await wall.verifyMessage(text, signature);
    expect(recovered).toEqual({ ok: true, value: byLnd.pubkey });
  });
});
