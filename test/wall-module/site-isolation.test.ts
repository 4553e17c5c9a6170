// One wall daemon for two connectors, in process on a manual clock: a fault on connector 1 (a cable link whose
// sends hang, a charger whose commands never answer, a machine that fails safe) never delays connector 2, whose
// car keeps charging and paying at the cadence it has alone; settlements reach the connector whose invoice they
// are through the site's one subscription; the books per connector equal the node.
import { afterEach, describe, expect, it } from 'vitest';
import type { CableLink } from '../../hardware/link/cable-link.js';
import type { Evse } from '../../hardware/evse/evse.js';
import { sellerStep } from '../../protocol/index.js';
import { SiteRig } from './site-rig.js';

let rig: SiteRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

/** A link end whose sends never complete once `hang` is set (a wedged serial driver). */
function hangable(link: CableLink, hang: { on: boolean }): CableLink {
  return new Proxy(link, {
    get(target, key) {
      if (key === 'send')
        return (bytes: Uint8Array) => (hang.on ? new Promise<void>(() => {}) : target.send(bytes));
      const v: unknown = Reflect.get(target, key);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** A charger whose enable/pause never answer once `hang` is set. */
function hangableEvse(evse: Evse, hang: { on: boolean }): Evse {
  return new Proxy(evse, {
    get(target, key) {
      const v: unknown = Reflect.get(target, key);
      if ((key === 'enable' || key === 'pause' || key === 'setCurrentLimitA') && typeof v === 'function')
        return (...a: unknown[]) =>
          hang.on ? new Promise<void>(() => {}) : (v as (...x: unknown[]) => unknown).apply(target, a);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** Settled msat of a connector's sessions in the site's store. */
function storeSettled(r: SiteRig, id: number): bigint {
  const store = r.store!;
  return store.connectorSessionIds(id).reduce((sum, sid) => sum + store.settledMsat(sid), 0n);
}

/** The node's received msat over a connector's invoices (by payment hash). */
function nodeReceived(r: SiteRig, id: number): bigint {
  const store = r.store!;
  let sum = 0n;
  for (const sid of store.connectorSessionIds(id))
    for (const inv of store.invoices(sid)) {
      const n = inv.paymentHash ? r.wallNode.invoices.get(inv.paymentHash) : undefined;
      if (n?.state === 'settled') sum += n.receivedMsat;
    }
  return sum;
}

/** Starts both cars and runs until both charge. */
async function bothCharging(r: SiteRig): Promise<void> {
  await r.startSite();
  await r.startVehicle(1);
  await r.startVehicle(2);
  r.connector(1).world.plug();
  r.connector(2).world.plug();
  await r.runUntil(
    'both connectors charge',
    () => [1, 2].every((id) => r.site!.connectors.get(id)!.state.phase === 'charging'),
    60_000,
  );
}

/** Energy connector 2's machine counts delivered over `ms` of clock time. */
async function deliveredOver(r: SiteRig, ms: number): Promise<number> {
  const d = r.site!.connectors.get(2)!;
  const before = d.state.deliveredWh;
  await r.run(ms);
  return d.state.deliveredWh - before;
}

describe('a site: one wall daemon, several connectors', () => {
  it('two cars charge at once; each settlement reaches its own connector; books per connector equal the node', async () => {
    rig = new SiteRig();
    const r = rig;
    await bothCharging(r);
    await r.run(120_000);
    for (const id of [1, 2]) {
      const d = r.site!.connectors.get(id)!;
      expect(d.state.phase).toBe('charging');
      expect(d.state.paidMsat).toBeGreaterThan(0n);
      expect(storeSettled(r, id)).toBe(nodeReceived(r, id));
      expect(storeSettled(r, id)).toBe(d.state.paidMsat);
      // each car paid only its own connector's invoices
      const hashes = new Set(
        r.store!.connectorSessionIds(id).flatMap((sid) => r.store!.invoices(sid).map((i) => i.paymentHash)),
      );
      for (const h of r.connector(id).paid.keys()) expect(hashes.has(h)).toBe(true);
    }
    // the sessions are stored under their connectors, and the settle index is committed once for the site
    expect(r.store!.connectorSessionIds(1)).toHaveLength(1);
    expect(r.store!.connectorSessionIds(2)).toHaveLength(1);
    expect(Number(r.store!.loadMachineState('lnd.settleIndex'))).toBeGreaterThan(0);
  }, 120_000);

  it('a hung cable link on connector 1 does not delay connector 2', async () => {
    const hang = { on: false };
    rig = new SiteRig({ wallLink: (id, link) => (id === 1 ? hangable(link, hang) : link) });
    const r = rig;
    await bothCharging(r);
    await r.run(20_000);
    const alone = await deliveredOver(r, 60_000);
    hang.on = true;
    const withFault = await deliveredOver(r, 60_000);
    // connector 1 loses its car (heartbeat silence: cut, session ended); connector 2 delivers as before
    expect(r.site!.connectors.get(1)!.state.energized).toBe(false);
    expect(r.site!.connectors.get(2)!.state.phase).toBe('charging');
    expect(withFault).toBeGreaterThanOrEqual(Math.floor(alone * 0.95));
    expect(storeSettled(r, 2)).toBe(nodeReceived(r, 2));
    expect(r.site!.failedConnectors.size).toBe(0);
  }, 120_000);

  it('a charger that stops answering on connector 1 does not delay connector 2', async () => {
    const hang = { on: false };
    rig = new SiteRig({ evse: (id, evse) => (id === 1 ? hangableEvse(evse, hang) : evse) });
    const r = rig;
    await bothCharging(r);
    await r.run(20_000);
    const alone = await deliveredOver(r, 60_000);
    hang.on = true;
    r.site!.connectors.get(1)!.requestStop(); // a cut whose pause never answers
    const withFault = await deliveredOver(r, 60_000);
    expect(r.site!.connectors.get(2)!.state.phase).toBe('charging');
    expect(withFault).toBeGreaterThanOrEqual(Math.floor(alone * 0.95));
  }, 120_000);

  it('a fail-safe on connector 1 cuts connector 1 only; the site goes on', async () => {
    const armed = { on: false };
    rig = new SiteRig({
      siteParts: (p) => ({
        ...p,
        // the machine of connector 1 throws on its next meter event once armed
        step: (s, ev) => {
          if (
            armed.on &&
            ev.type === 'meter' &&
            s.sessionId === rig!.site?.connectors.get(1)?.state.sessionId
          )
            throw new Error('injected bug on connector 1');
          return sellerStep(s, ev);
        },
      }),
    });
    const r = rig;
    await bothCharging(r);
    const alone = await deliveredOver(r, 40_000);
    armed.on = true;
    const withFault = await deliveredOver(r, 40_000);
    expect(r.site!.failedConnectors.has(1)).toBe(true);
    expect(r.site!.failedConnectors.has(2)).toBe(false);
    expect(r.connector(1).world.evse.pwmOn()).toBe(false);
    expect(r.site!.connectors.get(2)!.state.phase).toBe('charging');
    expect(withFault).toBeGreaterThanOrEqual(Math.floor(alone * 0.95));
    let siteFailed = false;
    void r.site!.failed.then(() => (siteFailed = true));
    await r.run(1000);
    expect(siteFailed).toBe(false);
    const ended = r.store!.findSession(r.store!.connectorSessionIds(1)[0]!);
    expect(ended?.stopReason).toBe('FAIL_SAFE');
  }, 120_000);

  it('a restart mid-session resumes both connectors from their own machine state', async () => {
    rig = new SiteRig();
    const r = rig;
    await bothCharging(r);
    await r.run(40_000);
    const before = [1, 2].map((id) => r.site!.connectors.get(id)!.state.sessionId);
    await r.stopSite();
    await r.startSite();
    await r.run(60_000);
    for (const [i, id] of [1, 2].entries()) {
      const d = r.site!.connectors.get(id)!;
      expect(d.state.sessionId).toBe(before[i]);
      expect(d.state.phase).toBe('charging');
      expect(storeSettled(r, id)).toBe(nodeReceived(r, id));
    }
    expect(r.store!.loadMachineState('main')).toBeDefined();
    expect(r.store!.loadMachineState('main@2')).toBeDefined();
  }, 120_000);
});
