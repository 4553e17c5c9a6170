// Walk-up payment on every connector of a site, in process on a manual clock (the real SiteDaemon, status server,
// walk-up runtimes and routes; a scripted wall node with hold invoices): connector 2's display shows its own QR,
// whose LNURL points at /connectors/2/walkup/lnurlp with connector 2's TOTP; a code of one connector is refused
// by the other's endpoint; a walk-up paid on connector 2 claims connector 2 only (connector 1 still starts a
// walk-up and a cable session); after a restart each connector's runtime recovers its own sessions only. The
// paying flow on real lnd is test/e2e/walkup-*.regtest.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { connectorTotpSecret, totpAt } from '../../payments/totp.js';
import { decodeInvoice } from '../../protocol/index.js';
import { ConnectorArbiter } from '../../wall-module/connector-arbiter.js';
import { attachSiteWalkups, type SiteWalkups } from '../../wall-module/site/connector-services.js';
import { WalkupStore } from '../../wall-module/walkup/store.js';
import { SiteRig } from './site-rig.js';

const SECRET = 'site-walkup-secret-0123456789';
const BASE = 'http://127.0.0.1:1';
const VALIDITY_SEC = 60;
const TOTP_LENGTH = 12;
const MIN_DEPOSIT_MSAT = 10_000_000n;

let rig: SiteRig | undefined;
let walkups: SiteWalkups | null = null;
const failed: { connectorId: number; error: string }[] = [];

afterEach(async () => {
  walkups?.stop();
  walkups = null;
  await rig?.close();
  rig = undefined;
  failed.length = 0;
});

/** A two-connector site with walk-up on both connectors and the status server on. */
function walkupRig(): SiteRig {
  const r: SiteRig = new SiteRig({
    connectors: 2,
    siteYaml: (yaml) =>
      yaml.replace('status: { enabled: false }', 'status: { enabled: true, port: 0 }') +
      `walkup: { priceMsatPerWh: 200, publicBaseUrl: "${BASE}", allowHttp: true, totpSecret: "${SECRET}", validityTimeSec: ${VALIDITY_SEC}, quoteTimeoutMs: 10000, rateLimitPerMinute: 10000 }
`,
    siteParts: async (parts) => {
      const connectors = parts.connectors.map((c) => ({ ...c, arbiter: new ConnectorArbiter() }));
      walkups = await attachSiteWalkups({
        config: parts.config.walkup!,
        connectors,
        node: parts.node,
        db: parts.store.db,
        clock: parts.clock,
        log: parts.log,
        failConnector: (connectorId, err) => failed.push({ connectorId, error: err.message }),
        realNowMs: () => r.clock.now(),
      });
      const w = walkups;
      return { ...parts, connectors, routes: w.routes, walkupPath: (id) => w.pathOf(id) };
    },
  });
  return r;
}

/** Starts (or restarts) the site and its walk-ups. */
async function start(r: SiteRig): Promise<string> {
  const site = await r.startSite();
  await walkups!.start();
  return site.statusUrl!.replace(/\/+$/, '');
}

/** Stops the walk-ups and the site (a restart follows). */
async function stop(r: SiteRig): Promise<void> {
  walkups?.stop();
  walkups = null;
  await r.stopSite();
}

/** The TOTP connector `id`'s display shows now. */
function codeOf(r: SiteRig, id: number): string {
  return totpAt(
    {
      sharedSecret: connectorTotpSecret(SECRET, id),
      validityTimeSec: VALIDITY_SEC,
      length: TOTP_LENGTH,
    },
    r.clock.now() / 1000,
  );
}

async function getJson(url: string): Promise<Record<string, unknown>> {
  const res = await fetch(url);
  return (await res.json()) as Record<string, unknown>;
}

/** Asks connector `prefix`'s LNURL-pay callback for the smallest deposit. @returns the deposit's payment hash */
async function requestDeposit(url: string, prefix: string, code: string): Promise<string> {
  const pay = await getJson(`${url}${prefix}/lnurlp?totp=${code}`);
  expect(pay).toMatchObject({ tag: 'payRequest' });
  expect(pay.callback).toBe(`${BASE}${prefix}/lnurlp/callback?totp=${code}`);
  const invoice = await getJson(`${url}${prefix}/lnurlp/callback?totp=${code}&amount=${MIN_DEPOSIT_MSAT}`);
  expect(typeof invoice.pr, JSON.stringify(invoice)).toBe('string');
  const decoded = decodeInvoice(invoice.pr as string);
  if (!decoded.ok) throw new Error(decoded.error.message);
  return decoded.value.paymentHash;
}

describe('walk-up on every connector of a site', () => {
  it("shows each connector's own QR, refuses another connector's TOTP, and links the page from the site", async () => {
    rig = walkupRig();
    const url = await start(rig);

    // connector 2's display: its QR's LNURL points at its own path, with its own code
    const s2 = await getJson(`${url}/connectors/2/walkup/api/status`);
    const qr2 = s2.qr as Record<string, unknown>;
    expect(s2).toMatchObject({ available: true, connector: 'idle' });
    expect(qr2.url).toBe(`${BASE}/connectors/2/walkup/lnurlp?totp=${codeOf(rig, 2)}`);
    // connector 1 keeps today's paths and key (walkup.totpSecret itself), under /walkup and its site path
    const s1 = await getJson(`${url}/walkup/api/status`);
    expect((s1.qr as Record<string, unknown>).url).toBe(`${BASE}/walkup/lnurlp?totp=${codeOf(rig, 1)}`);
    expect(codeOf(rig, 1)).toBe(
      totpAt(
        { sharedSecret: SECRET, validityTimeSec: VALIDITY_SEC, length: TOTP_LENGTH },
        rig.clock.now() / 1000,
      ),
    );
    const s1Alias = await getJson(`${url}/connectors/1/walkup/api/status`);
    expect((s1Alias.qr as Record<string, unknown>).url).toBe((s1.qr as Record<string, unknown>).url);
    expect(codeOf(rig, 2)).not.toBe(codeOf(rig, 1));

    // the pages load their script and poll under the prefix they were served from
    const page2 = await (await fetch(`${url}/connectors/2/walkup`)).text();
    expect(page2).toContain('data-walkup-prefix="/connectors/2/walkup"');
    expect(page2).toContain('<script src="/connectors/2/walkup/walkup.js">');
    expect(page2).toContain('connector 2');
    expect((await fetch(`${url}/connectors/2/walkup/walkup.js`)).status).toBe(200);
    const page1 = await (await fetch(`${url}/walkup`)).text();
    expect(page1).toContain('<script src="/walkup/walkup.js">');

    // a code shown on one connector is refused by the other's endpoints (and by the callback)
    const refused = await getJson(`${url}/walkup/lnurlp?totp=${codeOf(rig, 2)}`);
    expect(refused).toMatchObject({ status: 'ERROR', name: 'TotpRefused' });
    expect(refused.reason).toContain('TotpUnknown');
    expect(await getJson(`${url}/connectors/1/walkup/lnurlp?totp=${codeOf(rig, 2)}`)).toMatchObject({
      status: 'ERROR',
      name: 'TotpRefused',
    });
    expect(await getJson(`${url}/connectors/2/walkup/lnurlp?totp=${codeOf(rig, 1)}`)).toMatchObject({
      status: 'ERROR',
      name: 'TotpRefused',
    });
    expect(
      await getJson(`${url}/walkup/lnurlp/callback?totp=${codeOf(rig, 2)}&amount=${MIN_DEPOSIT_MSAT}`),
    ).toMatchObject({ status: 'ERROR', name: 'TotpRefused' });
    expect(await getJson(`${url}/connectors/2/walkup/lnurlp?totp=${codeOf(rig, 2)}`)).toMatchObject({
      tag: 'payRequest',
      callback: `${BASE}/connectors/2/walkup/lnurlp/callback?totp=${codeOf(rig, 2)}`,
    });

    // the site's connector pages stay (no clash) and point at the walk-up page
    expect(await getJson(`${url}/connectors/2.json`)).toMatchObject({
      connectorId: 2,
      walkupUrl: '/connectors/2/walkup',
    });
    expect(await getJson(`${url}/connectors/1.json`)).toMatchObject({ connectorId: 1, walkupUrl: '/walkup' });
    // the site overview says where each connector's pay page is (a kiosk or a sign generator reads it)
    expect(await getJson(`${url}/site.json`)).toMatchObject({
      connectors: [
        { connectorId: 1, walkupUrl: '/walkup' },
        { connectorId: 2, walkupUrl: '/connectors/2/walkup' },
      ],
    });
    const site2 = await (await fetch(`${url}/connectors/2`)).text();
    expect(site2).toContain('<h1>Connector 2</h1>');
    expect(site2).toContain('href="/connectors/2/walkup"');
  });

  it('a walk-up paid on connector 2 claims connector 2 only; after a restart each connector recovers its own', async () => {
    rig = walkupRig();
    const url = await start(rig);
    const arbiter = (id: number): ConnectorArbiter => rig!.site!.connectors.get(id)!.arbiter!;

    // a phone pays the deposit on connector 2: connector 2 charges for the walk-up
    rig.connector(2).world.plug();
    const deposit2 = await requestDeposit(url, '/connectors/2/walkup', codeOf(rig, 2));
    expect(arbiter(2).current().kind).toBe('walkup');
    expect(arbiter(1).current().kind).toBe('idle');
    rig.wallNode.holdPay(deposit2);
    const w2 = walkups!.byConnector.get(2)!.runtime;
    await rig.runUntil('the walk-up on connector 2 charges', () => w2.current()?.state.phase === 'charging');
    const session2 = w2.current()!.sessionId;
    await rig.run(30_000);
    const status2 = await getJson(`${url}/connectors/2/walkup/api/status`);
    expect(status2).toMatchObject({ available: false, connector: 'walkup', qr: null });
    expect((status2.session as Record<string, unknown>).sessionId).toBe(session2);
    expect(Number((status2.session as Record<string, unknown>).deliveredWh)).toBeGreaterThan(0);

    // connector 1 is free meanwhile: its display offers its QR and shows no session of connector 2
    const status1 = await getJson(`${url}/walkup/api/status`);
    expect(status1).toMatchObject({ available: true, connector: 'idle', session: null });
    // ... a walk-up starts there (a deposit asked, then not paid: it lapses and frees the connector)
    await requestDeposit(url, '/walkup', codeOf(rig, 1));
    expect(arbiter(1).current().kind).toBe('walkup');
    const w1 = walkups!.byConnector.get(1)!.runtime;
    const session1 = w1.current()!.sessionId;
    expect(session1).not.toBe(session2);
    await rig.runUntil(
      'the unpaid walk-up on connector 1 lapses',
      () => arbiter(1).current().kind === 'idle',
    );
    // ... and a car charges over the cable while connector 2's walk-up goes on
    await rig.startVehicle(1);
    rig.connector(1).world.plug();
    await rig.runUntil('a cable session charges on connector 1', () => {
      return rig!.site!.connectors.get(1)!.state.phase === 'charging';
    });
    expect(arbiter(1).current().kind).toBe('cable');
    expect(arbiter(2).current()).toMatchObject({ kind: 'walkup', sessionId: session2 });
    expect(w2.current()).toMatchObject({ sessionId: session2, state: { phase: 'charging' } });
    expect(await getJson(`${url}/walkup/api/status`)).toMatchObject({ available: false, connector: 'cable' });
    expect(await getJson(`${url}/walkup/lnurlp?totp=${codeOf(rig, 1)}`)).toMatchObject({
      status: 'ERROR',
      name: 'CONNECTOR_BUSY',
    });

    // restart: each runtime recovers its own sessions only
    await rig.connector(1).vehicle?.stop();
    rig.connector(1).vehicle = null;
    await stop(rig);
    expect(rig.store!.db.open).toBe(false);
    const url2 = await start(rig);
    const store = rig.store!;
    expect(new WalkupStore(store.db, { connectorId: 2 }).live().map((l) => l.sessionId)).toEqual([session2]);
    expect(new WalkupStore(store.db, { connectorId: 1 }).live()).toEqual([]);
    const r1 = walkups!.byConnector.get(1)!.runtime;
    const r2 = walkups!.byConnector.get(2)!.runtime;
    expect(r2.current()).toMatchObject({ sessionId: session2, state: { phase: 'charging' } });
    // connector 1's latest is its own lapsed walk-up, never connector 2's running one
    expect(r1.current()?.sessionId).toBe(session1);
    expect(r1.current()?.state.phase).not.toBe('charging');
    expect(rig.site!.connectors.get(2)!.arbiter!.current()).toMatchObject({
      kind: 'walkup',
      sessionId: session2,
    });
    // (connector 1's interrupted cable session is its daemon's to restore; no walk-up claims it)
    expect(rig.site!.connectors.get(1)!.arbiter!.current().kind).not.toBe('walkup');
    const after1 = await getJson(`${url2}/walkup/api/status`);
    expect((after1.session as Record<string, unknown>).sessionId).toBe(session1);
    expect(
      ((await getJson(`${url2}/connectors/2/walkup/api/status`)).session as Record<string, unknown>)
        .sessionId,
    ).toBe(session2);
    expect(failed).toEqual([]);
  });
});
