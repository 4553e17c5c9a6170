// The vehicle daemon told by the wall that its connector takes no session (in-process, manual clock): the
// wall's refusal frame (what the seller machine sends on `connectorRefused`) reaches the real vehicle daemon
// over the in-memory cable; the car's session ends with the named reason (status and log show it), nothing is
// paid, and when the wall later greets the car still plugged in, it charges and pays as usual.
import { describe, expect, it } from 'vitest';
import { buyerEndReason, createSeller, Reason, sellerStep } from '../../protocol/index.js';
import { testSellerConfig } from '../protocol/harness.js';
import { InProcessRig } from '../wall-module/in-process-rig.js';

describe('a car refused by the connector', () => {
  it('ends with CONNECTOR_FAULTED, pays nothing, and charges once greeted later', async () => {
    const rig = new InProcessRig({ vehicleLimits: 'targetEnergyWh: 60' });
    try {
      await rig.startVehicle();
      const wallEnd = rig.cable.wall;
      await wallEnd.open();
      const refusal = sellerStep(createSeller(testSellerConfig()), {
        type: 'connectorRefused',
        reason: Reason.CONNECTOR_FAULTED,
        detail: 'POWER_CUT_UNVERIFIED',
        atMs: rig.clock.now(),
      }).effects.find((e) => e.type === 'send');
      if (refusal?.type !== 'send') throw new Error('the seller sent no refusal');
      await wallEnd.send(refusal.frame);
      await rig.run(1000);

      const car = rig.vehicle!;
      expect(car.state.phase).toBe('ended');
      expect(buyerEndReason(car.state)).toBe(Reason.CONNECTOR_FAULTED);
      expect(rig.vehicleLog.lines.some((l) => /session ended .*CONNECTOR_FAULTED/.test(l))).toBe(true);
      expect(rig.paid.size).toBe(0);

      // the fault cleared: the wall greets the car still plugged in, and the session charges and pays
      await rig.startWall();
      rig.world.plug();
      await rig.runUntil(
        'the session ends',
        () => car.state.phase === 'ended' && buyerEndReason(car.state) !== Reason.CONNECTOR_FAULTED,
        300_000,
      );
      expect(buyerEndReason(car.state)).toBe(Reason.TARGET_REACHED);
      expect(rig.paid.size).toBeGreaterThan(0);
    } finally {
      await rig.close();
    }
  }, 120_000);
});
