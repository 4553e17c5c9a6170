// Offline case 2 (charger online, car without signal), on real nodes: the car's lnd runs in a network namespace
// whose only network is the cable link (a veth pair, as a PLC modem's Ethernet) and reaches the chain backend and
// its channel partner only through the wall's blind relay (scripts/offline/relay-rig.ts). It pays a wall invoice
// multi-hop (car → router → wall). The relay lends the uplink, not the host: a connection to the wall's own lnd
// gRPC port is refused with RELAY_DESTINATION_REFUSED, and nothing but the authenticated car may use it.
// Offline case 1a (a direct channel between the car's and the wall's nodes): the same car then pays the wall
// over their direct channel, the two nodes' peer connection running over the cable link (one hop, no fee).
// Fails (never skips) when namespaces cannot be made.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRelayRig, type CarPayment, type RelayRig } from '../../scripts/offline/relay-rig.js';

function expectPaid(p: CarPayment): void {
  expect(p.error).toBeUndefined();
  expect(p.paid).toBe(true);
  expect(createHash('sha256').update(Buffer.from(p.secret!, 'hex')).digest('hex')).toBe(p.paymentHash);
  expect(p.settledAtWall).toBe(true);
}

describe('offline: the car pays through the wall’s blind relay', () => {
  let rig: RelayRig;

  beforeAll(async () => {
    rig = await startRelayRig({ log: (line) => process.stderr.write(`${line}\n`) });
  }, 400_000);

  afterAll(async () => {
    await rig?.close();
  }, 120_000);

  it('case 2: syncs, reconnects and pays multi-hop with no network but the cable', async () => {
    // the attack first: the relay must not open the host's own services to the car
    expect(await rig.probeWallGrpc()).toBe('closed');
    expect(rig.refusals).toEqual(['RELAY_DESTINATION_REFUSED']);

    // the wall's node is not the car's peer yet: the direct channel is inactive, so this goes car → router → wall
    const paid = await rig.pay('router', 5_000);
    expectPaid(paid);
    expect(paid.hops).toBe(2);

    const stats = rig.relayStats();
    expect(stats.opened).toBeGreaterThanOrEqual(2); // chain backend + channel partner
    expect(stats.bytesUp).toBeGreaterThan(0);
    expect(stats.bytesDown).toBeGreaterThan(0);
    expect(rig.refusals).toEqual(['RELAY_DESTINATION_REFUSED']);
  }, 600_000);

  it('case 1a: pays the wall over their direct channel, the peer connection running over the cable', async () => {
    const paid = await rig.pay('wall', 7_000);
    expectPaid(paid);
    expect(paid.hops).toBe(1);
    expect(paid.feeMsat).toBe('0');
    expect(rig.refusals).toEqual(['RELAY_DESTINATION_REFUSED']);
  }, 300_000);
});
